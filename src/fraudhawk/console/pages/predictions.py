"""The console's past predictions: a search of the recorded predictions (AFD's ListEventPredictions,
plus entity and outcome), one prediction explained (GetEventPredictionMetadata), and the stored event
it was about (GetEvent)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.web import Form, call, call_all, console_of, render
from fraudhawk.errors import ResourceNotFoundError
from fraudhawk.predictions import records

PAGE = 50
FILTERS = ("detector", "version", "outcome", "event_type", "from", "to", "entity_type", "entity_id", "event_id")
_TRAIL = "."  # separates the tokens of the pages before this one (base64url never holds a dot)


def _instant(text: str) -> int | None:
    """A datetime-local value (or an ISO-8601 time), read as UTC, in epoch ms; None when unreadable."""
    value = text.strip().removesuffix("Z")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _terms(form: Form) -> records.Search:
    """The search the filters ask for; what is malformed is marked on its field."""
    version: int | None = None
    if form["version"].strip():
        text = form["version"].strip()
        if not text.isdigit() or not 0 < int(text) < 100_000:
            form.fail("version", "Detector version must be a version number such as 1.")
        else:
            version = int(text)
    bounds: dict[str, int | None] = {}
    for name, label in (("from", "From"), ("to", "To")):
        bounds[name] = None
        if form[name].strip():
            bounds[name] = _instant(form[name])
            if bounds[name] is None:
                form.fail(name, f"{label} must be a date and time such as 2024-05-01T10:00 (UTC).")
    end = bounds["to"]
    if end is not None and "." not in form["to"]:
        # "to 10:05" means up to the end of that minute (or second): the whole of it is included
        end += 999 if form["to"].count(":") == 2 else 59_999
    if bounds["from"] is not None and bounds["to"] is not None and bounds["to"] < bounds["from"]:
        form.fail("to", "To must not be before From.")
    entity_id = form["entity_id"].strip() or None
    if form["entity_type"] and not entity_id:
        form.fail("entity_id", "Give the entity's id too, or clear the entity type.")

    def chosen(name: str) -> str | None:
        return form[name].strip() or None

    return records.Search(
        event_id=chosen("event_id"),
        event_type=chosen("event_type"),
        detector_id=chosen("detector"),
        detector_version=version,
        start_ms=bounds["from"],
        end_ms=end,
        entity_type=chosen("entity_type"),
        entity_id=entity_id,
        outcome=chosen("outcome"),
    )


def detail_url(summary: dict[str, Any]) -> str:
    """The detail page of one recorded prediction: the five keys GetEventPredictionMetadata takes."""
    keys = {
        "detectorId": summary["detectorId"],
        "detectorVersionId": summary["detectorVersionId"],
        "eventId": summary["eventId"],
        "eventTypeName": summary["eventTypeName"],
        "predictionTimestamp": summary["predictionTimestamp"],
    }
    return "/predictions/detail?" + urlencode(keys)


async def search_page(request: Request) -> Response:
    query = request.query_params
    form = Form(values={name: query.get(name, "") for name in FILTERS})
    terms = _terms(form)
    token = query.get("page") or None
    trail = [t for t in query.get("trail", "").split(_TRAIL) if t]
    detectors = await call_all(request, "GetDetectors", "detectors")
    outcomes = await call_all(request, "GetOutcomes", "outcomes")
    event_types = await call_all(request, "GetEventTypes", "eventTypes")
    entity_types = await call_all(request, "GetEntityTypes", "entityTypes")
    found: list[dict[str, Any]] = []
    next_token = None
    if form.ok:
        context = console_of(request).service.context
        found, next_token = await run_in_threadpool(records.search, context, terms, token, PAGE)
    filters = {name: form[name] for name in FILTERS if form[name]}

    def page_url(page: str | None, pages_before: list[str]) -> str:
        params = dict(filters)
        if page:
            params["page"] = page
        if pages_before:
            params["trail"] = _TRAIL.join(pages_before)
        return "/predictions" + ("?" + urlencode(params) if params else "")

    # the previous page is the last token of the trail ("" for the first page)
    previous = None
    if token:
        previous = page_url(trail[-1] if trail else None, trail[:-1])
    following = page_url(next_token, [*trail, token or ""]) if next_token else None
    return render(
        request,
        "predictions/search.html",
        status_code=200 if form.ok else 400,
        title="Past predictions",
        crumbs=[("", "Past predictions")],
        form=form,
        found=[{**s, "href": detail_url(s)} for s in found],
        filtered=bool(filters),
        page_number=len(trail) + 2 if token else 1,
        previous=previous,
        following=following,
        detectors=[(d["detectorId"], d["detectorId"]) for d in detectors],
        outcomes=[(o["name"], o["name"]) for o in outcomes],
        event_types=[(e["name"], e["name"]) for e in event_types],
        entity_types=[(e["name"], e["name"]) for e in entity_types],
    )


FEATURE_ROWS = 15  # the derived features shown: those that moved the score most


def _impact(name: str, item: dict[str, Any], largest: float) -> dict[str, Any]:
    log_odds = float(item.get("logOddsImpact", 0.0))
    return {
        "name": name,
        "relative": item.get("relativeImpact", ""),
        "log_odds": log_odds,
        "description": item.get("description"),
        "width": math.ceil(100 * abs(log_odds) / largest),
    }


def _ranked(rows: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    largest = max((abs(float(item.get("logOddsImpact", 0.0))) for _, item in rows), default=0.0) or 1.0
    impacts = [_impact(name, item, largest) for name, item in rows]
    impacts.sort(key=lambda impact: -abs(impact["log_odds"]))
    return impacts


def _explanations(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """Per model score, largest first: each variable's impact (AFD's variableImpactExplanations: the
    chart), the groups of variables the trainer's features combine (aggregatedVariablesImpactExplanations,
    with their words for ATI), and the derived features behind them (fraudhawk's featureImpactExplanations).
    The three are views of the same push on the score, so they are shown apart, never added together."""
    charts = []
    for version in metadata.get("evaluatedModelVersions", []):
        for evaluation in version.get("evaluations", []):
            explained = evaluation.get("predictionExplanations") or {}
            variables = [(i["eventVariableName"], i) for i in explained.get("variableImpactExplanations", [])]
            groups = [
                (" + ".join(i.get("eventVariableNames", [])), i)
                for i in explained.get("aggregatedVariablesImpactExplanations", [])
            ]
            features = [
                (" + ".join(i.get("eventVariableNames", [])), i) for i in explained.get("featureImpactExplanations", [])
            ]
            charts.append(
                {
                    "model": f"{version['modelId']} {version['modelVersion']} ({version['modelType']})",
                    "score_name": evaluation.get("outputVariableName", ""),
                    "score": evaluation.get("evaluationScore", ""),
                    "impacts": _ranked(variables),
                    "groups": _ranked(groups),
                    "features": _ranked(features)[:FEATURE_ROWS],
                }
            )
    return charts


async def detail_page(request: Request) -> Response:
    query = request.query_params
    keys = ("detectorId", "detectorVersionId", "eventId", "eventTypeName", "predictionTimestamp")
    missing = [key for key in keys if not query.get(key)]
    if missing:
        return render(
            request,
            "error.html",
            status_code=400,
            title="Not possible",
            message="A prediction is named by its detector, version, event, event type and time: "
            f"this link lacks {', '.join(missing)}. Open it from the search of past predictions.",
        )
    metadata = await call(request, "GetEventPredictionMetadata", {key: query[key] for key in keys})
    event_href = f"/events/{_path(metadata['eventTypeName'])}/{_path(metadata['eventId'])}"
    explanations = _explanations(metadata)
    return render(
        request,
        "predictions/detail.html",
        title=f"Prediction of event {metadata['eventId']}",
        crumbs=[("/predictions", "Past predictions"), ("", f"Event {metadata['eventId']}")],
        p=metadata,
        event_href=event_href,
        explanations=explanations,
        chart_data=[
            {"id": f"chart-{index}", "impacts": chart["impacts"]}
            for index, chart in enumerate(explanations)
            if chart["impacts"]
        ],
        scores={
            f"{v['modelId']} {v['modelVersion']}": [
                (e["outputVariableName"], e["evaluationScore"]) for e in v["evaluations"]
            ]
            for v in metadata.get("evaluatedModelVersions", [])
        },
    )


def _path(text: str) -> str:
    return quote(text, safe="")


async def event_page(request: Request) -> Response:
    event_type = request.path_params["event_type"]
    event_id = request.path_params["event_id"]
    try:
        answer = await call(request, "GetEvent", {"eventTypeName": event_type, "eventId": event_id})
    except ResourceNotFoundError as error:
        return render(
            request,
            "predictions/event_missing.html",
            status_code=404,
            title="Event not stored",
            crumbs=[("/predictions", "Past predictions"), ("", f"Event {event_id}")],
            message=error.message,
            event_type=event_type,
            event_id=event_id,
            search_href="/predictions?" + urlencode({"event_type": event_type, "event_id": event_id}),
        )
    event = answer["event"]
    return render(
        request,
        "predictions/event.html",
        title=f"Event {event_id}",
        crumbs=[("/predictions", "Past predictions"), ("", f"Event {event_id}")],
        event=event,
        search_href="/predictions?" + urlencode({"event_type": event_type, "event_id": event_id}),
    )


routes: list[BaseRoute] = [
    Route("/predictions", search_page, methods=["GET"]),
    Route("/predictions/detail", detail_page, methods=["GET"]),
    Route("/events/{event_type}/{event_id}", event_page, methods=["GET"]),
]
