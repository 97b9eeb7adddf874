"""A model version's page (its data checks, AUC with its range, score distributions with a live
threshold, ROC curve and variable importance; ATI's ASI and challenge rates instead) and versions side
by side.

Every figure comes from the training report, computed once at training time on the validation events:
AFD's shapes (DescribeModelVersions) and fraudhawk's details beside them (training_details: score
distributions, summary). No page reads events. The live confusion matrix is computed in the browser
(static/models.js) from AFD's metricDataPoints, which are exact at every multiple of 5.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages.models_common import (
    ATI,
    METRIC_KEY,
    MODEL_TYPES,
    MOVING,
    headline,
    model_type_of,
    model_url,
    version_detail,
    version_url,
)
from fraudhawk.console.web import call, call_all, console_of, render
from fraudhawk.training.readings import ASI_GOOD, ASI_HIGH, ATODR_ENTITIES, asi_meaning, cr_table
from fraudhawk.training.versions import training_details

#: the thresholds of the rates tables (the version page's and the comparison's)
TABLE_THRESHOLDS = (100, 200, 300, 400, 500, 600, 700, 800, 900, 950)
COMPARE_THRESHOLDS = (500, 700, 900)
DEFAULT_THRESHOLD = 500
SCALE = 100_000  # AFD's console simulates its confusion matrix on this many events
MAX_COMPARED = 6


async def details_of(request: Request, model_id: str, version: str) -> dict[str, Any]:
    """fraudhawk's figures beyond AFD's shapes (score distributions, a summary of the data), stored
    with the training report."""
    service = console_of(request).service

    def read() -> dict[str, Any] | None:
        with service.db.read() as conn:
            return training_details(conn, model_id, version)

    return await run_in_threadpool(read) or {}


def _metrics(detail: dict[str, Any]) -> dict[str, Any]:
    v2 = detail.get("trainingResultV2") or {}
    metrics: dict[str, Any] = (v2.get("trainingMetricsV2") or {}).get(METRIC_KEY[detail["modelType"]], {})
    return metrics


def points_of(detail: dict[str, Any]) -> list[dict[str, float]]:
    points = _metrics(detail).get("metricDataPoints") or []
    return sorted(points, key=lambda point: point["threshold"])


def at_thresholds(points: list[dict[str, float]], thresholds: tuple[int, ...]) -> list[dict[str, float]]:
    """The report's points at these thresholds (those the report has)."""
    by_threshold = {int(point["threshold"]): point for point in points if float(point["threshold"]).is_integer()}
    return [by_threshold[t] for t in thresholds if t in by_threshold]


