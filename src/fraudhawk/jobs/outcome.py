"""How a run of a job ends: an `Outcome` returned by the kind's code, or one of the exceptions below,
raised from anywhere inside the run (a step, a beat, a callback deep in the kind's own code)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from fraudhawk.errors import FraudhawkError


class End(Enum):
    """How a job ended; each job table names these in its own words (`JobTable.status_of`)."""

    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Outcome:
    """The end of a job: how, why (for the caller, in the table's reason column) and any more columns
    of the kind's own to write in the same update (a result, a final count)."""

    end: End
    reason: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


COMPLETE = Outcome(End.COMPLETE)
CANCELLED = Outcome(End.CANCELLED)


def failed(reason: str | None = None, **values: Any) -> Outcome:
    return Outcome(End.FAILED, reason, values)


def explain(error: BaseException) -> str:
    """What a job's reason may say of an unexpected error: its own words, except a database driver's
    message, which can hold the SQL it ran and the values it bound; the server log has that (the
    caller logs the error with its traceback)."""
    if isinstance(error, FraudhawkError):
        return error.message
    if isinstance(error, (SQLAlchemyError, sqlite3.Error)) or type(error).__module__.startswith("psycopg"):
        return "an internal database error (the server log has details)"
    return str(error) or type(error).__name__


class JobInterrupt(Exception):
    """Base of the exceptions that end a run of a job early."""


class LostClaim(JobInterrupt):
    """Another worker took the job over (this one was thought gone): leave the job to that worker."""


class Stopping(JobInterrupt):
    """The worker is stopping: the job is left as its last committed step left it, for any worker to
    resume (a kind that cannot resume ends its job itself)."""


class Deferred(JobInterrupt):
    """The job cannot start yet (say, another job of its kind must run first): its claim is released
    and it is tried again on a later round."""


class Cancelled(JobInterrupt):
    """The caller cancelled the job: it ends CANCELLED."""


class Failed(JobInterrupt):
    """The job cannot go on, for a reason the caller is shown: it ends FAILED."""

    def __init__(self, reason: str, **values: Any) -> None:
        super().__init__(reason)
        self.outcome = failed(reason, **values)
