"""Import jobs: the list (GetBatchImportJobs), a new job (CreateBatchImportJob), one job's live
progress, cancelling and deleting it, and the rejected lines of its report with their line numbers."""

from __future__ import annotations

import csv
import itertools
import time
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages.data_files import area, choices, download_url
from fraudhawk.console.web import Form, call, call_all, console_of, page_size, read_form, redirect, render
from fraudhawk.errors import FraudhawkError, ValidationError
from fraudhawk.events import files, paths, rawimport

FINAL = ("COMPLETE", "FAILED", "CANCELED")
REPORT_ROWS = 50  # the rejected lines shown on the page; the download has them all
FIELDS = {
    "jobId": "job_id",
    "eventTypeName": "event_type",
    "inputPath": "input_uri",
    "outputPath": "output",
    "iamRoleArn": "role",
}


def default_output(request: Request) -> str:
    """Reports go to the file area (downloadable from the console) unless there is none."""
    if area(request) is not None:
        return "s3://imports/reports/"
    return str(console_of(request).settings.data_dir / "files" / "imports" / "reports") + "/"


def job_url(job_id: str) -> str:
    return "/imports/" + quote(job_id, safe="")


async def imports(request: Request) -> Response:
    params: dict[str, Any] = {"maxResults": page_size("GetBatchImportJobs")}
    token = request.query_params.get("page")
    if token:
        params["nextToken"] = token
    answer = await call(request, "GetBatchImportJobs", params)
    jobs = sorted(answer.get("batchImports", []), key=lambda j: j.get("startTime", ""), reverse=True)
    return render(
        request,
        "data/imports.html",
        title="Imports",
        jobs=jobs,
        next_token=answer.get("nextToken"),
        job_url=job_url,
        final=FINAL,
    )


async def _new_page(request: Request, form: Form, status: int = 200) -> Response:
    event_types = await call_all(request, "GetEventTypes", "eventTypes")
    available = await run_in_threadpool(choices, request)
    return render(
        request,
        "data/import_new.html",
        status_code=status,
        title="New import",
        crumbs=[("/imports", "Imports"), (None, "New import")],
        form=form,
        event_types=[(t["name"], t["name"]) for t in sorted(event_types, key=lambda t: t["name"])],
        files=available,
        remote=area(request) is None,
    )


async def new_import(request: Request) -> Response:
    form = Form(
        values={
            "job_id": time.strftime("import-%Y%m%d-%H%M%S", time.gmtime()),
            "event_type": request.query_params.get("event_type", ""),
            "input_file": request.query_params.get("uri", ""),
            "output": default_output(request),
            "role": rawimport.LOCAL_ROLE,
        }
    )
    return await _new_page(request, form)


def input_uri(request: Request, form: Form) -> str:
    """The input chosen from the file area's list, or typed; a typed one wins. Checked before it is sent."""
    typed = form["input_uri"].strip()
    text = typed or form["input_file"].strip()
    field = "input_uri" if typed else "input_file"
    if not text:
        form.fail("input_uri", "Choose a file from the file area or type its s3:// URI.")
        return ""
    root = area(request)
    if text.startswith("s3://") and root is not None:
        try:
            files.existing_file(root, text, field)
        except files.BadName as error:
            form.fail(field, error.message)
    else:
        try:
            location = paths.resolve(console_of(request).settings, text, "Input")
            paths.check_readable(location, "Input")
        except ValidationError as error:
            form.fail(field, error.message)
    return text


async def create_import(request: Request) -> Response:
    form, _ = await read_form(request)
    job_id = form.required("job_id", "Job ID")
    event_type = form.required("event_type", "Event type")
    output = form.required("output", "Output location")
    role = form["role"].strip() or rawimport.LOCAL_ROLE
    source = input_uri(request, form)
    if output.startswith("s3://") and area(request) is not None:
        bucket, _, prefix = output[len("s3://") :].partition("/")
        try:
            files.check_bucket(bucket)
            files.check_key(prefix, folder=True)
        except files.BadName as error:
            form.fail("output", error.message)
    if not form.ok:
        return await _new_page(request, form, 400)
    params = {
        "jobId": job_id,
        "eventTypeName": event_type,
        "inputPath": source,
        "outputPath": output,
        "iamRoleArn": role,
    }
    try:
        await call(request, "CreateBatchImportJob", params)
    except FraudhawkError as error:
        form.refuse(error, FIELDS)
        return await _new_page(request, form, 400)
    return redirect(job_url(job_id), done=f"Started import {job_id}.")


async def _job(request: Request) -> dict[str, Any]:
    job: dict[str, Any] = (await call(request, "GetBatchImportJobs", {"jobId": request.path_params["job_id"]}))[
        "batchImports"
    ][0]
    return job


def _report(request: Request, job: dict[str, Any]) -> dict[str, Any] | None:
    """Where the job's rejected-lines report is, its first rows, and a download link when it is in the area."""
    settings = console_of(request).settings
    try:
        output = paths.resolve(settings, job["outputPath"], "outputPath")
    except ValidationError:
        return None
    target = paths.report_location(output, f"{job['jobId']}_failed_records.csv")
    report: dict[str, Any] = {"uri": target.text, "rows": [], "exists": False, "download": None}
    if target.local is None or not target.local.is_file():
        return report
    report["exists"] = True
    with target.local.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)  # LINE_NUMBER, REASON, RECORD
        report["rows"] = list(itertools.islice(reader, REPORT_ROWS))
    if target.text.startswith("s3://") and area(request) is not None:
        report["download"] = download_url(target.text)
    return report


async def job_page(request: Request) -> Response:
    job = await _job(request)
    report = await run_in_threadpool(_report, request, job) if job["status"] in FINAL else None
    input_link = None
    if job["inputPath"].startswith("s3://") and area(request) is not None:
        input_link = download_url(job["inputPath"])
    return render(
        request,
        "data/import.html",
        title=f"Import {job['jobId']}",
        crumbs=[("/imports", "Imports"), (None, job["jobId"])],
        job=job,
        report=report,
        input_link=input_link,
        final=FINAL,
        url=job_url(job["jobId"]),
        report_rows=REPORT_ROWS,
    )


async def progress(request: Request) -> Response:
    job = await _job(request)
    return render(request, "data/_progress.html", job=job, final=FINAL)


async def cancel(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    try:
        await call(request, "CancelBatchImportJob", {"jobId": job_id})
    except ValidationError as error:
        return redirect(job_url(job_id), done=error.message)
    return redirect(job_url(job_id), done=f"Cancelling import {job_id}.")


async def delete(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    await call(request, "DeleteBatchImportJob", {"jobId": job_id})
    return redirect("/imports", done=f"Deleted import job {job_id} (its stored events stay).")


routes: list[BaseRoute] = [
    Route("/imports", imports, methods=["GET"]),
    Route("/imports/new", new_import, methods=["GET"]),
    Route("/imports/new", create_import, methods=["POST"]),
    Route("/imports/{job_id}", job_page, methods=["GET"]),
    Route("/imports/{job_id}/progress", progress, methods=["GET"]),
    Route("/imports/{job_id}/cancel", cancel, methods=["POST"]),
    Route("/imports/{job_id}/delete", delete, methods=["POST"]),
]
