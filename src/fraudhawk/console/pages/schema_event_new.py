"""Creating an event type, by hand or from a CSV file's header (as AFD's console does).

One multipart form: "Read columns" reads the header of an uploaded CSV, or of a file already in the
server's S3 folder, and shows a row per column with its suggested variable (`events.columns`), which
the user can change or skip; "Create event type" then checks everything first and only then creates
the entity type, labels and variables it needs and the event type. If a call still fails, what this
submit created is deleted again: nothing is left half-made.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fraudhawk.console.pages.schema_forms import checked, described, names_in
from fraudhawk.console.pages.schema_variables import DEFAULTS, data_type_options, problems, variable_type_options
from fraudhawk.console.web import Form, call, call_all, console_of, read_form, redirect, render
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError
from fraudhawk.events import paths
from fraudhawk.events.columns import Header, HeaderError, read_header
from fraudhawk.settings import Settings

SUFFIXES = (".csv", ".csv.gz")
MAX_LISTED = 500  # files offered from the S3 folder
MAX_FIELDS = 20_000  # a wide CSV gives five form fields per column
EVENT_FIELDS = {
    "name": "name",
    "description": "description",
    "entityTypes": "entity_type",
    "labels": "new_labels",
    "eventVariables": "variables",
}


@dataclass
class Row:
    """One column of the file, as the form shows and submits it."""

    index: int
    column: str
    sample: str
    name: str
    data_type: str
    variable_type: str
    skip: bool = False
    existing: dict[str, Any] | None = None  # the variable of that name, when there is one

    @property
    def prefix(self) -> str:
        return f"col_{self.index}_"


@dataclass
class Plan:
    """What the submit would create, once every part is checked."""

    entity_type: str = ""
    new_entity_type: bool = False
    labels: list[str] = field(default_factory=list)
    new_labels: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    new_variables: list[tuple[Row, dict[str, Any]]] = field(default_factory=list)


def s3_files(settings: Settings) -> list[str]:
    """CSV files in the server's S3 folder, as s3:// URLs (the first MAX_LISTED, by name)."""
    root = settings.s3_root
    if root is None or not root.is_dir():
        return []
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(SUFFIXES) and not name.startswith("."):
                found.append("s3://" + (Path(folder) / name).relative_to(root).as_posix())
                if len(found) >= MAX_LISTED:
                    return found
    return found


async def _page(
    request: Request, form: Form | None, rows: list[Row], header: Header | None = None, status: int = 200
) -> Response:
    entity_types = await call_all(request, "GetEntityTypes", "entityTypes")
    labels = await call_all(request, "GetLabels", "labels")
    variables = [v for v in await call_all(request, "GetVariables", "variables") if v.get("dataSource") == "EVENT"]
    return render(
        request,
        "schema/event_type_new.html",
        status_code=status if form is None or form.ok else 400,
        title="Create event type",
        crumbs=[("/event-types", "Event types"), (None, "Create")],
        form=form,
        rows=rows,
        header=header,
        entity_types=[("", "— choose —"), *((e["name"], e["name"]) for e in entity_types)],
        labels=sorted(label["name"] for label in labels),
        variables=sorted(variables, key=lambda v: str(v["name"])),
        s3_files=[("", "— none —"), *((f, f) for f in s3_files(console_of(request).settings))],
        data_types=data_type_options(),
        variable_types=variable_type_options(),
    )


async def new(request: Request) -> Response:
    return await _page(request, None, [])


