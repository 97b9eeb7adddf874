"""A workspace file read and checked: YAML syntax, the schema, and resources declared twice, each
problem with its line and column. Nothing is planned from a file that fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fraudhawk.workspace.document import Problem, WorkspaceFileError, load
from fraudhawk.workspace.model import Section
from fraudhawk.workspace.schema import workspace_schema
from fraudhawk.workspace.sections import SECTIONS


def read_workspace(path: Path, sections: tuple[Section, ...] = SECTIONS) -> dict[str, Any]:
    located = load(path, workspace_schema(sections))
    problems = []
    for section in sections:
        seen: set[Any] = set()
        for i, entry in enumerate(located.data.get(section.key) or []):
            key = entry[section.identity]
            if key in seen:
                line, column = located.where((section.key, i, section.identity))
                problems.append(Problem(line, column, f"{section.key}: {key} is declared twice"))
            seen.add(key)
    if problems:
        raise WorkspaceFileError(str(path), problems)
    data: dict[str, Any] = located.data
    return data
