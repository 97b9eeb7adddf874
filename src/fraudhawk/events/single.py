"""SendEvent, GetEvent, UpdateEventLabel and DeleteEvent: one stored event at a time."""

from __future__ import annotations

from typing import Any

from fraudhawk.catalog.activity import deletion_running
from fraudhawk.catalog.event_types import EventTypeSpec, load_spec
from fraudhawk.catalog.values import utc_ms, value_problem
from fraudhawk.context import Context, iso_time
from fraudhawk.errors import ConflictError, ResourceNotFoundError, ValidationError
from fraudhawk.events import audit, store
from fraudhawk.scoring import states
from fraudhawk.storage import schema


def check_label(spec: EventTypeSpec, label: str) -> None:
    if label not in spec.labels:
        allowed = ", ".join(spec.labels) or "none"
        raise ValidationError(f"assignedLabel {label} is not a label of event type {spec.name} (its labels: {allowed})")


def check_variables(spec: EventTypeSpec, variables: dict[str, str]) -> None:
    """Every variable must belong to the event type and fit its data type."""
    unknown = sorted(name for name in variables if name not in spec.variables)
    if unknown:
        raise ValidationError(
            f"eventVariables: {', '.join(unknown)} "
            f"{'is not a variable' if len(unknown) == 1 else 'are not variables'} of event type {spec.name}",
            field=f"eventVariables.{unknown[0]}",
        )
    for name, value in variables.items():
        problem = value_problem(spec.variables[name], value)
        if problem:
            raise ValidationError(
                f"eventVariables.{name}: value {value!r} is invalid: {problem}", field=f"eventVariables.{name}"
            )


def check_entities(spec: EventTypeSpec, entities: list[dict[str, str]]) -> tuple[str, str]:
    """The event's entity, which must be of one of the event type's entity types."""
    if len(entities) != 1:
        raise ValidationError(f"entities must hold exactly one entity, got {len(entities)}", field="entities")
    entity = entities[0]
    if entity["entityType"] not in spec.entity_types:
        raise ValidationError(
            f"entities.1.entityType {entity['entityType']} is not an entity type of event type {spec.name} "
            f"(its entity types: {', '.join(spec.entity_types)})",
            field="entities.1.entityType",
        )
    return entity["entityType"], entity["entityId"]


def send_event(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name, event_id = req["eventTypeName"], req["eventId"]
    event_ms = utc_ms(req["eventTimestamp"], "eventTimestamp")
    label, label_time = req.get("assignedLabel"), req.get("labelTimestamp")
    if (label is None) != (label_time is None):
        raise ValidationError("assignedLabel and labelTimestamp must be given together")
    label_ms = utc_ms(label_time, "labelTimestamp") if label_time is not None else None
    with ctx.db.write() as conn:
        spec = load_spec(conn, name)
        if deletion_running(conn, name):
            raise ConflictError(f"The events of {name} are being deleted: send events once that is COMPLETE")
        if not spec.ingestion_enabled:
            raise ValidationError(
                f"Event ingestion is DISABLED for event type {name}: "
                "enable it with PutEventType(eventIngestion=ENABLED)"
            )
        entity_type, entity_id = check_entities(spec, req["entities"])
        check_variables(spec, req["eventVariables"])
        if label is not None:
            check_label(spec, label)
        if store.get_event(conn, ctx.segments, name, event_id) is not None:
            raise ConflictError(
                f"An event with id {event_id} is already stored for event type {name}: use UpdateEventLabel to "
                "change its label, or DeleteEvent first"
            )
        event = store.StoredEvent(
            event_id=event_id,
            event_type=name,
            event_ms=event_ms,
            entity_type=entity_type,
            entity_id=entity_id,
            variables=dict(req["eventVariables"]),
            label=label,
            label_ms=label_ms,
        )
        store.insert_single(conn, name, event)
        states.advance_one(conn, name, event.entity_id, event.event_ms, event.variables)
    return {}


def get_event(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name, event_id = req["eventTypeName"], req["eventId"]
    with ctx.db.read() as conn:
        load_spec(conn, name)
        event = store.get_event(conn, ctx.segments, name, event_id)
    if event is None:
        raise ResourceNotFoundError(f"No event with id {event_id} is stored for event type {name}")
    result: dict[str, Any] = {
        "eventId": event.event_id,
        "eventTypeName": name,
        "eventTimestamp": iso_time(event.event_ms),
        "eventVariables": event.variables,
        "entities": [{"entityType": event.entity_type, "entityId": event.entity_id}],
    }
    if event.label is not None:
        result["currentLabel"] = event.label
    if event.label_ms is not None:
        result["labelTimestamp"] = iso_time(event.label_ms)
    return {"event": result}


def update_event_label(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    name, event_id = req["eventTypeName"], req["eventId"]
    label_ms = utc_ms(req["labelTimestamp"], "labelTimestamp")
    with ctx.db.write() as conn:
        spec = load_spec(conn, name)
        check_label(spec, req["assignedLabel"])
        if not store.set_label(conn, name, event_id, req["assignedLabel"], label_ms):
            raise ResourceNotFoundError(f"No event with id {event_id} is stored for event type {name}")
    return {}


def delete_event(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        store.delete_event(conn, ctx.segments, req["eventTypeName"], req["eventId"])
        if req.get("deleteAuditHistory"):
            predictions = schema.predictions
            audit.delete_predictions(
                conn, predictions.c.event_type == req["eventTypeName"], predictions.c.event_id == req["eventId"]
            )
    return {}
