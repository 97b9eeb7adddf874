"""Background jobs: one lifecycle (claim, heartbeat, stale takeover, progress, cancel, resume or end,
finish) for every kind of job, and the worker that runs them. A kind of job maps its own table onto
the lifecycle (`JobTable`) and keeps only its own steps (`Kind.run`).

This package sits low: it knows the store, never the kinds of job that use it.
"""

from fraudhawk.jobs.cancel import request_cancel
from fraudhawk.jobs.claim import STALE_MS, Claim, Seen, candidates, claim, release
from fraudhawk.jobs.job import Job, Step
from fraudhawk.jobs.kind import Kind, run_claimed, run_pending
from fraudhawk.jobs.outcome import (
    CANCELLED,
    COMPLETE,
    Cancelled,
    Deferred,
    End,
    Failed,
    JobInterrupt,
    LostClaim,
    Outcome,
    Stopping,
    explain,
    failed,
)
from fraudhawk.jobs.owner import new_owner_id, owner_is_gone
from fraudhawk.jobs.table import JobTable
from fraudhawk.jobs.worker import Task, Worker

__all__ = [
    "CANCELLED",
    "COMPLETE",
    "STALE_MS",
    "Cancelled",
    "Claim",
    "Deferred",
    "End",
    "Failed",
    "Job",
    "JobInterrupt",
    "JobTable",
    "Kind",
    "LostClaim",
    "Outcome",
    "Seen",
    "Step",
    "Stopping",
    "Task",
    "Worker",
    "candidates",
    "claim",
    "explain",
    "failed",
    "new_owner_id",
    "owner_is_gone",
    "release",
    "request_cancel",
    "run_claimed",
    "run_pending",
]
