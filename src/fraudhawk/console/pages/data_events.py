"""The Stored events page: what each event type holds (GetEventTypes' ingestedEventStatistics),
switching ingestion on and off (PutEventType) and deleting a type's events
(DeleteEventsByEventType, followed through GetDeleteEventsByEventTypeStatus)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.web import call, call_all, redirect, render
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError

FINAL_DELETION = ("COMPLETE", "FAILED")
# PutEventType replaces the whole type: these members are sent back as they are
_KEPT = ("description", "eventVariables", "labels", "entityTypes", "eventOrchestration")


async def _deletion(request: Request, name: str) -> str | None:
    try:
        answer = await call(request, "GetDeleteEventsByEventTypeStatus", {"eventTypeName": name})
    except ResourceNotFoundError:
        return None  # never asked for
    status: str = answer["eventsDeletionStatus"]
    return status


async def stored(request: Request) -> Response:
    event_types = await call_all(request, "GetEventTypes", "eventTypes")
    deletions = {e["name"]: await _deletion(request, e["name"]) for e in event_types}
    if any(deletions.values()):
        # the counts are read again after the deletions' status: a deletion that ended between the
        # two reads would otherwise show as ended beside the counts from before it (and, ended, the
        # page no longer polls to correct them)
        event_types = await call_all(request, "GetEventTypes", "eventTypes")
    rows: list[dict[str, Any]] = []
    for event_type in sorted(event_types, key=lambda e: e["name"]):
        rows.append(
            {
                "type": event_type,
                "stats": event_type.get("ingestedEventStatistics") or {},
                "deletion": deletions.get(event_type["name"]),
                "quoted": quote(event_type["name"], safe=""),
            }
        )
    return render(
        request,
        "data/events.html",
        title="Stored events",
        rows=rows,
        final=FINAL_DELETION,
    )


async def ingestion(request: Request) -> Response:
    name = request.path_params["name"]
    form = await request.form()
    wanted = "ENABLED" if form.get("ingestion") == "ENABLED" else "DISABLED"
    current = (await call(request, "GetEventTypes", {"name": name}))["eventTypes"][0]
    params = {key: current[key] for key in _KEPT if key in current}
    await call(request, "PutEventType", {"name": name, **params, "eventIngestion": wanted})
    return redirect("/data", done=f"Event ingestion for {name} is {wanted.lower()}.")


async def delete_events(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        await call(request, "DeleteEventsByEventType", {"eventTypeName": name})
    except FraudhawkError as error:
        if isinstance(error, ResourceNotFoundError):
            raise
        return render(request, "error.html", status_code=400, title="Not possible", message=error.message)
    return redirect("/data", done=f"Deleting all stored events of {name}.")


async def deletion_status(request: Request) -> Response:
    """The fragment the page polls while a deletion runs."""
    name = request.path_params["name"]
    status = await _deletion(request, name)
    event_type = (await call(request, "GetEventTypes", {"name": name}))["eventTypes"][0]
    return render(
        request,
        "data/_deletion.html",
        status=status,
        stats=event_type.get("ingestedEventStatistics") or {},
        final=FINAL_DELETION,
    )


routes: list[BaseRoute] = [
    Route("/data", stored, methods=["GET"]),
    Route("/data/{name}/ingestion", ingestion, methods=["POST"]),
    Route("/data/{name}/delete-events", delete_events, methods=["POST"]),
    Route("/data/{name}/deletion", deletion_status, methods=["GET"]),
]
