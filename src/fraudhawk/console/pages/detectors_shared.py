"""What the detector pages share: reading a detector and its versions, the model versions and outcomes a
version may use, the rule form, and checking an expression with the service's own rule compiler."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from fraudhawk.console.web import Form, call, call_all, console_of, redirect
from fraudhawk.detectors.environment import SCORE_SUFFIX, environment_of
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError
from fraudhawk.rules import RuleEnv, RuleError, compile_rule

NAME = re.compile(r"^[0-9a-z_-]+$")  # AFD's pattern for detector, rule and outcome ids
NAME_RULE = "Use lowercase letters, digits, _ and - (at most 64)."
MODES = [("FIRST_MATCHED", "First matched"), ("ALL_MATCHED", "All matched")]
MODE_HELP = {
    "FIRST_MATCHED": "Rules run in order; the first rule that matches gives the outcomes.",
    "ALL_MATCHED": "Every rule runs; the outcomes of all rules that match are returned.",
}
# A rule's refusal names the request's parameter: where each goes on the rule form
RULE_FIELDS = {"ruleId": "rule_id", "expression": "expression", "outcomes": "outcomes", "description": "description"}


async def detector_of(request: Request, detector_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await call(request, "GetDetectors", {"detectorId": detector_id}))["detectors"][0]
    return found


async def versions_of(request: Request, detector_id: str) -> list[dict[str, Any]]:
    """The detector's versions, newest first."""
    versions = await call_all(request, "DescribeDetector", "detectorVersionSummaries", {"detectorId": detector_id})
    return sorted(versions, key=lambda v: int(v["detectorVersionId"]), reverse=True)


async def version_of(request: Request, detector_id: str, version_id: str) -> dict[str, Any]:
    if not version_id.isdigit():
        raise ResourceNotFoundError(f"The detector version {version_id} of detector {detector_id} does not exist")
    params = {"detectorId": detector_id, "detectorVersionId": version_id}
    return await call(request, "GetDetectorVersion", params)


async def rules_of(request: Request, version: dict[str, Any]) -> list[dict[str, Any]]:
    """The version's rules in evaluation order, each with its expression, outcomes and description."""
    details: list[dict[str, Any]] = []
    for rule in version["rules"]:
        answer = await call(request, "GetRules", dict(rule))
        details += answer["ruleDetails"][:1]
    return details


async def latest_rules(request: Request, detector_id: str) -> dict[str, dict[str, Any]]:
    """Each rule of the detector at its latest version."""
    latest: dict[str, dict[str, Any]] = {}
    for rule in await call_all(request, "GetRules", "ruleDetails", {"detectorId": detector_id}):
        known = latest.get(rule["ruleId"])
        if known is None or int(rule["ruleVersion"]) > int(known["ruleVersion"]):
            latest[rule["ruleId"]] = rule
    return latest


@dataclass(frozen=True)
class ModelChoice:
    """An ACTIVE model version a detector version may use, as a checkbox value."""

    model_id: str
    model_type: str
    version: str

    @property
    def key(self) -> str:
        return f"{self.model_id}|{self.model_type}|{self.version}"

    @property
    def score(self) -> str:
        return self.model_id + SCORE_SUFFIX

    def wire(self) -> dict[str, str]:
        return {"modelId": self.model_id, "modelType": self.model_type, "modelVersionNumber": self.version}


def choice_of(model_version: dict[str, Any]) -> ModelChoice:
    return ModelChoice(model_version["modelId"], model_version["modelType"], model_version["modelVersionNumber"])


async def active_models(request: Request, event_type: str) -> list[ModelChoice]:
    """The ACTIVE model versions of the models trained on `event_type` (only those can be used)."""
    found: list[ModelChoice] = []
    for model in await call_all(request, "GetModels", "models"):
        if model.get("eventTypeName") != event_type:
            continue
        params = {"modelId": model["modelId"], "modelType": model["modelType"]}
        for detail in await call_all(request, "DescribeModelVersions", "modelVersionDetails", params):
            if detail.get("status") == "ACTIVE":
                found.append(choice_of(detail))
    return sorted(found, key=lambda c: (c.model_id, c.version))


def chosen_models(form: Form, choices: list[ModelChoice], used: list[ModelChoice]) -> list[dict[str, str]]:
    """The model versions ticked on the form: ACTIVE ones, or ones the version already uses."""
    known = {c.key: c for c in [*choices, *used]}
    picked: list[dict[str, str]] = []
    for key in form.all("model_versions"):
        choice = known.get(key)
        if choice is None:
            form.fail("model_versions", "That model version is no longer ACTIVE: reload the page and choose again.")
        else:
            picked.append(choice.wire())
    return picked


async def outcome_names(request: Request) -> list[str]:
    return sorted(o["name"] for o in await call_all(request, "GetOutcomes", "outcomes"))


async def environment(request: Request, event_type: str) -> RuleEnv:
    """The names an expression on `event_type` may use, exactly as CreateRule will check them."""
    return await run_in_threadpool(environment_of, console_of(request).service.context, event_type)


def expression_problem(expression: str, env: RuleEnv) -> RuleError | None:
    """What the rule compiler finds wrong with the expression (its line and column), or None."""
    try:
        compile_rule(expression, env)
    except RuleError as error:
        return error
    return None


def expression_error_text(error: RuleError) -> str:
    return f"Line {error.line}, column {error.column}: {error.problem}"


