"""GetEventPrediction: validate the event as AFD does, evaluate it, store it (with ingestion) and
record the prediction.

Reads (plan, entity states) happen before the evaluation and the write (event, entity state,
record) after it, as one unit of a group commit: a slow external model never holds the write lock.
`stage_event_prediction` does everything but the write, so a server can commit the writes of many
requests together; `get_event_prediction` commits it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from fraudhawk.catalog.values import utc_ms
from fraudhawk.context import Context, now_ms
from fraudhawk.errors import ValidationError
from fraudhawk.events.single import check_entities, check_variables
from fraudhawk.predictions import ingest, records
from fraudhawk.predictions.engine import EventInput, Prediction, evaluate, response
from fraudhawk.predictions.plan import DetectorPlan


def check_event(plan: DetectorPlan, req: dict[str, Any]) -> EventInput:
    """The request's event, checked against the detector's event type."""
    spec = plan.spec
    if req["eventTypeName"] != spec.name:
        raise ValidationError(
            f"eventTypeName: detector {plan.detector_id} evaluates events of type {spec.name}, "
            f"not {req['eventTypeName']}",
            field="eventTypeName",
        )
    variables: dict[str, str] = dict(req["eventVariables"])
    if not variables:
        raise ValidationError("eventVariables: provide at least one event variable", field="eventVariables")
    check_variables(spec, variables)
    for model in plan.models:
        if model.variables and not model.variables & variables.keys():
            raise ValidationError(
                f"eventVariables: model {model.model_id} reads {', '.join(sorted(model.variables))}; "
                "provide at least one of them",
                field="eventVariables",
            )
    entity_type, entity_id = check_entities(spec, req["entities"])
    return EventInput(
        event_id=req["eventId"],
        event_type=spec.name,
        entity_type=entity_type,
        entity_id=entity_id,
        event_ms=utc_ms(req["eventTimestamp"], "eventTimestamp"),
        variables=variables,
        blobs=req.get("externalModelEndpointDataBlobs") or {},
    )


@dataclass
class Staged:
    """A prediction evaluated and waiting for its write: `write` runs inside a (group) transaction,
    and `finish` answers once that has committed."""

    write: Callable[[Connection], ingest.Written]
    finish: Callable[[ingest.Written], dict[str, Any]]


@dataclass(frozen=True)
class Target:
    """What a GetEventPrediction of a detector evaluates: the version and its event type."""

    detector_id: str
    version: int
    event_type: str
    entity_types: tuple[str, ...]


def target(ctx: Context, detector_id: str, version_id: str | None) -> Target:
    """The detector version a prediction would use (the one named, else the ACTIVE one), from the
    plan a prediction loads anyway: what a caller needs to fill in a request's defaults."""
    with ctx.db.quick() as conn:
        plan = ctx.plans.lookup(ctx, conn, detector_id, version_id)
    return Target(plan.detector_id, plan.version, plan.spec.name, plan.spec.entity_types)


class WouldBlock(Exception):
    """Staging was asked not to wait on the network, and the detector calls external models."""


def stage_event_prediction(ctx: Context, req: dict[str, Any], *, may_block: bool = True) -> Staged:
    """Check and evaluate the event; what remains is its write. Servers batch the writes of many
    requests into one transaction; `get_event_prediction` commits it at once. With `may_block`
    false (an event loop), a detector with external models raises WouldBlock before any call."""
    prediction, known = _evaluated(ctx, req, may_block=may_block)
    prepared = ingest.prepare(prediction, known)

    def write(conn: Connection) -> ingest.Written:
        return ingest.write(conn, ctx, prediction, known, prepared, now_ms())

    def finish(written: ingest.Written) -> dict[str, Any]:
        for key, token, state in written.states:
            ctx.states.put(key, token, state)
        return response(prediction)

    return Staged(write, finish)


def _evaluated(ctx: Context, req: dict[str, Any], *, may_block: bool) -> tuple[Prediction, ingest.Known]:
    """The event checked and evaluated, and the entity states it was evaluated with; nothing written."""
    cache = ctx.states
    with ctx.db.quick() as conn:
        plan = ctx.plans.lookup(ctx, conn, req["detectorId"], req.get("detectorVersionId"))
        if plan.external and not may_block:
            raise WouldBlock(plan.detector_id)
        event = check_event(plan, req)
        known: ingest.Known = {}
        for model in plan.models:
            if model.history is not None:
                key = (model.model_id, model.major, model.minor, event.entity_id)
                known[(model.model_id, model.major, model.minor)] = cache.current(conn, key, model.history)
    prediction = evaluate(plan, event, {version: state for version, (_, state) in known.items()}, ctx.invoker)
    return prediction, known


def trial_event_prediction(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    """A GetEventPrediction request (already checked against AFD's contract) evaluated as it would be,
    but with nothing stored: no event, no entity history, no prediction record. This is AFD console's
    "Run test". The answer is GetEventPrediction's, plus what GetEventPredictionMetadata would tell of
    a stored one: `ruleEvaluations` (each rule's expression with the values it read, whether it was
    evaluated and matched) and `eventVariables` (each value the rules saw, and whether it was sent or
    the variable's default)."""
    prediction, _ = _evaluated(ctx, req, may_block=True)
    answer = response(prediction)
    answer["ruleEvaluations"] = records.rule_evaluations(prediction)
    answer["eventVariables"] = records.event_variables(prediction)
    answer["outcomes"] = list(prediction.outcomes)
    return answer


def get_event_prediction(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    staged = stage_event_prediction(ctx, req)
    return staged.finish(ctx.db.group.submit(staged.write))
