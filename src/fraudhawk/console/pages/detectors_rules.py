"""Rules on a DRAFT detector version: writing a new one (CreateRule), changing one (UpdateRuleVersion:
a rule version never changes, the version then uses the new one), a rule version's description (UpdateRuleMetadata,
in place), and the editor's live check.

`POST /rules/check` answers JSON for the editor's script: the expression compiled exactly as CreateRule
compiles it (the service's rule parser and type checker), and where it is wrong (line and column).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages.detectors_shared import (
    RULE_FIELDS,
    RuleInput,
    create_outcome,
    detector_of,
    drop_outcome,
    environment,
    expression_problem,
    outcome_names,
    read_rule,
    redirect_to,
    rule_exists,
    rule_form_context,
    version_of,
)
from fraudhawk.console.pages.detectors_versions import show_version, update_request, version_url
from fraudhawk.console.web import Form, call, read_form, render
from fraudhawk.detectors.environment import SCORE_SUFFIX
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError
from fraudhawk.rules import compile_rule
from fraudhawk.rules.syntax import MAX_LENGTH


def _rule_params(rule: RuleInput) -> dict[str, Any]:
    params: dict[str, Any] = {"expression": rule.expression, "language": "DETECTORPL", "outcomes": rule.outcomes}
    if rule.description:
        params["description"] = rule.description
    return params


async def add_rule(request: Request) -> Response:
    """CreateRule, then the version uses it as its last rule; either both happen or neither."""
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    detector = await detector_of(request, detector_id)
    version = await version_of(request, detector_id, version_id)
    form, _ = await read_form(request)
    env = await environment(request, detector["eventTypeName"])
    rule = read_rule(form, env, await outcome_names(request), with_id=True)
    if form.ok and await rule_exists(request, detector_id, rule.rule_id):
        form.fail("rule_id", f"A rule {rule.rule_id} already exists in this detector: choose another ID.")
    if form.ok and await create_outcome(request, form, rule):
        try:
            params = {"detectorId": detector_id, "ruleId": rule.rule_id, **_rule_params(rule)}
            created = (await call(request, "CreateRule", params))["rule"]
        except FraudhawkError as error:
            form.refuse(error, RULE_FIELDS)
            await drop_outcome(request, rule)
        else:
            rules = [*[dict(r) for r in version["rules"]], created]
            try:
                await call(request, "UpdateDetectorVersion", update_request(version, rules=rules))
            except FraudhawkError as error:
                form.refuse(error, {**RULE_FIELDS, "rules": "expression"})
                await call(request, "DeleteRule", {"rule": created})
                await drop_outcome(request, rule)
    if not form.ok:
        return await show_version(request, status=400, rule_form=form)
    done = f"Added rule {rule.rule_id} at the end of the rules."
    return redirect_to(version_url(detector_id, version_id), done=done, anchor="rules")


async def _edit_page(
    request: Request, form: Form, current: dict[str, Any], status: int, description_form: Form | None = None
) -> Response:
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    detector = await detector_of(request, detector_id)
    version = await version_of(request, detector_id, version_id)
    env = await environment(request, detector["eventTypeName"])
    models = [m["modelId"] for m in version.get("modelVersions", [])]
    return render(
        request,
        "detectors/rule_edit.html",
        status_code=status,
        title=f"Change rule {current['ruleId']}",
        crumbs=[
            ("/detectors", "Detectors"),
            (f"/detectors/{detector_id}", detector_id),
            (version_url(detector_id, version_id), f"Version {version_id}"),
            (None, f"Rule {current['ruleId']}"),
        ],
        detector=detector,
        version=version,
        rule=current,
        description_form=description_form,
        **rule_form_context(form, env, await outcome_names(request), detector["eventTypeName"], models),
    )


async def _rule_in(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The version and its rule named in the path (at the version the detector version uses)."""
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    version = await version_of(request, detector_id, version_id)
    rule_id = request.path_params["rule_id"]
    used = next((dict(r) for r in version["rules"] if r["ruleId"] == rule_id), None)
    if used is None:
        raise ResourceNotFoundError(f"Version {version_id} of detector {detector_id} has no rule {rule_id}")
    details: dict[str, Any] = (await call(request, "GetRules", used))["ruleDetails"][0]
    return version, details


def _form_of(current: dict[str, Any]) -> Form:
    """The rule form filled with the rule version as it is."""
    return Form(
        values={"description": current.get("description", ""), "expression": current["expression"]},
        lists={"outcomes": list(current["outcomes"])},
    )


async def edit_rule(request: Request) -> Response:
    _, current = await _rule_in(request)
    return await _edit_page(request, _form_of(current), current, 200)


