"""The Files page: the server's file area (the folder behind s3:// URIs), browsed, uploaded to,
deleted from and downloaded from. The naming and writing rules are `fraudhawk.events.files`'."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.web import Form, console_of, not_found, read_form, redirect, render
from fraudhawk.events import files

DEFAULT_BUCKET = "uploads"


def area(request: Request) -> Path | None:
    """The file area's folder, or None when s3:// URIs name objects of a real S3 store."""
    return console_of(request).settings.s3_root


def folder_url(bucket: str | None = None, prefix: str = "") -> str:
    query = {k: v for k, v in (("bucket", bucket), ("prefix", prefix)) if v}
    return "/files" + ("?" + urlencode(query) if query else "")


def download_url(uri: str) -> str:
    return "/files/download?" + urlencode({"uri": uri})


def _crumbs(bucket: str | None, prefix: str) -> list[tuple[str | None, str]]:
    crumbs: list[tuple[str | None, str]] = [(folder_url() if bucket else None, "Files")]
    if bucket:
        parts = [p for p in prefix.split("/") if p]
        crumbs.append((folder_url(bucket) if parts else None, bucket))
        for position, part in enumerate(parts):
            last = position == len(parts) - 1
            crumbs.append((None if last else folder_url(bucket, "/".join(parts[: position + 1]) + "/"), part))
    return crumbs


async def _page(request: Request, bucket: str | None, prefix: str, form: Form | None, status: int = 200) -> Response:
    root = area(request)
    listing = None
    problem = None
    if root is not None:
        try:
            listing = await run_in_threadpool(files.list_folder, root, bucket, prefix)
        except files.BadName as error:
            problem = error.message
    upload = form or Form(values={"bucket": bucket or DEFAULT_BUCKET, "key": prefix})
    return render(
        request,
        "data/files.html",
        status_code=status if problem is None else 400,
        title="Files" if not bucket else f"Files: {bucket}/{prefix}",
        crumbs=_crumbs(bucket, prefix),
        root=root,
        listing=listing,
        problem=problem,
        bucket=bucket,
        prefix=prefix,
        form=upload,
        folder_url=folder_url,
        download_url=download_url,
    )


async def files_page(request: Request) -> Response:
    bucket = request.query_params.get("bucket") or None
    prefix = request.query_params.get("prefix", "")
    return await _page(request, bucket, prefix, None)


def _target_key(key: str, filename: str) -> str:
    """The key typed, or, when it is empty or a folder (ends with "/"), that folder plus the file's name."""
    key = key.strip().lstrip("/")
    if not key or key.endswith("/"):
        return key + PurePosixPath(filename.replace("\\", "/")).name
    return key


async def upload(request: Request) -> Response:
    root = area(request)
    if root is None:
        return not_found(request, "This server reads s3:// URIs from a real S3 store: upload there.")
    form, data = await read_form(request)
    bucket = form.required("bucket", "Bucket")
    chosen = data.get("file")
    if not isinstance(chosen, UploadFile) or not chosen.filename:
        form.fail("file", "Choose a file to upload.")
    back_bucket = request.query_params.get("bucket") or None
    back_prefix = request.query_params.get("prefix", "")
    if bucket:
        try:
            files.check_bucket(bucket)
        except files.BadName as error:
            form.fail("bucket", error.message)
    if not form.ok or not isinstance(chosen, UploadFile):
        return await _page(request, back_bucket, back_prefix, form, 400)
    key = _target_key(form["key"], chosen.filename or "")
    try:
        size = await run_in_threadpool(files.save, root, bucket, key, chosen.file, form["overwrite"] == "yes")
    except files.BadName as error:
        form.fail(error.field, error.message)
        return await _page(request, back_bucket, back_prefix, form, 400)
    finally:
        await chosen.close()
    done = f"Uploaded s3://{bucket}/{key} ({size:,} bytes)."
    if request.query_params.get("then") == "map":  # uploaded from the mapping form: map the file next
        return redirect("/imports/map?" + urlencode({"file": files.uri_of(bucket, key)}), done=done)
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return redirect(folder_url(bucket, folder), done=done)


async def delete(request: Request) -> Response:
    root = area(request)
    form, _ = await read_form(request)
    if root is None:
        return not_found(request, "This server has no local file area.")
    try:
        bucket, key = files.parse_uri(form["uri"])
        await run_in_threadpool(files.remove, root, bucket, key)
    except files.BadName as error:
        return render(request, "error.html", status_code=400, title="Not possible", message=error.message)
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    if not await run_in_threadpool(files.path_of(root, bucket, folder).is_dir):
        folder = ""
    return redirect(folder_url(bucket, folder), done=f"Deleted {form['uri']}.")


async def download(request: Request) -> Response:
    root = area(request)
    uri = request.query_params.get("uri", "")
    if root is None:
        return not_found(request, "This server reads s3:// URIs from a real S3 store: download from there.")
    try:
        path = await run_in_threadpool(files.existing_file, root, uri)
    except files.BadName as error:
        return not_found(request, error.message)
    # FileResponse streams the file in chunks: a large file never sits in memory
    return FileResponse(path, filename=path.name, content_disposition_type="attachment")


def choices(request: Request) -> list[files.Entry]:
    """Files of the area for a "choose a file" list (newest first); none without a local area."""
    root = area(request)
    return [] if root is None else files.files_under(root)


routes: list[BaseRoute] = [
    Route("/files", files_page, methods=["GET"]),
    Route("/files", upload, methods=["POST"]),
    Route("/files/delete", delete, methods=["POST"]),
    Route("/files/download", download, methods=["GET"]),
]
