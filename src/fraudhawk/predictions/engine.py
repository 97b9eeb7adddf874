"""Evaluating one event with a detector version: model scores, external models, then rules.

Nothing here writes: `evaluate` is a pure function of the plan, the event and the entity states
it is given, so GetEventPrediction, the library client and tests share it, and the caller decides
what to store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fraudhawk.features.history import EntityState
from fraudhawk.features.single import SingleRowPlan
from fraudhawk.predictions.plan import DetectorPlan, PlannedModel, PlannedRule
from fraudhawk.rules import coerce
from fraudhawk.scoring.external import ExternalInvoker, ExternalResult
from fraudhawk.scoring.model import UNKNOWN_RISK

EVENT_SOURCE = "EVENT"
DEFAULT_SOURCE = "DEFAULT"


@dataclass(frozen=True)
class EventInput:
    event_id: str
    event_type: str
    entity_type: str
    entity_id: str
    event_ms: int
    variables: dict[str, str]  # as sent
    blobs: Mapping[str, Any] = field(default_factory=dict)  # external model data blobs by endpoint


@dataclass(frozen=True)
class ModelEvaluation:
    model: PlannedModel
    score: float
    vector: np.ndarray  # the model's input row: explanations are computed from it when asked


@dataclass(frozen=True)
class RuleEvaluation:
    rule: PlannedRule
    evaluated: bool
    matched: bool
    with_values: str


@dataclass(frozen=True)
class Prediction:
    plan: DetectorPlan
    event: EventInput
    values: dict[str, tuple[str, str]]  # variable -> (value used by rules, source)
    models: list[ModelEvaluation]
    external: list[ExternalResult]
    rules: list[RuleEvaluation]
    outcomes: list[str]


def score_model(model: PlannedModel, event: EventInput, state: EntityState | None) -> ModelEvaluation:
    """Score one event (pure Python, no frames: see `features.single`); a TFI model reads the
    entity's history up to, not including, this event. `state` is only read."""
    single = SingleRowPlan.of(model.model.plan)
    history = single.history_features(state, event.variables, event.event_ms)
    vector = single.vector(event.variables, event.event_ms, history)
    raw = model.model.raw_one(vector)
    score = float(np.round(model.model.calibrated_one(raw, history)))
    if model.model.first_event_unknown and (state is None or state.n == 0):
        score = UNKNOWN_RISK
    return ModelEvaluation(model, score, vector)


def rule_values(plan: DetectorPlan, event: EventInput) -> dict[str, tuple[str, str]]:
    """Every variable of the event type as rules see it: the value sent, or the variable's default."""
    values: dict[str, tuple[str, str]] = {}
    for name in plan.spec.variables:
        sent = event.variables.get(name)
        if sent is not None:
            values[name] = (sent, EVENT_SOURCE)
        else:
            values[name] = (plan.spec.defaults.get(name, ""), DEFAULT_SOURCE)
    return values


def choose(plan: DetectorPlan, hits: Sequence[bool]) -> tuple[list[str], list[str]]:
    """The outcomes and the matched rule ids an event gets when its rules matched as `hits` says,
    rule by rule: FIRST_MATCHED keeps the first match, ALL_MATCHED every one (real time and batch)."""
    outcomes: list[str] = []
    rule_ids: list[str] = []
    for rule, hit in zip(plan.rules, hits, strict=True):
        if hit:
            rule_ids.append(rule.rule_id)
            outcomes.extend(o for o in rule.outcomes if o not in outcomes)
            if plan.execution_mode == "FIRST_MATCHED":
                break
    return outcomes, rule_ids


def run_rules(plan: DetectorPlan, typed: Mapping[str, Any]) -> tuple[list[RuleEvaluation], list[str]]:
    """Evaluate rules in order; FIRST_MATCHED stops evaluating at the first match."""
    results: list[RuleEvaluation] = []
    stopped = False
    for rule in plan.rules:
        if stopped:
            results.append(RuleEvaluation(rule, False, False, ""))
            continue
        matched = rule.compiled.evaluate(typed, plan.lists)
        results.append(RuleEvaluation(rule, True, matched, rule.compiled.with_values(typed)))
        stopped = matched and plan.execution_mode == "FIRST_MATCHED"
    return results, choose(plan, [r.matched for r in results])[0]


def evaluate(
    plan: DetectorPlan,
    event: EventInput,
    states: Mapping[tuple[str, int, int], EntityState | None],
    invoker: ExternalInvoker | None,
) -> Prediction:
    values = rule_values(plan, event)
    typed: dict[str, Any] = {name: coerce(plan.spec.variables[name], values[name][0]) for name in plan.rule_inputs}
    models: list[ModelEvaluation] = []
    for model in plan.models:
        evaluation = score_model(model, event, states.get((model.model_id, model.major, model.minor)))
        models.append(evaluation)
        typed[model.score_variable] = coerce(plan.score_types.get(model.score_variable, "FLOAT"), str(evaluation.score))
    external: list[ExternalResult] = []
    if plan.external and invoker is not None:
        plain = {name: text for name, (text, _) in values.items()}
        external = invoker.invoke_many(plan.external, plain, event.blobs)
        for result in external:
            for name, raw in result.outputs.items():
                typed[name] = coerce(plan.score_types.get(name, "FLOAT"), raw.strip())
    rules, outcomes = run_rules(plan, typed)
    return Prediction(plan, event, values, models, external, rules, outcomes)


def response(prediction: Prediction) -> dict[str, Any]:
    """GetEventPrediction's answer."""
    chosen = set(choose(prediction.plan, [r.matched for r in prediction.rules])[1])
    matched = [r for r in prediction.rules if r.rule.rule_id in chosen]
    return {
        "modelScores": [
            {
                "modelVersion": {
                    "modelId": m.model.model_id,
                    "modelType": m.model.model_type,
                    "modelVersionNumber": m.model.version,
                    "arn": m.model.arn,
                },
                "scores": {m.model.score_variable: m.score},
            }
            for m in prediction.models
        ],
        "ruleResults": [{"ruleId": r.rule.rule_id, "outcomes": list(r.rule.outcomes)} for r in matched],
        "externalModelOutputs": [
            {
                "externalModel": {"modelEndpoint": r.model.endpoint, "modelSource": r.model.source},
                "outputs": dict(r.outputs),
            }
            for r in prediction.external
        ],
    }
