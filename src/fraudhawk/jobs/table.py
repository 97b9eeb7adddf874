"""The job table contract: which columns and statuses make a table hold jobs, as data.

Each kind of job keeps its jobs in a table of its own, with its own names (a batch import's
`job_id`, a model version's `(model_id, major, minor)`, AFD's status names of each kind). A
`JobTable` maps those names onto the lifecycle, so that claiming, beating, cancelling and finishing
are written once for every kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_

from fraudhawk.jobs.outcome import End


@dataclass(frozen=True)
class JobTable:
    """A table whose rows are jobs. Every name given must be a column of `table` (checked at once).

    Required columns: the key, `status`, `owner` (the id of the worker holding the job, or NULL),
    `heartbeat` (milliseconds of the holder's last beat). Optional ones are None when the table has
    no such column: `cancel_requested` (a boolean the caller sets; the running job sees it at its
    next step), `reason` (why it failed, for the caller), `ended` (milliseconds when it ended).
    """

    table: Table
    key: tuple[str, ...]
    active: tuple[str, ...]  # statuses of a job not ended yet
    # how a job ended, by default in the words of AFD's own jobs (imports, batch predictions)
    complete: str = "COMPLETE"
    failed: str = "FAILED"
    cancelled: str = "CANCELED"
    waiting: str | None = None  # status of a job no worker has started yet
    running: str | None = None  # status a job takes when a worker starts it
    cancelling: str | None = None  # status shown while a running job winds down after a cancel
    order: tuple[str, ...] = ()  # queue order among waiting (or among started) jobs; the key if empty
    status: str = "status"
    owner: str = "owner"
    heartbeat: str = "heartbeat_ms"
    cancel_requested: str | None = "cancel_requested"
    reason: str | None = "failure_reason"
    ended: str | None = "completion_ms"
    cleared: tuple[str, ...] = ()  # columns emptied when the job ends (e.g. a progress text)

    def __post_init__(self) -> None:
        named = [*self.key, self.status, self.owner, self.heartbeat, *self.order, *self.cleared]
        named += [c for c in (self.cancel_requested, self.reason, self.ended) if c is not None]
        missing = [name for name in named if name not in self.table.c]
        if missing:
            raise ValueError(f"{self.table.name} lacks the job column(s) {', '.join(missing)}")
        if not self.key or not self.active:
            raise ValueError(f"{self.table.name}: a job table needs a key and at least one active status")
        if self.waiting is not None and self.waiting not in self.active:
            raise ValueError(f"{self.table.name}: the waiting status {self.waiting} must be an active one")

    @property
    def name(self) -> str:
        return self.table.name

    def col(self, name: str) -> Any:
        return self.table.c[name]

    def where(self, key: Sequence[Any]) -> ColumnElement[bool]:
        """The condition that picks the job with this key."""
        if len(key) != len(self.key):
            raise ValueError(f"{self.table.name}: a key has {len(self.key)} part(s), not {len(key)}")
        return and_(*(self.table.c[name] == value for name, value in zip(self.key, key, strict=True)))

    def key_of(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, name) for name in self.key)

    def is_active(self) -> ColumnElement[bool]:
        return self.table.c[self.status].in_(self.active)

    @property
    def ended_statuses(self) -> tuple[str, str, str]:
        return self.complete, self.failed, self.cancelled

    def status_of(self, end: End) -> str:
        return {End.COMPLETE: self.complete, End.FAILED: self.failed, End.CANCELLED: self.cancelled}[end]
