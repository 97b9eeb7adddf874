"""A detector version's pages: building the first one, its page (models, rules and their order, rule
execution mode, external models, description), publishing, retiring, copying and deleting it.

Only a DRAFT version's contents change (AFD's rule; its description changes whatever its status): every
change is one UpdateDetectorVersion carrying the whole version, so a refused change leaves the version
exactly as it was.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages.detectors_shared import (
    MODE_HELP,
    MODES,
    RULE_FIELDS,
    ModelChoice,
    active_models,
    choice_of,
    chosen_models,
    create_outcome,
    detector_of,
    drop_outcome,
    environment,
    external_models,
    latest_rules,
    outcome_names,
    read_rule,
    redirect_to,
    rule_exists,
    rule_form_context,
    rules_of,
    version_of,
)
from fraudhawk.console.web import Form, call, read_form, redirect, render
from fraudhawk.errors import FraudhawkError

VERSION_FIELDS = {"modelVersions": "model_versions", "ruleExecutionMode": "mode", "rules": "rules"}


def version_url(detector_id: str, version_id: str) -> str:
    return f"/detectors/{detector_id}/versions/{version_id}"


def update_request(
    version: dict[str, Any],
    *,
    rules: list[dict[str, str]] | None = None,
    models: list[dict[str, str]] | None = None,
    mode: str | None = None,
    external: list[str] | None = None,
) -> dict[str, Any]:
    """UpdateDetectorVersion's request: the version as it is, with the changes given."""
    current_models = [choice_of(m).wire() for m in version.get("modelVersions", [])]
    params: dict[str, Any] = {
        "detectorId": version["detectorId"],
        "detectorVersionId": version["detectorVersionId"],
        "externalModelEndpoints": list(version.get("externalModelEndpoints", [])) if external is None else external,
        "rules": [dict(r) for r in version["rules"]] if rules is None else rules,
        "modelVersions": current_models if models is None else models,
        "ruleExecutionMode": mode or version["ruleExecutionMode"],
    }
    if "description" in version:
        params["description"] = version["description"]
    return params


# --- the first version ------------------------------------------------------------------------------------


async def new_version(request: Request) -> Response:
    form = Form(values={"mode": "FIRST_MATCHED"})
    return await _new_version_page(request, form, 200)


async def _new_version_page(request: Request, form: Form, status: int) -> Response:
    detector_id = request.path_params["detector_id"]
    detector = await detector_of(request, detector_id)
    event_type = detector["eventTypeName"]
    env = await environment(request, event_type)
    choices = await active_models(request, event_type)
    existing = await latest_rules(request, detector_id)
    return render(
        request,
        "detectors/version_new.html",
        status_code=status,
        title=f"New version of {detector_id}",
        crumbs=[("/detectors", "Detectors"), (f"/detectors/{detector_id}", detector_id), (None, "New version")],
        detector=detector,
        choices=choices,
        chosen_models=form.all("model_versions"),
        existing=sorted(existing.values(), key=lambda r: r["ruleId"]),
        chosen_rules=form.all("existing_rules"),
        modes=MODES,
        mode_help=MODE_HELP,
        **rule_form_context(form, env, await outcome_names(request), event_type, None),
    )


