"""Claiming a job: which jobs wait, and taking one for a worker, atomically, across processes and
replicas sharing the database.

A claim writes the worker's id (`owner`) and a heartbeat into the job's row. It is a compare-and-set
on the holder and heartbeat as read: of two workers racing for one job, on SQLite (one writer at a
time) or PostgreSQL (the second update waits for the first and then finds the row changed), exactly
one changes the row. A claim goes stale when its holder stops beating for `STALE_MS`, or at once when
the holder was a process on this machine that is gone; another worker then takes the job over, or,
for a kind that cannot resume, ends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Connection, case, select, update

from fraudhawk.jobs.finish import end_values, interrupted
from fraudhawk.jobs.outcome import Outcome
from fraudhawk.jobs.owner import owner_is_gone
from fraudhawk.jobs.table import JobTable
from fraudhawk.storage.clock import now_ms
from fraudhawk.storage.database import Database

STALE_MS = 120_000


def candidates(db: Database, table: JobTable) -> list[tuple[Any, ...]]:
    """The keys of the jobs not ended, in the order to try them: jobs already started first (they
    resume), then those waiting, each in the table's queue order. `claim` decides which this worker
    may take."""
    order = [table.col(name) for name in table.order or table.key]
    if table.waiting is not None:
        order.insert(0, case((table.col(table.status) == table.waiting, 1), else_=0))
    query = select(*(table.col(name) for name in table.key)).where(table.is_active()).order_by(*order)
    with db.read() as conn:
        return [tuple(row) for row in conn.execute(query)]


def holder_lost(table: JobTable, row: Any, stale_ms: int = STALE_MS) -> bool:
    """True when the job's holder stopped beating or its process is gone (False when nobody holds it)."""
    holder = getattr(row, table.owner)
    if holder is None:
        return False
    return owner_is_gone(holder) or (getattr(row, table.heartbeat) or 0) < now_ms() - stale_ms


class Seen(Enum):
    CLAIMED = "claimed"  # the job is this worker's now
    HELD = "held"  # another worker holds it (or the job ended, or is no more)
    ENDED = "ended"  # a job that cannot resume lost its holder: this call ended it


@dataclass(frozen=True)
class Claim:
    seen: Seen
    row: Any = None  # the job as claimed, when CLAIMED


def claim(
    db: Database,
    table: JobTable,
    key: Sequence[Any],
    owner: str,
    *,
    resumable: bool = True,
    interruption: Outcome | None = None,
    stale_ms: int = STALE_MS,
) -> Claim:
    """Take the job for `owner` if nobody holds it, `owner` already does, or its holder is lost.

    A job that cannot resume (`resumable` false) is taken only when nobody holds it: one held by this
    owner outside a run, or by a lost holder, was cut short, and is ended as `interruption` (or
    CANCELLED when the caller asked for that) instead.
    """
    with db.write() as conn:
        row = conn.execute(select(table.table).where(table.where(key), table.is_active())).first()
        if row is None:
            return Claim(Seen.HELD)
        holder = getattr(row, table.owner)
        lost = holder == owner or holder_lost(table, row, stale_ms)
        if holder is not None and not lost:
            return Claim(Seen.HELD)
        if holder is not None and not resumable:
            if interruption is None:
                raise ValueError(f"{table.name}: a job that cannot resume needs an interruption outcome")
            ended = _swap(conn, table, row, end_values(table, interrupted(table, row, interruption)))
            return Claim(Seen.ENDED if ended else Seen.HELD)
        if not _swap(conn, table, row, {table.owner: owner, table.heartbeat: now_ms()}):
            return Claim(Seen.HELD)
        return Claim(Seen.CLAIMED, conn.execute(select(table.table).where(table.where(key))).one())


def _swap(conn: Connection, table: JobTable, row: Any, values: dict[str, Any]) -> bool:
    """Write `values` only if the job's holder and heartbeat are still as read in `row`."""
    holder, beat = getattr(row, table.owner), getattr(row, table.heartbeat)
    owner_col, beat_col = table.col(table.owner), table.col(table.heartbeat)
    same = [
        owner_col.is_(None) if holder is None else owner_col == holder,
        beat_col.is_(None) if beat is None else beat_col == beat,
    ]
    query = update(table.table).where(table.where(table.key_of(row)), table.is_active(), *same).values(values)
    return bool(conn.execute(query).rowcount)


def release(db: Database, table: JobTable, owner: str, key: Sequence[Any] | None = None) -> None:
    """Give back `owner`'s claim on the job (every job of the table if no key), so that any worker
    may take it at once rather than after the claim goes stale."""
    query = update(table.table).where(table.col(table.owner) == owner)
    if key is not None:
        query = query.where(table.where(key))
    with db.write() as conn:
        conn.execute(query.values({table.owner: None}))
