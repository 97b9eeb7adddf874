"""Which background work is under way for an event type: the one place these statuses are read."""

from __future__ import annotations

from sqlalchemy import Connection, select

from fraudhawk.storage import schema

IMPORT_ACTIVE = ("IN_PROGRESS_INITIALIZING", "IN_PROGRESS", "CANCEL_IN_PROGRESS")
DELETION_ACTIVE = ("IN_PROGRESS_INITIALIZING", "IN_PROGRESS")


def running_import(conn: Connection, event_type: str) -> str | None:
    """The id of an unfinished batch import into the event type, if any."""
    jobs = schema.batch_imports
    query = select(jobs.c.job_id).where(jobs.c.event_type == event_type, jobs.c.status.in_(IMPORT_ACTIVE)).limit(1)
    job_id: str | None = conn.execute(query).scalar()
    return job_id


def deletion_running(conn: Connection, event_type: str) -> bool:
    deletions = schema.event_deletions
    query = select(deletions.c.status).where(deletions.c.event_type == event_type)
    return conn.execute(query).scalar() in DELETION_ACTIVE
