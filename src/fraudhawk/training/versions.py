"""Model versions: CreateModelVersion, UpdateModelVersion, GetModelVersion, DescribeModelVersions,
UpdateModelVersionStatus and DeleteModelVersion.

Versions are numbered as AFD does: CreateModelVersion makes the next major version (1.0, 2.0, ...),
UpdateModelVersion retrains a major version on new data as its next minor version (1.01, 1.02, ...).
Training runs in the background (see `jobs`); the request only checks what can be checked at once.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, or_, select, update

from fraudhawk.catalog.event_types import load_spec
from fraudhawk.catalog.paging import decode_token, encode_token, with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.catalog.usage import model_version_users
from fraudhawk.catalog.values import utc_ms
from fraudhawk.catalog.version_numbers import parse_version, version_arn, version_text
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.errors import ConflictError, ResourceNotFoundError, ValidationError
from fraudhawk.events import paths
from fraudhawk.jobs import JobTable, request_cancel
from fraudhawk.scoring import artifacts
from fraudhawk.scoring.model import load_version_model
from fraudhawk.storage import schema
from fraudhawk.training.ati_checks import login_variables
from fraudhawk.training.models import load_model

TRAINING = "TRAINING_IN_PROGRESS"
COMPLETE = "TRAINING_COMPLETE"
ACTIVE = "ACTIVE"
DELETABLE = (COMPLETE, "ERROR", "TRAINING_CANCELLED")
ATI = "ACCOUNT_TAKEOVER_INSIGHTS"
SUPPORTED = ("ONLINE_FRAUD_INSIGHTS", "TRANSACTION_FRAUD_INSIGHTS", ATI)
_versions = schema.model_versions
# A version in training is a job (run by `jobs`): cancelled, it ends TRAINING_CANCELLED; failed, ERROR.
JOBS = JobTable(
    _versions,
    key=("model_id", "major", "minor"),
    active=(TRAINING,),
    complete=COMPLETE,
    failed="ERROR",
    cancelled="TRAINING_CANCELLED",
    order=("created_ms",),
    reason=None,  # the reasons are AFD's dataValidationMetrics, in training_result
    ended="updated_ms",
    cleared=("progress",),
)


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    if len(path) != 3:
        return False
    try:
        major, minor = parse_version(path[2])
    except ValidationError:
        return False
    row = conn.execute(
        select(schema.models.c.model_type)
        .select_from(_versions.join(schema.models, _versions.c.model_id == schema.models.c.model_id))
        .where(_versions.c.model_id == path[1], _versions.c.major == major, _versions.c.minor == minor)
    ).first()
    return row is not None and row.model_type == path[0]


def _check_window(detail: dict[str, Any]) -> None:
    window = detail["ingestedEventsTimeWindow"]
    start = utc_ms(window["startTime"], "ingestedEventsDetail.ingestedEventsTimeWindow.startTime")
    end = utc_ms(window["endTime"], "ingestedEventsDetail.ingestedEventsTimeWindow.endTime")
    if start >= end:
        raise ValidationError("ingestedEventsDetail.ingestedEventsTimeWindow: startTime must be before endTime")


def _check_source(ctx: Context, model_type: str, source: str, req: dict[str, Any]) -> None:
    external, ingested = req.get("externalEventsDetail"), req.get("ingestedEventsDetail")
    if model_type == ATI and source != "INGESTED_EVENTS":
        # the login profile is built from every stored login of each entity, also those before the window
        raise ValidationError(
            f"modelType {ATI} trains on stored events: use trainingDataSource INGESTED_EVENTS with "
            "ingestedEventsDetail (import the logins with CreateBatchImportJob or send them with SendEvent first)"
        )
    if source == "EXTERNAL_EVENTS":
        if external is None or ingested is not None:
            raise ValidationError(
                "trainingDataSource EXTERNAL_EVENTS needs externalEventsDetail (and no ingestedEventsDetail)"
            )
        location = paths.resolve(ctx.settings, external["dataLocation"], "externalEventsDetail.dataLocation")
        paths.check_readable(location, "externalEventsDetail.dataLocation")
    else:
        if ingested is None or external is not None:
            raise ValidationError(
                "trainingDataSource INGESTED_EVENTS needs ingestedEventsDetail (and no externalEventsDetail)"
            )
        _check_window(ingested)


def _variable_types(conn: Connection, names: list[str]) -> dict[str, str | None]:
    table = schema.variables
    rows = conn.execute(select(table.c.name, table.c.variable_type).where(table.c.name.in_(names)))
    return {row.name: row.variable_type for row in rows}


def _check_schema(
    conn: Connection, model_type: str, event_type: str, source: str, training_schema: dict[str, Any]
) -> None:
    spec = load_spec(conn, event_type)
    variables = training_schema["modelVariables"]
    if not variables:
        raise ValidationError("trainingDataSchema.modelVariables must name at least one variable")
    if len(variables) > 100:
        raise ValidationError("trainingDataSchema.modelVariables may name at most 100 variables")
    repeated = sorted({v for v in variables if variables.count(v) > 1})
    if repeated:
        raise ValidationError(f"trainingDataSchema.modelVariables lists {', '.join(repeated)} more than once")
    foreign = [v for v in variables if v not in spec.variables]
    if foreign:
        raise ValidationError(
            f"trainingDataSchema.modelVariables: {', '.join(foreign)} are not variables of event type {event_type}"
        )
    label_schema = training_schema.get("labelSchema")
    if model_type == ATI:
        events = list(spec.variables)
        login_variables(event_type, variables, _variable_types(conn, events), events)
        if label_schema is None or "labelMapper" not in label_schema:
            return  # labels are optional: they only mark known takeovers
    if label_schema is None or "labelMapper" not in label_schema:
        raise ValidationError("trainingDataSchema.labelSchema.labelMapper is required to train a supervised model")
    mapper: dict[str, list[str]] = label_schema["labelMapper"]
    unknown = sorted(set(mapper) - {"FRAUD", "LEGIT"})
    if unknown:
        raise ValidationError(
            f"trainingDataSchema.labelSchema.labelMapper keys must be FRAUD and LEGIT, not {', '.join(unknown)}"
        )
    for key in ("FRAUD", "LEGIT"):
        if not mapper.get(key):
            raise ValidationError(f"trainingDataSchema.labelSchema.labelMapper needs a non-empty {key} list")
    overlap = set(mapper["FRAUD"]) & set(mapper["LEGIT"])
    if overlap:
        raise ValidationError(
            f"trainingDataSchema.labelSchema.labelMapper maps {', '.join(sorted(overlap))} to both FRAUD and LEGIT"
        )
    if source == "INGESTED_EVENTS":
        foreign_labels = [v for key in ("FRAUD", "LEGIT") for v in mapper[key] if v not in spec.labels]
        if foreign_labels:
            raise ValidationError(
                f"trainingDataSchema.labelSchema.labelMapper: {', '.join(foreign_labels)} are not labels of event "
                f"type {event_type}"
            )


def _insert_version(
    ctx: Context, conn: Connection, model: Row[Any], major: int, minor: int, source: str, req: dict[str, Any]
) -> dict[str, Any]:
    stamp = now_ms()
    conn.execute(
        insert(_versions).values(
            model_id=model.model_id,
            major=major,
            minor=minor,
            status=TRAINING,
            training_source=source,
            training_schema=json.dumps(req["trainingDataSchema"]),
            external_detail=json.dumps(req["externalEventsDetail"]) if "externalEventsDetail" in req else None,
            ingested_detail=json.dumps(req["ingestedEventsDetail"]) if "ingestedEventsDetail" in req else None,
            progress="waiting for a worker",
            cancel_requested=False,
            created_ms=stamp,
            updated_ms=stamp,
        )
    )
    version = version_text(major, minor)
    apply_tags(conn, version_arn(ctx, model.model_type, model.model_id, version), req.get("tags"))
    return {"modelId": model.model_id, "modelType": model.model_type, "modelVersionNumber": version, "status": TRAINING}


def create_model_version(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    source = req["trainingDataSource"]
    with ctx.db.read() as conn:
        model = load_model(conn, req["modelId"], req["modelType"])
    if model.model_type not in SUPPORTED:
        raise ValidationError(f"modelType {model.model_type}: this server trains {', '.join(SUPPORTED)} models")
    _check_source(ctx, model.model_type, source, req)
    with ctx.db.write() as conn:
        model = load_model(conn, req["modelId"], req["modelType"], lock=True)
        _check_schema(conn, model.model_type, model.event_type, source, req["trainingDataSchema"])
        top = conn.execute(select(func.max(_versions.c.major)).where(_versions.c.model_id == model.model_id)).scalar()
        result = _insert_version(ctx, conn, model, (top or 0) + 1, 0, source, req)
    ctx.wake_training()
    return result


def update_model_version(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    major = int(req["majorVersionNumber"])
    with ctx.db.read() as conn:
        load_model(conn, req["modelId"], req["modelType"])
        source = conn.execute(
            select(_versions.c.training_source).where(
                _versions.c.model_id == req["modelId"], _versions.c.major == major
            )
        ).scalar()
    if source is not None:
        _check_source(ctx, req["modelType"], source, req)  # may read S3: outside the write transaction
    with ctx.db.write() as conn:
        model = load_model(conn, req["modelId"], req["modelType"], lock=True)
        rows = conn.execute(
            select(_versions).where(_versions.c.model_id == model.model_id, _versions.c.major == major)
        ).all()
        if not rows:
            raise ResourceNotFoundError(f"The model {model.model_id} has no major version {major}")
        if any(row.status == TRAINING for row in rows):
            raise _simultaneous(model.model_id, major)
        newest = max(row.minor for row in rows)
        if newest >= 99:
            raise ValidationError(
                f"Version {major} of {model.model_id} has 99 minor versions, the most a version number can show: "
                "create a new major version with CreateModelVersion"
            )
        first = min(rows, key=lambda row: row.minor)  # a major version's source never changes
        body = {**req, "trainingDataSchema": json.loads(first.training_schema)}
        result = _insert_version(ctx, conn, model, major, newest + 1, first.training_source, body)
    ctx.wake_training()
    return result


def _simultaneous(model_id: str, major: int) -> ValidationError:
    # AFD's own answer, which users' scripts catch: a ValidationException with this text
    return ValidationError(
        f"Simultaneous training for the same major version not allowed: version {major} of {model_id} is training"
    )


def load_version(conn: Connection, model_id: str, model_type: str, version: str, lock: bool = False) -> Row[Any]:
    load_model(conn, model_id, model_type)
    major, minor = parse_version(version)
    query = select(_versions).where(
        _versions.c.model_id == model_id, _versions.c.major == major, _versions.c.minor == minor
    )
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise ResourceNotFoundError(f"The model version {model_id} {version} does not exist")
    return row


def _base_wire(ctx: Context, model_type: str, row: Row[Any]) -> dict[str, Any]:
    version = version_text(row.major, row.minor)
    item: dict[str, Any] = {
        "modelId": row.model_id,
        "modelType": model_type,
        "modelVersionNumber": version,
        "trainingDataSource": row.training_source,
        "trainingDataSchema": json.loads(row.training_schema),
        "status": row.status,
        "arn": version_arn(ctx, model_type, row.model_id, version),
    }
    if row.external_detail:
        item["externalEventsDetail"] = json.loads(row.external_detail)
    if row.ingested_detail:
        item["ingestedEventsDetail"] = json.loads(row.ingested_detail)
    return item


def get_model_version(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        row = load_version(conn, req["modelId"], req["modelType"], req["modelVersionNumber"])
    return _base_wire(ctx, req["modelType"], row)


def _detail_wire(ctx: Context, model_type: str, row: Row[Any]) -> dict[str, Any]:
    item = _base_wire(ctx, model_type, row)
    item["createdTime"] = iso_time(row.created_ms)
    item["lastUpdatedTime"] = iso_time(row.updated_ms)
    if row.training_result:
        result = json.loads(row.training_result)
        item["trainingResult"] = result["v1"]
        item["trainingResultV2"] = result["v2"]
    return item


def describe_model_versions(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    models = schema.models
    query = select(_versions, models.c.model_type).join(models, models.c.model_id == _versions.c.model_id)
    if "modelVersionNumber" in req and "modelId" not in req:
        raise ValidationError("modelVersionNumber can only be given together with modelId")
    with ctx.db.read() as conn:
        if "modelId" in req:
            model_type = conn.execute(select(models.c.model_type).where(models.c.model_id == req["modelId"])).scalar()
            if model_type is None or ("modelType" in req and req["modelType"] != model_type):
                raise ResourceNotFoundError(f"The model {req['modelId']} does not exist")
            query = query.where(_versions.c.model_id == req["modelId"])
            if "modelVersionNumber" in req:
                major, minor = parse_version(req["modelVersionNumber"])
                query = query.where(_versions.c.major == major, _versions.c.minor == minor)
        if "modelType" in req:
            query = query.where(models.c.model_type == req["modelType"])
        token = req.get("nextToken")
        if token:
            after = decode_token(token, list)
            if len(after) != 3 or not isinstance(after[0], str) or not all(isinstance(x, int) for x in after[1:]):
                raise ValidationError("The nextToken is not valid: pass the nextToken of a previous response")
            model_id, major, minor = after
            query = query.where(
                or_(
                    _versions.c.model_id > model_id,
                    and_(_versions.c.model_id == model_id, _versions.c.major > major),
                    and_(_versions.c.model_id == model_id, _versions.c.major == major, _versions.c.minor > minor),
                )
            )
        size = req.get("maxResults") or 10
        rows = conn.execute(
            query.order_by(_versions.c.model_id, _versions.c.major, _versions.c.minor).limit(size + 1)
        ).all()
    next_token = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_token = encode_token([last.model_id, last.major, last.minor])
    details = [_detail_wire(ctx, row.model_type, row) for row in rows]
    return with_token({"modelVersionDetails": details}, next_token)


def update_model_version_status(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    wanted = req["status"]
    version = req["modelVersionNumber"]
    with ctx.db.write() as conn:
        row = load_version(conn, req["modelId"], req["modelType"], version, lock=True)
        status = row.status
        where = and_(
            _versions.c.model_id == row.model_id, _versions.c.major == row.major, _versions.c.minor == row.minor
        )
        if wanted == "ACTIVE":
            if status in (ACTIVE, "ACTIVATE_REQUESTED", "ACTIVATE_IN_PROGRESS"):
                return {}
            if status != COMPLETE:
                raise ValidationError(
                    f"Model version {version} is {status}: only a TRAINING_COMPLETE version can be activated"
                )
            try:
                load_version_model(ctx, row)
            except artifacts.ArtifactError as error:
                raise ValidationError(f"Model version {version} cannot be activated: {error.message}") from None
            conn.execute(update(_versions).where(where).values(status="ACTIVATE_REQUESTED", updated_ms=now_ms()))
        elif wanted == "INACTIVE":
            if status in (COMPLETE, "INACTIVATE_REQUESTED", "INACTIVATE_IN_PROGRESS"):
                return {}
            if status != ACTIVE:
                raise ValidationError(f"Model version {version} is {status}: only an ACTIVE version can be deactivated")
            users = model_version_users(conn, row.model_id, row.major, row.minor)
            if users:
                raise ConflictError(
                    f"Model version {version} is used by detector version(s) {users}: remove it from them "
                    "before deactivating it"
                )
            conn.execute(update(_versions).where(where).values(status="INACTIVATE_REQUESTED", updated_ms=now_ms()))
        else:  # TRAINING_CANCELLED
            if status == "TRAINING_CANCELLED":
                return {}
            if status != TRAINING:
                raise ValidationError(
                    f"Model version {version} is {status}: only training in progress can be cancelled"
                )
            request_cancel(conn, JOBS, (row.model_id, row.major, row.minor), updated_ms=now_ms())
    ctx.wake_jobs()
    return {}


def delete_model_version(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    version = req["modelVersionNumber"]
    with ctx.db.write() as conn:
        try:
            row = load_version(conn, req["modelId"], req["modelType"], version, lock=True)
        except ResourceNotFoundError:
            return {}
        users = model_version_users(conn, row.model_id, row.major, row.minor)
        if users:
            raise ConflictError(f"Model version {version} is used by detector version(s) {users}")
        if row.status not in DELETABLE:
            hint = "cancel its training" if row.status == TRAINING else "deactivate it"
            raise ConflictError(f"Model version {version} is {row.status}: {hint} before deleting it")
        # stored events advance entity states under a share lock on this row: none can write a state
        # of this version between our delete and our commit
        event_type = conn.execute(
            select(schema.models.c.event_type).where(schema.models.c.model_id == row.model_id)
        ).scalar_one()
        event_types = schema.event_types
        conn.execute(select(event_types.c.name).where(event_types.c.name == event_type).with_for_update())
        keys = {"model_id": row.model_id, "major": row.major, "minor": row.minor}
        states = schema.entity_states
        conn.execute(
            delete(states).where(
                states.c.model_id == row.model_id, states.c.major == row.major, states.c.minor == row.minor
            )
        )
        conn.execute(delete(_versions).where(*(getattr(_versions.c, k) == v for k, v in keys.items())))
        drop_tags(conn, version_arn(ctx, req["modelType"], row.model_id, version))
    artifacts.remove(artifacts.version_folder(ctx.settings.data_dir, row.model_id, version))
    return {}


def training_progress(conn: Connection, model_id: str, version: str) -> str | None:
    """What a training job is doing now (not part of AFD's API; the CLI and console show it)."""
    major, minor = parse_version(version)
    return conn.execute(
        select(_versions.c.progress).where(
            _versions.c.model_id == model_id, _versions.c.major == major, _versions.c.minor == minor
        )
    ).scalar()


def training_details(conn: Connection, model_id: str, version: str) -> dict[str, Any] | None:
    """Figures beyond AFD's shapes: average precision, recall at fixed FPR, score distributions."""
    major, minor = parse_version(version)
    text = conn.execute(
        select(_versions.c.training_result).where(
            _versions.c.model_id == model_id, _versions.c.major == major, _versions.c.minor == minor
        )
    ).scalar()
    if not text:
        return None
    extra: dict[str, Any] | None = json.loads(text).get("extra")
    return extra
