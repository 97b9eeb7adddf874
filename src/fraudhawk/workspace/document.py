"""A workspace file as text: YAML read with each value's line and column, checked against the JSON
Schema, and written back in a stable form (sections in dependency order, entries sorted by name,
defaults left out) so that an export diffs well and round-trips exactly."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from fraudhawk.errors import ValidationError

FORMAT = 1
HEADER = (
    "# fraudhawk workspace: the fraud detection resources of a data directory or an AFD account.\n"
    "# Apply it with `fraudhawk apply FILE` (see `fraudhawk apply --help`); the format is\n"
    "# fraudhawk/workspace/workspace.schema.json.\n"
)

Path_ = tuple[str | int, ...]  # keys and indexes from the document's root to a value


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based, as editors count
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class WorkspaceFileError(ValidationError):
    """A workspace file that cannot be read or breaks the schema; `problems` says where."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        lines = "\n".join(f"{source}:{problem.line}:{problem.column}: {problem.message}" for problem in problems)
        super().__init__(f"{source} is not a valid workspace file:\n{lines}")
        self.source = source
        self.problems = problems


class _Loader(yaml.SafeLoader):
    """YAML without timestamp resolution: a time window's `2024-01-01T00:00:00Z` stays the text AFD
    takes, rather than becoming a datetime the schema would refuse."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Located:
    """A parsed document and where each of its values (and mapping keys) starts in the text."""

    data: Any
    values: dict[Path_, tuple[int, int]]
    keys: dict[Path_, tuple[int, int]]

    def where(self, path: Path_, key: str | None = None) -> tuple[int, int]:
        if key is not None and (*path, key) in self.keys:
            return self.keys[(*path, key)]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return (1, 1)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _index(node: yaml.Node, path: Path_, located: Located, problems: list[Problem]) -> None:
    located.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                line, column = _mark(key_node)
                problems.append(Problem(line, column, f"key {key!r} appears twice in this mapping"))
            seen.add(key)
            located.keys[(*path, key)] = _mark(key_node)
            _index(value_node, (*path, key), located, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), located, problems)


def parse(text: str, source: str) -> Located:
    """The YAML document of `text` with positions; a syntax error reports its line and column."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise WorkspaceFileError(source, [Problem(1, 1, "the file is empty")])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = " ".join(part for part in (error.context, error.problem) if part)
        begun = error.context_mark
        if begun is not None and mark is not None and (begun.line, begun.column) != (mark.line, mark.column):
            message += f" (what it was reading began at line {begun.line + 1}, column {begun.column + 1})"
        raise WorkspaceFileError(source, [Problem(line, column, f"YAML syntax error: {message}")]) from None
    except yaml.YAMLError as error:
        raise WorkspaceFileError(source, [Problem(1, 1, f"YAML error: {error}")]) from None
    finally:
        loader.dispose()
    located = Located(data, {}, {})
    problems: list[Problem] = []
    _index(node, (), located, problems)
    if problems:
        raise WorkspaceFileError(source, problems)
    return located


def _required_choice(error: jsonschema.ValidationError) -> list[str] | None:
    """The keys of which an `anyOf` of `required`s asks for one (a variable's dataType or variableType)."""
    alternatives = error.validator_value if error.validator == "anyOf" else None
    if isinstance(alternatives, list) and all(set(a) == {"required"} for a in alternatives):
        return [key for a in alternatives for key in a["required"]]
    return None


def _message(error: jsonschema.ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    text = error.message
    choice = _required_choice(error)
    if choice:
        text = "give " + " or ".join(choice)
    elif error.validator == "additionalProperties":
        text = f"unknown key ({error.message.split('(')[-1].rstrip(')')})"
    elif error.validator == "enum" and isinstance(error.validator_value, list) and len(error.validator_value) > 6:
        choices = [str(choice) for choice in error.validator_value]
        close = difflib.get_close_matches(str(error.instance), choices, n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else f"one of {', '.join(choices)}"
        text = f"{error.instance!r} is not allowed here: {hint}"
    return f"{where}: {text}" if where else text


def _position(located: Located, error: jsonschema.ValidationError) -> tuple[int, int]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema
        allowed = set(schema.get("properties", {})) if isinstance(schema, dict) else set()
        extra = sorted(key for key in error.instance if key not in allowed)
        if extra:
            return located.where(path, str(extra[0]))
    return located.where(path)


def validate(located: Located, schema: dict[str, Any], source: str) -> None:
    """Check the document against the schema; every problem reported with its line and column."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(located.data),
        key=lambda e: (_position(located, e), list(map(str, e.absolute_path))),
    )
    if errors:
        problems = []
        for error in errors:
            # of the alternatives of a oneOf/anyOf, the deepest failure says most
            best = jsonschema.exceptions.best_match([error]) if error.context and not _required_choice(error) else error
            line, column = _position(located, best)
            problems.append(Problem(line, column, _message(best)))
        raise WorkspaceFileError(source, problems)


def load(path: Path, schema: dict[str, Any]) -> Located:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WorkspaceFileError(source, [Problem(1, 1, f"cannot read the file: {error}")]) from None
    located = parse(text, source)
    validate(located, schema, source)
    return located


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # lists indented under their key, as people write them


def dump(document: dict[str, Any]) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=110)
    return HEADER + body
