"""The column mapping form: a raw CSV of the file area, its columns mapped to AFD's layout
(`fraudhawk import`'s mapping), a preview of the converted rows, and the import itself. The checks,
the conversion and the catalog steps are `fraudhawk.events.rawimport`'s, shared with the CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import polars as pl
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages.data_files import area, choices
from fraudhawk.console.pages.data_imports import default_output, job_url
from fraudhawk.console.web import Form, call_all, console_of, read_form, redirect, render
from fraudhawk.errors import FraudhawkError
from fraudhawk.eventdata import layout
from fraudhawk.events import files, raw, rawimport
from fraudhawk.events.csvsource import open_binary, read_csv

PREVIEW_ROWS = 10
_NAME = re.compile(r"^[0-9a-z_-]{1,64}$")  # AFD's names of event and entity types
FORMATS = [
    ("", "Any format AFD accepts (ISO-8601 and the like)"),
    ("%Y-%m-%d %H:%M:%S", "2019-01-31 23:59:59 (%Y-%m-%d %H:%M:%S)"),
    ("%m/%d/%Y %H:%M", "01/31/2019 23:59 (%m/%d/%Y %H:%M)"),
    ("%d/%m/%Y %H:%M:%S", "31/01/2019 23:59:59 (%d/%m/%Y %H:%M:%S)"),
    ("unix", "Unix time in seconds"),
    ("unix_ms", "Unix time in milliseconds"),
    ("custom", "Another format…"),
]
_KNOWN_FORMATS = {value for value, _ in FORMATS} - {"custom"}
FIELDS = ("event_time", "entity_id", "event_id", "label")


@dataclass
class Raw:
    header: list[str]
    rows: list[list[str]]  # the first rows, the file's line number first


def _raw_head(path: Path) -> Raw:
    with path.open("rb") as handle:
        records = read_csv(open_binary(handle))
        batch = next(iter(records.batches()), None)
        header = list(records.header)
    if batch is None:
        return Raw(header, [])
    frame = pl.from_arrow(batch.slice(0, PREVIEW_ROWS))
    assert isinstance(frame, pl.DataFrame)
    # by position: polars renames an unnamed ("") column, and the batch is the line number, then the header
    rows = [[str(row[0]), *("" if value is None else str(value) for value in row[1:])] for row in frame.rows()]
    return Raw(header, rows)


def _guess(raw_file: Raw) -> dict[str, str]:
    """First choices for a file never mapped: the columns whose names say what they are."""
    lowered = {c.lower(): c for c in raw_file.header}

    def named(*fragments: str) -> str:
        for fragment in fragments:
            for low, column in lowered.items():
                if fragment in low:
                    return column
        return ""

    guess = {
        "event_time": named("timestamp", "time", "date"),
        "label": named("is_fraud", "label", "fraud", "class"),
        "entity_id": named("cc_num", "card", "customer", "account", "user", "entity"),
        "event_id": named("trans_num", "event_id", "transaction_id", "txn_id"),
        "fraud_values": "1,true,fraud,yes",
        "entity_type": "customer",
        "time_format": "",
    }
    if guess["event_time"] and raw_file.rows:
        first = raw_file.rows[0][raw_file.header.index(guess["event_time"]) + 1]
        if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", first.strip()):
            guess["time_format"] = "%Y-%m-%d %H:%M:%S"
        elif re.fullmatch(r"\d{9,10}", first.strip()):
            guess["time_format"] = "unix"
    return guess


def _mapping(form: Form, header: list[str]) -> raw.Mapping | None:
    """The form's mapping, with every problem next to its field (None when there is one)."""
    event_type = form.required("event_type", "Event type")
    if event_type and not _NAME.match(event_type):
        form.fail("event_type", "Use 1 to 64 lowercase letters, digits, - or _ (AFD's rule for names).")
    entity_type = form["entity_type"].strip() or "customer"
    if not _NAME.match(entity_type):
        form.fail("entity_type", "Use 1 to 64 lowercase letters, digits, - or _ (AFD's rule for names).")
    form.required("event_time", "The timestamp column")
    chosen = form["time_format"]
    time_format = form["time_format_custom"].strip() if chosen == "custom" else chosen
    if chosen == "custom" and not time_format:
        form.fail("time_format_custom", "Type the format, e.g. %Y-%m-%dT%H:%M:%S.")
    elif chosen not in _KNOWN_FORMATS and chosen != "custom":
        form.fail("time_format", "Choose a format from the list.")
    elif time_format not in ("", "unix", "unix_ms") and "%" not in time_format:
        form.fail("time_format_custom", "A format uses strftime codes such as %Y, %m, %d, %H, %M and %S.")
    fraud_values = tuple(v.strip().lower() for v in form["fraud_values"].split(",") if v.strip())
    if form["label"] and not fraud_values:
        form.fail("fraud_values", "Say which values of the label column mean fraud.")
    seen: dict[str, str] = {}
    for name in FIELDS:
        column = form[name]
        if column and column not in header:
            form.fail(name, f"The file has no column {column!r}.")
        elif column and column in seen:
            form.fail(name, f"Column {column!r} is already the {seen[column].replace('_', ' ')} column.")
        elif column:
            seen[column] = name
    if not form.ok:
        return None
    return raw.Mapping(
        event_time=form["event_time"],
        entity_id=form["entity_id"],
        event_id=form["event_id"] or None,
        time_format=time_format or None,
        label=form["label"] or None,
        fraud_values=fraud_values or ("1",),
        entity_type=entity_type,
        exclude=tuple(c for c in form.all("exclude") if c in header),
    )


