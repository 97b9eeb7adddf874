"""What a plan is made of: a change per resource, with the AFD calls that carry it out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fraudhawk.workspace.reader import Reader

Entry = dict[str, Any]
Step = tuple[str, dict[str, Any]]

CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
DELETE = "delete"
WOULD_DELETE = "would delete"
REFUSED = "refused"
TRAIN = "train"
# held back, not refused: it needs something this apply cannot make (a model version trained and
# ACTIVE); the rest is applied, and applying again once it is there makes it
WAITING = "waiting"
ACTIONS_THAT_WRITE = (CREATE, UPDATE, TRAIN, DELETE)


@dataclass
class Change:
    """One resource's change. `steps` run in order; when one fails after others succeeded, `undo`
    (for a create: deleting what was made) puts the resource back as it was."""

    kind: str  # "variable", "detector version", ...
    name: str
    action: str
    detail: str = ""
    steps: list[Step] = field(default_factory=list)
    undo: list[Step] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass
class World:
    """What a section's planner may consult besides its own entries: the whole declared document and
    the whole store, both normalized, so cross-references (which event types use a variable, a
    model's type) are looked up rather than asked for again."""

    declared: dict[str, list[Entry]]
    current: dict[str, list[Entry]]
    prune: bool
    retrain: bool = False  # train again models whose training with the declared settings failed

    def find(self, section: str, key: str, value: Any, *, declared: bool = True) -> Entry | None:
        source = self.declared if declared else self.current
        return next((e for e in source.get(section, []) if e.get(key) == value), None)


@dataclass(frozen=True)
class Section:
    """One top-level key of the workspace file, and everything about it.

    - `schema`: the JSON Schema of the key's value;
    - `read`: the store's resources as normalized entries (internal `_` keys such as `_arn` allowed);
    - `normalize`: a declared entry with its defaults filled in, comparable with what `read` gives;
    - `compact`: an entry as the file shows it (defaults and internal keys left out);
    - `plan`: declared entries against current ones: a `Change` per resource, including deletions
      (the planner marks them `would delete` unless pruning).

    `read` and the changes' steps name operations of the `Call` they run through: AFD's, or
    fraudhawk's own added with `reader.with_operations`.
    """

    key: str
    identity: str  # the key naming an entry (`name`, `id`...): unique within the section
    schema: dict[str, Any]
    read: Callable[[Reader], list[Entry]]
    normalize: Callable[[Entry], Entry]
    compact: Callable[[Entry], Entry]
    plan: Callable[[list[Entry], list[Entry], World], list[Change]]
    # False for a section of fraudhawk's own resources, read and changed through operations that are
    # not AFD's (see `reader.with_operations`): an export from an AFD account leaves it out
    afd: bool = True
