"""Detector versions: CreateDetectorVersion, GetDetectorVersion, UpdateDetectorVersion,
UpdateDetectorVersionMetadata, UpdateDetectorVersionStatus and DeleteDetectorVersion.

A version is DRAFT while it is built, then ACTIVE (at most one per detector: activating one makes
the previous ACTIVE version INACTIVE) or INACTIVE. Only a DRAFT's rules and models can change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from fraudhawk.catalog.external_config import load_external_models
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.catalog.version_numbers import parse_version, version_arn, version_text
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.detectors.detectors import load_detector
from fraudhawk.detectors.environment import SCORE_SUFFIX, rule_environment
from fraudhawk.errors import ConflictError, ResourceNotFoundError, ValidationError
from fraudhawk.rules import compile_rule
from fraudhawk.storage import schema

ARN_TYPE = "detector-version"
MAX_MODELS = 10  # models and external models per detector version (AFD's quota)
MAX_LISTS = 30  # lists per detector version
MAX_DRAFTS = 100
_versions = schema.detector_versions
_rules_link = schema.detector_version_rules
_models_link = schema.detector_version_models
_external_link = schema.detector_version_external


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    if len(path) != 2 or not path[1].isdigit():
        return False
    query = select(_versions.c.status).where(_versions.c.detector_id == path[0], _versions.c.version == int(path[1]))
    return conn.execute(query).first() is not None


def detector_version_arn(ctx: Context, detector_id: str, version: int) -> str:
    return ctx.arns.build(ARN_TYPE, detector_id, str(version))


def load_version(conn: Connection, detector_id: str, version_id: str, lock: bool = False) -> Row[Any]:
    query = select(_versions).where(_versions.c.detector_id == detector_id, _versions.c.version == int(version_id))
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise ResourceNotFoundError(f"The detector version {version_id} of detector {detector_id} does not exist")
    return row


@dataclass(frozen=True)
class Parts:
    """What a detector version is made of, checked."""

    rules: list[tuple[str, int]]  # (rule id, version) in evaluation order
    models: list[tuple[str, int, int]]  # (model id, major, minor)
    external: list[str]


def _check_rules(conn: Connection, detector_id: str, rules: list[dict[str, str]]) -> list[tuple[str, int]]:
    if not rules:
        raise ValidationError("rules: a detector version needs at least one rule")
    keys: list[tuple[str, int]] = []
    for i, rule in enumerate(rules, start=1):
        if rule["detectorId"] != detector_id:
            raise ValidationError(
                f"rules.{i}.detectorId: rule {rule['ruleId']} belongs to detector {rule['detectorId']}, "
                f"not {detector_id}"
            )
        key = (rule["ruleId"], int(rule["ruleVersion"]))
        if key in keys:
            raise ValidationError(f"rules.{i}: rule {key[0]} version {key[1]} is listed twice")
        if any(existing[0] == key[0] for existing in keys):
            raise ValidationError(f"rules.{i}: rule {key[0]} is listed with two versions; a version may use one")
        keys.append(key)
    table = schema.rules
    found = {
        (row.rule_id, row.version)
        for row in conn.execute(
            select(table.c.rule_id, table.c.version).where(
                table.c.detector_id == detector_id, table.c.rule_id.in_([k[0] for k in keys])
            )
        )
    }
    for rule_id, version in keys:
        if (rule_id, version) not in found:
            raise ResourceNotFoundError(
                f"rules: rule {rule_id} version {version} of detector {detector_id} does not exist"
            )
    return keys


def _check_models(conn: Connection, event_type: str, models: list[dict[str, str]]) -> list[tuple[str, int, int]]:
    keys: list[tuple[str, int, int]] = []
    table, model_table = schema.model_versions, schema.models
    for i, model in enumerate(models, start=1):
        model_id, text = model["modelId"], model["modelVersionNumber"]
        major, minor = parse_version(text)
        if any(existing[0] == model_id for existing in keys):
            raise ValidationError(f"modelVersions.{i}: model {model_id} is listed twice; a version may use one")
        row = conn.execute(
            select(table.c.status, model_table.c.model_type, model_table.c.event_type)
            .join(model_table, model_table.c.model_id == table.c.model_id)
            .where(table.c.model_id == model_id, table.c.major == major, table.c.minor == minor)
        ).first()
        if row is None or row.model_type != model["modelType"]:
            raise ResourceNotFoundError(
                f"modelVersions.{i}: model {model_id} version {text} of type {model['modelType']} does not exist"
            )
        if row.event_type != event_type:
            raise ValidationError(
                f"modelVersions.{i}: model {model_id} scores events of type {row.event_type}, "
                f"but this detector evaluates {event_type}"
            )
        if row.status != "ACTIVE":
            raise ValidationError(
                f"modelVersions.{i}: model {model_id} version {text} is {row.status}; only ACTIVE model versions "
                "can be used in a detector version (activate it with UpdateModelVersionStatus)"
            )
        keys.append((model_id, major, minor))
    return keys


def _check_external(conn: Connection, endpoints: list[str]) -> list[str]:
    if len(set(endpoints)) != len(endpoints):
        raise ValidationError("externalModelEndpoints: an endpoint is listed twice")
    table = schema.external_models
    found = {
        row.endpoint: row.status
        for row in conn.execute(select(table.c.endpoint, table.c.status).where(table.c.endpoint.in_(endpoints)))
    }
    for i, endpoint in enumerate(endpoints, start=1):
        if endpoint not in found:
            raise ResourceNotFoundError(f"externalModelEndpoints.{i}: the external model {endpoint} does not exist")
        if found[endpoint] != "ASSOCIATED":
            raise ValidationError(
                f"externalModelEndpoints.{i}: the external model {endpoint} is {found[endpoint]}; "
                "only ASSOCIATED external models can be used"
            )
    return list(endpoints)


def _external_outputs(conn: Connection, endpoints: list[str]) -> dict[str, str]:
    """Output variable -> the endpoint that produces it."""
    produced: dict[str, str] = {}
    for endpoint, model in load_external_models(conn, endpoints).items():
        for name in model.output_variables:
            produced[name] = endpoint
    return produced


def check_parts(conn: Connection, detector_id: str, event_type: str, req: dict[str, Any]) -> Parts:
    rules = _check_rules(conn, detector_id, req["rules"])
    models = _check_models(conn, event_type, req.get("modelVersions") or [])
    external = _check_external(conn, req.get("externalModelEndpoints") or [])
    if len(models) + len(external) > MAX_MODELS:
        raise ValidationError(f"A detector version can use at most {MAX_MODELS} models, external ones included")
    # Every rule must still compile (variables or lists may have gone since it was written), and each
    # score it reads must come from a model of this version: otherwise it could never match.
    env = rule_environment(conn, event_type)
    table = schema.rules
    model_ids = {model_id for model_id, _, _ in models}
    outputs = _external_outputs(conn, external)
    variables = schema.variables
    sources = {
        row.name: row.data_source
        for row in conn.execute(
            select(variables.c.name, variables.c.data_source).where(variables.c.data_source != "EVENT")
        )
    }
    lists: set[str] = set()
    for rule_id, version in rules:
        expression = conn.execute(
            select(table.c.expression).where(
                table.c.detector_id == detector_id, table.c.rule_id == rule_id, table.c.version == version
            )
        ).scalar_one()
        try:
            compiled = compile_rule(expression, env)
        except ValidationError as error:
            raise ValidationError(
                f"rules: rule {rule_id} version {version} no longer compiles: {error.message}"
            ) from None
        lists |= compiled.lists
        for name in sorted(compiled.variables):
            source = sources.get(name)
            if source == "MODEL_SCORE" and name[: -len(SCORE_SUFFIX)] not in model_ids:
                raise ValidationError(
                    f"rules: rule {rule_id} version {version} reads ${name}, but this detector version has no "
                    f"version of model {name[: -len(SCORE_SUFFIX)]} (add it to modelVersions)"
                )
            if source == "EXTERNAL_MODEL_SCORE" and name not in outputs:
                raise ValidationError(
                    f"rules: rule {rule_id} version {version} reads ${name}, an external model output, but none of "
                    "this detector version's externalModelEndpoints produces it"
                )
    if len(lists) > MAX_LISTS:
        raise ValidationError(f"A detector version's rules can use at most {MAX_LISTS} lists; these use {len(lists)}")
    return Parts(rules, models, external)


def _write_parts(conn: Connection, detector_id: str, version: int, parts: Parts) -> None:
    for table in (_rules_link, _models_link, _external_link):
        conn.execute(delete(table).where(table.c.detector_id == detector_id, table.c.version == version))
    keys = {"detector_id": detector_id, "version": version}
    conn.execute(
        insert(_rules_link),
        [{**keys, "position": i, "rule_id": r, "rule_version": v} for i, (r, v) in enumerate(parts.rules)],
    )
    if parts.models:
        conn.execute(
            insert(_models_link),
            [
                {**keys, "position": i, "model_id": m, "major": major, "minor": minor}
                for i, (m, major, minor) in enumerate(parts.models)
            ],
        )
    if parts.external:
        conn.execute(
            insert(_external_link), [{**keys, "position": i, "endpoint": e} for i, e in enumerate(parts.external)]
        )


def create_detector_version(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id, stamp = req["detectorId"], now_ms()
    with ctx.db.write() as conn:
        detector = load_detector(conn, detector_id, lock=True)
        parts = check_parts(conn, detector_id, detector.event_type, req)
        drafts = conn.execute(
            select(func.count())
            .select_from(_versions)
            .where(_versions.c.detector_id == detector_id, _versions.c.status == "DRAFT")
        ).scalar_one()
        if drafts >= MAX_DRAFTS:
            raise ValidationError(f"The detector {detector_id} already has {MAX_DRAFTS} DRAFT versions: delete some")
        latest = conn.execute(
            select(func.max(_versions.c.version)).where(_versions.c.detector_id == detector_id)
        ).scalar_one()
        version = (latest or 0) + 1
        if version > 99_999:
            raise ValidationError(f"The detector {detector_id} has used every version number")
        conn.execute(
            insert(_versions).values(
                detector_id=detector_id,
                version=version,
                status="DRAFT",
                description=req.get("description"),
                rule_execution_mode=req.get("ruleExecutionMode") or "FIRST_MATCHED",
                created_ms=stamp,
                updated_ms=stamp,
            )
        )
        _write_parts(conn, detector_id, version, parts)
        apply_tags(conn, detector_version_arn(ctx, detector_id, version), req.get("tags"))
    return {"detectorId": detector_id, "detectorVersionId": str(version), "status": "DRAFT"}


def load_parts(conn: Connection, detector_id: str, version: int) -> tuple[Parts, dict[str, str]]:
    """The version's parts, and the model type of each of its models."""
    rules = [
        (row.rule_id, row.rule_version)
        for row in conn.execute(
            select(_rules_link.c.rule_id, _rules_link.c.rule_version)
            .where(_rules_link.c.detector_id == detector_id, _rules_link.c.version == version)
            .order_by(_rules_link.c.position)
        )
    ]
    models_table = schema.models
    model_rows = conn.execute(
        select(_models_link.c.model_id, _models_link.c.major, _models_link.c.minor, models_table.c.model_type)
        .join(models_table, models_table.c.model_id == _models_link.c.model_id)
        .where(_models_link.c.detector_id == detector_id, _models_link.c.version == version)
        .order_by(_models_link.c.position)
    ).all()
    external = list(
        conn.execute(
            select(_external_link.c.endpoint)
            .where(_external_link.c.detector_id == detector_id, _external_link.c.version == version)
            .order_by(_external_link.c.position)
        ).scalars()
    )
    parts = Parts(rules, [(r.model_id, r.major, r.minor) for r in model_rows], external)
    return parts, {r.model_id: r.model_type for r in model_rows}


