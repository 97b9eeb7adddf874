"""The record of every real-time prediction, and the two operations that read it:
GetEventPredictionMetadata (one prediction, explained) and ListEventPredictions (search).

Records older than the configured retention are removed by the background worker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
from sqlalchemy import Connection, FromClause, or_, select

from fraudhawk.catalog.paging import decode_token, encode_token, with_token
from fraudhawk.catalog.values import utc_ms
from fraudhawk.catalog.version_numbers import version_text
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.errors import ResourceNotFoundError, ValidationError
from fraudhawk.events import audit
from fraudhawk.predictions.engine import Prediction
from fraudhawk.predictions.explain import explain
from fraudhawk.scoring import artifacts
from fraudhawk.scoring.model import load_version_model
from fraudhawk.storage import schema

_table = schema.predictions
_ENCODER = msgspec.json.Encoder()
_PRUNE_CHUNK = 10_000
_DAY_MS = 86_400_000


def event_variables(prediction: Prediction) -> list[dict[str, Any]]:
    """Each value the rules saw, and whether it was sent or the variable's default (as recorded, and as
    GetEventPredictionMetadata and the console's "Run test" show it)."""
    return [{"name": name, "value": value, "source": source} for name, (value, source) in prediction.values.items()]


def rule_evaluations(prediction: Prediction) -> list[dict[str, Any]]:
    """Each rule's expression with the values it read, whether it was evaluated and whether it matched."""
    return [
        {
            "ruleId": r.rule.rule_id,
            "ruleVersion": str(r.rule.version),
            "expression": r.rule.expression,
            "expressionWithValues": r.with_values,
            "outcomes": list(r.rule.outcomes),
            "evaluated": r.evaluated,
            "matched": r.matched,
        }
        for r in prediction.rules
    ]


def encode(prediction: Prediction, stored: bool) -> tuple[str, bytes | None]:
    """The record (JSON text) and the model inputs (float64 bytes) kept for a prediction."""
    plan, event = prediction.plan, prediction.event
    models = []
    for evaluation in prediction.models:
        m = evaluation.model
        models.append(
            {
                "modelId": m.model_id,
                "modelType": m.model_type,
                "major": m.major,
                "minor": m.minor,
                "outputVariableName": m.score_variable,
                "score": evaluation.score,
                "width": int(evaluation.vector.shape[0]),
            }
        )
    record = {
        "entityId": event.entity_id,
        "entityType": event.entity_type,
        "detectorVersionStatus": plan.status,
        "ruleExecutionMode": plan.execution_mode,
        "eventVariables": event_variables(prediction),
        "rules": rule_evaluations(prediction),
        "outcomes": prediction.outcomes,
        "models": models,
        "external": [
            {
                "modelEndpoint": r.model.endpoint,
                "useEventVariables": r.model.use_event_variables,
                "inputVariables": r.input_variables,
                "outputVariables": r.outputs,
                **({"error": r.error} if r.error else {}),
            }
            for r in prediction.external
        ],
        "stored": stored,
    }
    vectors = None
    if prediction.models:
        vectors = np.concatenate([e.vector for e in prediction.models]).astype(np.float64).tobytes()
    return _ENCODER.encode(record).decode(), vectors


