"""The service's background workers and what each runs, registered when the service builds them
(nothing is registered at import time)."""

from __future__ import annotations

from functools import partial

from fraudhawk.context import Context
from fraudhawk.events import deletion, imports
from fraudhawk.events.rawimport import Call
from fraudhawk.jobs import Worker
from fraudhawk.pipelines import run as pipeline_runs
from fraudhawk.pipelines.scan import Scanner
from fraudhawk.predictions import batch, records
from fraudhawk.training import jobs as training


def workers(ctx: Context) -> tuple[Worker, Worker]:
    """The worker for imports, deletions, batch predictions and housekeeping, in that order on each
    round; and training's own worker (training runs for minutes and must not hold up imports)."""
    worker = Worker(ctx.db)
    worker.register(imports.kind(ctx))
    worker.register(deletion.kind(ctx))
    worker.register(batch.kind(ctx))
    worker.every(partial(training.run_status_changes, ctx))
    worker.every(partial(records.prune, ctx))
    trainer = Worker(ctx.db, name="fraudhawk-trainer")
    trainer.register(training.kind(ctx))
    return worker, trainer


def pipelines(ctx: Context, call: Call) -> Worker:
    """The pipelines' worker: scans their sources and runs their runs, whose actions go through
    `call` (the service's one path) and wait on the other workers' jobs, so it has a thread of its own."""
    worker = Worker(ctx.db, name="fraudhawk-pipelines")
    worker.every(Scanner(ctx, ctx.settings.pipeline_scan_s))
    worker.register(pipeline_runs.kind(ctx, call))
    return worker
