"""Variables: the typed fields of events (and the scores models produce)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from fraudhawk.catalog.named import exists, one_or_page, stamp_wire, used_by_event_types
from fraudhawk.catalog.paging import with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.catalog.usage import variable_users
from fraudhawk.catalog.values import value_problem
from fraudhawk.catalog.variable_types import variable_type_problem
from fraudhawk.context import Context, now_ms
from fraudhawk.errors import ConflictError, FraudhawkError, ResourceNotFoundError, ValidationError
from fraudhawk.storage import schema
from fraudhawk.storage.errors import Fault, fault

ARN_TYPE = "variable"
# The model leaves variable names free, but they are event field names, CSV headers and `$names` in
# rules: AFD uses lowercase letters, digits and underscores, as we require here.
NAME_PATTERN = re.compile(r"^[a-z0-9_]{1,64}$")
DATA_TYPES = ("STRING", "INTEGER", "FLOAT", "BOOLEAN", "DATETIME")
DATA_SOURCES = ("EVENT", "MODEL_SCORE", "EXTERNAL_MODEL_SCORE")
_table = schema.variables
_in_event_types = used_by_event_types(schema.event_type_variables, "variable")


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    return len(path) == 1 and exists(conn, _table, path[0], lock=True)


class VariableExistsError(ValidationError):
    """CreateVariable answers a ValidationException; BatchCreateVariable reports the entry as 409."""


def to_wire(ctx: Context, row: Row[Any]) -> dict[str, Any]:
    item = stamp_wire(ctx, ARN_TYPE, row)
    item.update(dataType=row.data_type, dataSource=row.data_source, defaultValue=row.default_value)
    if row.variable_type is not None:
        item["variableType"] = row.variable_type
    return item


def _check_new(entry: dict[str, Any]) -> None:
    """Every AFD rule a new variable must meet, beyond the shapes."""
    name = entry.get("name")
    if not name or not NAME_PATTERN.fullmatch(name):
        raise ValidationError(
            f"Variable name {name!r} is invalid: use 1 to 64 lowercase letters, digits and underscores"
        )
    data_type, source = entry.get("dataType"), entry.get("dataSource")
    for member in ("dataType", "dataSource", "defaultValue"):
        if entry.get(member) is None:
            raise ValidationError(f"{member} of variable {name} is required")
    if data_type not in DATA_TYPES:
        raise ValidationError(f"dataType of variable {name} must be one of {', '.join(DATA_TYPES)}")
    if source not in DATA_SOURCES:
        raise ValidationError(f"dataSource of variable {name} must be one of {', '.join(DATA_SOURCES)}")
    if source == "MODEL_SCORE":
        raise ValidationError(
            f"dataSource of variable {name} cannot be MODEL_SCORE: model score variables are created by CreateModel"
        )
    _check_default(name, data_type, entry["defaultValue"])
    if entry.get("variableType") is not None:
        problem = variable_type_problem(entry["variableType"], data_type)
        if problem:
            raise ValidationError(f"Variable {name}: {problem}")
    _check_description(name, entry.get("description"))


def _check_description(name: str, description: str | None) -> None:
    # VariableEntry and UpdateVariable leave `description` unconstrained in the model; the stored
    # description is 1..128 characters as everywhere else.
    if description is not None and not 1 <= len(description) <= 128:
        raise ValidationError(f"description of variable {name} must be 1 to 128 characters")


def _check_default(name: str, data_type: str, default: str) -> None:
    problem = value_problem(data_type, default)
    if problem:
        raise ValidationError(f"defaultValue {default!r} of variable {name} is invalid: {problem}")


def _insert(ctx: Context, conn: Connection, entry: dict[str, Any], tags: list[dict[str, str]] | None) -> None:
    _check_new(entry)
    name = entry["name"]
    if exists(conn, _table, name):
        raise VariableExistsError(f"Variable {name} already exists")
    stamp = now_ms()
    conn.execute(
        insert(_table).values(
            name=name,
            description=entry.get("description"),
            data_type=entry["dataType"],
            data_source=entry["dataSource"],
            default_value=entry["defaultValue"],
            variable_type=entry.get("variableType"),
            created_ms=stamp,
            updated_ms=stamp,
        )
    )
    apply_tags(conn, ctx.arns.build(ARN_TYPE, name), tags)


def create_variable(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        _insert(ctx, conn, req, req.get("tags"))
    return {}


def batch_create_variable(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    """Create each entry that is valid; report the others, as AFD does, without failing the call."""
    errors: list[dict[str, Any]] = []
    with ctx.db.write() as conn:
        for entry in req["variableEntries"]:
            try:
                with conn.begin_nested():
                    _insert(ctx, conn, entry, req.get("tags"))
            except VariableExistsError as error:
                errors.append({"name": entry["name"], "code": 409, "message": error.message})
            except FraudhawkError as error:
                errors.append({"name": entry.get("name", ""), "code": 400, "message": error.message})
            except DBAPIError as error:
                if fault(error) is not Fault.UNIQUE_VIOLATION:
                    raise
                # created by a concurrent request between the check and the insert (PostgreSQL)
                errors.append(
                    {"name": entry["name"], "code": 409, "message": f"Variable {entry['name']} already exists"}
                )
    return {"errors": errors}


def get_variables(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        rows, token = one_or_page(conn, _table, req, "variable", 100)
    return with_token({"variables": [to_wire(ctx, row) for row in rows]}, token)


def batch_get_variable(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    names = list(dict.fromkeys(req["names"]))
    with ctx.db.read() as conn:
        rows = {row.name: row for row in conn.execute(select(_table).where(_table.c.name.in_(names)))}
    return {
        "variables": [to_wire(ctx, rows[name]) for name in names if name in rows],
        "errors": [
            {"name": name, "code": 404, "message": f"The variable {name} does not exist"}
            for name in names
            if name not in rows
        ],
    }


def update_variable(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name = req["name"]
    with ctx.db.write() as conn:
        row = conn.execute(select(_table).where(_table.c.name == name)).first()
        if row is None:
            raise ResourceNotFoundError(f"The variable {name} does not exist")
        changes: dict[str, Any] = {}
        if "defaultValue" in req:
            _check_default(name, row.data_type, req["defaultValue"])
            changes["default_value"] = req["defaultValue"]
        if "description" in req:
            _check_description(name, req["description"])
            changes["description"] = req["description"]
        if "variableType" in req:
            if row.data_source == "MODEL_SCORE":
                raise ValidationError(f"Variable {name} is a model score: its variableType cannot be changed")
            problem = variable_type_problem(req["variableType"], row.data_type)
            if problem:
                raise ValidationError(f"Variable {name}: {problem}")
            changes["variable_type"] = req["variableType"]
        if changes:
            conn.execute(update(_table).where(_table.c.name == name).values(**changes, updated_ms=now_ms()))
    return {}


def delete_variable(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name = req["name"]
    with ctx.db.write() as conn:
        row = conn.execute(select(_table.c.data_source).where(_table.c.name == name)).first()
        if row is None:
            return {}
        if row.data_source == "MODEL_SCORE":
            raise ConflictError(f"The variable {name} is a model score: it is deleted with its model")
        reason = _in_event_types(conn, name) or variable_users(conn, name)
        if reason:
            raise ConflictError(f"The variable {name} cannot be deleted: {reason}")
        conn.execute(delete(_table).where(_table.c.name == name))
        drop_tags(conn, ctx.arns.build(ARN_TYPE, name))
    return {}