async def create_version(request: Request) -> Response:
    """Models, execution mode, existing rules and/or a first new rule -> CreateRule + CreateDetectorVersion."""
    detector_id = request.path_params["detector_id"]
    detector = await detector_of(request, detector_id)
    form, _ = await read_form(request)
    env = await environment(request, detector["eventTypeName"])
    choices = await active_models(request, detector["eventTypeName"])
    models = chosen_models(form, choices, [])
    mode = form.get("mode", "FIRST_MATCHED")
    if mode not in dict(MODES):
        form.fail("mode", "Choose how rules are run.")
    existing = await latest_rules(request, detector_id)
    rules = [
        {"detectorId": detector_id, "ruleId": r, "ruleVersion": existing[r]["ruleVersion"]}
        for r in form.all("existing_rules")
        if r in existing
    ]
    writing = any(form.get(name).strip() for name in ("rule_id", "expression", "new_outcome")) or not rules
    rule = None
    if writing:
        rule = read_rule(form, env, await outcome_names(request), with_id=True)
        if form.ok and await rule_exists(request, detector_id, rule.rule_id):
            form.fail("rule_id", f"A rule {rule.rule_id} already exists in this detector: choose another ID.")
    if form.ok and rule is not None and await create_outcome(request, form, rule):
        try:
            created = await call(request, "CreateRule", _rule_request(detector_id, rule))
            rules.append(created["rule"])
        except FraudhawkError as error:
            form.refuse(error, RULE_FIELDS)
            await drop_outcome(request, rule)
    if form.ok:
        params: dict[str, Any] = {
            "detectorId": detector_id,
            "rules": rules,
            "modelVersions": models,
            "ruleExecutionMode": mode,
            "externalModelEndpoints": [],
        }
        try:
            answer = await call(request, "CreateDetectorVersion", params)
        except FraudhawkError as error:
            form.refuse(error, {**VERSION_FIELDS, "rules": "expression" if rule else "existing_rules"})
            if rule is not None:  # nothing saved half-way: the rule made for this version goes too
                await call(request, "DeleteRule", {"rule": rules[-1]})
                await drop_outcome(request, rule)
        else:
            version_id = answer["detectorVersionId"]
            return redirect(version_url(detector_id, version_id), done=f"Created version {version_id} (DRAFT).")
    return await _new_version_page(request, form, 400)


def _rule_request(detector_id: str, rule: Any) -> dict[str, Any]:
    params = {
        "detectorId": detector_id,
        "ruleId": rule.rule_id,
        "expression": rule.expression,
        "language": "DETECTORPL",
        "outcomes": rule.outcomes,
    }
    if rule.description:
        params["description"] = rule.description
    return params


# --- a version's page ---------------------------------------------------------------------------------------


async def version_page(request: Request) -> Response:
    return await show_version(request)


async def show_version(
    request: Request,
    *,
    status: int = 200,
    rule_form: Form | None = None,
    models_form: Form | None = None,
    external_form: Form | None = None,
    description_form: Form | None = None,
    problem: str | None = None,
) -> Response:
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    detector = await detector_of(request, detector_id)
    version = await version_of(request, detector_id, version_id)
    event_type = detector["eventTypeName"]
    rules = await rules_of(request, version)
    used = [choice_of(m) for m in version.get("modelVersions", [])]
    draft = version["status"] == "DRAFT"
    context: dict[str, Any] = {}
    choices: list[ModelChoice] = []
    others: list[dict[str, Any]] = []
    if draft:
        env = await environment(request, event_type)
        context = rule_form_context(
            rule_form, env, await outcome_names(request), event_type, [m.model_id for m in used]
        )
        choices = await active_models(request, event_type)
        choices += [c for c in used if c.key not in {k.key for k in choices}]
        in_version = {r["ruleId"] for r in version["rules"]}
        latest = await latest_rules(request, detector_id)
        others = sorted((r for r in latest.values() if r["ruleId"] not in in_version), key=lambda r: r["ruleId"])
    chosen = models_form.all("model_versions") if models_form else [c.key for c in used]
    externals = await external_models(request, version, event_type if draft else None)
    chosen_external = (
        external_form.all("external_models") if external_form else list(version.get("externalModelEndpoints", []))
    )
    return render(
        request,
        "detectors/version.html",
        status_code=status,
        title=f"{detector_id} version {version_id}",
        crumbs=[
            ("/detectors", "Detectors"),
            (f"/detectors/{detector_id}", detector_id),
            (None, f"Version {version_id}"),
        ],
        detector=detector,
        version=version,
        rules=rules,
        used=used,
        draft=draft,
        choices=choices,
        chosen_models=chosen,
        models_form=models_form,
        externals=externals,
        chosen_external=chosen_external,
        external_form=external_form,
        description_form=description_form,
        others=[(r["ruleId"], f"{r['ruleId']} (version {r['ruleVersion']}): {r['expression']}") for r in others],
        modes=MODES,
        mode_help=MODE_HELP,
        problem=problem,
        rule_form=rule_form,
        **context,
    )