def names_beside_editor(env: RuleEnv, models: list[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """The variables, model scores and lists an expression may use, grouped for the editor's side panel.

    `models`: the model ids the version uses (their scores first); other scores of the event type's
    models are listed too, since adding the model to the version makes them usable.
    """
    used = {m + SCORE_SUFFIX for m in models or []}
    scores = sorted(
        (name, data_type.lower() + ("" if models is None or name in used else ", model not in this version"))
        for name, data_type in env.variables.items()
        if name.endswith(SCORE_SUFFIX)
    )
    scores.sort(key=lambda item: (item[0] not in used, item[0]))
    variables = sorted((n, t.lower()) for n, t in env.variables.items() if not n.endswith(SCORE_SUFFIX))
    lists = sorted((name, (kind or "any").lower()) for name, kind in env.lists.items())
    return {"variables": variables, "scores": scores, "lists": lists}


@dataclass
class RuleInput:
    rule_id: str
    description: str
    expression: str
    outcomes: list[str]
    new_outcome: str | None


def read_rule(form: Form, env: RuleEnv, known_outcomes: list[str], *, with_id: bool) -> RuleInput:
    """The rule on the form, each problem placed next to its field (nothing is saved here)."""
    rule_id = ""
    if with_id:
        rule_id = form.required("rule_id", "Rule ID")
        if rule_id and (not NAME.match(rule_id) or len(rule_id) > 64):
            form.fail("rule_id", f"The rule ID {rule_id!r} is not valid. {NAME_RULE}")
    description = form.get("description").strip()
    if len(description) > 128:
        form.fail("description", "The description is at most 128 characters.")
    expression = form.required("expression", "Expression")
    if expression:
        problem = expression_problem(expression, env)
        if problem is not None:
            form.fail("expression", expression_error_text(problem))
    outcomes = [name for name in form.all("outcomes") if name]
    typed = form.get("new_outcome").strip()
    new_outcome: str | None = None
    if typed:
        if not NAME.match(typed) or len(typed) > 64:
            form.fail("new_outcome", f"The outcome name {typed!r} is not valid. {NAME_RULE}")
        else:
            if typed not in outcomes:
                outcomes.append(typed)
            if typed not in known_outcomes:
                new_outcome = typed  # created when the rule is saved
    unknown = [name for name in outcomes if name not in known_outcomes and name != new_outcome]
    if unknown:
        form.fail("outcomes", f"The outcome {unknown[0]} no longer exists: choose another.")
    if not outcomes:
        form.fail("outcomes", "Choose at least one outcome, or create one below.")
    return RuleInput(rule_id, description, expression, outcomes, new_outcome)


async def rule_exists(request: Request, detector_id: str, rule_id: str) -> bool:
    try:
        await call(request, "GetRules", {"detectorId": detector_id, "ruleId": rule_id})
    except ResourceNotFoundError:
        return False
    return True


async def create_outcome(request: Request, form: Form, rule: RuleInput) -> bool:
    """Create the outcome named on the form, if one is; False (and the refusal on the form) if refused."""
    if rule.new_outcome is None:
        return True
    try:
        await call(request, "PutOutcome", {"name": rule.new_outcome})
    except FraudhawkError as error:
        form.refuse(error, {"name": "new_outcome"})
        return False
    return True


async def drop_outcome(request: Request, rule: RuleInput) -> None:
    """Undo `create_outcome` when what it was created for was refused (nothing saved half-way)."""
    if rule.new_outcome is not None:
        # already in use by something else: it stays, which is harmless
        with contextlib.suppress(FraudhawkError):
            await call(request, "DeleteOutcome", {"name": rule.new_outcome})


def rule_form_context(
    form: Form | None, env: RuleEnv, known_outcomes: list[str], event_type: str, models: list[str] | None
) -> dict[str, Any]:
    return {
        "form": form,
        "names": names_beside_editor(env, models),
        "known_outcomes": known_outcomes,
        "chosen_outcomes": form.all("outcomes") if form else [],
        "event_type": event_type,
        "models_used": models,
    }


def redirect_to(url: str, done: str, anchor: str) -> Response:
    """`redirect` to a place on the page: the notice's query goes before the #fragment, not inside it."""
    response = redirect(url, done=done)
    response.headers["location"] += f"#{anchor}"
    return response


@dataclass(frozen=True)
class ExternalChoice:
    """An external model as a detector version's page shows it: what it reads and which variables it fills."""

    endpoint: str
    event_type: str
    status: str
    outputs: list[str]


def external_choice(model: dict[str, Any]) -> ExternalChoice:
    output = model.get("outputConfiguration", {})
    mapped = {**output.get("csvIndexToVariableMap", {}), **output.get("jsonKeyToVariableMap", {})}
    return ExternalChoice(
        model["modelEndpoint"],
        model.get("inputConfiguration", {}).get("eventTypeName", ""),
        model.get("modelEndpointStatus", ""),
        sorted(mapped.values()),
    )


async def external_models(request: Request, version: dict[str, Any], choosable_for: str | None) -> list[ExternalChoice]:
    """The external models the version uses, in its order (one deleted since shows with an empty status),
    then, with `choosable_for` (the detector's event type), the other ASSOCIATED ones (the only ones
    UpdateDetectorVersion accepts), those reading that event type first."""
    stored = await call_all(request, "GetExternalModels", "externalModels")
    known = {m["modelEndpoint"]: external_choice(m) for m in stored}
    used = list(version.get("externalModelEndpoints", []))
    found = [known.get(e) or ExternalChoice(e, "", "", []) for e in used]
    if choosable_for is not None:
        others = [c for e, c in known.items() if e not in used and c.status == "ASSOCIATED"]
        found += sorted(others, key=lambda c: (c.event_type != choosable_for, c.endpoint))
    return found
