"""Event types: the shape of an event (its variables, labels and entity types) and whether it is stored."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, insert, select, update

from fraudhawk.catalog.activity import deletion_running, running_import
from fraudhawk.catalog.named import exists, one_or_page, stamp_wire
from fraudhawk.catalog.paging import with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.catalog.usage import detector_users, event_type_users
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.errors import ConflictError, ResourceNotFoundError, ValidationError
from fraudhawk.storage import schema

ARN_TYPE = "event-type"
_table = schema.event_types
# request member -> (link table, link column, referenced table, noun)
_LINKS: dict[str, tuple[Table, str, Table, str]] = {
    "eventVariables": (schema.event_type_variables, "variable", schema.variables, "variable"),
    "labels": (schema.event_type_labels, "label", schema.labels, "label"),
    "entityTypes": (schema.event_type_entity_types, "entity_type", schema.entity_types, "entity type"),
}


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    return len(path) == 1 and exists(conn, _table, path[0], lock=True)


def _check_references(conn: Connection, req: dict[str, Any]) -> None:
    for member, (_link, _column, target, noun) in _LINKS.items():
        names = req.get(member) or []
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValidationError(f"{member} lists {', '.join(duplicates)} more than once")
        found = set(conn.execute(select(target.c.name).where(target.c.name.in_(names))).scalars())
        missing = [name for name in names if name not in found]
        if missing:
            raise ValidationError(f"{member}: the {noun}(s) {', '.join(missing)} do not exist")
    scores = (
        conn.execute(
            select(schema.variables.c.name).where(
                schema.variables.c.name.in_(req["eventVariables"]), schema.variables.c.data_source != "EVENT"
            )
        )
        .scalars()
        .all()
    )
    if scores:
        raise ValidationError(f"eventVariables: {', '.join(sorted(scores))} are model outputs, not event variables")


@dataclass(frozen=True)
class EventTypeSpec:
    """What events of a type may carry: used to validate every stored or predicted event."""

    name: str
    variables: dict[str, str]  # name -> data type, in the event type's order
    defaults: dict[str, str]
    labels: tuple[str, ...]
    entity_types: tuple[str, ...]
    ingestion_enabled: bool


def load_spec(conn: Connection, name: str) -> EventTypeSpec:
    row = conn.execute(select(_table).where(_table.c.name == name)).first()
    if row is None:
        raise ResourceNotFoundError(f"The event type {name} does not exist")
    links = _load_links(conn, [name])
    variables = schema.variables
    types = {
        v.name: (v.data_type, v.default_value)
        for v in conn.execute(
            select(variables.c.name, variables.c.data_type, variables.c.default_value).where(
                variables.c.name.in_(links["eventVariables"].get(name, []))
            )
        )
    }
    ordered = links["eventVariables"].get(name, [])
    return EventTypeSpec(
        name=name,
        variables={v: types[v][0] for v in ordered},
        defaults={v: types[v][1] for v in ordered},
        labels=tuple(links["labels"].get(name, [])),
        entity_types=tuple(links["entityTypes"].get(name, [])),
        ingestion_enabled=row.event_ingestion == "ENABLED",
    )


def put_event_type(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name, stamp = req["name"], now_ms()
    with ctx.db.write() as conn:
        _check_references(conn, req)
        current = conn.execute(select(_table).where(_table.c.name == name)).first()
        values: dict[str, Any] = {"updated_ms": stamp}
        if "description" in req:
            values["description"] = req["description"]
        if "eventIngestion" in req:
            values["event_ingestion"] = req["eventIngestion"]
        if "eventOrchestration" in req:
            values["event_bridge_enabled"] = req["eventOrchestration"]["eventBridgeEnabled"]
        if current is None:
            values.setdefault("event_ingestion", "DISABLED")
            values.setdefault("event_bridge_enabled", False)
            conn.execute(insert(_table).values(name=name, created_ms=stamp, **values))
        else:
            _check_kept(conn, name, req)
            conn.execute(update(_table).where(_table.c.name == name).values(**values))
        for member, (link, column, _target, _noun) in _LINKS.items():
            conn.execute(delete(link).where(link.c.event_type == name))
            rows = [
                {"event_type": name, column: item, "position": position}
                for position, item in enumerate(req.get(member) or [])
            ]
            if rows:
                conn.execute(insert(link), rows)
        apply_tags(conn, ctx.arns.build(ARN_TYPE, name), req.get("tags"))
    return {}


def _check_kept(conn: Connection, name: str, req: dict[str, Any]) -> None:
    """Variables and labels, once added, stay (as in AFD): models were trained on them, rules read
    them and stored events carry them."""
    links = _load_links(conn, [name])
    for member, noun in (("eventVariables", "variables"), ("labels", "labels")):
        dropped = [item for item in links[member].get(name, []) if item not in (req.get(member) or [])]
        if dropped:
            raise ValidationError(
                f"{member}: {noun} cannot be removed from an event type once added; "
                f"the event type {name} has {', '.join(dropped)}"
            )


def _statistics(stats: Row[Any] | None) -> dict[str, Any]:
    if stats is None:
        return {"numberOfEvents": 0, "eventDataSizeInBytes": 0}
    result: dict[str, Any] = {
        "numberOfEvents": stats.number_of_events,
        "eventDataSizeInBytes": stats.size_bytes,
        "lastUpdatedTime": iso_time(stats.updated_ms),
    }
    if stats.number_of_events and stats.least_recent_ms is not None:
        result["leastRecentEvent"] = iso_time(stats.least_recent_ms)
        result["mostRecentEvent"] = iso_time(stats.most_recent_ms)
    return result


def _to_wire(
    ctx: Context, row: Row[Any], links: dict[str, dict[str, list[str]]], stats: dict[str, Row[Any]]
) -> dict[str, Any]:
    item = stamp_wire(ctx, ARN_TYPE, row)
    for member in _LINKS:
        item[member] = links[member].get(row.name, [])
    item["eventIngestion"] = row.event_ingestion
    item["ingestedEventStatistics"] = _statistics(stats.get(row.name))
    item["eventOrchestration"] = {"eventBridgeEnabled": bool(row.event_bridge_enabled)}
    return item


def _load_links(conn: Connection, names: list[str]) -> dict[str, dict[str, list[str]]]:
    links: dict[str, dict[str, list[str]]] = {}
    for member, (link, column, _target, _noun) in _LINKS.items():
        grouped: dict[str, list[str]] = defaultdict(list)
        query = (
            select(link.c.event_type, link.c[column])
            .where(link.c.event_type.in_(names))
            .order_by(link.c.event_type, link.c.position)
        )
        for event_type, item in conn.execute(query):
            grouped[event_type].append(item)
        links[member] = grouped
    return links


def get_event_types(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        rows, token = one_or_page(conn, _table, req, "event type", 10)
        names = [row.name for row in rows]
        links = _load_links(conn, names)
        stats = {
            item.event_type: item
            for item in conn.execute(select(schema.event_stats).where(schema.event_stats.c.event_type.in_(names)))
        }
    return with_token({"eventTypes": [_to_wire(ctx, row, links, stats) for row in rows]}, token)


def delete_event_type(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name = req["name"]
    with ctx.db.write() as conn:
        stored = select(schema.event_index.c.event_id).where(schema.event_index.c.event_type == name).limit(1)
        importing = running_import(conn, name)
        if importing is not None:
            raise ConflictError(f"The event type {name} is being imported into by batch import {importing}")
        if deletion_running(conn, name):
            raise ConflictError(f"The events of {name} are still being deleted: wait for COMPLETE")
        if conn.execute(stored).first() is not None:
            raise ConflictError(
                f"The event type {name} still has stored events: delete them first with DeleteEventsByEventType"
            )
        detectors = detector_users(conn, name)
        if detectors:
            raise ConflictError(f"The event type {name} is used by detector(s) {detectors}: delete them first")
        external = event_type_users(conn, name)
        if external:
            raise ConflictError(f"The event type {name} cannot be deleted: {external}")
        model = conn.execute(select(schema.models.c.model_id).where(schema.models.c.event_type == name)).first()
        if model is not None:
            raise ConflictError(f"The event type {name} is used by model {model.model_id}: delete the model first")
        # Link rows go with the event type (ON DELETE CASCADE); delete them explicitly as well so the
        # result does not depend on the backend enforcing foreign keys.
        for link, _column, _target, _noun in _LINKS.values():
            conn.execute(delete(link).where(link.c.event_type == name))
        conn.execute(delete(_table).where(_table.c.name == name))
        drop_tags(conn, ctx.arns.build(ARN_TYPE, name))
    return {}
