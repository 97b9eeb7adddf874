"""Event types: the list, a detail page (variables, labels, entity types, ingestion, orchestration,
the models and detectors built on it) and delete. Creating one is `schema_event_new`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages import schema_event_new
from fraudhawk.console.web import call, call_all, not_found, read_form, redirect, render
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError

BATCH = 100  # BatchGetVariable's most names per call


async def listing(request: Request) -> Response:
    event_types = sorted(await call_all(request, "GetEventTypes", "eventTypes"), key=lambda e: str(e["name"]))
    return render(
        request,
        "schema/event_types.html",
        title="Event types",
        crumbs=[(None, "Event types")],
        event_types=event_types,
    )


async def event_type_named(request: Request, name: str) -> dict[str, Any] | None:
    try:
        found = (await call(request, "GetEventTypes", {"name": name})).get("eventTypes", [])
    except ResourceNotFoundError:
        return None
    return found[0] if found else None


async def variables_named(request: Request, names: list[str]) -> list[dict[str, Any]]:
    """The variables, in the order given."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), BATCH):
        answer = await call(request, "BatchGetVariable", {"names": names[start : start + BATCH]})
        found.update({v["name"]: v for v in answer.get("variables", [])})
    return [found[name] for name in names if name in found]


async def _detail(request: Request, name: str, problem: str | None = None) -> Response:
    event_type = await event_type_named(request, name)
    if event_type is None:
        return not_found(request, f"The event type {name} does not exist.")
    has = set(event_type.get("eventVariables", []))
    variables = await call_all(request, "GetVariables", "variables")
    addable = {
        "variables": sorted(v["name"] for v in variables if v.get("dataSource") == "EVENT" and v["name"] not in has),
        "labels": sorted(
            label["name"]
            for label in await call_all(request, "GetLabels", "labels")
            if label["name"] not in event_type.get("labels", [])
        ),
        "entity_types": sorted(
            e["name"]
            for e in await call_all(request, "GetEntityTypes", "entityTypes")
            if e["name"] not in event_type.get("entityTypes", [])
        ),
    }
    models = [m for m in await call_all(request, "GetModels", "models") if m.get("eventTypeName") == name]
    detectors = [d for d in await call_all(request, "GetDetectors", "detectors") if d.get("eventTypeName") == name]
    return render(
        request,
        "schema/event_type.html",
        status_code=400 if problem else 200,
        title=f"Event type {name}",
        crumbs=[("/event-types", "Event types"), (None, name)],
        event_type=event_type,
        variables=await variables_named(request, list(event_type.get("eventVariables", []))),
        models=models,
        detectors=detectors,
        addable=addable,
        problem=problem,
    )


async def detail(request: Request) -> Response:
    return await _detail(request, request.path_params["name"])


def _kept(event_type: dict[str, Any]) -> dict[str, Any]:
    """A PutEventType request that keeps the event type as it is (Put replaces its lists)."""
    params = {
        "name": event_type["name"],
        "eventVariables": event_type.get("eventVariables", []),
        "labels": event_type.get("labels", []),
        "entityTypes": event_type.get("entityTypes", []),
    }
    if event_type.get("description"):
        params["description"] = event_type["description"]
    return params


async def switch(request: Request) -> Response:
    """Turn event ingestion, or event orchestration (EventBridge), on or off."""
    name, what = request.path_params["name"], request.path_params["what"]
    if what not in ("ingestion", "orchestration"):
        return not_found(request, "There is no such page.")
    event_type = await event_type_named(request, name)
    if event_type is None:
        return not_found(request, f"The event type {name} does not exist.")
    params = _kept(event_type)
    if what == "ingestion":
        turned_on = event_type.get("eventIngestion") != "ENABLED"
        params["eventIngestion"] = "ENABLED" if turned_on else "DISABLED"
        done = f"Event ingestion is {'on' if turned_on else 'off'} for {name}."
    else:
        turned_on = not event_type.get("eventOrchestration", {}).get("eventBridgeEnabled")
        params["eventOrchestration"] = {"eventBridgeEnabled": turned_on}
        done = f"Event orchestration is {'on' if turned_on else 'off'} for {name}."
    try:
        await call(request, "PutEventType", params)
    except FraudhawkError as error:
        return await _detail(request, name, problem=error.message)
    return redirect(f"/event-types/{name}", done=done)


async def add(request: Request) -> Response:
    """Add existing variables, labels and entity types (AFD lets an event type grow, not shrink, once it
    has events)."""
    name = request.path_params["name"]
    event_type = await event_type_named(request, name)
    if event_type is None:
        return not_found(request, f"The event type {name} does not exist.")
    form, _ = await read_form(request)
    params = _kept(event_type)
    for member, field in (("eventVariables", "variables"), ("labels", "labels"), ("entityTypes", "entity_types")):
        params[member] = list(dict.fromkeys([*params[member], *form.all(field)]))
    if params == _kept(event_type):
        return await _detail(request, name, problem="Tick the variables, labels or entity types to add.")
    try:
        await call(request, "PutEventType", params)
    except FraudhawkError as error:
        return await _detail(request, name, problem=error.message)
    return redirect(f"/event-types/{name}", done=f"Saved event type {name}.")


async def remove(request: Request) -> Response:
    name = request.path_params["name"]
    try:
        await call(request, "DeleteEventType", {"name": name})
    except ResourceNotFoundError:
        return not_found(request, f"The event type {name} does not exist.")
    except FraudhawkError as error:
        return await _detail(request, name, problem=error.message)
    return redirect("/event-types", done=f"Deleted event type {name}.")


routes: list[BaseRoute] = [
    Route("/event-types", listing, methods=["GET"]),
    *schema_event_new.routes,
    Route("/event-types/{name}", detail, methods=["GET"]),
    Route("/event-types/{name}/delete", remove, methods=["POST"]),
    Route("/event-types/{name}/add", add, methods=["POST"]),
    Route("/event-types/{name}/{what:str}", switch, methods=["POST"]),
]