def get_detector_version(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id = req["detectorId"]
    with ctx.db.read() as conn:
        load_detector(conn, detector_id)
        row = load_version(conn, detector_id, req["detectorVersionId"])
        parts, types = load_parts(conn, detector_id, row.version)
    result: dict[str, Any] = {"detectorId": detector_id, "detectorVersionId": str(row.version)}
    if row.description is not None:
        result["description"] = row.description
    result["externalModelEndpoints"] = parts.external
    result["modelVersions"] = [
        {
            "modelId": model_id,
            "modelType": types[model_id],
            "modelVersionNumber": version_text(major, minor),
            "arn": version_arn(ctx, types[model_id], model_id, version_text(major, minor)),
        }
        for model_id, major, minor in parts.models
    ]
    result["rules"] = [
        {"detectorId": detector_id, "ruleId": rule_id, "ruleVersion": str(version)} for rule_id, version in parts.rules
    ]
    result.update(
        status=row.status,
        lastUpdatedTime=iso_time(row.updated_ms),
        createdTime=iso_time(row.created_ms),
        ruleExecutionMode=row.rule_execution_mode,
        arn=detector_version_arn(ctx, detector_id, row.version),
    )
    return result


def update_detector_version(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id = req["detectorId"]
    with ctx.db.write() as conn:
        detector = load_detector(conn, detector_id, lock=True)
        row = load_version(conn, detector_id, req["detectorVersionId"], lock=True)
        if row.status != "DRAFT":
            raise ConflictError(
                f"Detector version {row.version} is {row.status}: only a DRAFT version can be changed "
                "(create a new version instead)"
            )
        parts = check_parts(conn, detector_id, detector.event_type, req)
        values: dict[str, Any] = {"updated_ms": now_ms()}
        if "description" in req:
            values["description"] = req["description"]
        if "ruleExecutionMode" in req:
            values["rule_execution_mode"] = req["ruleExecutionMode"]
        conn.execute(
            update(_versions)
            .where(_versions.c.detector_id == detector_id, _versions.c.version == row.version)
            .values(**values)
        )
        _write_parts(conn, detector_id, row.version, parts)
    return {}


def update_detector_version_metadata(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id = req["detectorId"]
    with ctx.db.write() as conn:
        row = load_version(conn, detector_id, req["detectorVersionId"], lock=True)
        conn.execute(
            update(_versions)
            .where(_versions.c.detector_id == detector_id, _versions.c.version == row.version)
            .values(description=req["description"], updated_ms=now_ms())
        )
    return {}


def update_detector_version_status(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id, wanted = req["detectorId"], req["status"]
    with ctx.db.write() as conn:
        detector = load_detector(conn, detector_id, lock=True)
        row = load_version(conn, detector_id, req["detectorVersionId"], lock=True)
        if wanted == row.status:
            return {}
        if wanted == "DRAFT":
            raise ValidationError("status: a detector version cannot go back to DRAFT; create a new version")
        stamp = now_ms()
        if wanted == "INACTIVE":
            if row.status != "ACTIVE":
                raise ValidationError(
                    f"Detector version {row.version} is DRAFT: only an ACTIVE version can be made INACTIVE"
                )
        else:
            # what the version uses must still be usable: model versions ACTIVE, external models ASSOCIATED
            parts, types = load_parts(conn, detector_id, row.version)
            request = {
                "rules": [{"detectorId": detector_id, "ruleId": r, "ruleVersion": str(v)} for r, v in parts.rules],
                "modelVersions": [
                    {"modelId": m, "modelType": types[m], "modelVersionNumber": version_text(major, minor)}
                    for m, major, minor in parts.models
                ],
                "externalModelEndpoints": parts.external,
            }
            check_parts(conn, detector_id, detector.event_type, request)
            conn.execute(
                update(_versions)
                .where(_versions.c.detector_id == detector_id, _versions.c.status == "ACTIVE")
                .values(status="INACTIVE", updated_ms=stamp)
            )
        conn.execute(
            update(_versions)
            .where(_versions.c.detector_id == detector_id, _versions.c.version == row.version)
            .values(status=wanted, updated_ms=stamp)
        )
    return {}


def delete_detector_version(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id = req["detectorId"]
    with ctx.db.write() as conn:
        load_detector(conn, detector_id, lock=True)
        try:
            row = load_version(conn, detector_id, req["detectorVersionId"], lock=True)
        except ResourceNotFoundError:
            return {}
        if row.status == "ACTIVE":
            raise ConflictError(
                f"Detector version {row.version} is ACTIVE: make it INACTIVE (or activate another version) first"
            )
        jobs = schema.batch_predictions
        waiting = conn.execute(
            select(jobs.c.job_id).where(
                jobs.c.detector_id == detector_id,
                jobs.c.detector_version == row.version,
                jobs.c.status.in_(("IN_PROGRESS_INITIALIZING", "IN_PROGRESS", "CANCEL_IN_PROGRESS")),
            )
        ).scalar()
        if waiting is not None:
            raise ConflictError(
                f"Detector version {row.version} is used by batch prediction job {waiting}, which has not ended"
            )
        for table in (_rules_link, _models_link, _external_link, _versions):
            conn.execute(delete(table).where(table.c.detector_id == detector_id, table.c.version == row.version))
        drop_tags(conn, detector_version_arn(ctx, detector_id, row.version))
    return {}
