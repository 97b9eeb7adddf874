"""A claimed job, as its kind's code sees it: committed steps with progress and heartbeat, the
caller's cancel, and the job's end.

Every step locks the job's row and checks that this worker still holds it, so a worker thought gone
(and taken over) can never commit a step after its successor started: its next step raises
`LostClaim`. A resumable kind commits its work and its progress (how far it got) in the same step,
so that a worker taking the job over resumes after the last committed step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select, update

from fraudhawk.jobs.claim import release as release_claim
from fraudhawk.jobs.finish import finish as finish_job
from fraudhawk.jobs.outcome import Cancelled, LostClaim, Outcome, Stopping
from fraudhawk.jobs.table import JobTable
from fraudhawk.storage.clock import now_ms
from fraudhawk.storage.database import Database


class Job:
    """One claimed job. `row` is the job as claimed; `stopping` says whether the worker is stopping."""

    def __init__(self, db: Database, table: JobTable, row: Any, owner: str, stopping: Callable[[], bool]) -> None:
        self.db, self.table, self.row, self.owner, self.stopping = db, table, row, owner, stopping
        self.key: tuple[Any, ...] = table.key_of(row)
        self.ended = False

    def __repr__(self) -> str:
        return f"{self.table.name} job {'/'.join(map(str, self.key))}"

    def lock(self, conn: Connection) -> Any:
        """The job's row, locked until `conn` commits; LostClaim if this worker no longer holds it."""
        row = conn.execute(select(self.table.table).where(self.table.where(self.key)).with_for_update()).first()
        if row is None or getattr(row, self.table.owner) != self.owner:
            raise LostClaim
        return row

    @contextmanager
    def step(self, conn: Connection | None = None) -> Iterator[Step]:
        """One committed step: what the caller writes on the step's connection commits together with
        the job's progress and heartbeat, or not at all. Inside `conn` when given (a transaction that
        must take other locks first), else in a write transaction of its own."""
        if conn is None:
            with self.db.write() as own:
                yield from self._step(own)
        else:
            yield from self._step(conn)

    def _step(self, conn: Connection) -> Iterator[Step]:
        step = Step(self, conn, self.lock(conn))
        yield step
        if not step.ended:
            values = {self.table.heartbeat: now_ms(), **step.values}
            conn.execute(update(self.table.table).where(self.table.where(self.key)).values(values))

    def beat(self, **values: Any) -> Any:
        """Commit `values` (progress) and a heartbeat; the job's row as it now stands. Raises Stopping
        when the worker is stopping and Cancelled when the caller cancelled the job."""
        if self.stopping():
            raise Stopping
        with self.step() as step:
            step.progress(**values)
        if step.cancel_requested:
            raise Cancelled
        return step.row

    def cancel_requested(self) -> bool:
        """Whether the caller has asked this job to stop (one read, no lock)."""
        column = self.table.cancel_requested
        if column is None:
            return False
        with self.db.read() as conn:
            return bool(conn.execute(select(self.table.col(column)).where(self.table.where(self.key))).scalar())

    def finish(self, outcome: Outcome) -> bool:
        """End the job as `outcome` (if this worker still holds it); say whether it did."""
        with self.db.write() as conn:
            self.ended = finish_job(conn, self.table, self.key, self.owner, outcome)
        return self.ended

    def release(self) -> None:
        """Give the job back unfinished, for any worker to take."""
        release_claim(self.db, self.table, self.owner, self.key)


class Step:
    """The job inside one committed step: its connection, its row as locked, and what to write."""

    def __init__(self, job: Job, conn: Connection, row: Any) -> None:
        self.job, self.conn, self.row = job, conn, row
        self.values: dict[str, Any] = {}
        self.ended = False

    @property
    def cancel_requested(self) -> bool:
        column = self.job.table.cancel_requested
        return column is not None and bool(getattr(self.row, column))

    def progress(self, **values: Any) -> None:
        """Columns to write with this step's heartbeat: how far the job got, counts, a progress text."""
        self.values.update(values)

    def start(self) -> None:
        """Move a job that has not started yet into the table's running status."""
        table = self.job.table
        if table.running is not None and getattr(self.row, table.status) == table.waiting:
            self.values[table.status] = table.running

    def finish(self, outcome: Outcome) -> bool:
        """End the job as `outcome` in this step's transaction, with the progress written so far."""
        merged = Outcome(outcome.end, outcome.reason, {**self.values, **outcome.values})
        table, job = self.job.table, self.job
        self.ended = job.ended = finish_job(self.conn, table, job.key, job.owner, merged)
        return self.ended
