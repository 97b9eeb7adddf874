"""Variables: what an event carries. A variable's data type cannot change in place (AFD has no such
update), so a changed data type is refused with the resources that use the variable."""

from __future__ import annotations

import re
from typing import Any

from fraudhawk.catalog.variable_types import VARIABLE_TYPES
from fraudhawk.workspace.model import Change, Entry, Section, Step, World
from fraudhawk.workspace.reader import Reader
from fraudhawk.workspace.sections.common import (
    DESCRIPTION,
    NAME,
    TAGS,
    created,
    fill,
    keyed_plan,
    optional,
    refused,
    section_schema,
    strip,
    tag_steps,
    updated,
    with_tags,
)

DATA_TYPES = ["STRING", "INTEGER", "FLOAT", "BOOLEAN", "DATETIME"]
# what AFD's own examples use when a value is missing
DEFAULT_VALUES = {
    "STRING": "<unknown>",
    "INTEGER": "0",
    "FLOAT": "0.0",
    "BOOLEAN": "false",
    "DATETIME": "1970-01-01T00:00:00Z",
}
_ORDER = ["name", "dataType", "variableType", "defaultValue", "description", "tags"]


def implied_data_type(variable_type: str | None) -> str | None:
    """The data type a variable type implies when the file leaves it out: FLOAT for numbers, STRING
    for the rest (CARD_BIN and ARE_CREDENTIALS_VALID accept another, which must then be written)."""
    if variable_type is None:
        return None
    allowed = VARIABLE_TYPES.get(variable_type, frozenset())
    return "FLOAT" if "FLOAT" in allowed else "STRING"


SCHEMA = section_schema(
    {
        "type": "object",
        "required": ["name"],
        "anyOf": [{"required": ["dataType"]}, {"required": ["variableType"]}],
        "additionalProperties": False,
        "properties": {
            "name": NAME,
            "dataType": {"enum": DATA_TYPES, "description": "Default: FLOAT for NUMERIC and PRICE, else STRING."},
            "variableType": {"enum": sorted(VARIABLE_TYPES)},
            "defaultValue": {
                "type": "string",
                "description": "The value used when an event lacks the variable; default by data type: "
                + ", ".join(f"{k} {v!r}" for k, v in DEFAULT_VALUES.items()),
            },
            "description": DESCRIPTION,
            "tags": TAGS,
        },
    },
    "The variables events carry (model scores and external model outputs are made by their models).",
)


def read(reader: Reader) -> list[Entry]:
    entries = [
        {
            "name": item["name"],
            "dataType": item["dataType"],
            "variableType": item.get("variableType"),
            "defaultValue": item.get("defaultValue"),
            "description": item.get("description"),
            "tags": reader.tags(item.get("arn")),
            "_arn": item.get("arn"),
        }
        for item in reader.all("GetVariables", "variables")
        if item.get("dataSource", "EVENT") == "EVENT"
    ]
    return sorted(entries, key=lambda entry: entry["name"])


def normalize(entry: Entry) -> Entry:
    data_type = entry.get("dataType") or implied_data_type(entry.get("variableType"))
    defaults: dict[str, Any] = {"tags": {}, "dataType": data_type, "defaultValue": DEFAULT_VALUES.get(data_type or "")}
    return fill(entry, defaults, _ORDER)


def compact(entry: Entry) -> Entry:
    defaults: dict[str, Any] = {"variableType": None, "description": None, "tags": {}}
    defaults["defaultValue"] = DEFAULT_VALUES.get(entry["dataType"])
    if entry.get("variableType") is not None:
        defaults["dataType"] = implied_data_type(entry["variableType"])
    return strip(entry, defaults)


def users(name: str, world: World) -> list[str]:
    """What in the store uses the variable: event types that carry it, detector versions whose rules read it."""
    found = [f"event type {e['name']}" for e in world.current.get("eventTypes", []) if name in e["variables"]]
    reads = re.compile(rf"\${re.escape(name)}\b")
    for detector in world.current.get("detectors", []):
        reading = {
            f"{rule['id']}:{version['version']}"
            for rule in detector["rules"]
            for version in rule["versions"]
            if reads.search(version["expression"])
        }
        found += [
            f"detector version {detector['id']}/{version['version']}"
            for version in detector["versions"]
            if reading & set(version["rules"])
        ]
    return found


def plan(declared: list[Entry], current: list[Entry], world: World) -> list[Change]:
    def create(entry: Entry) -> Change:
        params = optional(
            {
                "name": entry["name"],
                "dataType": entry["dataType"],
                "dataSource": "EVENT",
                "defaultValue": entry["defaultValue"],
            },
            description=entry["description"],
            variableType=entry["variableType"],
        )
        return created("variable", entry["name"], [("CreateVariable", with_tags(params, entry["tags"]))])

    def update(entry: Entry, old: Entry, changed: list[str]) -> Change:
        name = entry["name"]
        if "dataType" in changed:
            using = users(name, world)
            why = f"used by {', '.join(using)}" if using else "used by nothing"
            return refused(
                "variable",
                name,
                f"dataType cannot change from {old['dataType']} to {entry['dataType']} in place (AFD has no such "
                f"update); the variable is {why}: give the new variable another name, or delete it (remove it "
                "from what uses it, apply --prune) and declare it again",
            )
        for field in ("variableType", "description"):
            if field in changed and entry[field] is None:
                return refused("variable", name, f"{field} cannot be removed once set; give a new value instead")
        steps: list[Step] = []
        fields: dict[str, Any] = {f: entry[f] for f in ("defaultValue", "description", "variableType") if f in changed}
        if fields:
            steps.append(("UpdateVariable", {"name": name, **fields}))
        steps += tag_steps(old["_arn"], entry["tags"], old["tags"])
        return updated("variable", name, changed, steps)

    return keyed_plan(
        "variable",
        "name",
        declared,
        current,
        world,
        create,
        update,
        lambda e: [("DeleteVariable", {"name": e["name"]})],
    )


SECTION = Section("variables", "name", SCHEMA, read, normalize, compact, plan)
