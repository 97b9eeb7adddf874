"""The console's detectors pages: the list, creating a detector, a detector's versions and rules (which
versions use each; deleting a rule no version uses), deleting the detector.

A version's own page (models, rules, execution mode, publishing) is in `detectors_versions`, the rule
editor in `detectors_rules`, "Run test" in `detectors_test`; their routes are registered here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages import detectors_rules, detectors_test, detectors_versions
from fraudhawk.console.pages.detectors_shared import (
    NAME,
    NAME_RULE,
    detector_of,
    latest_rules,
    redirect_to,
    versions_of,
)
from fraudhawk.console.web import Form, call, call_all, page_size, read_form, redirect, render
from fraudhawk.errors import ConflictError, FraudhawkError, ResourceNotFoundError


async def detector_list(request: Request) -> Response:
    """One page of detectors (AFD's paging), each with its versions and their statuses."""
    params: dict[str, Any] = {"maxResults": page_size("GetDetectors")}
    token = request.query_params.get("page")
    if token:
        params["nextToken"] = token
    answer = await call(request, "GetDetectors", params)
    rows = []
    for detector in answer["detectors"]:
        versions = await versions_of(request, detector["detectorId"])
        rows.append((detector, versions))
    return render(
        request,
        "detectors/list.html",
        title="Detectors",
        crumbs=[(None, "Detectors")],
        rows=rows,
        next_page=answer.get("nextToken"),
        first_page=bool(token),
    )


async def _event_type_options(request: Request) -> list[tuple[str, str]]:
    event_types = await call_all(request, "GetEventTypes", "eventTypes")
    return [("", "Choose an event type")] + [(e["name"], e["name"]) for e in event_types]


async def new_detector(request: Request) -> Response:
    form = Form(values={"event_type": request.query_params.get("event_type", "")})
    return await _new_page(request, form, 200)


async def _new_page(request: Request, form: Form, status: int) -> Response:
    return render(
        request,
        "detectors/new.html",
        status_code=status,
        title="Create detector",
        crumbs=[("/detectors", "Detectors"), (None, "Create detector")],
        form=form,
        event_types=await _event_type_options(request),
    )


async def create_detector(request: Request) -> Response:
    form, _ = await read_form(request)
    detector_id = form.required("detector_id", "Detector ID")
    if detector_id and (not NAME.match(detector_id) or len(detector_id) > 64):
        form.fail("detector_id", f"The detector ID {detector_id!r} is not valid. {NAME_RULE}")
    event_type = form.required("event_type", "Event type")
    description = form.get("description").strip()
    if len(description) > 128:
        form.fail("description", "The description is at most 128 characters.")
    if form.ok:
        try:
            await detector_of(request, detector_id)
            form.fail("detector_id", f"A detector {detector_id} already exists: choose another ID.")
        except FraudhawkError:
            pass
    if form.ok:
        params = {"detectorId": detector_id, "eventTypeName": event_type}
        if description:
            params["description"] = description
        try:
            await call(request, "PutDetector", params)
        except FraudhawkError as error:
            form.refuse(
                error, {"detectorId": "detector_id", "eventTypeName": "event_type", "description": "description"}
            )
    if not form.ok:
        return await _new_page(request, form, 400)
    return redirect(
        f"/detectors/{detector_id}/versions/new", done=f"Created detector {detector_id}. Now build its first version."
    )


async def detector_page(request: Request) -> Response:
    return await _show_detector(request, 200, request.query_params.get("problem"))


async def _rule_users(
    request: Request, detector_id: str, versions: list[dict[str, Any]]
) -> dict[str, list[tuple[str, str]]]:
    """For each rule id, (detector version, rule version) for each detector version using the rule (one
    read per detector version, which the detector page lists anyway)."""
    users: dict[str, list[tuple[str, str]]] = {}
    for summary in versions:
        version_id = summary["detectorVersionId"]
        params = {"detectorId": detector_id, "detectorVersionId": version_id}
        for rule in (await call(request, "GetDetectorVersion", params))["rules"]:
            users.setdefault(rule["ruleId"], []).append((version_id, rule["ruleVersion"]))
    return users


async def _show_detector(request: Request, status: int, problem: str | None) -> Response:
    detector_id = request.path_params["detector_id"]
    detector = await detector_of(request, detector_id)
    versions = await versions_of(request, detector_id)
    rules = await latest_rules(request, detector_id)
    return render(
        request,
        "detectors/detector.html",
        status_code=status,
        title=f"Detector {detector_id}",
        crumbs=[("/detectors", "Detectors"), (None, detector_id)],
        detector=detector,
        versions=versions,
        rules=sorted(rules.values(), key=lambda r: r["ruleId"]),
        users=await _rule_users(request, detector_id, versions),
        problem=problem,
    )


async def delete_rule(request: Request) -> Response:
    """DeleteRule for each version of the rule. AFD refuses to delete a rule version a detector version
    uses: the versions in use go first, so a refusal comes before anything is deleted and is shown as is."""
    detector_id = request.path_params["detector_id"]
    await detector_of(request, detector_id)
    form, _ = await read_form(request)
    rule_id = form.get("rule_id")
    try:
        stored = await call_all(request, "GetRules", "ruleDetails", {"detectorId": detector_id, "ruleId": rule_id})
    except ResourceNotFoundError as error:
        return await _show_detector(request, 400, error.message)
    users = await _rule_users(request, detector_id, await versions_of(request, detector_id))
    used = {rule_version for _, rule_version in users.get(rule_id, [])}
    keys = [{"detectorId": detector_id, "ruleId": rule_id, "ruleVersion": r["ruleVersion"]} for r in stored]
    keys.sort(key=lambda k: k["ruleVersion"] not in used)
    try:
        for key in keys:
            await call(request, "DeleteRule", {"rule": key})
    except FraudhawkError as error:
        return await _show_detector(request, 409, error.message)
    count = f"its {len(keys)} versions" if len(keys) > 1 else "its only version"
    return redirect_to(f"/detectors/{detector_id}", done=f"Deleted rule {rule_id} ({count}).", anchor="rules")


async def delete_detector(request: Request) -> Response:
    """AFD deletes a detector only without versions and rules: with no versions left, its rules are
    used by nothing, so they are deleted first (the confirmation says so)."""
    detector_id = request.path_params["detector_id"]
    await detector_of(request, detector_id)
    if await versions_of(request, detector_id):
        raise ConflictError(f"Detector {detector_id} still has versions: delete (or retire and delete) them first")
    for rule in await call_all(request, "GetRules", "ruleDetails", {"detectorId": detector_id}):
        await call(request, "DeleteRule", {"rule": {k: rule[k] for k in ("detectorId", "ruleId", "ruleVersion")}})
    await call(request, "DeleteDetector", {"detectorId": detector_id})
    return redirect("/detectors", done=f"Deleted detector {detector_id}.")


routes: list[BaseRoute] = [
    Route("/detectors", detector_list, methods=["GET"]),
    Route("/detectors/new", new_detector, methods=["GET"]),
    Route("/detectors/new", create_detector, methods=["POST"]),
    *detectors_rules.routes,
    *detectors_versions.routes,
    *detectors_test.routes,
    Route("/detectors/{detector_id}", detector_page, methods=["GET"]),
    Route("/detectors/{detector_id}/delete", delete_detector, methods=["POST"]),
    Route("/detectors/{detector_id}/rules/delete", delete_rule, methods=["POST"]),
]