def importance_of(detail: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Raw variables' and engineered groups' log-odds importance, largest first."""
    v2 = detail.get("trainingResultV2") or {}
    raw = (v2.get("variableImportanceMetrics") or {}).get("logOddsMetrics") or []
    groups = (v2.get("aggregatedVariablesImportanceMetrics") or {}).get("logOddsMetrics") or []
    raw = sorted(raw, key=lambda item: -item["variableImportance"])
    groups = sorted(groups, key=lambda item: -item["aggregatedVariablesImportance"])
    return raw, groups


def validation_of(detail: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    result = detail.get("trainingResultV2") or detail.get("trainingResult") or {}
    metrics = result.get("dataValidationMetrics") or {}
    return {
        "file": metrics.get("fileLevelMessages") or [],
        "field": metrics.get("fieldLevelMessages") or [],
    }


def window_of(detail: dict[str, Any]) -> str:
    """What the version was trained on, in words."""
    window = (detail.get("ingestedEventsDetail") or {}).get("ingestedEventsTimeWindow")
    if window:
        return f"stored events from {_instant(window['startTime'])} to {_instant(window['endTime'])}"
    location = (detail.get("externalEventsDetail") or {}).get("dataLocation")
    return f"the file {location}" if location else "—"


def _instant(text: str) -> str:
    """An AFD time to the minute, in UTC (a window's ends are instants: its end is not included)."""
    return text.replace("T", " ")[:16] + " UTC"


def _day(ms: Any) -> str:
    if not isinstance(ms, int):
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _group_name(names: list[str]) -> str:
    # the entity's own activity (its history) is reported under ENTITY_ID
    return " + ".join("the entity's activity" if name == "ENTITY_ID" else name for name in names)


def importance_chart(raw: list[dict[str, Any]], groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "raw": {"names": [v["variableName"] for v in raw], "values": [v["variableImportance"] for v in raw]},
        "groups": {
            "names": [_group_name(g["variableNames"]) for g in groups],
            "values": [g["aggregatedVariablesImportance"] for g in groups],
        },
    }


async def version_page(request: Request) -> Response:
    model_type = model_type_of(request)
    model_id, version = request.path_params["model_id"], request.path_params["version"]
    detail = await version_detail(request, model_type, model_id, version)
    extra = await details_of(request, model_id, version)
    model = (await call(request, "GetModels", {"modelId": model_id, "modelType": model_type}))["models"][0]
    raw, groups = importance_of(detail)
    summary = extra.get("summary") or {}
    context: dict[str, Any] = {
        "detail": detail,
        "model": model,
        "type_name": MODEL_TYPES[model_type],
        "headline": headline(detail),
        "validation": validation_of(detail),
        "window": window_of(detail),
        "summary": summary,
        "first_event": _day(summary.get("firstEventMs")),
        "last_event": _day(summary.get("lastEventMs")),
        "validation_from": _day(summary.get("validationFromMs")),
        "raw": raw,
        "groups": [{**g, "label": _group_name(g["variableNames"])} for g in groups],
        "importance_chart": importance_chart(raw, groups),
        "moving": detail["status"] in MOVING,
        "url": version_url(model_type, model_id, version),
        "model_url": model_url(model_type, model_id),
        "extra": extra,
    }
    points = points_of(detail)
    if model_type == ATI:
        performance = _metrics(detail).get("modelPerformance") or {}
        asi = performance.get("asi")
        context.update(
            asi=asi,
            asi_reading=asi_meaning(asi) if asi is not None else None,
            asi_high=ASI_HIGH,
            asi_good=ASI_GOOD,
            cr_rows=cr_table(points),
            ati_table=at_thresholds(points, TABLE_THRESHOLDS),
            with_atodr=any("atodr" in point for point in points),
            ato_entities=extra.get("atoEntities"),
            atodr_entities=ATODR_ENTITIES,
            threshold=_threshold(request),
            chart={"points": points, "threshold": _threshold(request)},
        )
        template = "models/version_ati.html"
    else:
        threshold = _threshold(request)
        distributions = extra.get("scoreDistributions") or {}
        fraud_count, legit_count = sum(distributions.get("fraud") or []), sum(distributions.get("legit") or [])
        context.update(
            rates=at_thresholds(points, TABLE_THRESHOLDS),
            threshold=threshold,
            fraud_count=fraud_count,
            legit_count=legit_count,
            chart={
                "points": points,
                "distributions": distributions,
                "threshold": threshold,
                "scale": SCALE,
            },
        )
        template = "models/version.html"
    return render(
        request,
        template,
        title=f"{model_id} {version}",
        crumbs=[("/models", "Models"), (model_url(model_type, model_id), model_id), ("", f"Version {version}")],
        **context,
    )


def _threshold(request: Request) -> int:
    """The threshold the page opens at (?threshold=N links to one): a multiple of 5 from 0 to 1000."""
    try:
        value = int(request.query_params.get("threshold", DEFAULT_THRESHOLD))
    except ValueError:
        return DEFAULT_THRESHOLD
    return min(1000, max(0, round(value / 5) * 5))


async def compare_page(request: Request) -> Response:
    model_type = model_type_of(request)
    model_id = request.path_params["model_id"]
    everything = await call_all(
        request, "DescribeModelVersions", "modelVersionDetails", {"modelId": model_id, "modelType": model_type}
    )
    available = sorted((d["modelVersionNumber"] for d in everything), key=lambda v: tuple(int(p) for p in v.split(".")))
    # ?versions=1.0,2.0 (a link) or ?versions=1.0&versions=2.0 (the model page's checkboxes)
    asked = [v.strip() for raw in request.query_params.getlist("versions") for v in raw.split(",") if v.strip()]
    unknown = [v for v in asked if v not in available]
    chosen = [v for v in asked if v in available] or available[-MAX_COMPARED:]
    chosen = sorted(set(chosen[:MAX_COMPARED]), key=lambda v: tuple(int(p) for p in v.split(".")))
    by_number = {d["modelVersionNumber"]: d for d in everything}
    columns = []
    for version in chosen:
        detail = by_number[version]
        extra = await details_of(request, model_id, version)
        raw, groups = importance_of(detail)
        points = points_of(detail)
        summary = extra.get("summary") or {}
        columns.append(
            {
                "version": version,
                "detail": detail,
                "headline": headline(detail),
                "window": window_of(detail),
                "events": summary.get("events"),
                "validation_events": summary.get("validationEvents"),
                "variables": (detail.get("trainingDataSchema") or {}).get("modelVariables") or [],
                "importance": {v["variableName"]: v["variableImportance"] for v in raw},
                "groups": {_group_name(g["variableNames"]): g["aggregatedVariablesImportance"] for g in groups},
                "rates": {int(p["threshold"]): p for p in at_thresholds(points, COMPARE_THRESHOLDS)},
                "url": version_url(model_type, model_id, version),
            }
        )
    names = _union(column["importance"] for column in columns)
    group_names = _union(column["groups"] for column in columns)
    return render(
        request,
        "models/compare.html",
        title=f"Compare versions of {model_id}",
        crumbs=[("/models", "Models"), (model_url(model_type, model_id), model_id), ("", "Compare versions")],
        model_id=model_id,
        model_type=model_type,
        ati=model_type == ATI,
        available=available,
        chosen=chosen,
        unknown=unknown,
        columns=columns,
        names=names,
        group_names=group_names,
        thresholds=COMPARE_THRESHOLDS,
        max_compared=MAX_COMPARED,
        url=model_url(model_type, model_id) + "/compare",
    )


def _union(mappings: Any) -> list[str]:
    """Names in the order of their largest value over the versions."""
    best: dict[str, float] = {}
    for mapping in mappings:
        for name, value in mapping.items():
            best[name] = max(best.get(name, float("-inf")), value)
    return sorted(best, key=lambda name: -best[name])


routes: list[BaseRoute] = [
    Route("/models/{type}/{model_id}/compare", compare_page, methods=["GET"]),
    Route("/models/{type}/{model_id}/{version}", version_page, methods=["GET"]),
]