async def _update(
    request: Request, version: dict[str, Any], params: dict[str, Any], done: str, anchor: str = "rules"
) -> Response:
    try:
        await call(request, "UpdateDetectorVersion", params)
    except FraudhawkError as error:
        return await show_version(request, status=400, problem=error.message)
    return redirect_to(version_url(version["detectorId"], version["detectorVersionId"]), done=done, anchor=anchor)


async def save_models(request: Request) -> Response:
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    detector = await detector_of(request, detector_id)
    version = await version_of(request, detector_id, version_id)
    form, _ = await read_form(request)
    choices = await active_models(request, detector["eventTypeName"])
    models = chosen_models(form, choices, [choice_of(m) for m in version.get("modelVersions", [])])
    if form.ok:
        try:
            await call(request, "UpdateDetectorVersion", update_request(version, models=models))
        except FraudhawkError as error:
            form.errors["model_versions"] = error.message  # whatever it names, the models are what changed
    if not form.ok:
        return await show_version(request, status=400, models_form=form)
    return redirect_to(version_url(detector_id, version_id), done="Saved the model versions.", anchor="models")


async def save_external_models(request: Request) -> Response:
    """The external models ticked on the form, in one UpdateDetectorVersion (rules, model versions and
    execution mode as they are); the service refuses one not ASSOCIATED or whose output a rule still reads."""
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    version = await version_of(request, detector_id, version_id)
    form, _ = await read_form(request)
    try:
        await call(request, "UpdateDetectorVersion", update_request(version, external=form.all("external_models")))
    except FraudhawkError as error:
        form.errors["external_models"] = error.message  # whatever it names, the external models are what changed
        return await show_version(request, status=400, external_form=form)
    return redirect_to(version_url(detector_id, version_id), done="Saved the external models.", anchor="external")


async def save_description(request: Request) -> Response:
    """UpdateDetectorVersionMetadata: a version's description changes whatever its status."""
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    await version_of(request, detector_id, version_id)
    form, _ = await read_form(request)
    description = form.required("version_description", "Description").strip()
    if len(description) > 128:  # AFD's limit, said plainly (the service's refusal would quote the whole text)
        form.fail("version_description", "The description is at most 128 characters.")
    if form.ok:
        params = {"detectorId": detector_id, "detectorVersionId": version_id, "description": description}
        try:
            await call(request, "UpdateDetectorVersionMetadata", params)
        except FraudhawkError as error:
            form.refuse(error, {"description": "version_description"})
    if not form.ok:
        return await show_version(request, status=400, description_form=form)
    done = f"Saved the description of version {version_id}."
    return redirect_to(version_url(detector_id, version_id), done=done, anchor="description")


async def save_mode(request: Request) -> Response:
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    version = await version_of(request, detector_id, version_id)
    form, _ = await read_form(request)
    mode = form.get("mode")
    if mode not in dict(MODES):
        return await show_version(request, status=400, problem="Choose how rules are run.")
    label = dict(MODES)[mode].lower()
    return await _update(request, version, update_request(version, mode=mode), f"Rules now run {label}.", "mode")


async def move_rule(request: Request) -> Response:
    """Move one rule up or down the evaluation order (a form per button: works without JavaScript)."""
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    version = await version_of(request, detector_id, version_id)
    form, _ = await read_form(request)
    rules = [dict(r) for r in version["rules"]]
    index = next((i for i, r in enumerate(rules) if r["ruleId"] == form.get("rule_id")), None)
    step = {"up": -1, "down": 1}.get(form.get("direction"))
    if index is None or step is None or not 0 <= index + step < len(rules):
        return await show_version(request, status=400, problem="That rule cannot move that way.")
    rules[index], rules[index + step] = rules[index + step], rules[index]
    rule_id = rules[index + step]["ruleId"]
    done = f"Moved {rule_id} to position {index + step + 1}."
    # back at the moved rule's button, so a keyboard user can go on moving it
    return await _update(
        request, version, update_request(version, rules=rules), done, f"move-{rule_id}-{form.get('direction')}"
    )


