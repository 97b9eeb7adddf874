"""The console's pipelines: every pipeline with its last run, and one pipeline's declaration and runs
(file, size, checksum, what each made, linked to its import, model version, detector version or batch
prediction page), refreshed live; enable, disable, and retry a failed run."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.web import console_of, not_found, read_form, redirect, render, session_of
from fraudhawk.context import iso_time
from fraudhawk.pipelines import declared, runs


def _db(request: Request) -> Any:
    return console_of(request).service.db


def _links(pipeline: dict[str, Any], run: dict[str, Any]) -> list[tuple[str, str]]:
    """What the run made, as (link, words) pairs for its row."""
    result, links = run["result"], []
    if "importJob" in result:
        links.append((f"/imports/{quote(result['importJob'], safe='')}", f"import {result['importJob']}"))
    if "modelVersion" in result:
        train = pipeline["action"]["train"]
        href = f"/models/{train['modelType']}/{train['modelId']}/{result['modelVersion']}"
        auc = f" (AUC {result['auc']:.4f})" if result.get("auc") is not None else ""
        links.append((href, f"{train['modelId']} {result['modelVersion']}{auc}"))
    if "activation" in result:
        decision = result["activation"]
        links.append(("", "activated: " + decision["why"] if decision["activate"] else "kept: " + decision["why"]))
    if result.get("detectorVersion"):
        made = result["detectorVersion"]
        href = f"/detectors/{made['detectorId']}/versions/{made['version']}"
        links.append((href, f"{made['detectorId']} version {made['version']}"))
    if "predictionJob" in result:
        links.append(
            (f"/batch-predictions/{quote(result['predictionJob'], safe='')}", f"batch {result['predictionJob']}")
        )
    return links


def _rows(pipeline: dict[str, Any] | None, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for run in listed:
        run["links"] = _links(pipeline, run) if pipeline is not None else []
        took = None
        if run["startedMs"] is not None and run["endedMs"] is not None:
            took = (run["endedMs"] - run["startedMs"]) / 1000
        run["took"] = took
        run["seen"] = iso_time(run["createdMs"])
    return listed


async def list_page(request: Request) -> Response:
    db = _db(request)
    listed = await run_in_threadpool(declared.list_pipelines, db)
    last = await run_in_threadpool(runs.last_runs, db)
    for entry in listed:
        entry["said"] = declared.describe_action(entry)
        entry["last"] = last.get(entry["name"])
    return render(request, "pipelines/list.html", title="Pipelines", crumbs=[("", "Pipelines")], pipelines=listed)


async def _pipeline(request: Request) -> dict[str, Any]:
    return await run_in_threadpool(declared.get_pipeline, _db(request), request.path_params["name"])


async def _runs(request: Request, pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    listed = await run_in_threadpool(runs.list_runs, _db(request), pipeline["name"])
    return _rows(pipeline, listed)


async def pipeline_page(request: Request) -> Response:
    pipeline = await _pipeline(request)
    shown = yaml.safe_dump(pipeline, sort_keys=False)
    return render(
        request,
        "pipelines/pipeline.html",
        title=f"Pipeline {pipeline['name']}",
        crumbs=[("/pipelines", "Pipelines"), ("", pipeline["name"])],
        pipeline=pipeline,
        said=declared.describe_action(pipeline),
        declaration=shown,
        runs=await _runs(request, pipeline),
    )


async def runs_fragment(request: Request) -> Response:
    """The runs table, as the fragment the page's data-poll box shows."""
    pipeline = await _pipeline(request)
    template = console_of(request).templates.get_template("pipelines/_runs.html")
    html = template.render(runs=await _runs(request, pipeline), pipeline=pipeline, csrf_token=session_of(request).csrf)
    return HTMLResponse(html)


async def switch(request: Request) -> Response:
    name, change = request.path_params["name"], request.path_params["change"]
    if change not in ("enable", "disable"):
        return not_found(request, "There is no such page.")
    enabled = change == "enable"
    await read_form(request)
    await run_in_threadpool(declared.set_enabled, _db(request), name, enabled)
    said = "watches its source again" if enabled else "no longer watches its source"
    return redirect(f"/pipelines/{quote(name, safe='')}", done=f"Pipeline {name} {said}.")


async def retry(request: Request) -> Response:
    name, run_id = request.path_params["name"], request.path_params["run_id"]
    await read_form(request)
    await run_in_threadpool(runs.retry, _db(request), run_id)
    return redirect(f"/pipelines/{quote(name, safe='')}", done=f"Run {run_id} queued again.")


async def cancel(request: Request) -> Response:
    name, run_id = request.path_params["name"], request.path_params["run_id"]
    await read_form(request)
    status = await run_in_threadpool(runs.cancel, _db(request), run_id)
    said = "cancelled" if status == runs.CANCELLED else "asked to stop (it stops at its next step)"
    return redirect(f"/pipelines/{quote(name, safe='')}", done=f"Run {run_id} {said}.")


routes: list[BaseRoute] = [
    Route("/pipelines", list_page, methods=["GET"]),
    Route("/pipelines/{name}", pipeline_page, methods=["GET"]),
    Route("/pipelines/{name}/runs", runs_fragment, methods=["GET"]),
    Route("/pipelines/{name}/{change:str}", switch, methods=["POST"]),
    Route("/pipelines/{name}/runs/{run_id}/retry", retry, methods=["POST"]),
    Route("/pipelines/{name}/runs/{run_id}/cancel", cancel, methods=["POST"]),
]
