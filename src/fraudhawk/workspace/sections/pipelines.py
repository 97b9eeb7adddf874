"""Pipelines (`fraudhawk.pipelines`): fraudhawk's own resources, not AFD's, so the section reads and
writes them through operations added to the local `Call` (`ListPipelines`, `PutPipeline`,
`DeletePipeline`, see `cli/workspace.local_call`) and an export from an AFD account leaves it out.
An entry's shape, checks and defaults are the pipelines package's (`declared`): one definition for the
workspace file, `fraudhawk pipelines put` and the stored form."""

from __future__ import annotations

from typing import Any

from fraudhawk.errors import ValidationError
from fraudhawk.pipelines import declared
from fraudhawk.workspace.model import Change, Entry, Section, World
from fraudhawk.workspace.reader import Reader
from fraudhawk.workspace.sections.common import created, keyed_plan, refused, section_schema, updated

KIND = "pipeline"


def _read(reader: Reader) -> list[Entry]:
    return sorted(reader.all("ListPipelines", "pipelines"), key=lambda entry: str(entry["name"]))


def _normalize(entry: Entry) -> Entry:
    try:
        return declared.normalize(None, entry)
    except ValidationError:
        # the schema has passed it, so what is left is a check across fields (e.g. an output inside
        # the source); the plan refuses the entry with the message
        return {**entry, "_invalid": True}


def _plan(declared_entries: list[Entry], current: list[Entry], world: World) -> list[Change]:
    def create(entry: Entry) -> Change:
        return _checked(entry) or created(KIND, entry["name"], [("PutPipeline", _public(entry))])

    def update(entry: Entry, _old: Entry, changed: list[str]) -> Change:
        return _checked(entry) or updated(KIND, entry["name"], changed, [("PutPipeline", _public(entry))])

    return keyed_plan(
        KIND,
        "name",
        declared_entries,
        current,
        world,
        create,
        update,
        lambda entry: [("DeletePipeline", {"name": entry["name"]})],
    )


def _public(entry: Entry) -> Entry:
    return {key: value for key, value in entry.items() if not key.startswith("_")}


def _checked(entry: Entry) -> Change | None:
    if not entry.get("_invalid"):
        return None
    try:
        declared.normalize(None, _public(entry))
    except ValidationError as error:
        return refused(KIND, entry["name"], error.message)
    return None


def _schema() -> dict[str, Any]:
    item = {key: value for key, value in declared.SCHEMA.items() if key not in ("$schema", "title")}
    return section_schema(
        item,
        "File-driven pipelines: a prefix or folder watched for CSV files, each file run once through an "
        "optional transform and one action (import, train, batch predict).",
    )


SECTION = Section("pipelines", "name", _schema(), _read, _normalize, declared.compact, _plan, afd=False)
