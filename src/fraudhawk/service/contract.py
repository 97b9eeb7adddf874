"""AFD's service model (from botocore) as the wire contract: request validation and output checks.

botocore only checks required members, types and minimums on the client side; AFD itself enforces
maximums, patterns and enums. We enforce all of them, with AWS's message format naming the field.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from functools import cache
from typing import Any

import msgspec
import regex
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.session import get_session

from fraudhawk.errors import ValidationError

SERVICE_NAME = "frauddetector"
# Where fraudhawk deliberately accepts more than AFD: data locations may also be local files.
PATTERN_OVERRIDES = {"s3BucketLocation": r"^(s3://.+|file://.+|/.+)$"}
_MAX_REPORTED = 10
_encode_json = msgspec.json.Encoder().encode


class Problem(str):
    """One way a value breaks its shape: AWS's message, and the path of the member it is about
    (`eventVariables.amount.value`), which a ValidationError names as its `field`."""

    path: str

    def __new__(cls, path: str, text: str) -> Problem:
        problem = super().__new__(cls, text)
        problem.path = path
        return problem


@cache
def service_model() -> ServiceModel:
    return get_session().get_service_model(SERVICE_NAME)


@cache
def operation_model(name: str) -> OperationModel:
    return service_model().operation_model(name)


def operation_names() -> list[str]:
    return list(service_model().operation_names)


@cache
def _pattern(text: str) -> regex.Pattern[str]:
    # AFD's patterns are Java regular expressions, where \d, \s and \w are ASCII-only.
    return regex.compile(text, regex.ASCII)


def validate_input(operation: str, params: Any) -> dict[str, Any]:
    """Check a request against the operation's input shape; raise ValidationError listing each problem."""
    shape = operation_model(operation).input_shape
    if not isinstance(params, dict):
        raise ValidationError("The request body must be a JSON object")
    if shape is None:
        if params:
            raise ValidationError(f"{operation} takes no parameters, got: {', '.join(sorted(params))}")
        return params
    problems = check(shape, params, "")
    if problems:
        raise ValidationError(format_problems(problems), field=problems[0].path or None)
    if _may_hold_bad_text(params):
        check_text(params)
    cleaned: dict[str, Any] = _without_nulls(params)
    return cleaned


def validate_members(operation: str, params: dict[str, Any]) -> None:
    """Check some members of an operation's request (those given, not None) ahead of the rest."""
    members = operation_model(operation).input_shape.members
    problems = [p for name, value in params.items() if value is not None for p in check(members[name], value, name)]
    if problems:
        raise ValidationError(format_problems(problems), field=problems[0].path)


def _without_nulls(value: Any) -> Any:
    """Drop members given as JSON null, as botocore never sends them: handlers see them as absent."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _may_hold_bad_text(value: Any) -> bool:
    """False when `check_text` surely passes: one encoding of the whole request (a lone surrogate
    fails it; NUL shows as \\u0000, as does the six-character text \\u0000, which is then checked)."""
    try:
        return b"\\u0000" in _encode_json(value)
    except (TypeError, ValueError, OverflowError):  # UnicodeEncodeError, or a value JSON cannot hold
        return True


def check_text(value: Any) -> None:
    """Refuse strings no database can store: lone surrogates (from \\ud800 escapes) and NUL."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("The request holds a string that is not valid Unicode (a lone surrogate)") from None
        if "\x00" in value:
            raise ValidationError("The request holds a NUL character (\\u0000), which no field accepts")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_text(item)
    elif isinstance(value, list):
        for item in value:
            check_text(item)


def format_problems(problems: Sequence[str]) -> str:
    count = len(problems)
    shown = "; ".join(problems[:_MAX_REPORTED])
    more = f"; and {count - _MAX_REPORTED} more" if count > _MAX_REPORTED else ""
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: {shown}{more}"


def check_output(operation: str, response: dict[str, Any]) -> list[str]:
    """Problems with a response against the operation's output shape (used by tests and debug mode)."""
    shape = operation_model(operation).output_shape
    if shape is None:
        return [] if not response else [f"{operation} has no output, got {sorted(response)}"]
    return list(check(shape, response, ""))


def _describe(value: Any, shape: Shape) -> str:
    if value is None:
        return "Value null"
    if shape.serialization.get("sensitive") or shape.metadata.get("sensitive"):
        return "Value"
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    if len(text) > 80:
        text = text[:77] + "...'"
    return f"Value {text}"


@cache
def _string_rule(shape: Shape) -> tuple[int | None, int | None, frozenset[str] | None, regex.Pattern[str] | None]:
    """A string shape's constraints, looked up once: most strings of a request break none of them."""
    pattern = PATTERN_OVERRIDES.get(shape.name, shape.metadata.get("pattern"))
    enum = shape.enum
    return (
        shape.metadata.get("min"),
        shape.metadata.get("max"),
        frozenset(enum) if enum else None,
        _pattern(pattern) if pattern else None,
    )


