"""Entity types, labels and outcomes: a name, a description and tags, made and changed by one Put."""

from __future__ import annotations

from typing import Any

from fraudhawk.workspace.model import Change, Entry, Section, World
from fraudhawk.workspace.reader import Reader
from fraudhawk.workspace.sections.common import (
    DESCRIPTION,
    NAME,
    TAGS,
    entry_schema,
    fill,
    optional,
    put_plan,
    section_schema,
    strip,
)

_ORDER = ["name", "description", "tags"]
_DEFAULTS: dict[str, Any] = {"description": None, "tags": {}}


def _section(key: str, kind: str, noun: str, resource: str) -> Section:
    put, get, delete = f"Put{resource}", f"Get{resource}s", f"Delete{resource}"
    list_key = key

    def read(reader: Reader) -> list[Entry]:
        entries = [
            {
                "name": item["name"],
                "description": item.get("description"),
                "tags": reader.tags(item.get("arn")),
                "_arn": item.get("arn"),
            }
            for item in reader.all(get, list_key)
        ]
        return sorted(entries, key=lambda entry: entry["name"])

    def normalize(entry: Entry) -> Entry:
        return fill(entry, _DEFAULTS, _ORDER)

    def compact(entry: Entry) -> Entry:
        return strip(entry, _DEFAULTS)

    def plan(declared: list[Entry], current: list[Entry], world: World) -> list[Change]:
        def params(entry: Entry) -> dict[str, Any]:
            return optional({"name": entry["name"]}, description=entry["description"])

        return put_plan(kind, "name", declared, current, world, put, params, lambda e: [(delete, {"name": e["name"]})])

    schema = section_schema(
        entry_schema(["name"], {"name": NAME, "description": DESCRIPTION, "tags": TAGS}), f"The {noun}."
    )
    return Section(key, "name", schema, read, normalize, compact, plan)


ENTITY_TYPES = _section("entityTypes", "entity type", "entity types (who or what events are about)", "EntityType")
LABELS = _section("labels", "label", "labels events can carry (e.g. fraud, legit)", "Label")
OUTCOMES = _section("outcomes", "outcome", "outcomes rules can give (e.g. review, block)", "Outcome")
