"""Tags on every taggable resource, addressed by ARN (TagResource, UntagResource, ListTagsForResource)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from fraudhawk.catalog.paging import page, with_token
from fraudhawk.context import Context
from fraudhawk.errors import ResourceNotFoundError, ValidationError
from fraudhawk.storage import schema

MAX_TAGS_PER_RESOURCE = 50

#: Does (conn, path) name an existing resource? Each resource module has one; the service's context
#: holds them by the resource type in an ARN (`Context.taggable`).
Taggable = Callable[[Connection, tuple[str, ...]], bool]


def apply_tags(conn: Connection, arn: str, tags: list[dict[str, str]] | None) -> None:
    """Add or overwrite tags on a resource, within AWS's per-resource limit."""
    if not tags:
        return
    wanted = {tag["key"]: tag["value"] for tag in tags}
    reserved = sorted(key for key in wanted if key.lower().startswith("aws:"))
    if reserved:
        raise ValidationError(f"Tag keys may not start with 'aws:', which is reserved: {', '.join(reserved)}")
    table = schema.tags
    conn.execute(delete(table).where(table.c.resource_arn == arn, table.c.key.in_(wanted)))
    conn.execute(insert(table), [{"resource_arn": arn, "key": k, "value": v} for k, v in wanted.items()])
    count = conn.execute(select(func.count()).where(table.c.resource_arn == arn)).scalar_one()
    if count > MAX_TAGS_PER_RESOURCE:
        raise ValidationError(
            f"A resource can have at most {MAX_TAGS_PER_RESOURCE} tags; this request would give {arn} {count}"
        )


def drop_tags(conn: Connection, arn: str) -> None:
    conn.execute(delete(schema.tags).where(schema.tags.c.resource_arn == arn))


def _require_resource(ctx: Context, conn: Connection, arn: str) -> None:
    resource_type, path = ctx.arns.parse(arn)
    exists = ctx.taggable.get(resource_type)
    if exists is None or not exists(conn, path):
        raise ResourceNotFoundError(f"Resource {arn} does not exist")


def tag_resource(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        _require_resource(ctx, conn, req["resourceARN"])
        apply_tags(conn, req["resourceARN"], req["tags"])
    return {}


def untag_resource(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    table = schema.tags
    with ctx.db.write() as conn:
        _require_resource(ctx, conn, req["resourceARN"])
        conn.execute(delete(table).where(table.c.resource_arn == req["resourceARN"], table.c.key.in_(req["tagKeys"])))
    return {}


def list_tags_for_resource(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    table = schema.tags
    with ctx.db.read() as conn:
        _require_resource(ctx, conn, req["resourceARN"])
        query = select(table.c.key, table.c.value).where(table.c.resource_arn == req["resourceARN"])
        rows, token = page(conn, query, table.c.key, req.get("nextToken"), req.get("maxResults"), 50)
    return with_token({"tags": [{"key": row.key, "value": row.value} for row in rows]}, token)