async def remove_rule(request: Request) -> Response:
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    version = await version_of(request, detector_id, version_id)
    form, _ = await read_form(request)
    rules = [dict(r) for r in version["rules"] if r["ruleId"] != form.get("rule_id")]
    done = f"Removed rule {form.get('rule_id')} from this version (the rule itself is kept)."
    return await _update(request, version, update_request(version, rules=rules), done)


async def add_existing_rule(request: Request) -> Response:
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    version = await version_of(request, detector_id, version_id)
    form, _ = await read_form(request)
    existing = await latest_rules(request, detector_id)
    chosen = existing.get(form.get("existing_rule"))
    if chosen is None:
        return await show_version(request, status=400, problem="Choose a rule to add.")
    rules = [dict(r) for r in version["rules"]]
    rules.append({"detectorId": detector_id, "ruleId": chosen["ruleId"], "ruleVersion": chosen["ruleVersion"]})
    done = f"Added rule {chosen['ruleId']} (version {chosen['ruleVersion']}) at the end."
    return await _update(request, version, update_request(version, rules=rules), done)


async def set_status(request: Request) -> Response:
    """Publish (ACTIVE: the detector's previous ACTIVE version becomes INACTIVE) or retire (INACTIVE)."""
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    form, _ = await read_form(request)
    wanted = form.get("status")
    if wanted not in ("ACTIVE", "INACTIVE"):
        return await show_version(request, status=400, problem="Choose to publish or to retire the version.")
    try:
        params = {"detectorId": detector_id, "detectorVersionId": version_id, "status": wanted}
        await call(request, "UpdateDetectorVersionStatus", params)
    except FraudhawkError as error:
        return await show_version(request, status=400, problem=error.message)
    done = (
        f"Published version {version_id}: GetEventPrediction now uses it."
        if wanted == "ACTIVE"
        else f"Retired version {version_id} (INACTIVE)."
    )
    return redirect(version_url(detector_id, version_id), done=done)


async def delete_version(request: Request) -> Response:
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    await version_of(request, detector_id, version_id)
    try:
        await call(request, "DeleteDetectorVersion", {"detectorId": detector_id, "detectorVersionId": version_id})
    except FraudhawkError as error:
        return await show_version(request, status=400, problem=error.message)
    return redirect(f"/detectors/{detector_id}", done=f"Deleted version {version_id}; its rules are kept.")


async def copy_version(request: Request) -> Response:
    """A new DRAFT version with this version's rules, models and execution mode."""
    detector_id, version_id = request.path_params["detector_id"], request.path_params["version_id"]
    version = await version_of(request, detector_id, version_id)
    params = update_request(version)
    params.pop("detectorVersionId")
    try:
        answer = await call(request, "CreateDetectorVersion", params)
    except FraudhawkError as error:
        return await show_version(request, status=400, problem=error.message)
    new_id = answer["detectorVersionId"]
    return redirect(
        version_url(detector_id, new_id), done=f"Created version {new_id} (DRAFT) from version {version_id}."
    )


_BASE = "/detectors/{detector_id}/versions"
routes: list[BaseRoute] = [
    Route(_BASE + "/new", new_version, methods=["GET"]),
    Route(_BASE + "/new", create_version, methods=["POST"]),
    Route(_BASE + "/{version_id}", version_page, methods=["GET"]),
    Route(_BASE + "/{version_id}/models", save_models, methods=["POST"]),
    Route(_BASE + "/{version_id}/mode", save_mode, methods=["POST"]),
    Route(_BASE + "/{version_id}/external-models", save_external_models, methods=["POST"]),
    Route(_BASE + "/{version_id}/description", save_description, methods=["POST"]),
    Route(_BASE + "/{version_id}/rules/move", move_rule, methods=["POST"]),
    Route(_BASE + "/{version_id}/rules/remove", remove_rule, methods=["POST"]),
    Route(_BASE + "/{version_id}/rules/add", add_existing_rule, methods=["POST"]),
    Route(_BASE + "/{version_id}/status", set_status, methods=["POST"]),
    Route(_BASE + "/{version_id}/delete", delete_version, methods=["POST"]),
    Route(_BASE + "/{version_id}/copy", copy_version, methods=["POST"]),
]
