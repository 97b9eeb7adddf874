"""Ending a job: the one update that writes its end status, its reason, when it ended, and frees it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, update

from fraudhawk.jobs.outcome import End, Outcome
from fraudhawk.jobs.table import JobTable
from fraudhawk.storage.clock import now_ms


def end_values(table: JobTable, outcome: Outcome) -> dict[str, Any]:
    """The columns written when a job ends as `outcome`."""
    values: dict[str, Any] = {table.status: table.status_of(outcome.end), table.owner: None}
    values.update(dict.fromkeys(table.cleared))
    if table.reason is not None:
        values[table.reason] = outcome.reason
    if table.ended is not None:
        values[table.ended] = now_ms()
    values.update(outcome.values)
    return values


def finish(conn: Connection, table: JobTable, key: Sequence[Any], owner: str, outcome: Outcome) -> bool:
    """End the job as `outcome` if `owner` still holds it and it has not ended; say whether it did."""
    query = (
        update(table.table)
        .where(table.where(key), table.col(table.owner) == owner, table.is_active())
        .values(end_values(table, outcome))
    )
    return bool(conn.execute(query).rowcount)


def finish_unclaimed(conn: Connection, table: JobTable, key: Sequence[Any], outcome: Outcome) -> bool:
    """End a job no worker holds (a caller cancelling a job that never started)."""
    query = (
        update(table.table)
        .where(table.where(key), table.col(table.owner).is_(None), table.is_active())
        .values(end_values(table, outcome))
    )
    return bool(conn.execute(query).rowcount)


def interrupted(table: JobTable, row: Any, outcome: Outcome) -> Outcome:
    """How a job that cannot resume ends once its run was cut short: cancelled if the caller asked
    for that, else `outcome` (the kind's account of the interruption)."""
    cancel = table.cancel_requested
    if cancel is not None and getattr(row, cancel):
        return Outcome(End.CANCELLED)
    return outcome
