"""Which detector versions, rules and external models use a resource, so deletes and deactivations
can refuse with names.

Only the schema (and an external model's stored configuration) is read here: the catalog, detectors
and training ask these questions without depending on each other's operations.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, select

from fraudhawk.catalog.external_config import ExternalModel
from fraudhawk.storage import schema

_dv = schema.detector_versions


def _describe(rows: list[tuple[str, int, str]]) -> str:
    shown = ", ".join(f"{detector} version {version} ({status})" for detector, version, status in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return shown + more


def model_version_users(conn: Connection, model_id: str, major: int | None = None, minor: int | None = None) -> str:
    """The detector versions that use a model (or one version of it), as text; '' if none."""
    link = schema.detector_version_models
    query = (
        select(link.c.detector_id, link.c.version, _dv.c.status)
        .join(_dv, (_dv.c.detector_id == link.c.detector_id) & (_dv.c.version == link.c.version))
        .where(link.c.model_id == model_id)
    )
    if major is not None and minor is not None:
        query = query.where(link.c.major == major, link.c.minor == minor)
    rows = [
        (r.detector_id, r.version, r.status) for r in conn.execute(query.order_by(link.c.detector_id, link.c.version))
    ]
    return _describe(rows)


def external_model_users(conn: Connection, endpoint: str, statuses: tuple[str, ...] | None = None) -> str:
    link = schema.detector_version_external
    query = (
        select(link.c.detector_id, link.c.version, _dv.c.status)
        .join(_dv, (_dv.c.detector_id == link.c.detector_id) & (_dv.c.version == link.c.version))
        .where(link.c.endpoint == endpoint)
    )
    if statuses is not None:
        query = query.where(_dv.c.status.in_(statuses))
    rows = [
        (r.detector_id, r.version, r.status) for r in conn.execute(query.order_by(link.c.detector_id, link.c.version))
    ]
    return _describe(rows)


def rule_version_users(conn: Connection, detector_id: str, rule_id: str, version: int) -> str:
    link = schema.detector_version_rules
    query = (
        select(link.c.detector_id, link.c.version, _dv.c.status)
        .join(_dv, (_dv.c.detector_id == link.c.detector_id) & (_dv.c.version == link.c.version))
        .where(link.c.detector_id == detector_id, link.c.rule_id == rule_id, link.c.rule_version == version)
    )
    rows = [(r.detector_id, r.version, r.status) for r in conn.execute(query.order_by(link.c.version))]
    return _describe(rows)


def outcome_users(conn: Connection, outcome: str) -> str | None:
    """An in-use check for outcomes: the rule versions that answer it."""
    link = schema.rule_outcomes
    rows = conn.execute(
        select(link.c.detector_id, link.c.rule_id, link.c.version)
        .where(link.c.outcome == outcome)
        .order_by(link.c.detector_id, link.c.rule_id, link.c.version)
        .limit(6)
    ).all()
    if not rows:
        return None
    shown = ", ".join(f"{r.detector_id}/{r.rule_id} version {r.version}" for r in rows[:5])
    return f"it is an outcome of rule(s) {shown}{' and more' if len(rows) > 5 else ''}"


def list_users(conn: Connection, name: str) -> str | None:
    """An in-use check for lists: the rule versions whose expression names @name."""
    rules = schema.rules
    pattern = re.compile(rf"@{re.escape(name)}(?![0-9A-Za-z_])")
    found = [
        f"{r.detector_id}/{r.rule_id} version {r.version}"
        for r in conn.execute(
            select(rules.c.detector_id, rules.c.rule_id, rules.c.version, rules.c.expression)
            .where(rules.c.expression.contains(f"@{name}", autoescape=True))
            .order_by(rules.c.detector_id, rules.c.rule_id, rules.c.version)
        )
        if pattern.search(r.expression)
    ]
    if not found:
        return None
    return f"it is used by rule(s) {', '.join(found[:5])}{' and more' if len(found) > 5 else ''}"


def detector_users(conn: Connection, event_type: str) -> str | None:
    detectors = schema.detectors
    rows = conn.execute(
        select(detectors.c.detector_id).where(detectors.c.event_type == event_type).order_by(detectors.c.detector_id)
    ).scalars()
    names = list(rows)
    return ", ".join(names) if names else None


def _external_models(conn: Connection) -> list[ExternalModel]:
    table = schema.external_models
    return [ExternalModel.from_row(row) for row in conn.execute(select(table).order_by(table.c.endpoint))]


def event_type_users(conn: Connection, event_type: str) -> str | None:
    """An in-use check (InUseCheck) for event types: the external models whose input names it."""
    users = [model.endpoint for model in _external_models(conn) if model.event_type == event_type]
    return f"it is used by external model(s) {', '.join(users)}" if users else None


def variable_users(conn: Connection, variable: str) -> str | None:
    """An in-use check (InUseCheck) for variables: the external models that read or fill it."""
    users = [
        model.endpoint
        for model in _external_models(conn)
        if variable in model.input_variables or variable in model.output_variables
    ]
    return f"it is used by external model(s) {', '.join(users)}" if users else None
