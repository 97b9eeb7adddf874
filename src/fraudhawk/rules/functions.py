"""The functions an expression may call: their parameter and result types, and how each is compiled.

One table serves the checker (types, arity) and the compiler (closures). Every function but
is_missing/is_present gives a missing result when an argument is missing, and never raises.

DATETIME functions are fraudhawk's own (AFD's 2023 DateTime functions are not publicly documented):
times are UTC, differences are `b - a` as FLOAT, weekdays are ISO (1 = Monday ... 7 = Sunday).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

from fraudhawk.rules import nodes
from fraudhawk.rules.regex import error_message, full_matcher
from fraudhawk.rules.values import DATA_TYPES, Timestamp, Value

#: A compiled (sub)expression: (variable values, list elements) -> value; None is missing / UNKNOWN.
Fn = Callable[[Mapping[str, Value], Mapping[str, frozenset[str]]], Value]
#: Builds a call's closure from its compiled arguments, their nodes and their types.
Builder = Callable[[tuple[Fn, ...], tuple[nodes.Node, ...], tuple[str, ...]], Fn]

_STRING = ("STRING",)
_DATETIME = ("DATETIME",)
_ANY = DATA_TYPES


class ArgumentProblem(Exception):
    """A literal argument that cannot be used (an invalid regex or timestamp), reported at that argument."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(problem)
        self.index = index
        self.problem = problem


@dataclass(frozen=True)
class Function:
    usage: str  # as shown in arity errors, e.g. "regex_match(pattern, text)"
    params: tuple[tuple[str, ...], ...]  # the data types each parameter accepts
    result: str
    build: Builder
    literal: int | None = None  # index of a parameter that must be a string literal


def _lifted(operation: Callable[[Any], Value]) -> Builder:
    """One argument; a missing argument, or any failure, gives a missing result."""

    def build(args: tuple[Fn, ...], arg_nodes: tuple[nodes.Node, ...], types: tuple[str, ...]) -> Fn:
        (arg,) = args

        def call(values: Mapping[str, Value], lists: Mapping[str, frozenset[str]]) -> Value:
            x = arg(values, lists)
            if x is None:
                return None
            try:
                return operation(x)
            except Exception:
                return None

        return call

    return build


def _between(unit_ms: int) -> Builder:
    def build(args: tuple[Fn, ...], arg_nodes: tuple[nodes.Node, ...], types: tuple[str, ...]) -> Fn:
        first, second = args

        def call(values: Mapping[str, Value], lists: Mapping[str, frozenset[str]]) -> Value:
            a = first(values, lists)
            if not isinstance(a, Timestamp):
                return None
            b = second(values, lists)
            if not isinstance(b, Timestamp):
                return None
            return (b.epoch_ms - a.epoch_ms) / unit_ms

        return call

    return build


def _presence(missing: bool) -> Builder:
    def build(args: tuple[Fn, ...], arg_nodes: tuple[nodes.Node, ...], types: tuple[str, ...]) -> Fn:
        (arg,) = args

        def call(values: Mapping[str, Value], lists: Mapping[str, frozenset[str]]) -> Value:
            return (arg(values, lists) is None) is missing

        return call

    return build


def _regex_match(args: tuple[Fn, ...], arg_nodes: tuple[nodes.Node, ...], types: tuple[str, ...]) -> Fn:
    pattern = arg_nodes[0]
    assert isinstance(pattern, nodes.Literal)
    assert isinstance(pattern.value, str)
    try:
        matches = full_matcher(pattern.value)
    except re2.error as e:
        raise ArgumentProblem(0, f"invalid regular expression: {error_message(e)}") from None
    subject = args[1]
    # Numbers are matched as their decimal text (5, 710.25), as AFD allows regexes on numeric values.
    as_text: Callable[[Any], str] = repr if types[1] == "FLOAT" else str

    def call(values: Mapping[str, Value], lists: Mapping[str, frozenset[str]]) -> Value:
        x = subject(values, lists)
        if x is None:
            return None
        try:
            return matches(as_text(x))
        except Exception:
            return None

    return call


def _datetime(args: tuple[Fn, ...], arg_nodes: tuple[nodes.Node, ...], types: tuple[str, ...]) -> Fn:
    text = arg_nodes[0]
    if isinstance(text, nodes.Literal) and isinstance(text.value, str) and Timestamp.parse(text.value) is None:
        raise ArgumentProblem(0, f"{text.value!r} is not a UTC timestamp such as 2019-11-30T13:01:01Z")
    return _lifted(Timestamp.parse)(args, arg_nodes, types)


_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000

FUNCTIONS: dict[str, Function] = {
    "regex_match": Function(
        "regex_match(pattern, text)", (_STRING, ("STRING", "INTEGER", "FLOAT")), "BOOLEAN", _regex_match, literal=0
    ),
    "lowercase": Function("lowercase(text)", (_STRING,), "STRING", _lifted(str.lower)),
    "uppercase": Function("uppercase(text)", (_STRING,), "STRING", _lifted(str.upper)),
    "is_missing": Function("is_missing(value)", (_ANY,), "BOOLEAN", _presence(True)),
    "is_present": Function("is_present(value)", (_ANY,), "BOOLEAN", _presence(False)),
    "datetime": Function("datetime(text)", (_STRING,), "DATETIME", _datetime),
    "days_between": Function("days_between(start, end)", (_DATETIME, _DATETIME), "FLOAT", _between(_DAY_MS)),
    "hours_between": Function("hours_between(start, end)", (_DATETIME, _DATETIME), "FLOAT", _between(_HOUR_MS)),
    "minutes_between": Function("minutes_between(start, end)", (_DATETIME, _DATETIME), "FLOAT", _between(60_000)),
    "seconds_between": Function("seconds_between(start, end)", (_DATETIME, _DATETIME), "FLOAT", _between(1000)),
    "hour_of_day": Function(
        "hour_of_day(time)", (_DATETIME,), "INTEGER", _lifted(lambda t: t.epoch_ms // _HOUR_MS % 24)
    ),
    # 1970-01-01 was a Thursday (ISO 4).
    "day_of_week": Function(
        "day_of_week(time)", (_DATETIME,), "INTEGER", _lifted(lambda t: (t.epoch_ms // _DAY_MS + 3) % 7 + 1)
    ),
    "day_of_month": Function("day_of_month(time)", (_DATETIME,), "INTEGER", _lifted(lambda t: t.to_datetime().day)),
    "month_of_year": Function("month_of_year(time)", (_DATETIME,), "INTEGER", _lifted(lambda t: t.to_datetime().month)),
}
