"""The console's schema pages (AFD's "Events" section): entity types, labels and outcomes here; event
types, variables, lists and external models in the schema_* modules beside this one.

Entity types, labels and outcomes are alike in AFD (a name, a description, Put/Get/Delete), so one
handler serves all three, each with its own operations and words.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages import schema_event_types, schema_external, schema_lists, schema_variables
from fraudhawk.console.pages.schema_forms import checked, described
from fraudhawk.console.web import Form, call, call_all, read_form, redirect, render
from fraudhawk.errors import FraudhawkError


@dataclass(frozen=True)
class Kind:
    path: str
    title: str  # plural, capitalised
    noun: str  # singular, lower case
    get: str
    key: str
    put: str
    delete: str
    intro: str


KINDS = {
    "entity-types": Kind(
        "/entity-types",
        "Entity types",
        "entity type",
        "GetEntityTypes",
        "entityTypes",
        "PutEntityType",
        "DeleteEntityType",
        "An entity is who or what performs an event: a customer, an account, a card. Every event type names "
        "the entity types its events may have.",
    ),
    "labels": Kind(
        "/labels",
        "Labels",
        "label",
        "GetLabels",
        "labels",
        "PutLabel",
        "DeleteLabel",
        "Labels classify past events as fraud or legitimate; a model learns from them. Add them to an "
        "event type, then map them to fraud or legit when you train.",
    ),
    "outcomes": Kind(
        "/outcomes",
        "Outcomes",
        "outcome",
        "GetOutcomes",
        "outcomes",
        "PutOutcome",
        "DeleteOutcome",
        "An outcome is what a detector's rule decides, such as approve, review or block; your application acts on it.",
    ),
}


async def _page(request: Request, kind: Kind, form: Form | None = None, problem: str | None = None) -> Response:
    items = sorted(await call_all(request, kind.get, kind.key), key=lambda item: str(item["name"]))
    used: dict[str, list[str]] = {}
    if kind.key in ("entityTypes", "labels"):
        # which event types name each one: entity types and labels in use cannot be deleted
        for event_type in await call_all(request, "GetEventTypes", "eventTypes"):
            for name in event_type.get(kind.key, []):
                used.setdefault(name, []).append(event_type["name"])
    return render(
        request,
        "schema/named.html",
        status_code=400 if (form and not form.ok) or problem else 200,
        title=kind.title,
        crumbs=[(None, kind.title)],
        kind=kind,
        items=items,
        used=used,
        form=form,
        problem=problem,
    )


def _kind(request: Request) -> Kind:
    return KINDS[request.url.path.strip("/").split("/")[0]]


async def listing(request: Request) -> Response:
    return await _page(request, _kind(request))


async def create(request: Request) -> Response:
    kind = _kind(request)
    form, _ = await read_form(request)
    name = form.required("name", "Name")
    params = described({"name": name}, form["description"])
    if form.ok and checked(form, kind.put, params, {"name": "name", "description": "description"}):
        existing = [item["name"] for item in await call_all(request, kind.get, kind.key)]
        if name in existing:  # Put* would silently update: creating must not overwrite
            form.fail("name", f"The {kind.noun} {name} already exists.")
    if form.ok:
        try:
            await call(request, kind.put, params)
        except FraudhawkError as error:
            form.refuse(error, {"name": "name", "description": "description"})
    if not form.ok:
        return await _page(request, kind, form)
    return redirect(kind.path, done=f"Created {kind.noun} {name}.")


async def remove(request: Request) -> Response:
    kind = _kind(request)
    name = request.path_params["name"]
    try:
        await call(request, kind.delete, {"name": name})
    except FraudhawkError as error:
        return await _page(request, kind, problem=error.message)
    return redirect(kind.path, done=f"Deleted {kind.noun} {name}.")


routes: list[BaseRoute] = [
    route
    for kind in KINDS.values()
    for route in (
        Route(kind.path, listing, methods=["GET"]),
        Route(kind.path, create, methods=["POST"]),
        Route(kind.path + "/{name}/delete", remove, methods=["POST"]),
    )
]
routes += [
    *schema_event_types.routes,
    *schema_variables.routes,
    *schema_lists.routes,
    *schema_external.routes,
]