def _version_number(text: str, field: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 100_000:
        raise ValidationError(f"{field} {text!r} is not a detector version id such as 1")
    return int(text)


def _evaluations(ctx: Context, conn: Connection, record: dict[str, Any], vectors: bytes | None) -> list[dict[str, Any]]:
    values = np.frombuffer(vectors, dtype=np.float64) if vectors else np.zeros(0)
    offset = 0
    versions = schema.model_versions
    evaluated = []
    for m in record["models"]:
        vector = values[offset : offset + m["width"]]
        offset += m["width"]
        evaluation: dict[str, Any] = {
            "outputVariableName": m["outputVariableName"],
            "evaluationScore": str(m["score"]),
        }
        row = conn.execute(
            select(versions).where(
                versions.c.model_id == m["modelId"], versions.c.major == m["major"], versions.c.minor == m["minor"]
            )
        ).first()
        if row is not None:
            try:
                model = load_version_model(ctx, row)
            except artifacts.ArtifactError:
                model = None  # the version's files are gone: the score stands, unexplained
            if model is not None and len(model.plan.feature_names) == len(vector):
                evaluation["predictionExplanations"] = explain(model, vector)
        evaluated.append(
            {
                "modelId": m["modelId"],
                "modelVersion": version_text(m["major"], m["minor"]),
                "modelType": m["modelType"],
                "evaluations": [evaluation],
            }
        )
    return evaluated


def get_event_prediction_metadata(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    prediction_ms = utc_ms(req["predictionTimestamp"], "predictionTimestamp")
    version = _version_number(req["detectorVersionId"], "detectorVersionId")
    with ctx.db.read() as conn:
        row = conn.execute(
            select(_table)
            .where(
                _table.c.event_type == req["eventTypeName"],
                _table.c.event_id == req["eventId"],
                _table.c.detector_id == req["detectorId"],
                _table.c.detector_version == version,
                _table.c.prediction_ms == prediction_ms,
            )
            .order_by(_table.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            raise ResourceNotFoundError(
                f"No prediction of event {req['eventId']} ({req['eventTypeName']}) by detector {req['detectorId']} "
                f"version {req['detectorVersionId']} at {req['predictionTimestamp']} is recorded"
            )
        record = json.loads(row.record)
        evaluated = _evaluations(ctx, conn, record, row.vectors)
    return {
        "eventId": row.event_id,
        "eventTypeName": row.event_type,
        "entityId": record["entityId"],
        "entityType": record["entityType"],
        "eventTimestamp": iso_time(row.event_ms),
        "detectorId": row.detector_id,
        "detectorVersionId": str(row.detector_version),
        "detectorVersionStatus": record["detectorVersionStatus"],
        "eventVariables": record["eventVariables"],
        "rules": record["rules"],
        "ruleExecutionMode": record["ruleExecutionMode"],
        "outcomes": record["outcomes"],
        "evaluatedModelVersions": evaluated,
        "evaluatedExternalModels": [{k: v for k, v in e.items() if k != "error"} for e in record["external"]],
        "predictionTimestamp": iso_time(row.prediction_ms),
    }


@dataclass(frozen=True)
class Search:
    """What a search of the recorded predictions narrows by (None: any). ListEventPredictions offers
    the first five; the console also searches by entity and by outcome."""

    event_id: str | None = None
    event_type: str | None = None
    detector_id: str | None = None
    detector_version: int | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    outcome: str | None = None


def search(ctx: Context, terms: Search, next_token: str | None, size: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the predictions that match, newest first, and the token for the next page.

    Each summary is ListEventPredictions' with the entity and outcomes added. A search by outcome walks
    that outcome's keys (prediction_outcomes), one by entity or event id its index; others walk the time
    index, newest first, and stop at a page.
    """
    outcomes = schema.prediction_outcomes
    source: FromClause
    if terms.outcome is not None:
        # the page is ordered by the outcome rows' own copy of the time, so their index gives the order
        key_ms, key_id = outcomes.c.prediction_ms, outcomes.c.prediction_id
        source = outcomes.join(_table, _table.c.id == outcomes.c.prediction_id)
    else:
        key_ms, key_id = _table.c.prediction_ms, _table.c.id
        source = _table
    query = select(
        _table.c.id,
        _table.c.event_id,
        _table.c.event_type,
        _table.c.event_ms,
        _table.c.prediction_ms,
        _table.c.detector_id,
        _table.c.detector_version,
        _table.c.entity_type,
        _table.c.entity_id,
        _table.c.outcomes,
    ).select_from(source)
    if terms.outcome is not None:
        query = query.where(outcomes.c.outcome == terms.outcome)
    for column, value in (
        (_table.c.event_id, terms.event_id),
        (_table.c.event_type, terms.event_type),
        (_table.c.detector_id, terms.detector_id),
        (_table.c.detector_version, terms.detector_version),
        (_table.c.entity_type, terms.entity_type),
        (_table.c.entity_id, terms.entity_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if terms.start_ms is not None:
        query = query.where(key_ms >= terms.start_ms)
    if terms.end_ms is not None:
        query = query.where(key_ms <= terms.end_ms)
    if next_token:
        after = decode_token(next_token, list)
        if len(after) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in after):
            raise ValidationError("The nextToken is not valid: pass the nextToken of a previous response")
        # the range on the time alone lets the index seek to the page's start
        query = query.where(key_ms <= after[0], or_(key_ms < after[0], key_id < after[1]))
    with ctx.db.read() as conn:
        rows = conn.execute(query.order_by(key_ms.desc(), key_id.desc()).limit(size + 1)).all()
        token = None
        if len(rows) > size:
            rows = rows[:size]
            token = encode_token([rows[-1].prediction_ms, rows[-1].id])
    summaries = [
        {
            "eventId": r.event_id,
            "eventTypeName": r.event_type,
            "eventTimestamp": iso_time(r.event_ms),
            "predictionTimestamp": iso_time(r.prediction_ms),
            "detectorId": r.detector_id,
            "detectorVersionId": str(r.detector_version),
            "entityType": r.entity_type,
            "entityId": r.entity_id,
            "outcomes": sorted(audit.outcomes_of(r.outcomes)),
        }
        for r in rows
    ]
    return summaries, token


def time_window(window: dict[str, str], field: str) -> tuple[int, int]:
    """A predictionTimeRange's bounds in epoch milliseconds; the end may not come before the start."""
    start = utc_ms(window["startTime"], f"{field}.startTime")
    end = utc_ms(window["endTime"], f"{field}.endTime")
    if end < start:
        raise ValidationError(f"{field}: endTime is before startTime")
    return start, end


def list_event_predictions(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    start_ms = end_ms = version = None
    if "detectorVersionId" in req:
        version = _version_number(req["detectorVersionId"]["value"], "detectorVersionId.value")
    if "predictionTimeRange" in req:
        start_ms, end_ms = time_window(req["predictionTimeRange"], "predictionTimeRange")
    terms = Search(
        event_id=req.get("eventId", {}).get("value"),
        event_type=req.get("eventType", {}).get("value"),
        detector_id=req.get("detectorId", {}).get("value"),
        detector_version=version,
        start_ms=start_ms,
        end_ms=end_ms,
    )
    summaries, token = search(ctx, terms, req.get("nextToken"), req.get("maxResults") or 50)
    extras = ("entityType", "entityId", "outcomes")
    found = [{k: v for k, v in summary.items() if k not in extras} for summary in summaries]
    return with_token({"eventPredictionSummaries": found}, token)


PRUNE_EVERY_S = 60.0


class PruneClock:
    """When a service last pruned its records (`Context.pruning`): it prunes at most once a minute."""

    def __init__(self) -> None:
        self._last: float | None = None

    def due(self) -> bool:
        """True, and the clock restarts, when the last pruning is a minute old or there was none."""
        now = time.monotonic()
        if self._last is not None and now - self._last < PRUNE_EVERY_S:
            return False
        self._last = now
        return True


def prune(ctx: Context, owner: str, stopping: Callable[[], bool]) -> bool:
    """Remove records older than the retention, a chunk per transaction, at most once a minute."""
    del owner
    if not ctx.pruning.due():
        return False
    cutoff = now_ms() - ctx.settings.prediction_retention_days * _DAY_MS
    old = select(_table.c.id).where(_table.c.prediction_ms < cutoff).limit(_PRUNE_CHUNK)
    while not stopping():
        with ctx.db.read() as conn:
            ids = conn.execute(old).scalars().all()
        if not ids:
            return False
        with ctx.db.write() as conn:
            audit.delete_predictions(conn, _table.c.id.in_(ids))
    return False