def _rows(form: Form, existing: dict[str, dict[str, Any]]) -> list[Row]:
    rows = []
    count = int(form.get("columns", "0")) if form.get("columns", "0").isdigit() else 0
    for index in range(min(count, MAX_FIELDS // 5)):
        prefix = f"col_{index}_"
        if prefix + "column" not in form.values:
            continue
        name = form[prefix + "name"].strip()
        rows.append(
            Row(
                index,
                form[prefix + "column"],
                form[prefix + "sample"],
                name,
                form[prefix + "data_type"],
                form[prefix + "variable_type"],
                skip=bool(form[prefix + "skip"]),
                existing=existing.get(name),
            )
        )
    return rows


async def _read(request: Request, form: Form, data: FormData) -> Header | None:
    """The header of the uploaded file, or of the chosen file in the S3 folder."""
    upload = data.get("csv_file")
    chosen = form["s3_file"]
    if isinstance(upload, UploadFile) and upload.filename:
        if not upload.filename.lower().endswith(SUFFIXES):
            form.fail("csv_file", "Choose a .csv or .csv.gz file.")
            return None
        try:
            return await run_in_threadpool(read_header, upload.file)
        except HeaderError as error:
            form.fail("csv_file", str(error))
            return None
    typed = form["s3_uri"].strip()
    if typed or chosen:
        field, uri = ("s3_uri", typed) if typed else ("s3_file", chosen)
        if not uri.startswith("s3://"):
            form.fail(field, "Give an S3 URI such as s3://bucket/events.csv.")
            return None
        settings = console_of(request).settings
        try:
            location = paths.resolve(settings, uri, "The file")
            paths.check_readable(location, "The file")

            def read() -> Header:
                with paths.open_input(location) as stream:
                    return read_header(stream)

            return await run_in_threadpool(read)
        except (HeaderError, FraudhawkError) as error:
            form.fail(field, error.message if isinstance(error, FraudhawkError) else str(error))
            return None
    form.fail("csv_file", "Choose a CSV file to upload, or a file in the S3 folder.")
    return None


def _short(sample: str, most: int = 40) -> str:
    return sample if len(sample) <= most else sample[: most - 1] + "…"


def _suggested(
    form: Form, header: Header, existing: dict[str, dict[str, Any]], entity_types: set[str], labels: set[str]
) -> list[Row]:
    """The rows for a freshly read file; its labels and entity type are filled into the form (labels
    that exist are ticked, the others offered as new ones)."""
    rows = [
        Row(i, c.column, _short(c.sample), c.variable, c.data_type, c.variable_type, existing=existing.get(c.variable))
        for i, c in enumerate(header.columns)
    ]
    form.lists["labels"] = sorted(set(form.all("labels")) | (set(header.labels) & labels))
    typed = names_in(form["new_labels"])
    form.values["new_labels"] = ", ".join(dict.fromkeys([*typed, *(lb for lb in header.labels if lb not in labels)]))
    if header.entity_types and not form["entity_type"] and not form["new_entity_type"]:
        first = header.entity_types[0]
        form.values["entity_type" if first in entity_types else "new_entity_type"] = first
    return rows


def _file_name(form: Form, data: FormData) -> str:
    upload = data.get("csv_file")
    if isinstance(upload, UploadFile) and upload.filename:
        return upload.filename
    return (form["s3_uri"].strip() or form["s3_file"]).rsplit("/", 1)[-1]


def _name_from(file_name: str) -> str:
    """An event type name suggested by the file's name (payments.csv.gz -> payments)."""
    stem = file_name.lower().removesuffix(".gz").removesuffix(".csv")
    return re.sub(r"[^0-9a-z_-]+", "_", stem).strip("_-")[:64]


async def create(request: Request) -> Response:
    await request.form(max_fields=MAX_FIELDS)  # read once with room for wide files; read_form reuses it
    form, data = await read_form(request)
    variables = {v["name"]: v for v in await call_all(request, "GetVariables", "variables")}
    entity_types = {e["name"] for e in await call_all(request, "GetEntityTypes", "entityTypes")}
    if form["action"] == "read":
        header = await _read(request, form, data)
        if header is None:
            return await _page(request, form, _rows(form, variables))
        labels = {label["name"] for label in await call_all(request, "GetLabels", "labels")}
        if not form["name"].strip():
            form.values["name"] = _name_from(_file_name(form, data))
        rows = _suggested(form, header, variables, entity_types, labels)
        return await _page(request, form, rows, header)
    rows = _rows(form, variables)
    plan = await _plan(request, form, rows, variables, entity_types)
    if not form.ok:
        return await _page(request, form, rows)
    created = await execute(request, form, plan)
    if not form.ok:
        return await _page(request, form, rows)
    name = form["name"].strip()
    made = f"{len(plan.new_variables)} new variable(s)" + (
        f", {len(plan.new_labels)} new label(s)" if plan.new_labels else ""
    )
    return redirect(f"/event-types/{name}", done=f"Created event type {name} with {made}." if created else None)


async def _plan(
    request: Request, form: Form, rows: list[Row], variables: dict[str, dict[str, Any]], entity_types: set[str]
) -> Plan:
    """Check every part of the submit before anything is created; errors go next to their fields."""
    plan = Plan()
    name = form.required("name", "Name")
    # the name and description checked against AFD's contract (placeholders for the lists not chosen yet)
    probe = described({"name": name or "x", "eventVariables": ["x"], "entityTypes": ["x"]}, form["description"])
    if checked(form, "PutEventType", probe, EVENT_FIELDS) and name and await _event_type_exists(request, name):
        form.fail("name", f"The event type {name} already exists: choose another name, or open it to change it.")
    new_entity = form["new_entity_type"].strip()
    if new_entity:
        if checked(form, "PutEntityType", {"name": new_entity}, {"name": "new_entity_type"}):
            plan.entity_type, plan.new_entity_type = new_entity, new_entity not in entity_types
    elif form["entity_type"] in entity_types:
        plan.entity_type = form["entity_type"]
    else:
        form.fail("entity_type", "Choose an entity type, or name a new one.")
    labels = {label["name"] for label in await call_all(request, "GetLabels", "labels")}
    plan.labels = [label for label in form.all("labels") if label in labels]
    for label in names_in(form["new_labels"]):
        if label in labels:
            plan.labels.append(label)
        elif checked(form, "PutLabel", {"name": label}, {"name": "new_labels"}):
            plan.labels.append(label)
            plan.new_labels.append(label)
    plan.labels = list(dict.fromkeys(plan.labels))
    chosen = [v for v in form.all("variables") if v in variables]
    plan.variables = list(chosen)
    for row in rows:
        if row.skip:
            continue
        if row.name in plan.variables:
            form.fail(row.prefix + "name", f"The variable {row.name} is already part of this event type.")
            continue
        if row.existing is not None:
            if row.existing.get("dataSource") != "EVENT":
                form.fail(row.prefix + "name", f"{row.name} is a model score, not an event variable: rename it.")
            elif row.existing["dataType"] != row.data_type:
                form.fail(
                    row.prefix + "name",
                    f"A variable {row.name} exists with data type {row.existing['dataType']}: rename this one, "
                    f"or choose {row.existing['dataType']}.",
                )
            plan.variables.append(row.name)
            continue
        default = DEFAULTS.get(row.data_type, "")
        problems(form, row.name, row.data_type, row.variable_type, default, prefix=row.prefix)
        params = {"name": row.name, "dataType": row.data_type, "dataSource": "EVENT", "defaultValue": default}
        if row.variable_type:
            params["variableType"] = row.variable_type
        if row.column != row.name:  # say where a renamed variable comes from (AFD keeps 1..128 characters)
            described(params, f"Column {row.column}"[:128])
        plan.variables.append(row.name)
        plan.new_variables.append((row, params))
    if not plan.variables:
        form.fail("variables", "An event type needs at least one variable: choose one, or read them from a CSV file.")
    return plan


async def _event_type_exists(request: Request, name: str) -> list[dict[str, Any]]:
    try:
        found: list[dict[str, Any]] = (await call(request, "GetEventTypes", {"name": name})).get("eventTypes", [])
    except ResourceNotFoundError:
        return []
    return found


async def execute(request: Request, form: Form, plan: Plan) -> bool:
    """Create what the plan needs; on a refusal, delete what was created and say why."""
    undo: list[tuple[str, dict[str, Any]]] = []
    field_for = EVENT_FIELDS
    try:
        if plan.new_entity_type:
            field_for = {"name": "new_entity_type", "description": "new_entity_type"}
            await call(request, "PutEntityType", {"name": plan.entity_type})
            undo.append(("DeleteEntityType", {"name": plan.entity_type}))
        for label in plan.new_labels:
            field_for = {"name": "new_labels"}
            await call(request, "PutLabel", {"name": label})
            undo.append(("DeleteLabel", {"name": label}))
        for row, params in plan.new_variables:
            field_for = {
                "name": row.prefix + "name",
                "Variable": row.prefix + "name",
                "variableType": row.prefix + "variable_type",
                "dataType": row.prefix + "data_type",
                "defaultValue": row.prefix + "name",
            }
            await call(request, "CreateVariable", params)
            undo.append(("DeleteVariable", {"name": params["name"]}))
        field_for = EVENT_FIELDS
        event_type = {
            "name": form["name"].strip(),
            "eventVariables": plan.variables,
            "labels": plan.labels,
            "entityTypes": [plan.entity_type],
            "eventIngestion": "ENABLED" if form.get("event_ingestion", "ENABLED") == "ENABLED" else "DISABLED",
        }
        await call(request, "PutEventType", described(event_type, form["description"]))
    except FraudhawkError as error:
        for operation, params in reversed(undo):
            try:
                await call(request, operation, params)
            except FraudhawkError:  # someone started using it meanwhile: theirs now
                continue
        form.refuse(error, field_for)
        return False
    return True


routes: list[BaseRoute] = [
    Route("/event-types/new", new, methods=["GET"]),
    Route("/event-types/new", create, methods=["POST"]),
]
