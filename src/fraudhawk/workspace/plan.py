"""Reading a workspace (export), and the plan of a file against a store: every section's changes,
creations and updates in dependency order, deletions after them in reverse order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fraudhawk.workspace.document import FORMAT
from fraudhawk.workspace.model import ACTIONS_THAT_WRITE, DELETE, REFUSED, WOULD_DELETE, Change, Entry, Section, World
from fraudhawk.workspace.reader import Call, Reader
from fraudhawk.workspace.sections import SECTIONS

Sections = tuple[Section, ...]


def snapshot(call: Call, *, afd: bool = False, sections: Sections = SECTIONS) -> dict[str, list[Entry]]:
    """Every section's resources as the store has them (normalized, with internal keys); of an AFD
    account (`afd`), the sections AFD has."""
    reader = Reader(call)
    return {section.key: section.read(reader) for section in sections if section.afd or not afd}


def export(call: Call, *, afd: bool = False, sections: Sections = SECTIONS) -> dict[str, Any]:
    """The workspace document of a store: what `fraudhawk export` writes, whether `call` reaches a data
    directory or an AFD account (`afd`). Empty sections are left out."""
    current = snapshot(call, afd=afd, sections=sections)
    document: dict[str, Any] = {"version": FORMAT}
    for section in sections:
        entries = [section.compact(entry) for entry in current.get(section.key, [])]
        if entries:
            document[section.key] = entries
    return document


def declared(document: dict[str, Any], sections: Sections = SECTIONS) -> dict[str, list[Entry]]:
    """A validated document's entries, normalized and sorted as the reader gives them."""
    out = {}
    for section in sections:
        entries = [section.normalize(dict(entry)) for entry in document.get(section.key) or []]
        out[section.key] = sorted(entries, key=lambda entry: str(entry[section.identity]))
    return out


@dataclass
class Plan:
    changes: list[Change]

    @property
    def refused(self) -> list[Change]:
        return [change for change in self.changes if change.action == REFUSED]

    @property
    def writes(self) -> list[Change]:
        return [change for change in self.changes if change.action in ACTIONS_THAT_WRITE]


def make_plan(
    document: dict[str, Any], call: Call, *, prune: bool, retrain: bool = False, sections: Sections = SECTIONS
) -> Plan:
    world = World(declared(document, sections), snapshot(call, sections=sections), prune, retrain)
    forward: list[Change] = []
    backward: list[list[Change]] = []
    for section in sections:
        changes = section.plan(world.declared[section.key], world.current[section.key], world)
        forward += [c for c in changes if c.action not in (DELETE, WOULD_DELETE)]
        backward.append([c for c in changes if c.action in (DELETE, WOULD_DELETE)])
    deletions = [change for changes in reversed(backward) for change in changes]
    return Plan(forward + deletions)
