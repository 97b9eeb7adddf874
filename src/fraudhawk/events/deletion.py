"""DeleteEventsByEventType: removes every stored event of a type in the background."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import delete, insert, select

from fraudhawk.catalog.activity import DELETION_ACTIVE, deletion_running, running_import
from fraudhawk.catalog.event_types import load_spec
from fraudhawk.context import Context, now_ms
from fraudhawk.errors import ConflictError, ResourceNotFoundError
from fraudhawk.events import store
from fraudhawk.jobs import COMPLETE, Job, JobTable, Kind, Outcome, Stopping
from fraudhawk.storage import schema

_deletions = schema.event_deletions
ACTIVE = DELETION_ACTIVE
STEP = 20_000
JOBS = JobTable(
    _deletions,
    key=("event_type",),
    active=ACTIVE,
    cancel_requested=None,
    ended="updated_ms",
)


def delete_events_by_event_type(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name = req["eventTypeName"]
    stamp = now_ms()
    with ctx.db.write() as conn:
        load_spec(conn, name)
        running = running_import(conn, name)
        if running is not None:
            raise ConflictError(f"Batch import {running} is still storing events of {name}: cancel it or wait")
        if deletion_running(conn, name):
            raise ConflictError(f"Events of {name} are already being deleted")
        conn.execute(delete(_deletions).where(_deletions.c.event_type == name))
        conn.execute(
            insert(_deletions).values(event_type=name, status="IN_PROGRESS", requested_ms=stamp, updated_ms=stamp)
        )
    ctx.wake_jobs()
    return {"eventTypeName": name, "eventsDeletionStatus": "IN_PROGRESS"}


def get_delete_events_by_event_type_status(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name = req["eventTypeName"]
    with ctx.db.read() as conn:
        load_spec(conn, name)
        status = conn.execute(select(_deletions.c.status).where(_deletions.c.event_type == name)).scalar()
    if status is None:
        raise ResourceNotFoundError(f"No deletion of the events of {name} has been requested")
    return {"eventTypeName": name, "eventsDeletionStatus": status}


def run_job(ctx: Context, job: Job) -> Outcome:
    """Delete the events a step at a time; the last step, which finds none left, ends the job."""
    (name,) = job.key
    while True:
        if job.stopping():
            raise Stopping
        with job.step() as step:
            removed = store.delete_some(step.conn, name, STEP)
            step.progress(updated_ms=now_ms())
            if not removed:
                store.clear_stats(step.conn, name)
                step.finish(COMPLETE)
                return COMPLETE


def kind(ctx: Context) -> Kind:
    return Kind("event deletion", JOBS, partial(run_job, ctx))
