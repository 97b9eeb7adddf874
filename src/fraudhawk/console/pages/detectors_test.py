""" "Run test" on a detector version: an event typed into a form, evaluated exactly as GetEventPrediction
evaluates it, but stored nowhere (as AFD's console does): no event, no entity history, no prediction
record. The page shows the model scores, each rule's result with the values it read, and the outcomes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages.detectors_shared import detector_of, version_of
from fraudhawk.console.pages.detectors_versions import version_url
from fraudhawk.console.web import Form, call, console_of, read_form, render
from fraudhawk.errors import FraudhawkError
from fraudhawk.predictions.realtime import trial_event_prediction
from fraudhawk.service import contract


async def _event_type(request: Request, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The event type and its variables (name, data type, default), in the event type's order."""
    event_type: dict[str, Any] = (await call(request, "GetEventTypes", {"name": name}))["eventTypes"][0]
    names = list(event_type.get("eventVariables", []))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):  # BatchGetVariable takes at most 100 names
        answer = await call(request, "BatchGetVariable", {"names": names[start : start + 100]})
        found.update({v["name"]: v for v in answer.get("variables", [])})
    return event_type, [found[n] for n in names if n in found]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _page(request: Request, form: Form, result: dict[str, Any] | None, status: int) -> Response:
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    detector = await detector_of(request, detector_id)
    version = await version_of(request, detector_id, version_id)
    event_type, variables = await _event_type(request, detector["eventTypeName"])
    return render(
        request,
        "detectors/test.html",
        status_code=status,
        title=f"Run test: {detector_id} version {version_id}",
        crumbs=[
            ("/detectors", "Detectors"),
            (f"/detectors/{detector_id}", detector_id),
            (version_url(detector_id, version_id), f"Version {version_id}"),
            (None, "Run test"),
        ],
        detector=detector,
        version=version,
        variables=variables,
        entity_types=[(e, e) for e in event_type.get("entityTypes", [])],
        form=form,
        result=result,
    )


async def test_form(request: Request) -> Response:
    detector = await detector_of(request, request.path_params["detector_id"])
    event_type, variables = await _event_type(request, detector["eventTypeName"])
    values = {f"var_{v['name']}": v.get("defaultValue", "") for v in variables}
    entity_types = event_type.get("entityTypes", [])
    values.update(event_timestamp=_now(), entity_id="test-entity", entity_type=entity_types[0] if entity_types else "")
    return await _page(request, Form(values=values), None, 200)


async def run_test(request: Request) -> Response:
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    detector = await detector_of(request, detector_id)
    _, variables = await _event_type(request, detector["eventTypeName"])
    form, _ = await read_form(request)
    entity_id = form.required("entity_id", "Entity ID")
    entity_type = form.required("entity_type", "Entity type")
    timestamp = form.required("event_timestamp", "Event timestamp")
    sent = {v["name"]: form.get(f"var_{v['name']}") for v in variables if form.get(f"var_{v['name']}").strip()}
    if not sent and variables:
        form.problem = "Give a value to at least one variable."
    result = None
    if form.ok:
        params = {
            "detectorId": detector_id,
            "detectorVersionId": version_id,
            "eventId": f"console-test-{uuid.uuid4().hex[:12]}",
            "eventTypeName": detector["eventTypeName"],
            "entities": [{"entityType": entity_type, "entityId": entity_id}],
            "eventTimestamp": timestamp,
            "eventVariables": sent,
        }
        context = console_of(request).service.context
        try:
            result = await run_in_threadpool(
                lambda: trial_event_prediction(context, contract.validate_input("GetEventPrediction", params))
            )
        except FraudhawkError as error:
            fields = {"eventTimestamp": "event_timestamp", "entityId": "entity_id", "entityType": "entity_type"}
            fields.update({v["name"]: f"var_{v['name']}" for v in variables})
            form.refuse(error, fields)
    return await _page(request, form, result, 200 if form.ok else 400)


_ONE = "/detectors/{detector_id}/versions/{version_id}"
routes: list[BaseRoute] = [
    Route(_ONE + "/test", test_form, methods=["GET"]),
    Route(_ONE + "/test", run_test, methods=["POST"]),
]
