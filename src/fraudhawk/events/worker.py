"""The background worker: runs batch imports and event deletions outside the request.

Jobs live in the database, so any server process (or replica) can run them. A job is claimed by
writing the worker's id into it; a claim goes stale when its owner stops beating (or, on the same
machine, when the owning process is gone), and another worker then resumes the job where its last
committed step left it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import Table, and_, select, update

from fraudhawk.context import Context, now_ms

log = logging.getLogger("fraudhawk.worker")
STALE_MS = 120_000
HOST = socket.gethostname()


def new_owner_id() -> str:
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str | None) -> bool:
    """True when `owner` was a process on this machine that no longer runs."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim(ctx: Context, table: Table, key: str, key_value: str, owner: str, active: tuple[str, ...]) -> bool:
    """Take an unfinished job for `owner` if it is free, ours, stale, or its owner's process is gone."""
    column = table.c[key]
    with ctx.db.write() as conn:
        row = conn.execute(
            select(table.c.owner, table.c.heartbeat_ms).where(column == key_value, table.c.status.in_(active))
        ).first()
        if row is None:
            return False
        stamp = now_ms()
        free = row.owner in (None, owner) or owner_is_gone(row.owner) or (row.heartbeat_ms or 0) < stamp - STALE_MS
        if not free:
            return False
        previous = table.c.owner.is_(None) if row.owner is None else table.c.owner == row.owner
        result = conn.execute(
            update(table)
            .where(and_(column == key_value, previous, table.c.status.in_(active)))
            .values(owner=owner, heartbeat_ms=stamp)
        )
        return bool(result.rowcount)


def candidates(ctx: Context, table: Table, key: str, active: tuple[str, ...]) -> list[str]:
    """Jobs not finished yet, oldest first; `claim` decides which this worker may take."""
    with ctx.db.read() as conn:
        query = select(table.c[key]).where(table.c.status.in_(active)).order_by(table.c[key])
        return list(conn.execute(query).scalars())


#: A kind of job: given the context, this worker's id and a "should I stop" probe, run what is
#: pending and say whether anything was done.
Runner = Callable[[Context, str, Callable[[], bool]], bool]


class Worker(threading.Thread):
    """Runs each kind of pending job in turn; `wake()` makes it look at once."""

    def __init__(
        self, ctx: Context, runners: Sequence[Runner], job_tables: Sequence[Table] = (), name: str = "fraudhawk-worker"
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.ctx = ctx
        self.owner = new_owner_id()
        self.runners = runners
        self.job_tables = job_tables
        self._wake = threading.Event()
        self._halt = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def halt(self) -> None:
        """Ask the worker to stop after its current step, without waiting for it."""
        self._halt.set()
        self._wake.set()

    def stop(self, timeout: float = 30) -> None:
        """Stop after the current step and hand back unfinished jobs, so any worker resumes them now."""
        self.halt()
        self.join(timeout)
        if self.is_alive():
            return  # still inside a step: its claim goes stale and another worker takes over
        try:
            with self.ctx.db.write() as conn:
                for table in self.job_tables:
                    conn.execute(update(table).where(table.c.owner == self.owner).values(owner=None))
        except Exception:
            log.warning("could not release this worker's jobs; they resume once the claim goes stale", exc_info=True)

    @property
    def stopping(self) -> bool:
        return self._halt.is_set()

    def run(self) -> None:
        while not self._halt.is_set():
            worked = False
            for runner in self.runners:
                try:
                    worked = runner(self.ctx, self.owner, self._halt.is_set) or worked
                except Exception:
                    log.exception("background job runner failed")
                if self._halt.is_set():
                    return
            if not worked:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
