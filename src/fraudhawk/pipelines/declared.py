"""Pipelines as declared: one entry's shape (the workspace file's `pipelines:` section, the CLI's YAML
or JSON file), its checks, and the stored pipelines read and written in that shape.

`SCHEMA` is the JSON Schema of one entry; `normalize` checks an entry and fills its defaults, raising
ValidationError naming the field; `list_pipelines`, `put_pipeline`, `delete_pipeline` and
`set_enabled` read and write the `pipelines` table; `change` and `plan` (pure) say what putting an
entry, or a whole declaration, would do, for a dry run.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from typing import Any

from sqlalchemy import delete, insert, select, update

from fraudhawk.errors import ResourceNotFoundError, ValidationError
from fraudhawk.events import paths
from fraudhawk.settings import Settings
from fraudhawk.storage import schema
from fraudhawk.storage.clock import now_ms
from fraudhawk.storage.database import Database

_table = schema.pipelines
_NAME = re.compile(r"^[0-9a-z_-]{1,64}$")
_AFD_NAME = re.compile(r"^[0-9a-z_-]{1,64}$")
MODEL_TYPES = ("ONLINE_FRAUD_INSIGHTS", "TRANSACTION_FRAUD_INSIGHTS", "ACCOUNT_TAKEOVER_INSIGHTS")
UNLABELED = ("IGNORE", "FRAUD", "LEGIT", "AUTO")
ACTIONS = ("import", "train", "batchPredict")
DEFAULT_PATTERN = "*.csv"

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_NAME_SCHEMA = {"type": "string", "pattern": _NAME.pattern}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "fraudhawk pipeline",
    "type": "object",
    "required": ["name", "source", "action"],
    "additionalProperties": False,
    "properties": {
        "name": _NAME_SCHEMA,
        "source": {
            "type": "string",
            "description": "s3://bucket/prefix/ or an absolute folder path (file:// too) inside an allowed root",
        },
        "pattern": {
            "type": "string",
            "minLength": 1,
            "maxLength": 256,
            "description": "glob on the file's key below the source (a .gz or .xz ending is ignored); default *.csv",
        },
        "enabled": {"type": "boolean"},
        "transform": {
            "type": "object",
            "description": "a raw CSV's mapping to AFD's layout (the one `fraudhawk import` takes)",
            "required": ["eventTime", "entityId"],
            "additionalProperties": False,
            "properties": {
                "eventTime": {"type": "string", "minLength": 1},
                "timestampFormat": {"type": "string", "minLength": 1},
                "entityId": {"type": "string"},
                "eventId": {"type": "string", "minLength": 1},
                "label": {"type": "string", "minLength": 1},
                "fraudValues": _STRINGS,
                "entityType": _NAME_SCHEMA,
                "exclude": _STRINGS,
            },
        },
        "action": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
            "properties": {
                "import": {
                    "type": "object",
                    "required": ["eventType"],
                    "additionalProperties": False,
                    "properties": {"eventType": _NAME_SCHEMA},
                },
                "train": {
                    "type": "object",
                    "required": ["modelId", "modelType", "eventType"],
                    "additionalProperties": False,
                    "properties": {
                        "modelId": _NAME_SCHEMA,
                        "modelType": {"enum": list(MODEL_TYPES)},
                        "eventType": _NAME_SCHEMA,
                        "mode": {"enum": ["create", "update"]},
                        "majorVersion": {"type": "integer", "minimum": 1},
                        "data": {"enum": ["file", "stored"]},
                        "variables": _STRINGS,
                        "labels": {
                            "type": "object",
                            "required": ["fraud", "legit"],
                            "additionalProperties": False,
                            "properties": {"fraud": _STRINGS, "legit": _STRINGS},
                        },
                        "unlabeled": {"enum": list(UNLABELED)},
                        "activate": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "detectorId": _NAME_SCHEMA,
                                "maxAucDrop": {"type": "number", "minimum": 0, "maximum": 1},
                                "publish": {"type": "boolean"},
                            },
                        },
                    },
                },
                "batchPredict": {
                    "type": "object",
                    "required": ["detectorId", "output"],
                    "additionalProperties": False,
                    "properties": {
                        "detectorId": _NAME_SCHEMA,
                        "detectorVersion": {"type": "string", "pattern": r"^[1-9][0-9]{0,3}$"},
                        "output": {"type": "string", "description": "s3://bucket/prefix/ or a folder path"},
                    },
                },
            },
        },
    },
}


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}")


def _object(value: Any, field: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(field, "must be a mapping")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _fail(f"{field}.{unknown[0]}", f"is not a field here (fields: {', '.join(allowed)})")
    for name in required:
        if name not in value:
            raise _fail(f"{field}.{name}", "is required")
    return value


def _string(value: Any, field: str, pattern: re.Pattern[str] | None = None, empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty):
        raise _fail(field, "must be a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise _fail(field, f"{value!r} must match {pattern.pattern}")
    return value


def _strings(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(field, "must be a list of non-empty strings")
    return list(value)


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(field, "must be true or false")
    return value


def _choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(field, f"must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _folder(settings: Settings | None, value: Any, field: str) -> str:
    """A prefix or folder the server may read and write: `s3://bucket/prefix/` or an absolute path.
    Without settings only the form is checked (where it may point is the server's to say)."""
    text = _string(value, field)
    if text.startswith("s3://"):
        bucket = text[len("s3://") :].partition("/")[0]
        if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
            raise _fail(field, f"{bucket!r} is not a valid bucket name")
    if settings is not None:
        location = paths.resolve(settings, text, field)
        if location.local is not None and location.local.exists() and not location.local.is_dir():
            raise _fail(field, f"{text!r} is a file, not a folder")
    return text if text.endswith("/") else text + "/"


def _transform(value: Any) -> dict[str, Any]:
    field = "transform"
    allowed = ("eventTime", "timestampFormat", "entityId", "eventId", "label", "fraudValues", "entityType", "exclude")
    given = _object(value, field, allowed, ("eventTime", "entityId"))
    out: dict[str, Any] = {
        "eventTime": _string(given["eventTime"], f"{field}.eventTime"),
        "entityId": _string(given["entityId"], f"{field}.entityId", empty=True),
        "entityType": _string(given.get("entityType", "customer"), f"{field}.entityType", _AFD_NAME),
        "fraudValues": [v.lower() for v in _strings(given.get("fraudValues", ["1", "true", "fraud", "yes"]), field)],
        "exclude": _strings(given.get("exclude", []), f"{field}.exclude"),
    }
    for name in ("timestampFormat", "eventId", "label"):
        if given.get(name) is not None:
            out[name] = _string(given[name], f"{field}.{name}")
    if not out["fraudValues"]:
        raise _fail(f"{field}.fraudValues", "must name at least one value")
    return out


def _train(value: Any, field: str) -> dict[str, Any]:
    allowed = (
        "modelId",
        "modelType",
        "eventType",
        "mode",
        "majorVersion",
        "data",
        "variables",
        "labels",
        "unlabeled",
        "activate",
    )
    given = _object(value, field, allowed, ("modelId", "modelType", "eventType"))
    out: dict[str, Any] = {
        "modelId": _string(given["modelId"], f"{field}.modelId", _AFD_NAME),
        "modelType": _choice(given["modelType"], f"{field}.modelType", MODEL_TYPES),
        "eventType": _string(given["eventType"], f"{field}.eventType", _AFD_NAME),
        "mode": _choice(given.get("mode", "create"), f"{field}.mode", ("create", "update")),
        "data": _choice(given.get("data", "file"), f"{field}.data", ("file", "stored")),
        "unlabeled": _choice(given.get("unlabeled", "IGNORE"), f"{field}.unlabeled", UNLABELED),
    }
    if "majorVersion" in given:
        major = given["majorVersion"]
        if out["mode"] != "update":
            raise _fail(f"{field}.majorVersion", "is for mode update (create trains the next major version)")
        if not isinstance(major, int) or isinstance(major, bool) or major < 1:
            raise _fail(f"{field}.majorVersion", "must be a whole number from 1")
        out["majorVersion"] = major
    if out["modelType"] == "ACCOUNT_TAKEOVER_INSIGHTS" and out["data"] != "stored":
        raise _fail(f"{field}.data", "ACCOUNT_TAKEOVER_INSIGHTS trains on stored events: use data: stored")
    if "variables" in given:
        out["variables"] = _strings(given["variables"], f"{field}.variables")
    labels = _object(
        given.get("labels", {"fraud": ["fraud"], "legit": ["legit"]}), f"{field}.labels", ("fraud", "legit")
    )
    out["labels"] = {
        "fraud": _strings(labels.get("fraud", []), f"{field}.labels.fraud"),
        "legit": _strings(labels.get("legit", []), f"{field}.labels.legit"),
    }
    for kind in ("fraud", "legit"):
        # a supervised model's label mapper needs both (ATI's labels only mark known takeovers)
        if not out["labels"][kind] and out["modelType"] != "ACCOUNT_TAKEOVER_INSIGHTS":
            raise _fail(f"{field}.labels.{kind}", "must name at least one label")
    if "activate" in given:
        activate = _object(given["activate"], f"{field}.activate", ("detectorId", "maxAucDrop", "publish"))
        drop = activate.get("maxAucDrop", 0.0)
        if not isinstance(drop, (int, float)) or isinstance(drop, bool) or not 0 <= drop <= 1:
            raise _fail(f"{field}.activate.maxAucDrop", "must be a number from 0 to 1")
        out["activate"] = {
            "maxAucDrop": float(drop),
            "publish": _boolean(activate.get("publish", True), f"{field}.activate.publish"),
        }
        if "detectorId" in activate:
            out["activate"]["detectorId"] = _string(activate["detectorId"], f"{field}.activate.detectorId", _AFD_NAME)
    return out


def _action(settings: Settings | None, value: Any, source: str) -> dict[str, Any]:
    given = _object(value, "action", ACTIONS)
    if len(given) != 1:
        raise _fail("action", f"must name exactly one of {', '.join(ACTIONS)}")
    ((kind, body),) = given.items()
    field = f"action.{kind}"
    if kind == "import":
        body = _object(body, field, ("eventType",), ("eventType",))
        return {"import": {"eventType": _string(body["eventType"], f"{field}.eventType", _AFD_NAME)}}
    if kind == "train":
        return {"train": _train(body, field)}
    body = _object(body, field, ("detectorId", "detectorVersion", "output"), ("detectorId", "output"))
    output = _folder(settings, body["output"], f"{field}.output")
    if output.startswith(source) or source.startswith(output):
        # the outputs would be picked up as inputs again, and again
        raise _fail(f"{field}.output", f"{output!r} must not be inside the source {source!r} nor contain it")
    out = {"detectorId": _string(body["detectorId"], f"{field}.detectorId", _AFD_NAME), "output": output}
    if "detectorVersion" in body:
        out["detectorVersion"] = _string(
            str(body["detectorVersion"]), f"{field}.detectorVersion", re.compile(r"^[1-9]\d{0,3}$")
        )
    return {"batchPredict": out}


def normalize(settings: Settings | None, entry: Any) -> dict[str, Any]:
    """The entry checked, with its defaults filled in: the form stored and listed. With `settings`,
    its folders are checked against the roots the server may use too; without, only their form (a
    workspace file's plan compares entries before anything is put)."""
    given = _object(entry, "pipeline", ("name", "source", "pattern", "transform", "action", "enabled"))
    for name in ("name", "source", "action"):
        if name not in given:
            raise _fail(name, "is required")
    name = _string(given["name"], "name", _NAME)
    source = _folder(settings, given["source"], "source")
    pattern = _string(given.get("pattern", DEFAULT_PATTERN), "pattern")
    if len(pattern) > 256:
        raise _fail("pattern", "must be at most 256 characters")
    try:
        re.compile(fnmatch.translate(pattern))
    except re.error as error:
        raise _fail("pattern", f"is not a valid glob: {error}") from None
    out: dict[str, Any] = {"name": name, "source": source, "pattern": pattern}
    if given.get("transform") is not None:
        out["transform"] = _transform(given["transform"])
    out["action"] = _action(settings, given["action"], source)
    out["enabled"] = _boolean(given.get("enabled", True), "enabled")
    return out


def compact(entry: dict[str, Any]) -> dict[str, Any]:
    """A normalized entry as a file shows it: every field that only repeats its default left out.
    A field is a default when normalizing without it gives the same entry, so the defaults keep one
    definition (`normalize`)."""
    out = copy.deepcopy(entry)

    def prune(node: dict[str, Any]) -> None:
        for key in list(node):
            value = node.pop(key)
            try:
                same = normalize(None, out) == entry
            except ValidationError:
                same = False
            if same:
                continue
            node[key] = value
            if isinstance(value, dict):
                prune(value)

    prune(out)
    return out


def action_kind(entry: dict[str, Any]) -> str:
    (kind,) = entry["action"]
    return str(kind)


def _entry(row: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": row.name, "source": row.source, "pattern": row.pattern}
    if row.transform is not None:
        entry["transform"] = json.loads(row.transform)
    entry["action"] = json.loads(row.action)
    entry["enabled"] = bool(row.enabled)
    return entry


def list_pipelines(db: Database) -> list[dict[str, Any]]:
    """Every stored pipeline, in the entry shape, sorted by name."""
    with db.read() as conn:
        return [_entry(row) for row in conn.execute(select(_table).order_by(_table.c.name))]


def get_pipeline(db: Database, name: str) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(select(_table).where(_table.c.name == name)).first()
    if row is None:
        raise ResourceNotFoundError(f"There is no pipeline {name!r}")
    return _entry(row)


def change(current: dict[str, Any] | None, wanted: dict[str, Any]) -> str:
    """What putting `wanted` (normalized) does where `current` (as listed, or None) stands:
    "created", "updated" or "unchanged". Pure: a dry run calls it with the listed pipelines."""
    if current is None:
        return "created"
    return "unchanged" if current == wanted else "updated"


def put_pipeline(db: Database, settings: Settings, entry: Any) -> str:
    """Create or replace the pipeline `entry` declares; "created", "updated" or "unchanged"."""
    wanted = normalize(settings, entry)
    stamp = now_ms()
    values = {
        "source": wanted["source"],
        "pattern": wanted["pattern"],
        "transform": json.dumps(wanted["transform"], sort_keys=True) if "transform" in wanted else None,
        "action": json.dumps(wanted["action"], sort_keys=True),
        "enabled": wanted["enabled"],
        "updated_ms": stamp,
    }
    with db.write() as conn:
        row = conn.execute(select(_table).where(_table.c.name == wanted["name"]).with_for_update()).first()
        said = change(None if row is None else _entry(row), wanted)
        if said == "created":
            conn.execute(insert(_table).values(name=wanted["name"], created_ms=stamp, **values))
        elif said == "updated":
            conn.execute(update(_table).where(_table.c.name == wanted["name"]).values(values))
    return said


def set_enabled(db: Database, name: str, enabled: bool) -> None:
    with db.write() as conn:
        changed = conn.execute(
            update(_table).where(_table.c.name == name).values(enabled=enabled, updated_ms=now_ms())
        ).rowcount
    if not changed:
        raise ResourceNotFoundError(f"There is no pipeline {name!r}")


def delete_pipeline(db: Database, name: str) -> None:
    """Delete the pipeline; its recorded runs stay (the history of what was processed)."""
    with db.write() as conn:
        if not conn.execute(delete(_table).where(_table.c.name == name)).rowcount:
            raise ResourceNotFoundError(f"There is no pipeline {name!r}")


def describe_action(entry: dict[str, Any]) -> str:
    """An action in a few words, for lists."""
    ((kind, body),) = entry["action"].items()
    if kind == "import":
        return f"import into {body['eventType']}"
    if kind == "train":
        major = f" {body['majorVersion']}.x" if "majorVersion" in body else ""
        guard = f", activate if AUC drop <= {body['activate']['maxAucDrop']:g}" if "activate" in body else ""
        return f"train {body['modelId']} ({body['mode']}{major}, {body['data']} data{guard})"
    version = f" v{body['detectorVersion']}" if "detectorVersion" in body else ""
    return f"batch predict with {body['detectorId']}{version} into {body['output']}"


def plan(settings: Settings, current: list[dict[str, Any]], entries: list[Any]) -> list[tuple[str, str]]:
    """A dry run of declaring `entries` where the pipelines `current` (as listed) stand: (name, what
    putting it would do) for each entry, in order, then (name, "undeclared") for each current pipeline
    the entries do not name (the caller decides whether that means delete). Reads nothing stored;
    raises ValidationError for a bad entry, or for two entries with one name."""
    by_name = {entry["name"]: entry for entry in current}
    said: list[tuple[str, str]] = []
    for index, entry in enumerate(entries):
        try:
            wanted = normalize(settings, entry)
        except ValidationError as error:  # which entry, in the field's path: pipelines[2].action.train...
            raise ValidationError(f"pipelines[{index}].{error.message}") from None
        if any(name == wanted["name"] for name, _ in said):
            raise _fail(f"pipelines[{index}].name", f"{wanted['name']!r} is declared twice")
        said.append((wanted["name"], change(by_name.get(wanted["name"]), wanted)))
    named = {name for name, _ in said}
    return said + [(name, "undeclared") for name in sorted(by_name) if name not in named]
