"""CreateRule, UpdateRuleVersion, UpdateRuleMetadata, GetRules and DeleteRule.

A rule version never changes its expression or outcomes: UpdateRuleVersion makes the next version,
so a detector version always evaluates exactly the rules it was built with.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, or_, select, tuple_, update

from fraudhawk.catalog.paging import decode_token, encode_token, with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.catalog.usage import rule_version_users
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.detectors.detectors import load_detector
from fraudhawk.detectors.environment import rule_environment
from fraudhawk.errors import ConflictError, ResourceNotFoundError, ValidationError
from fraudhawk.rules import compile_rule
from fraudhawk.storage import schema

ARN_TYPE = "rule"
_rules = schema.rules
_outcomes = schema.rule_outcomes


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    if len(path) != 3 or not path[2].isdigit():
        return False
    return _find(conn, path[0], path[1], int(path[2])) is not None


def rule_arn(ctx: Context, detector_id: str, rule_id: str, version: int) -> str:
    return ctx.arns.build(ARN_TYPE, detector_id, rule_id, str(version))


def _find(conn: Connection, detector_id: str, rule_id: str, version: int) -> Row[Any] | None:
    return conn.execute(
        select(_rules).where(
            _rules.c.detector_id == detector_id, _rules.c.rule_id == rule_id, _rules.c.version == version
        )
    ).first()


def load_rule(conn: Connection, rule: dict[str, str]) -> Row[Any]:
    row = _find(conn, rule["detectorId"], rule["ruleId"], int(rule["ruleVersion"]))
    if row is None:
        raise ResourceNotFoundError(
            f"The rule {rule['ruleId']} version {rule['ruleVersion']} of detector {rule['detectorId']} does not exist"
        )
    return row


def rule_outcomes(conn: Connection, keys: list[tuple[str, str, int]]) -> dict[tuple[str, str, int], list[str]]:
    """Outcomes of rule versions (detector, rule, version), in their order."""
    found: dict[tuple[str, str, int], list[str]] = {key: [] for key in keys}
    if not keys:
        return found
    rows = conn.execute(
        select(_outcomes.c.detector_id, _outcomes.c.rule_id, _outcomes.c.version, _outcomes.c.outcome)
        .where(tuple_(_outcomes.c.detector_id, _outcomes.c.rule_id, _outcomes.c.version).in_(keys))
        .order_by(_outcomes.c.position)
    )
    for row in rows:
        found[(row.detector_id, row.rule_id, row.version)].append(row.outcome)
    return found


def _check(conn: Connection, event_type: str, expression: str, outcomes: list[str]) -> None:
    if not outcomes:
        raise ValidationError("outcomes: a rule needs at least one outcome")
    if len(set(outcomes)) != len(outcomes):
        raise ValidationError("outcomes: an outcome is listed more than once")
    known = set(
        conn.execute(select(schema.outcomes.c.name).where(schema.outcomes.c.name.in_(outcomes))).scalars().all()
    )
    missing = [name for name in outcomes if name not in known]
    if missing:
        raise ResourceNotFoundError(f"outcomes: {', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist")
    compile_rule(expression, rule_environment(conn, event_type))


def _insert(ctx: Context, conn: Connection, detector_id: str, rule_id: str, version: int, req: dict[str, Any]) -> None:
    stamp = now_ms()
    conn.execute(
        insert(_rules).values(
            detector_id=detector_id,
            rule_id=rule_id,
            version=version,
            description=req.get("description"),
            expression=req["expression"],
            language=req["language"],
            created_ms=stamp,
            updated_ms=stamp,
        )
    )
    conn.execute(
        insert(_outcomes),
        [
            {"detector_id": detector_id, "rule_id": rule_id, "version": version, "position": i, "outcome": name}
            for i, name in enumerate(req["outcomes"])
        ],
    )
    apply_tags(conn, rule_arn(ctx, detector_id, rule_id, version), req.get("tags"))


def _wire_rule(detector_id: str, rule_id: str, version: int) -> dict[str, str]:
    return {"detectorId": detector_id, "ruleId": rule_id, "ruleVersion": str(version)}


def create_rule(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id, rule_id = req["detectorId"], req["ruleId"]
    with ctx.db.write() as conn:
        detector = load_detector(conn, detector_id, lock=True)
        taken = conn.execute(
            select(_rules.c.version).where(_rules.c.detector_id == detector_id, _rules.c.rule_id == rule_id).limit(1)
        ).first()
        if taken is not None:
            raise ValidationError(
                f"The rule {rule_id} already exists in detector {detector_id}: use UpdateRuleVersion to change it"
            )
        _check(conn, detector.event_type, req["expression"], req["outcomes"])
        _insert(ctx, conn, detector_id, rule_id, 1, req)
    return {"rule": _wire_rule(detector_id, rule_id, 1)}


def update_rule_version(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    rule = req["rule"]
    detector_id, rule_id = rule["detectorId"], rule["ruleId"]
    with ctx.db.write() as conn:
        detector = load_detector(conn, detector_id, lock=True)
        load_rule(conn, rule)
        _check(conn, detector.event_type, req["expression"], req["outcomes"])
        latest = conn.execute(
            select(func.max(_rules.c.version)).where(_rules.c.detector_id == detector_id, _rules.c.rule_id == rule_id)
        ).scalar_one()
        version = int(latest) + 1
        _insert(ctx, conn, detector_id, rule_id, version, req)
    return {"rule": _wire_rule(detector_id, rule_id, version)}


def update_rule_metadata(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    rule = req["rule"]
    with ctx.db.write() as conn:
        row = load_rule(conn, rule)
        conn.execute(
            update(_rules)
            .where(
                _rules.c.detector_id == row.detector_id,
                _rules.c.rule_id == row.rule_id,
                _rules.c.version == row.version,
            )
            .values(description=req["description"], updated_ms=now_ms())
        )
    return {}


def get_rules(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    detector_id = req["detectorId"]
    if "ruleVersion" in req and "ruleId" not in req:
        raise ValidationError("ruleVersion needs ruleId: name the rule whose version you want")
    size = req.get("maxResults") or 100
    with ctx.db.read() as conn:
        load_detector(conn, detector_id)
        query = select(_rules).where(_rules.c.detector_id == detector_id)
        if "ruleId" in req:
            query = query.where(_rules.c.rule_id == req["ruleId"])
        if "ruleVersion" in req:
            query = query.where(_rules.c.version == int(req["ruleVersion"]))
        if req.get("nextToken"):
            after = decode_token(req["nextToken"], list)
            if len(after) != 2 or not isinstance(after[0], str) or not isinstance(after[1], int):
                raise ValidationError("The nextToken is not valid: pass the nextToken of a previous response")
            query = query.where(
                or_(_rules.c.rule_id > after[0], and_(_rules.c.rule_id == after[0], _rules.c.version > after[1]))
            )
        rows = conn.execute(query.order_by(_rules.c.rule_id, _rules.c.version).limit(size + 1)).all()
        if not rows and "ruleId" in req and not req.get("nextToken"):
            which = f" version {req['ruleVersion']}" if "ruleVersion" in req else ""
            raise ResourceNotFoundError(f"The rule {req['ruleId']}{which} of detector {detector_id} does not exist")
        token = None
        if len(rows) > size:
            rows = rows[:size]
            token = encode_token([rows[-1].rule_id, rows[-1].version])
        outcomes = rule_outcomes(conn, [(r.detector_id, r.rule_id, r.version) for r in rows])
    details = []
    for row in rows:
        item: dict[str, Any] = {"ruleId": row.rule_id}
        if row.description is not None:
            item["description"] = row.description
        item.update(
            detectorId=row.detector_id,
            ruleVersion=str(row.version),
            expression=row.expression,
            language=row.language,
            outcomes=outcomes[(row.detector_id, row.rule_id, row.version)],
            lastUpdatedTime=iso_time(row.updated_ms),
            createdTime=iso_time(row.created_ms),
            arn=rule_arn(ctx, row.detector_id, row.rule_id, row.version),
        )
        details.append(item)
    return with_token({"ruleDetails": details}, token)


def delete_rule(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    rule = req["rule"]
    detector_id, rule_id, version = rule["detectorId"], rule["ruleId"], int(rule["ruleVersion"])
    with ctx.db.write() as conn:
        if _find(conn, detector_id, rule_id, version) is None:
            return {}
        users = rule_version_users(conn, detector_id, rule_id, version)
        if users:
            raise ConflictError(
                f"The rule {rule_id} version {version} is used by detector version(s) {users}: "
                "remove it from them (or delete the DRAFT ones) first"
            )
        where = (_outcomes.c.detector_id == detector_id, _outcomes.c.rule_id == rule_id, _outcomes.c.version == version)
        conn.execute(delete(_outcomes).where(*where))
        conn.execute(
            delete(_rules).where(
                _rules.c.detector_id == detector_id, _rules.c.rule_id == rule_id, _rules.c.version == version
            )
        )
        drop_tags(conn, rule_arn(ctx, detector_id, rule_id, version))
    return {}