async def save_rule_description(request: Request) -> Response:
    """UpdateRuleMetadata: the description of the rule version this version uses, changed in place (its
    expression and outcomes stay, so no new rule version is needed)."""
    _, current = await _rule_in(request)
    form, _ = await read_form(request)
    description = form.required("rule_description", "Description").strip()
    if len(description) > 128:  # AFD's limit, said plainly (the service's refusal would quote the whole text)
        form.fail("rule_description", "The description is at most 128 characters.")
    key = {k: current[k] for k in ("detectorId", "ruleId", "ruleVersion")}
    if form.ok:
        try:
            await call(request, "UpdateRuleMetadata", {"rule": key, "description": description})
        except FraudhawkError as error:
            form.refuse(error, {"description": "rule_description"})
    if not form.ok:
        return await _edit_page(request, _form_of(current), current, 400, description_form=form)
    done = f"Saved the description of rule {key['ruleId']} version {key['ruleVersion']}."
    url = f"{version_url(key['detectorId'], request.path_params['version_id'])}/rules/{key['ruleId']}/edit"
    return redirect_to(url, done=done, anchor="rule-description")


async def save_rule(request: Request) -> Response:
    """UpdateRuleVersion (the rule's next version), then this version uses it in the same place."""
    version, current = await _rule_in(request)
    detector = await detector_of(request, version["detectorId"])
    form, _ = await read_form(request)
    env = await environment(request, detector["eventTypeName"])
    rule = read_rule(form, env, await outcome_names(request), with_id=False)
    if form.ok and await create_outcome(request, form, rule):
        key = {k: current[k] for k in ("detectorId", "ruleId", "ruleVersion")}
        try:
            created = (await call(request, "UpdateRuleVersion", {"rule": key, **_rule_params(rule)}))["rule"]
        except FraudhawkError as error:
            form.refuse(error, RULE_FIELDS)
            await drop_outcome(request, rule)
        else:
            rules = [created if r["ruleId"] == created["ruleId"] else dict(r) for r in version["rules"]]
            try:
                await call(request, "UpdateDetectorVersion", update_request(version, rules=rules))
            except FraudhawkError as error:
                form.refuse(error, {**RULE_FIELDS, "rules": "expression"})
                await call(request, "DeleteRule", {"rule": created})
                await drop_outcome(request, rule)
            else:
                done = f"Saved rule {created['ruleId']} as its version {created['ruleVersion']}."
                return redirect_to(
                    version_url(version["detectorId"], version["detectorVersionId"]), done=done, anchor="rules"
                )
    return await _edit_page(request, form, current, 400)


async def check_expression(request: Request) -> Response:
    """{"eventType", "expression", "models"?} -> {"ok": true, "reads": [...]} or the problem with its place.

    `models` (the model ids of the version being edited) lets the check warn of a model score the
    version cannot produce, as UpdateDetectorVersion would refuse it.
    """
    try:
        body = json.loads(await request.body())
        event_type = str(body["eventType"])
        expression = str(body["expression"])
        models = [str(m) for m in body.get("models") or []]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"ok": False, "problem": "send eventType and expression as JSON"}, status_code=400)
    if len(expression) > MAX_LENGTH + 1:
        expression = expression[: MAX_LENGTH + 1]  # still too long: the compiler says so
    env = await environment(request, event_type)
    problem = expression_problem(expression, env)
    if problem is not None:
        return JSONResponse({"ok": False, "line": problem.line, "column": problem.column, "problem": problem.problem})
    compiled = compile_rule(expression, env)
    reads = sorted(compiled.variables)
    answer: dict[str, Any] = {"ok": True, "reads": reads, "lists": sorted(compiled.lists)}
    missing = [n for n in reads if n.endswith(SCORE_SUFFIX) and n[: -len(SCORE_SUFFIX)] not in models]
    if "models" in body and missing:
        answer["warning"] = (
            f"This version has no version of model {missing[0][: -len(SCORE_SUFFIX)]}: "
            f"add it under Model versions, or ${missing[0]} cannot be read."
        )
    return JSONResponse(answer)


_ONE = "/detectors/{detector_id}/versions/{version_id}"
routes: list[BaseRoute] = [
    Route("/rules/check", check_expression, methods=["POST"]),
    Route(_ONE + "/rules", add_rule, methods=["POST"]),
    Route(_ONE + "/rules/{rule_id}/edit", edit_rule, methods=["GET"]),
    Route(_ONE + "/rules/{rule_id}/edit", save_rule, methods=["POST"]),
    Route(_ONE + "/rules/{rule_id}/description", save_rule_description, methods=["POST"]),
]
