"""Lists: named sets of values (allow and deny lists) that rules test with `$var in @list`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from fraudhawk.catalog.named import exists, one_or_page, stamp_wire
from fraudhawk.catalog.paging import page, with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.catalog.usage import list_users
from fraudhawk.catalog.variable_types import list_variable_types
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.errors import ConflictError, ResourceNotFoundError, ValidationError
from fraudhawk.storage import schema

ARN_TYPE = "list"
MAX_ELEMENTS = 100_000
_lists = schema.lists
_elements = schema.list_elements


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    return len(path) == 1 and exists(conn, _lists, path[0], lock=True)


def _check_variable_type(variable_type: str) -> None:
    allowed = list_variable_types()
    if variable_type not in allowed:
        raise ValidationError(
            f"variableType {variable_type} cannot be given to a list: use a variable type whose data type "
            f"is STRING ({', '.join(allowed)})"
        )


def _insert_elements(conn: Connection, name: str, elements: list[str]) -> None:
    rows = [{"list_name": name, "element": element} for element in elements]
    for start in range(0, len(rows), 10_000):
        conn.execute(insert(_elements), rows[start : start + 10_000])


def _count(conn: Connection, name: str) -> int:
    return conn.execute(select(func.count()).where(_elements.c.list_name == name)).scalar_one()


def _check_size(count: int, name: str) -> None:
    if count > MAX_ELEMENTS:
        raise ValidationError(f"List {name} would hold {count} elements; a list holds at most {MAX_ELEMENTS}")


def create_list(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name, stamp = req["name"], now_ms()
    if "variableType" in req:
        _check_variable_type(req["variableType"])
    elements = list(dict.fromkeys(req.get("elements") or []))
    with ctx.db.write() as conn:
        if exists(conn, _lists, name):
            raise ValidationError(f"List {name} already exists")
        conn.execute(
            insert(_lists).values(
                name=name,
                description=req.get("description"),
                variable_type=req.get("variableType"),
                created_ms=stamp,
                updated_ms=stamp,
            )
        )
        _insert_elements(conn, name, elements)
        apply_tags(conn, ctx.arns.build(ARN_TYPE, name), req.get("tags"))
    return {}


def update_list(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name = req["name"]
    with ctx.db.write() as conn:
        row = conn.execute(select(_lists).where(_lists.c.name == name)).first()
        if row is None:
            raise ResourceNotFoundError(f"The list {name} does not exist")
        changes: dict[str, Any] = {"updated_ms": now_ms()}
        if "variableType" in req and req["variableType"] != row.variable_type:
            if row.variable_type is not None:
                raise ValidationError(f"List {name} already has variableType {row.variable_type}; it cannot be changed")
            _check_variable_type(req["variableType"])
            changes["variable_type"] = req["variableType"]
        if "description" in req:
            changes["description"] = req["description"]
        if "elements" in req:
            _update_elements(conn, name, req["elements"], req.get("updateMode", "REPLACE"))
        conn.execute(update(_lists).where(_lists.c.name == name).values(**changes))
    return {}


def _update_elements(conn: Connection, name: str, elements: list[str], mode: str) -> None:
    wanted = list(dict.fromkeys(elements))
    if mode == "REPLACE":
        _check_size(len(wanted), name)
        conn.execute(delete(_elements).where(_elements.c.list_name == name))
        _insert_elements(conn, name, wanted)
    elif mode == "APPEND":
        present = set(conn.execute(select(_elements.c.element).where(_elements.c.list_name == name)).scalars())
        new = [element for element in wanted if element not in present]
        _check_size(len(present) + len(new), name)
        _insert_elements(conn, name, new)
    else:  # REMOVE
        for start in range(0, len(wanted), 10_000):
            chunk = wanted[start : start + 10_000]
            conn.execute(delete(_elements).where(_elements.c.list_name == name, _elements.c.element.in_(chunk)))


def get_list_elements(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name = req["name"]
    with ctx.db.read() as conn:
        if not exists(conn, _lists, name):
            raise ResourceNotFoundError(f"The list {name} does not exist")
        query = select(_elements.c.id, _elements.c.element).where(_elements.c.list_name == name)
        rows, token = page(conn, query, _elements.c.id, req.get("nextToken"), req.get("maxResults"), 5000)
    return with_token({"elements": [row.element for row in rows]}, token)


def _to_wire(ctx: Context, row: Row[Any]) -> dict[str, Any]:
    item = stamp_wire(ctx, ARN_TYPE, row)
    # AllowDenyList calls the update time `updatedTime`, unlike the other resources.
    item["updatedTime"] = iso_time(row.updated_ms)
    del item["lastUpdatedTime"]
    if row.variable_type is not None:
        item["variableType"] = row.variable_type
    return item


def get_lists_metadata(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        rows, token = one_or_page(conn, _lists, req, "list", 50)
    return with_token({"lists": [_to_wire(ctx, row) for row in rows]}, token)


def delete_list(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name = req["name"]
    with ctx.db.write() as conn:
        users = list_users(conn, name)
        if users:
            raise ConflictError(f"The list {name} cannot be deleted: {users}")
        conn.execute(delete(_elements).where(_elements.c.list_name == name))
        conn.execute(delete(_lists).where(_lists.c.name == name))
        drop_tags(conn, ctx.arns.build(ARN_TYPE, name))
    return {}
