"""DeleteEventsByEventType: removes every stored event of a type in the background."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert, select, update

from fraudhawk.catalog.activity import DELETION_ACTIVE, deletion_running, running_import
from fraudhawk.catalog.event_types import load_spec
from fraudhawk.context import Context, now_ms
from fraudhawk.errors import ConflictError, ResourceNotFoundError
from fraudhawk.events import store
from fraudhawk.events.worker import candidates, claim
from fraudhawk.storage import schema

_deletions = schema.event_deletions
ACTIVE = DELETION_ACTIVE
STEP = 20_000


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


def run_pending(ctx: Context, owner: str, stopping: Callable[[], bool]) -> bool:
    worked = False
    for name in candidates(ctx, _deletions, "event_type", ACTIVE):
        if stopping() or not claim(ctx, _deletions, "event_type", name, owner, ACTIVE):
            continue
        worked = True
        while not stopping():
            with ctx.db.write() as conn:
                mine = select(_deletions.c.owner).where(_deletions.c.event_type == name).with_for_update()
                if conn.execute(mine).scalar() != owner:
                    return worked  # another worker took it over
                removed = store.delete_some(conn, name, STEP)
                values: dict[str, Any] = {"heartbeat_ms": now_ms(), "updated_ms": now_ms()}
                if not removed:
                    store.clear_stats(conn, name)
                    values.update(status="COMPLETE", owner=None)
                conn.execute(update(_deletions).where(_deletions.c.event_type == name).values(**values))
            if not removed:
                break
    return worked
