"""Lists: named sets of values rules test membership in (`$merchant in @blocked_merchants`)."""

from __future__ import annotations

from typing import Any

from fraudhawk.catalog.variable_types import VARIABLE_TYPES
from fraudhawk.workspace.model import Change, Entry, Section, World
from fraudhawk.workspace.reader import Reader
from fraudhawk.workspace.sections.common import (
    DESCRIPTION,
    NAME,
    TAGS,
    created,
    entry_schema,
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

_ORDER = ["name", "variableType", "description", "elements", "tags"]
_DEFAULTS: dict[str, Any] = {"variableType": None, "description": None, "elements": [], "tags": {}}

SCHEMA = section_schema(
    entry_schema(
        ["name"],
        {
            "name": NAME,
            "variableType": {"enum": sorted(VARIABLE_TYPES)},
            "description": DESCRIPTION,
            "elements": {
                "type": "array",
                "description": "The values of the list (a set: written sorted).",
                "items": {"type": "string", "minLength": 1, "maxLength": 320},
                "uniqueItems": True,
            },
            "tags": TAGS,
        },
    ),
    "Lists of values rules can test membership in.",
)


def read(reader: Reader) -> list[Entry]:
    entries = []
    for item in reader.all("GetListsMetadata", "lists"):
        elements = reader.all("GetListElements", "elements", {"name": item["name"]})
        entries.append(
            {
                "name": item["name"],
                "variableType": item.get("variableType"),
                "description": item.get("description"),
                "elements": sorted(elements),
                "tags": reader.tags(item.get("arn")),
                "_arn": item.get("arn"),
            }
        )
    return sorted(entries, key=lambda entry: entry["name"])


def normalize(entry: Entry) -> Entry:
    out = fill(entry, _DEFAULTS, _ORDER)
    out["elements"] = sorted(out["elements"])
    return out


def compact(entry: Entry) -> Entry:
    return strip(entry, _DEFAULTS)


def plan(declared: list[Entry], current: list[Entry], world: World) -> list[Change]:
    def create(entry: Entry) -> Change:
        params = optional(
            {"name": entry["name"], "elements": entry["elements"]},
            variableType=entry["variableType"],
            description=entry["description"],
        )
        return created("list", entry["name"], [("CreateList", with_tags(params, entry["tags"]))])

    def update(entry: Entry, old: Entry, changed: list[str]) -> Change:
        name = entry["name"]
        for field in ("variableType", "description"):
            if field in changed and entry[field] is None:
                return refused("list", name, f"{field} cannot be removed once set; give a new value instead")
        steps = []
        if {"elements", "variableType", "description"} & set(changed):
            params = {"name": name, "elements": entry["elements"], "updateMode": "REPLACE"}
            steps.append(
                ("UpdateList", optional(params, variableType=entry["variableType"], description=entry["description"]))
            )
        steps += tag_steps(old["_arn"], entry["tags"], old["tags"])
        return updated("list", name, changed, steps)

    return keyed_plan(
        "list", "name", declared, current, world, create, update, lambda e: [("DeleteList", {"name": e["name"]})]
    )


SECTION = Section("lists", "name", SCHEMA, read, normalize, compact, plan)