@dataclass
class Preview:
    columns: list[str]
    rows: list[list[str]]
    variables: list[raw.Suggestion]
    unreadable_times: int


def _preview(path: Path, mapping: raw.Mapping) -> Preview:
    plan = rawimport.plan(path, mapping)
    table = rawimport.preview(path, mapping, plan.variables, PREVIEW_ROWS)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    rows = [["" if value is None else str(value) for value in row] for row in frame.rows()]
    unreadable = frame[layout.EVENT_TIMESTAMP].null_count() if layout.EVENT_TIMESTAMP in frame.columns else 0
    return Preview(list(frame.columns), rows, plan.variables, unreadable)


async def _page(
    request: Request, uri: str, form: Form | None, preview: Preview | None = None, status: int = 200
) -> Response:
    root = area(request)
    raw_file: Raw | None = None
    pick = Form(values={"file": uri})
    if uri and root is not None:
        try:
            path = await run_in_threadpool(files.existing_file, root, uri, "file")
            raw_file = await run_in_threadpool(_raw_head, path)
        except files.BadName as error:
            pick.fail("file", error.message)
            status = 400
        except FraudhawkError as error:
            pick.fail("file", f"{uri} cannot be read as CSV: {error.message}")
            status = 400
    if raw_file is not None and form is None:
        form = Form(values={**_guess(raw_file), "event_type": request.query_params.get("event_type", "")})
    event_types = await call_all(request, "GetEventTypes", "eventTypes")
    columns = [("", "")] + [(c, c) for c in raw_file.header] if raw_file else []
    return render(
        request,
        "data/map.html",
        status_code=status,
        title="Map a raw CSV",
        crumbs=[("/imports", "Imports"), (None, "Map a raw CSV")],
        root=root,
        uri=uri,
        pick=pick,
        files=await run_in_threadpool(choices, request),
        raw=raw_file,
        form=form,
        columns=columns,
        formats=FORMATS,
        event_types=sorted(t["name"] for t in event_types),
        preview=preview,
        upload_action="/files?" + urlencode({"then": "map"}),
    )


async def map_page(request: Request) -> Response:
    return await _page(request, request.query_params.get("file", ""), None)


def _declare(request: Request, path: Path, event_type: str, mapping: raw.Mapping) -> list[raw.Suggestion]:
    """The catalog the data needs, as `fraudhawk import` declares it (quick: done before answering)."""
    plan = rawimport.plan(path, mapping)
    rawimport.ensure_catalog(console_of(request).service.call, event_type, mapping, plan.variables)
    return plan.variables


def _convert_and_start(
    request: Request, path: Path, event_type: str, mapping: raw.Mapping, variables: list[raw.Suggestion], job_id: str
) -> None:
    """The whole file converted, then the import job started, as `fraudhawk import` runs them. Done
    within the request (polars converts a million rows in seconds): no state lives in one server
    process, so the job's page works whichever process serves it, and a kill leaves at most a
    `.partial` file that the next attempt replaces."""
    settings = console_of(request).settings
    converted = rawimport.work_file(settings.data_dir, event_type, path)
    rawimport.convert(path, mapping, variables, converted)
    rawimport.start(console_of(request).service.call, job_id, converted, default_output(request), event_type)


async def map_post(request: Request) -> Response:
    form, _ = await read_form(request)
    uri = form["file"]
    root = area(request)
    if root is None:
        return await _page(request, "", None, status=400)
    try:
        path = await run_in_threadpool(files.existing_file, root, uri, "file")
        raw_file = await run_in_threadpool(_raw_head, path)
    except FraudhawkError:
        return await _page(request, uri, form, status=400)
    mapping = _mapping(form, raw_file.header)
    if mapping is None:
        return await _page(request, uri, form, status=400)
    try:
        preview = await run_in_threadpool(_preview, path, mapping)
    except rawimport.MissingColumns as error:
        for name, column in error.fields.items():
            form.fail(name, f"The file has no column {column!r}.")
        return await _page(request, uri, form, status=400)
    if preview.rows and preview.unreadable_times == len(preview.rows):
        field = "time_format_custom" if form["time_format"] == "custom" else "time_format"
        form.fail(field, f"None of the first rows' times in {form['event_time']!r} could be read with this format.")
        return await _page(request, uri, form, preview, status=400)
    if form["action"] != "import":
        return await _page(request, uri, form, preview)
    try:
        variables = await run_in_threadpool(_declare, request, path, form["event_type"], mapping)
    except FraudhawkError as error:
        form.refuse(error, {"eventTypeName": "event_type", "name": "event_type", "entityType": "entity_type"})
        return await _page(request, uri, form, preview, status=400)
    job_id = rawimport.job_id_for(path)
    try:
        await run_in_threadpool(_convert_and_start, request, path, form["event_type"], mapping, variables, job_id)
    except FraudhawkError as error:
        form.refuse(error, {"eventTypeName": "event_type"})
        return await _page(request, uri, form, preview, status=400)
    return redirect(job_url(job_id), done=f"Converted {uri} to AFD's layout; importing it.")


routes: list[BaseRoute] = [
    Route("/imports/map", map_page, methods=["GET"]),
    Route("/imports/map", map_post, methods=["POST"]),
]
