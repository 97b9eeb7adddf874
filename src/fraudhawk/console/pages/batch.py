"""The console's batch predictions: the jobs (GetBatchPredictionJobs), a new job from an uploaded file
or one already in the server's S3 folder (CreateBatchPredictionJob), one job's live progress, cancel
and delete, and its output file as a download."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import quote, urlencode

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from fraudhawk.console.web import Form, call, call_all, console_of, not_found, read_form, redirect, render
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError
from fraudhawk.events import paths
from fraudhawk.predictions import batch

PAGE = 50
INPUT_FOLDER = "s3://batch/input"
OUTPUT_DEFAULT = "s3://batch/output/"
FINAL = ("COMPLETE", "FAILED", "CANCELED")
CHUNK = 256 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_JOB_ID = re.compile(r"^[0-9a-z_-]+$")
# the service's refusals name AFD's parameters; these are the form's fields that carry them
FIELDS = {
    "jobId": "job_id",
    "inputPath": "input_uri",
    "outputPath": "output_path",
    "eventTypeName": "event_type",
    "detectorName": "detector",
    "detectorVersion": "detector_version",
    "detector version": "detector_version",
    "iamRoleArn": "iam_role",
}


def _role(request: Request) -> str:
    """AFD asks every job for an IAM role; fraudhawk records it and needs none, so the form offers one."""
    return f"arn:aws:iam::{console_of(request).settings.account_id}:role/FraudDetectorBatch"


async def jobs_page(request: Request) -> Response:
    token = request.query_params.get("page") or None
    params: dict[str, Any] = {"maxResults": PAGE}
    if token:
        params["nextToken"] = token
    answer = await call(request, "GetBatchPredictionJobs", params)
    jobs = sorted(answer.get("batchPredictions", []), key=lambda job: job["startTime"], reverse=True)
    following = "/batch-predictions?" + urlencode({"page": answer["nextToken"]}) if answer.get("nextToken") else None
    return render(
        request,
        "batch/jobs.html",
        title="Batch predictions",
        crumbs=[("", "Batch predictions")],
        jobs=jobs,
        first_page=token is None,
        following=following,
    )


async def _choices(request: Request) -> dict[str, Any]:
    detectors = await call_all(request, "GetDetectors", "detectors")
    event_types = await call_all(request, "GetEventTypes", "eventTypes")
    return {
        "detectors": [(d["detectorId"], f"{d['detectorId']} ({d['eventTypeName']})") for d in detectors],
        "event_types": [(e["name"], e["name"]) for e in event_types],
        "detector_types": {d["detectorId"]: d["eventTypeName"] for d in detectors},
    }


def _new_page(request: Request, form: Form, choices: dict[str, Any], status_code: int = 200) -> Response:
    return render(
        request,
        "batch/new.html",
        status_code=status_code,
        title="New batch prediction",
        crumbs=[("/batch-predictions", "Batch predictions"), ("", "New")],
        form=form,
        **choices,
    )


async def new_page(request: Request) -> Response:
    choices = await _choices(request)
    query = request.query_params
    form = Form(
        values={
            "output_path": OUTPUT_DEFAULT,
            "iam_role": _role(request),
            "detector": query.get("detector", ""),
            "input_uri": query.get("input", ""),
        }
    )
    return _new_page(request, form, choices)


def _upload_name(upload: UploadFile) -> str:
    """The uploaded file's own name, reduced to letters, digits, dots, dashes and underscores."""
    name = _SAFE_NAME.sub("_", (upload.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("._")
    return name or "input.csv"


def _store_upload(request: Request, upload: UploadFile, uri: str) -> None:
    """The upload, whole or not at all, at `uri` in the server's S3 folder (never held in memory)."""
    location = paths.resolve(console_of(request).settings, uri, "file")

    def copy(out: IO[bytes]) -> None:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, out, CHUNK)

    paths.write_atomically(location, copy)


def _remove(request: Request, uri: str) -> None:
    """An upload whose job was refused goes again: nothing is left half-saved."""
    location = paths.resolve(console_of(request).settings, uri, "file")
    if location.local is not None:
        location.local.unlink(missing_ok=True)


async def create(request: Request) -> Response:
    form, data = await read_form(request)
    choices = await _choices(request)
    upload = data.get("file")
    has_upload = isinstance(upload, UploadFile) and bool(upload.filename)
    job_id = form.required("job_id", "Job ID")
    if job_id and not _JOB_ID.match(job_id):
        form.fail("job_id", "Job ID may hold only lower-case letters, digits, - and _.")
    detector = form.required("detector", "Detector")
    event_type = form["event_type"].strip() or choices["detector_types"].get(detector, "")
    if not event_type:
        form.required("event_type", "Event type")
    version = form["detector_version"].strip()
    if version and not re.fullmatch(r"[1-9][0-9]{0,4}", version):
        form.fail(
            "detector_version", "Detector version must be a version number such as 1, or empty for the active one."
        )
    output_path = form.required("output_path", "Output folder")
    form.required("iam_role", "IAM role ARN")
    input_uri = form["input_uri"].strip()
    if has_upload and input_uri:
        form.fail("file", "Choose a file to upload or give an s3:// URI, not both.")
    elif not has_upload and not input_uri:
        form.fail("file", "Choose a CSV file to upload, or give the s3:// URI of one already on the server.")
    elif has_upload and isinstance(upload, UploadFile) and not _upload_name(upload).lower().endswith(".csv"):
        form.fail("file", "The file must be a CSV file (a name ending in .csv).")
    if not form.ok:
        return _new_page(request, form, choices, status_code=400)
    uploaded = None
    if has_upload and isinstance(upload, UploadFile):
        uploaded = f"{INPUT_FOLDER}/{job_id}/{_upload_name(upload)}"
        try:
            await run_in_threadpool(_store_upload, request, upload, uploaded)
        except (FraudhawkError, OSError) as error:
            form.fail("file", f"The file could not be saved: {getattr(error, 'message', None) or error}")
            return _new_page(request, form, choices, status_code=400)
    params: dict[str, Any] = {
        "jobId": job_id,
        "inputPath": uploaded or input_uri,
        "outputPath": output_path,
        "eventTypeName": event_type,
        "detectorName": detector,
        "iamRoleArn": form["iam_role"].strip(),
    }
    if version:
        params["detectorVersion"] = version
    try:
        await call(request, "CreateBatchPredictionJob", params)
    except FraudhawkError as error:
        if uploaded is not None:
            await run_in_threadpool(_remove, request, uploaded)
        fields = dict(FIELDS)
        if uploaded is not None:
            fields["inputPath"] = "file"
        form.refuse(error, fields)
        if isinstance(error, ResourceNotFoundError) and form.problem and "version" in error.message.lower():
            form.errors["detector_version"], form.problem = error.message, None
        return _new_page(request, form, choices, status_code=400)
    return redirect(f"/batch-predictions/{quote(job_id, safe='')}", done=f"Started batch prediction {job_id}.")


async def _job(request: Request, job_id: str) -> dict[str, Any]:
    answer = await call(request, "GetBatchPredictionJobs", {"jobId": job_id})
    job: dict[str, Any] = answer["batchPredictions"][0]
    return job


async def _outputs(request: Request, job_id: str) -> batch.Outputs:
    found: batch.Outputs = await run_in_threadpool(batch.outputs, console_of(request).service.context, job_id)
    return found


async def job_page(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    try:
        job = await _job(request, job_id)
    except ResourceNotFoundError:
        return not_found(request, f"There is no batch prediction job {job_id}.")
    extra = await _outputs(request, job_id)
    output = extra.output_file
    return render(
        request,
        "batch/job.html",
        title=f"Batch prediction {job_id}",
        crumbs=[("/batch-predictions", "Batch predictions"), ("", job_id)],
        job=job,
        final=job["status"] in FINAL,
        failed=extra.failed,
        output=output,
        output_name=output.rsplit("/", 1)[-1] if output else None,
        files_href="/files/download?" + urlencode({"uri": output}) if output else None,
    )


async def progress(request: Request) -> Response:
    """The job's progress, as the fragment the page's data-poll box shows."""
    job_id = request.path_params["job_id"]
    try:
        job = await _job(request, job_id)
    except ResourceNotFoundError:
        return not_found(request, f"There is no batch prediction job {job_id}.")
    extra = await _outputs(request, job_id)
    template = console_of(request).templates.get_template("batch/_progress.html")
    html = template.render(job=job, final=job["status"] in FINAL, failed=extra.failed)
    return Response(html, media_type="text/html")


async def cancel(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    await read_form(request)
    await call(request, "CancelBatchPredictionJob", {"jobId": job_id})
    return redirect(f"/batch-predictions/{quote(job_id, safe='')}", done=f"Asked batch prediction {job_id} to stop.")


async def remove(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    await read_form(request)
    await call(request, "DeleteBatchPredictionJob", {"jobId": job_id})
    return redirect("/batch-predictions", done=f"Deleted batch prediction {job_id} (its output file stays).")


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


async def output(request: Request) -> Response:
    """The job's output file, streamed a chunk at a time (a large file never sits whole in memory)."""
    job_id = request.path_params["job_id"]
    try:
        found = (await _outputs(request, job_id)).output_file
    except ResourceNotFoundError:
        return not_found(request, f"There is no batch prediction job {job_id}.")
    if found is None:
        return not_found(
            request, f"Batch prediction {job_id} has no output file yet: it is written when the job completes."
        )
    location = paths.resolve(console_of(request).settings, found, "output")
    try:
        handle = await run_in_threadpool(paths.open_input, location)
    except OSError:
        return not_found(request, f"The output file {found} is no longer there.")
    name = found.rsplit("/", 1)[-1]
    return StreamingResponse(
        iterate_in_threadpool(_chunks(handle)),
        media_type="text/csv",
        headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


routes: list[BaseRoute] = [
    Route("/batch-predictions", jobs_page, methods=["GET"]),
    Route("/batch-predictions/new", new_page, methods=["GET"]),
    Route("/batch-predictions/new", create, methods=["POST"]),
    Route("/batch-predictions/{job_id}", job_page, methods=["GET"]),
    Route("/batch-predictions/{job_id}/progress", progress, methods=["GET"]),
    Route("/batch-predictions/{job_id}/cancel", cancel, methods=["POST"]),
    Route("/batch-predictions/{job_id}/delete", remove, methods=["POST"]),
    Route("/batch-predictions/{job_id}/output", output, methods=["GET"]),
]
