"""A kind of job: its table, its own code, and the lifecycle every kind shares around that code.

The kind's `run` does the job's own work on a claimed `Job` and says how it ended (an `Outcome`, or
one of the exceptions of `outcome`); claiming, the caller's cancel before the job started, the
claim's release when the job must wait, and the job's end are done here, once for every kind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from fraudhawk.jobs.claim import STALE_MS, Seen, candidates, claim
from fraudhawk.jobs.job import Job
from fraudhawk.jobs.outcome import (
    CANCELLED,
    Cancelled,
    Deferred,
    Failed,
    LostClaim,
    Outcome,
    Stopping,
    explain,
    failed,
)
from fraudhawk.jobs.table import JobTable
from fraudhawk.storage.database import Database

log = logging.getLogger("fraudhawk.jobs")


def _stopped(error: Exception) -> Outcome:
    return failed(f"The job stopped: {explain(error)}")


@dataclass(frozen=True)
class Kind:
    """`resumable`: a job whose run was cut short (its worker died or stopped) is run again by the
    worker that takes it over, and resumes after its last committed step. A kind that cannot resume
    (training) gives `interruption`, how such a job ends instead. `crashed` is the outcome of a run
    that raised an unexpected error (logged with its traceback)."""

    name: str
    table: JobTable
    run: Callable[[Job], Outcome]
    resumable: bool = True
    interruption: Outcome | None = None
    crashed: Callable[[Exception], Outcome] = _stopped

    def __post_init__(self) -> None:
        if not self.resumable and self.interruption is None:
            raise ValueError(f"{self.name}: a kind that cannot resume needs an interruption outcome")


def run_pending(kind: Kind, db: Database, owner: str, stopping: Callable[[], bool], stale_ms: int = STALE_MS) -> bool:
    """Claim and run, one after another, the jobs of `kind` this worker may take; whether any work was
    done (a job run or ended)."""
    worked = False
    for key in candidates(db, kind.table):
        if stopping():
            break
        got = claim(
            db, kind.table, key, owner, resumable=kind.resumable, interruption=kind.interruption, stale_ms=stale_ms
        )
        if got.seen is Seen.ENDED:
            worked = True
        elif got.seen is Seen.CLAIMED:
            worked = run_claimed(kind, Job(db, kind.table, got.row, owner, stopping)) or worked
    return worked


def run_claimed(kind: Kind, job: Job) -> bool:
    """Run a claimed job until it ends or must stop; False when it had to wait (nothing was done)."""
    column = kind.table.cancel_requested
    if column is not None and getattr(job.row, column):
        job.finish(CANCELLED)
        return True
    try:
        outcome = kind.run(job)
    except (LostClaim, Stopping):
        return True
    except Deferred:
        job.release()
        return False
    except Cancelled:
        outcome = CANCELLED
    except Failed as failure:
        outcome = failure.outcome
    except Exception as error:  # the job fails, not the worker; the reason goes to the caller
        log.exception("%s failed", job)
        outcome = kind.crashed(error)
    if not job.ended:
        job.finish(outcome)
    return True