def check(shape: Shape, value: Any, path: str) -> list[Problem]:
    """Every way `value` breaks `shape`, as AWS-style messages."""
    kind = shape.type_name
    if kind == "string" and _fine_string(_string_rule(shape), value):
        return []  # the usual case; otherwise the checks below say why
    if kind == "structure":
        if not isinstance(value, dict):
            return [Problem(path, f"{_fail(value, shape, path)} be an object")]
        problems: list[Problem] = []
        members = shape.members
        for name in value:
            if name not in members:
                problems.append(
                    Problem(
                        _join(path, name),
                        f"Unknown parameter '{_join(path, name)}': must be one of {', '.join(members)}",
                    )
                )
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    Problem(
                        _join(path, name),
                        f"Value null at '{_join(path, name)}' failed to satisfy constraint: Member must not be null",
                    )
                )
        for name, member in members.items():
            if value.get(name) is not None:
                problems.extend(check(member, value[name], _join(path, name)))
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [Problem(path, f"{_fail(value, shape, path)} be a list")]
        problems = _bounds(shape, len(value), value, path, "have length")
        for index, item in enumerate(value, start=1):
            if item is None:
                problems.append(
                    Problem(
                        f"{path}.{index}.member",
                        f"Value null at '{path}.{index}.member' failed to satisfy constraint: Member must not be null",
                    )
                )
            else:
                problems.extend(check(shape.member, item, f"{path}.{index}.member"))
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [Problem(path, f"{_fail(value, shape, path)} be an object")]
        if _fine_text_map(shape, value):
            return []  # the usual map of strings (event variables): otherwise the checks below say why
        problems = _bounds(shape, len(value), value, path, "have length")
        for key, item in value.items():
            problems.extend(check(shape.key, key, f"{path}.{key}.key"))
            if item is None:
                problems.append(
                    Problem(
                        f"{path}.{key}.value",
                        f"Value null at '{path}.{key}.value' failed to satisfy constraint: Member must not be null",
                    )
                )
            else:
                problems.extend(check(shape.value, item, f"{path}.{key}.value"))
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [Problem(path, f"{_fail(value, shape, path)} be a string")]
        problems = _bounds(shape, len(value), value, path, "have length")
        enum = shape.enum
        if enum and value not in enum:
            problems.append(Problem(path, f"{_fail(value, shape, path)} satisfy enum value set: [{', '.join(enum)}]"))
        pattern = PATTERN_OVERRIDES.get(shape.name, shape.metadata.get("pattern"))
        if pattern and not _pattern(pattern).fullmatch(value):
            problems.append(Problem(path, f"{_fail(value, shape, path)} satisfy regular expression pattern: {pattern}"))
        return problems
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [Problem(path, f"{_fail(value, shape, path)} be an integer")]
        return _bounds(shape, value, value, path, "have value")
    if kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return [Problem(path, f"{_fail(value, shape, path)} be a number")]
        return _bounds(shape, value, value, path, "have value")
    if kind == "boolean":
        return [] if isinstance(value, bool) else [Problem(path, f"{_fail(value, shape, path)} be a boolean")]
    if kind == "blob":
        if not isinstance(value, str):
            return [Problem(path, f"{_fail(value, shape, path)} be a base64-encoded string")]
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return [Problem(path, f"{_fail(value, shape, path)} be a base64-encoded string")]
        return []
    if kind == "timestamp":
        return (
            []
            if isinstance(value, str | int | float) and not isinstance(value, bool)
            else [Problem(path, f"{_fail(value, shape, path)} be a timestamp")]
        )
    return []


def _fine_string(rule: tuple[int | None, int | None, frozenset[str] | None, Any], value: Any) -> bool:
    low, high, enum, pattern = rule
    if not isinstance(value, str):
        return False
    size = len(value)
    return (
        (low is None or size >= low)
        and (high is None or size <= high)
        and (enum is None or value in enum)
        and (pattern is None or pattern.fullmatch(value) is not None)
    )


def _fine_text_map(shape: Shape, value: dict[Any, Any]) -> bool:
    """True when a map of strings to strings breaks none of its constraints."""
    if shape.key.type_name != "string" or shape.value.type_name != "string":
        return False
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        return False
    key_rule, value_rule = _string_rule(shape.key), _string_rule(shape.value)
    return all(_fine_string(key_rule, k) and _fine_string(value_rule, v) for k, v in value.items())


def _fail(value: Any, shape: Shape, path: str) -> str:
    """The start of a problem's message; built only when there is a problem (most values have none)."""
    where = f"at '{path}'" if path else "at the top level"
    return f"{_describe(value, shape)} {where} failed to satisfy constraint: Member must"


def _bounds(shape: Shape, size: int | float, value: Any, path: str, what: str) -> list[Problem]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    unit = "length" if what == "have length" else "value"
    if low is not None and size < low:
        return [Problem(path, f"{_fail(value, shape, path)} have {unit} greater than or equal to {low}")]
    if high is not None and size > high:
        return [Problem(path, f"{_fail(value, shape, path)} have {unit} less than or equal to {high}")]
    return []


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
