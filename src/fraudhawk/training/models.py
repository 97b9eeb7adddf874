"""Models: CreateModel, GetModels, UpdateModel, DeleteModel.

A model belongs to one event type and has one type (OFI, TFI, ATI). Creating it also creates the
variable `<modelId>_insightscore` (data source MODEL_SCORE) that rules use to read its score.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from fraudhawk.catalog.named import exists
from fraudhawk.catalog.paging import page, with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.errors import ConflictError, ResourceNotFoundError, ValidationError
from fraudhawk.storage import schema

ARN_TYPE = "model"
_models = schema.models
_versions = schema.model_versions


def score_variable(model_id: str) -> str:
    return f"{model_id}_insightscore"


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    if len(path) != 2:
        return False
    row = conn.execute(select(_models.c.model_type).where(_models.c.model_id == path[1]).with_for_update()).first()
    return row is not None and row.model_type == path[0]


def model_arn(ctx: Context, model_type: str, model_id: str) -> str:
    return ctx.arns.build(ARN_TYPE, model_type, model_id)


def load_model(conn: Connection, model_id: str, model_type: str, lock: bool = False) -> Row[Any]:
    """The model row; ResourceNotFound unless a model of that id and type exists."""
    query = select(_models).where(_models.c.model_id == model_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None or row.model_type != model_type:
        raise ResourceNotFoundError(f"The model {model_id} of type {model_type} does not exist")
    return row


def create_model(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    model_id, model_type = req["modelId"], req["modelType"]
    variable = score_variable(model_id)
    with ctx.db.write() as conn:
        if not exists(conn, schema.event_types, req["eventTypeName"]):
            raise ValidationError(f"eventTypeName: the event type {req['eventTypeName']} does not exist")
        found = conn.execute(select(_models.c.model_type).where(_models.c.model_id == model_id)).scalar()
        if found is not None:
            raise ValidationError(f"A model with id {model_id} already exists (type {found})")
        if exists(conn, schema.variables, variable):
            raise ValidationError(
                f"modelId: the variable {variable}, which would hold this model's score, already exists"
            )
        stamp = now_ms()
        conn.execute(
            insert(_models).values(
                model_id=model_id,
                model_type=model_type,
                event_type=req["eventTypeName"],
                description=req.get("description"),
                created_ms=stamp,
                updated_ms=stamp,
            )
        )
        conn.execute(
            insert(schema.variables).values(
                name=variable,
                description=f"Score of model {model_id}",
                data_type="FLOAT",
                data_source="MODEL_SCORE",
                default_value="0.0",
                variable_type=None,
                created_ms=stamp,
                updated_ms=stamp,
            )
        )
        apply_tags(conn, model_arn(ctx, model_type, model_id), req.get("tags"))
    return {}


def _to_wire(ctx: Context, row: Row[Any]) -> dict[str, Any]:
    item = {
        "modelId": row.model_id,
        "modelType": row.model_type,
        "eventTypeName": row.event_type,
        "createdTime": iso_time(row.created_ms),
        "lastUpdatedTime": iso_time(row.updated_ms),
        "arn": model_arn(ctx, row.model_type, row.model_id),
    }
    if row.description:
        item["description"] = row.description
    return item


def get_models(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    query = select(_models)
    if "modelType" in req:
        query = query.where(_models.c.model_type == req["modelType"])
    with ctx.db.read() as conn:
        if "modelId" in req:
            rows = conn.execute(query.where(_models.c.model_id == req["modelId"])).all()
            if not rows:
                raise ResourceNotFoundError(f"The model {req['modelId']} does not exist")
            token = None
        else:
            rows, token = page(conn, query, _models.c.model_id, req.get("nextToken"), req.get("maxResults"), 10)
    return with_token({"models": [_to_wire(ctx, row) for row in rows]}, token)


def update_model(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        load_model(conn, req["modelId"], req["modelType"], lock=True)
        conn.execute(
            update(_models)
            .where(_models.c.model_id == req["modelId"])
            .values(description=req.get("description"), updated_ms=now_ms())
        )
    return {}


def delete_model(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    model_id, model_type = req["modelId"], req["modelType"]
    with ctx.db.write() as conn:
        row = conn.execute(select(_models).where(_models.c.model_id == model_id).with_for_update()).first()
        if row is None or row.model_type != model_type:
            return {}
        versions = conn.execute(
            select(func.count()).select_from(_versions).where(_versions.c.model_id == model_id)
        ).scalar_one()
        if versions:
            raise ConflictError(f"The model {model_id} has {versions} version(s): delete them before the model")
        conn.execute(delete(_models).where(_models.c.model_id == model_id))
        conn.execute(delete(schema.variables).where(schema.variables.c.name == score_variable(model_id)))
        drop_tags(conn, model_arn(ctx, model_type, model_id))
    return {}
