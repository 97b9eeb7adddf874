"""PutDetector, GetDetectors, DescribeDetector and DeleteDetector."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from fraudhawk.catalog.named import exists
from fraudhawk.catalog.paging import page, with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.errors import ConflictError, ResourceNotFoundError, ValidationError
from fraudhawk.storage import schema

ARN_TYPE = "detector"
_detectors = schema.detectors
_versions = schema.detector_versions


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    if len(path) != 1:
        return False
    query = select(_detectors.c.detector_id).where(_detectors.c.detector_id == path[0]).with_for_update()
    return conn.execute(query).first() is not None


def load_detector(conn: Connection, detector_id: str, lock: bool = False) -> Row[Any]:
    query = select(_detectors).where(_detectors.c.detector_id == detector_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise ResourceNotFoundError(f"The detector {detector_id} does not exist", field="detectorId")
    return row


def put_detector(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id, event_type, stamp = req["detectorId"], req["eventTypeName"], now_ms()
    with ctx.db.write() as conn:
        if not exists(conn, schema.event_types, event_type):
            raise ResourceNotFoundError(f"eventTypeName: the event type {event_type} does not exist")
        row = conn.execute(select(_detectors).where(_detectors.c.detector_id == detector_id).with_for_update()).first()
        if row is None:
            conn.execute(
                insert(_detectors).values(
                    detector_id=detector_id,
                    event_type=event_type,
                    description=req.get("description"),
                    created_ms=stamp,
                    updated_ms=stamp,
                )
            )
        else:
            if row.event_type != event_type:
                raise ValidationError(
                    f"eventTypeName: detector {detector_id} evaluates events of type {row.event_type}; "
                    "a detector's event type cannot change (create another detector)"
                )
            if "description" in req:
                conn.execute(
                    update(_detectors)
                    .where(_detectors.c.detector_id == detector_id)
                    .values(description=req["description"], updated_ms=stamp)
                )
        apply_tags(conn, ctx.arns.build(ARN_TYPE, detector_id), req.get("tags"))
    return {}


def _to_wire(ctx: Context, row: Row[Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"detectorId": row.detector_id}
    if row.description is not None:
        item["description"] = row.description
    item["eventTypeName"] = row.event_type
    item["lastUpdatedTime"] = iso_time(row.updated_ms)
    item["createdTime"] = iso_time(row.created_ms)
    item["arn"] = ctx.arns.build(ARN_TYPE, row.detector_id)
    return item


def get_detectors(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        if "detectorId" in req:
            rows = [load_detector(conn, req["detectorId"])]
            token = None
        else:
            rows_seq, token = page(
                conn, select(_detectors), _detectors.c.detector_id, req.get("nextToken"), req.get("maxResults"), 10
            )
            rows = list(rows_seq)
    return with_token({"detectors": [_to_wire(ctx, row) for row in rows]}, token)


def describe_detector(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id = req["detectorId"]
    with ctx.db.read() as conn:
        load_detector(conn, detector_id)
        rows, token = page(
            conn,
            select(_versions).where(_versions.c.detector_id == detector_id),
            _versions.c.version,
            req.get("nextToken"),
            req.get("maxResults"),
            2500,
        )
    summaries = []
    for row in rows:
        summary: dict[str, Any] = {"detectorVersionId": str(row.version), "status": row.status}
        if row.description is not None:
            summary["description"] = row.description
        summary["lastUpdatedTime"] = iso_time(row.updated_ms)
        summaries.append(summary)
    result = {
        "detectorId": detector_id,
        "detectorVersionSummaries": summaries,
        "arn": ctx.arns.build(ARN_TYPE, detector_id),
    }
    return with_token(result, token)


def delete_detector(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id = req["detectorId"]
    with ctx.db.write() as conn:
        found = conn.execute(
            select(_detectors.c.detector_id).where(_detectors.c.detector_id == detector_id).with_for_update()
        ).first()
        if found is None:
            return {}
        versions = conn.execute(
            select(func.count()).select_from(_versions).where(_versions.c.detector_id == detector_id)
        ).scalar_one()
        rules = schema.rules
        rule_count = conn.execute(
            select(func.count()).select_from(rules).where(rules.c.detector_id == detector_id)
        ).scalar_one()
        if versions or rule_count:
            raise ConflictError(
                f"The detector {detector_id} still has {versions} detector version(s) and {rule_count} rule "
                "version(s): delete them before the detector"
            )
        conn.execute(delete(_detectors).where(_detectors.c.detector_id == detector_id))
        drop_tags(conn, ctx.arns.build(ARN_TYPE, detector_id))
    return {}
