"""What the sections share: schema pieces, defaults, tags, and the plan of a list of named resources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fraudhawk.workspace.model import (
    CREATE,
    DELETE,
    REFUSED,
    UNCHANGED,
    UPDATE,
    WOULD_DELETE,
    Change,
    Entry,
    Step,
    World,
)

NAME: dict[str, Any] = {"type": "string", "pattern": "^[0-9a-z_-]+$", "minLength": 1, "maxLength": 64}
DESCRIPTION: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 128}
TAGS: dict[str, Any] = {
    "type": "object",
    "description": "Tags of the resource, key: value.",
    "propertyNames": {"minLength": 1, "maxLength": 128},
    "additionalProperties": {"type": "string", "maxLength": 256},
    "maxProperties": 200,
}
NAMES: dict[str, Any] = {"type": "array", "items": NAME, "uniqueItems": True}


def entry_schema(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "additionalProperties": False, "properties": properties}


def section_schema(item: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "array", "description": description, "items": item}


def public(entry: Entry) -> Entry:
    """An entry without the reader's internal keys (`_arn`...)."""
    return {key: value for key, value in entry.items() if not key.startswith("_")}


def fill(entry: Entry, defaults: dict[str, Any], order: list[str]) -> Entry:
    """`entry` with every key of `order`, in that order, defaults filled in."""
    out = {key: entry.get(key, defaults.get(key)) for key in order}
    out.update({key: value for key, value in entry.items() if key.startswith("_")})
    return out


def strip(entry: Entry, defaults: dict[str, Any]) -> Entry:
    """`entry` as the file shows it: defaults and internal keys left out."""
    return {
        key: value
        for key, value in entry.items()
        if not key.startswith("_") and not (key in defaults and value == defaults[key])
    }


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def with_tags(params: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    return {**params, "tags": tag_list(tags)} if tags else params


def tag_steps(arn: str, want: dict[str, str], have: dict[str, str]) -> list[Step]:
    steps: list[Step] = []
    changed = {key: value for key, value in want.items() if have.get(key) != value}
    if changed:
        steps.append(("TagResource", {"resourceARN": arn, "tags": tag_list(changed)}))
    gone = sorted(set(have) - set(want))
    if gone:
        steps.append(("UntagResource", {"resourceARN": arn, "tagKeys": gone}))
    return steps


def differences(want: Entry, have: Entry) -> list[str]:
    return [key for key in public(want) if want[key] != have.get(key)]


def optional(params: dict[str, Any], **values: Any) -> dict[str, Any]:
    """`params` plus the values that are set."""
    return {**params, **{key: value for key, value in values.items() if value is not None}}


def keyed_plan(
    kind: str,
    identity: str,
    declared: list[Entry],
    current: list[Entry],
    world: World,
    create: Callable[[Entry], Change],
    update: Callable[[Entry, Entry, list[str]], Change],
    delete: Callable[[Entry], list[Step]],
) -> list[Change]:
    """The plan of a section of independent named resources: each declared entry created, updated or
    unchanged; each stored one the file does not name deleted when pruning, else shown."""
    have = {entry[identity]: entry for entry in current}
    changes: list[Change] = []
    for entry in declared:
        old = have.get(entry[identity])
        if old is None:
            changes.append(create(entry))
            continue
        changed = differences(entry, old)
        if not changed:
            changes.append(Change(kind, entry[identity], UNCHANGED))
        else:
            changes.append(update(entry, old, changed))
    named = {entry[identity] for entry in declared}
    for entry in current:
        if entry[identity] not in named:
            changes.append(removal(kind, entry[identity], world, delete(entry)))
    return changes


def put_plan(
    kind: str,
    identity: str,
    declared: list[Entry],
    current: list[Entry],
    world: World,
    put: str,
    params: Callable[[Entry], dict[str, Any]],
    delete: Callable[[Entry], list[Step]],
) -> list[Change]:
    """The plan of resources that one Put makes and changes (AFD's Put* operations), their tags apart:
    a change of tags alone is tag calls, anything else the Put again."""

    def create(entry: Entry) -> Change:
        return created(kind, entry[identity], [(put, with_tags(params(entry), entry["tags"]))])

    def update(entry: Entry, old: Entry, changed: list[str]) -> Change:
        steps = [(put, params(entry))] if set(changed) - {"tags"} else []
        steps += tag_steps(old["_arn"], entry["tags"], old["tags"])
        return updated(kind, entry[identity], changed, steps)

    return keyed_plan(kind, identity, declared, current, world, create, update, delete)


def removal(kind: str, name: str, world: World, steps: list[Step]) -> Change:
    if world.prune:
        return Change(kind, name, DELETE, "not in the file", steps)
    return Change(kind, name, WOULD_DELETE, "not in the file (apply --prune deletes it)")


def refused(kind: str, name: str, reason: str) -> Change:
    return Change(kind, name, REFUSED, reason)


def updated(kind: str, name: str, changed: list[str], steps: list[Step]) -> Change:
    return Change(kind, name, UPDATE, "changes " + ", ".join(changed), steps)


def created(kind: str, name: str, steps: list[Step], undo: list[Step] | None = None) -> Change:
    return Change(kind, name, CREATE, "", steps, undo or [])
