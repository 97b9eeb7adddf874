"""The console's models pages: the models with their versions, one model's versions with live
training status, and the actions on a version (deploy, undeploy, cancel, delete).

Creating and training live in models_train, a version's performance and the comparison of versions
in models_version; all are registered here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages import models_train, models_version
from fraudhawk.console.pages.models_common import (
    MODEL_TYPES,
    MOVING,
    headline,
    model_type_of,
    model_url,
    version_url,
)
from fraudhawk.console.web import call, call_all, console_of, read_form, redirect, render
from fraudhawk.errors import FraudhawkError
from fraudhawk.training.versions import training_progress

#: what each button asks UpdateModelVersionStatus for, and the notice after it
STATUS_ACTIONS = {
    "ACTIVE": "Deploying {id} {version}: it is ACTIVE once its model is loaded.",
    "INACTIVE": "Undeploying {id} {version}.",
    "TRAINING_CANCELLED": "Cancelled the training of {id} {version}.",
}


async def models_list(request: Request) -> Response:
    models = await call_all(request, "GetModels", "models")
    versions = await call_all(request, "DescribeModelVersions", "modelVersionDetails")
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for detail in versions:
        by_model[detail["modelId"]].append({**detail, "headline": headline(detail)})
    models.sort(key=lambda model: model["modelId"])
    return render(
        request,
        "models/list.html",
        title="Models",
        crumbs=[("", "Models")],
        models=models,
        versions=by_model,
        model_types=MODEL_TYPES,
    )


async def model_page(request: Request) -> Response:
    model_type = model_type_of(request)
    model_id = request.path_params["model_id"]
    model = (await call(request, "GetModels", {"modelId": model_id, "modelType": model_type}))["models"][0]
    details = await call_all(
        request, "DescribeModelVersions", "modelVersionDetails", {"modelId": model_id, "modelType": model_type}
    )
    versions = [{**detail, "headline": headline(detail)} for detail in details]
    versions.sort(key=lambda detail: _number(detail["modelVersionNumber"]), reverse=True)
    for detail in versions:
        if detail["status"] == "TRAINING_IN_PROGRESS":
            detail["progress"] = await _progress(request, model_id, detail["modelVersionNumber"])
    return render(
        request,
        "models/model.html",
        title=f"Model {model_id}",
        crumbs=[("/models", "Models"), ("", model_id)],
        model=model,
        versions=versions,
        model_types=MODEL_TYPES,
        moving=MOVING,
        url=model_url(model_type, model_id),
    )


def _number(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


async def version_status(request: Request) -> Response:
    """A version's status as an HTML fragment, for the pages' live updates (data-poll): final once the
    status no longer changes by itself."""
    model_type = model_type_of(request)
    model_id, version = request.path_params["model_id"], request.path_params["version"]
    current = await call(
        request, "GetModelVersion", {"modelId": model_id, "modelType": model_type, "modelVersionNumber": version}
    )
    progress = await _progress(request, model_id, version) if current["status"] == "TRAINING_IN_PROGRESS" else None
    template = console_of(request).templates.get_template("models/_status.html")
    html = template.render(status=current["status"], progress=progress, final=current["status"] not in MOVING)
    return HTMLResponse(html)


async def _progress(request: Request, model_id: str, version: str) -> str | None:
    """What a training is doing now (waiting for a worker, reading events, training, evaluating)."""
    service = console_of(request).service

    def read() -> str | None:
        with service.db.read() as conn:
            return training_progress(conn, model_id, version)

    return await run_in_threadpool(read)


async def change_status(request: Request) -> Response:
    """Deploy (ACTIVE), undeploy (INACTIVE) or cancel a training (TRAINING_CANCELLED)."""
    model_type = model_type_of(request)
    model_id, version = request.path_params["model_id"], request.path_params["version"]
    form, _ = await read_form(request)
    wanted = form.get("status")
    back = form.get("back") or version_url(model_type, model_id, version)
    if not back.startswith("/models/"):  # only ever back to a models page, never elsewhere
        back = version_url(model_type, model_id, version)
    if wanted not in STATUS_ACTIONS:
        return redirect(back, done=f"Nothing changed: {wanted!r} is not a status a version can be set to.")
    try:
        await call(
            request,
            "UpdateModelVersionStatus",
            {"modelId": model_id, "modelType": model_type, "modelVersionNumber": version, "status": wanted},
        )
    except FraudhawkError as error:
        return redirect(back, done=f"Not changed: {error.message}")
    return redirect(back, done=STATUS_ACTIONS[wanted].format(id=model_id, version=version))


async def delete_version(request: Request) -> Response:
    model_type = model_type_of(request)
    model_id, version = request.path_params["model_id"], request.path_params["version"]
    try:
        await call(
            request,
            "DeleteModelVersion",
            {"modelId": model_id, "modelType": model_type, "modelVersionNumber": version},
        )
    except FraudhawkError as error:
        return redirect(version_url(model_type, model_id, version), done=f"Not deleted: {error.message}")
    return redirect(model_url(model_type, model_id), done=f"Deleted version {version} of {model_id}.")


async def delete_model(request: Request) -> Response:
    model_type = model_type_of(request)
    model_id = request.path_params["model_id"]
    try:
        await call(request, "DeleteModel", {"modelId": model_id, "modelType": model_type})
    except FraudhawkError as error:
        return redirect(model_url(model_type, model_id), done=f"Not deleted: {error.message}")
    return redirect("/models", done=f"Deleted model {model_id}.")


_MODEL = "/models/{type}/{model_id}"

routes: list[BaseRoute] = [
    Route("/models", models_list, methods=["GET"]),
    *models_train.routes,
    Route(_MODEL, model_page, methods=["GET"]),
    Route(_MODEL + "/delete", delete_model, methods=["POST"]),
    *models_version.routes,
    Route("/models/{type}/{model_id}/{version}/status", version_status, methods=["GET"]),
    Route("/models/{type}/{model_id}/{version}/status", change_status, methods=["POST"]),
    Route("/models/{type}/{model_id}/{version}/delete", delete_version, methods=["POST"]),
]
