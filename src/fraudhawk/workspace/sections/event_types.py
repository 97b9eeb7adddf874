"""Event types: what an event is about (entity types), what it carries (variables) and its labels."""

from __future__ import annotations

from typing import Any

from fraudhawk.workspace.model import Change, Entry, Section, World
from fraudhawk.workspace.reader import Reader
from fraudhawk.workspace.sections.common import (
    DESCRIPTION,
    NAME,
    NAMES,
    TAGS,
    entry_schema,
    fill,
    put_plan,
    section_schema,
    strip,
)

_ORDER = ["name", "description", "entityTypes", "variables", "labels", "eventIngestion", "eventBridge", "tags"]
_DEFAULTS: dict[str, Any] = {
    "description": None,
    "labels": [],
    "eventIngestion": "ENABLED",
    "eventBridge": False,
    "tags": {},
}

SCHEMA = section_schema(
    entry_schema(
        ["name", "entityTypes", "variables"],
        {
            "name": NAME,
            "description": DESCRIPTION,
            "entityTypes": {**NAMES, "minItems": 1},
            "variables": {**NAMES, "minItems": 1},
            "labels": NAMES,
            "eventIngestion": {"enum": ["ENABLED", "DISABLED"], "description": "Store events sent. Default ENABLED."},
            "eventBridge": {"type": "boolean", "description": "Send events to EventBridge. Default false."},
            "tags": TAGS,
        },
    ),
    "The event types: their entity types, variables and labels.",
)


def read(reader: Reader) -> list[Entry]:
    entries = [
        {
            "name": item["name"],
            "description": item.get("description"),
            "entityTypes": sorted(item.get("entityTypes") or []),
            "variables": sorted(item.get("eventVariables") or []),
            "labels": sorted(item.get("labels") or []),
            "eventIngestion": item.get("eventIngestion") or "ENABLED",
            "eventBridge": bool((item.get("eventOrchestration") or {}).get("eventBridgeEnabled", False)),
            "tags": reader.tags(item.get("arn")),
            "_arn": item.get("arn"),
        }
        for item in reader.all("GetEventTypes", "eventTypes")
    ]
    return sorted(entries, key=lambda entry: entry["name"])


def normalize(entry: Entry) -> Entry:
    out = fill(entry, _DEFAULTS, _ORDER)
    for key in ("entityTypes", "variables", "labels"):
        out[key] = sorted(out[key])
    return out


def compact(entry: Entry) -> Entry:
    return strip(entry, _DEFAULTS)


def _put(entry: Entry) -> dict[str, Any]:
    params: dict[str, Any] = {
        "name": entry["name"],
        "entityTypes": entry["entityTypes"],
        "eventVariables": entry["variables"],
        "labels": entry["labels"],
        "eventIngestion": entry["eventIngestion"],
        "eventOrchestration": {"eventBridgeEnabled": entry["eventBridge"]},
    }
    if entry["description"] is not None:
        params["description"] = entry["description"]
    return params


def plan(declared: list[Entry], current: list[Entry], world: World) -> list[Change]:
    return put_plan(
        "event type",
        "name",
        declared,
        current,
        world,
        "PutEventType",
        _put,
        lambda e: [("DeleteEventType", {"name": e["name"]})],
    )


SECTION = Section("eventTypes", "name", SCHEMA, read, normalize, compact, plan)
