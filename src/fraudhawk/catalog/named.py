"""Resources that are a name, a description and tags: entity types, labels and outcomes.

They share AFD's Put (create or update) / Get (one by name, or a page) / Delete (idempotent, refused
while in use) semantics, so one implementation serves all three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, insert, select, update

from fraudhawk.catalog.paging import page, with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.errors import ConflictError, ResourceNotFoundError

#: Why a resource cannot be deleted now, or None when it can.
InUseCheck = Callable[[Connection, str], str | None]


def exists(conn: Connection, table: Table, name: str, *, lock: bool = False) -> bool:
    """Whether the named row exists; `lock` holds it (PostgreSQL) until the transaction ends, so a
    concurrent delete cannot slip between this check and what the caller writes next."""
    query = select(table.c.name).where(table.c.name == name)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first() is not None


def one_or_page(
    conn: Connection, table: Table, req: dict[str, Any], noun: str, page_size: int
) -> tuple[Sequence[Any], str | None]:
    """AFD's Get* pattern: with `name`, that one resource (or ResourceNotFound); without, one page."""
    if "name" in req:
        rows = conn.execute(select(table).where(table.c.name == req["name"])).all()
        if not rows:
            raise ResourceNotFoundError(f"The {noun} {req['name']} does not exist")
        return rows, None
    return page(conn, select(table), table.c.name, req.get("nextToken"), req.get("maxResults"), page_size)


def stamp_wire(ctx: Context, arn_type: str, row: Row[Any]) -> dict[str, Any]:
    """The fields every named resource shares on the wire."""
    item: dict[str, Any] = {"name": row.name}
    if row.description is not None:
        item["description"] = row.description
    item["lastUpdatedTime"] = iso_time(row.updated_ms)
    item["createdTime"] = iso_time(row.created_ms)
    item["arn"] = ctx.arns.build(arn_type, row.name)
    return item


@dataclass(frozen=True)
class NamedResource:
    table: Table
    arn_type: str  # resource type in the ARN, e.g. "entity-type"
    noun: str  # for messages, e.g. "entity type"
    list_key: str  # response member, e.g. "entityTypes"
    page_size: int
    in_use: tuple[InUseCheck, ...] = ()

    def taggable(self, conn: Connection, path: tuple[str, ...]) -> bool:
        return len(path) == 1 and exists(conn, self.table, path[0], lock=True)

    def put(self, ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
        name, stamp = req["name"], now_ms()
        with ctx.db.write() as conn:
            if exists(conn, self.table, name):
                if "description" in req:
                    conn.execute(
                        update(self.table)
                        .where(self.table.c.name == name)
                        .values(description=req["description"], updated_ms=stamp)
                    )
            else:
                conn.execute(
                    insert(self.table).values(
                        name=name, description=req.get("description"), created_ms=stamp, updated_ms=stamp
                    )
                )
            apply_tags(conn, ctx.arns.build(self.arn_type, name), req.get("tags"))
        return {}

    def get(self, ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
        with ctx.db.read() as conn:
            rows, token = one_or_page(conn, self.table, req, self.noun, self.page_size)
        return with_token({self.list_key: [stamp_wire(ctx, self.arn_type, row) for row in rows]}, token)

    def delete(self, ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
        name = req["name"]
        with ctx.db.write() as conn:
            for check in self.in_use:
                reason = check(conn, name)
                if reason:
                    raise ConflictError(f"The {self.noun} {name} cannot be deleted: {reason}")
            conn.execute(delete(self.table).where(self.table.c.name == name))
            drop_tags(conn, ctx.arns.build(self.arn_type, name))
        return {}


def used_by_event_types(link: Table, column: str) -> InUseCheck:
    """An in-use check: the names of event types that reference the resource through `link`."""

    def check(conn: Connection, name: str) -> str | None:
        users = (
            conn.execute(select(link.c.event_type).where(link.c[column] == name).order_by(link.c.event_type))
            .scalars()
            .all()
        )
        return f"it is used by event type(s) {', '.join(users)}" if users else None

    return check
