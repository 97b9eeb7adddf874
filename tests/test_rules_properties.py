"""Property tests for DETECTORPL: random well-typed expression trees are rendered to text, compiled, and
evaluated against a deliberately plain tree-walking interpreter written here over the generated tree
(not over fraudhawk's syntax tree). Rendering uses the fewest parentheses the precedence table allows,
so the parser's precedence and associativity are checked too."""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import re2
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fraudhawk.predictions import batch_scoring
from fraudhawk.rules import RuleEnv, RuleError, Timestamp, compile_rule
from fraudhawk.rules.parts import TRUE
from fraudhawk.rules.regex import full_matcher

SETTINGS = settings(
    max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
INT_MAX = 2**63 - 1
INT_MIN = -(2**63)
VARIABLES = {
    "i1": "INTEGER",
    "i2": "INTEGER",
    "f1": "FLOAT",
    "f2": "FLOAT",
    "s1": "STRING",
    "s2": "STRING",
    "b1": "BOOLEAN",
    "b2": "BOOLEAN",
    "d1": "DATETIME",
    "d2": "DATETIME",
}
LISTS = ("l1", "l2", "l3")
ENV = RuleEnv(VARIABLES, dict.fromkeys(LISTS, ""))
NAMES_BY_TYPE = {t: [n for n, nt in VARIABLES.items() if nt == t] for t in set(VARIABLES.values())}
# Patterns whose meaning is the same in Python's re and in RE2 over the alphabet below.
PATTERNS = [
    "a.*",
    "[0-9]+",
    r".*@x\.com",
    "(ab)+",
    "[^a]*",
    "",
    "(?i)abc",
    "a|b",
    ".*[.].*",
    r"-?[0-9]+(\.[0-9]+)?",
    "(a+)+",
]
TIMES = ["2024-01-01T00:00:00Z", "1999-12-31T23:59:59.999Z", "2024-06-02T12:30:00Z", "1970-01-01T00:00:00Z"]
ALPHABET = 'aAbB01 .@x"\\\n\t\r\xe9-'
POOL = ["a", "b", " a", "ab", "1", "2", "2.0", "1e3", "-5", "1000", "true", "FALSE", "2024-01-01T00:00:00Z", "x y", ""]
UNITS = {"days": 86_400, "hours": 3600, "minutes": 60, "seconds": 1}
DATE_PARTS: dict[str, Callable[[datetime], int]] = {
    "hour_of_day": lambda d: d.hour,
    "day_of_week": lambda d: d.isoweekday(),
    "day_of_month": lambda d: d.day,
    "month_of_year": lambda d: d.month,
}

Tree = tuple[Any, ...]

# ---------------------------------------------------------------------------------------------
# Generating well-typed trees


def _text() -> st.SearchStrategy[str]:
    return st.text(alphabet=ALPHABET, max_size=6)


@st.composite
def integer(draw: st.DrawFn, depth: int) -> Tree:
    choice = draw(st.integers(0, 2 if depth <= 0 else 5))
    if choice == 0:
        return (
            "int",
            draw(st.one_of(st.integers(0, 9), st.integers(0, 1000), st.sampled_from([INT_MAX, 2**62, 2**32]))),
        )
    if choice in (1, 2):
        return ("var", draw(st.sampled_from(NAMES_BY_TYPE["INTEGER"])))
    if choice == 3:
        return ("neg", draw(integer(depth - 1)))
    if choice == 4:
        op = draw(st.sampled_from(["+", "-", "*", "%"]))
        return ("arith", op, draw(integer(depth - 1)), draw(integer(depth - 1)))
    return ("call", draw(st.sampled_from(sorted(DATE_PARTS))), [draw(moment(depth - 1))])


@st.composite
def floating(draw: st.DrawFn, depth: int) -> Tree:
    choice = draw(st.integers(0, 2 if depth <= 0 else 6))
    if choice == 0:
        big = st.sampled_from([1e308, 1.7e308, 0.5, 1e-07, 2.0])
        return ("float", draw(st.one_of(st.floats(0, 1e6, allow_nan=False, allow_infinity=False), big)))
    if choice in (1, 2):
        return ("var", draw(st.sampled_from(NAMES_BY_TYPE["FLOAT"])))
    if choice == 3:
        return ("neg", draw(floating(depth - 1)))
    if choice == 4:
        op = draw(st.sampled_from(["+", "-", "*", "%"]))
        left, right = draw(floating(depth - 1)), draw(number(depth - 1))
        return ("arith", op, *((left, right) if draw(st.booleans()) else (right, left)))
    if choice == 5:
        return ("arith", "/", draw(number(depth - 1)), draw(number(depth - 1)))
    unit = draw(st.sampled_from(sorted(UNITS)))
    return ("call", f"{unit}_between", [draw(moment(depth - 1)), draw(moment(depth - 1))])


def number(depth: int) -> st.SearchStrategy[Tree]:
    return st.one_of(integer(depth), floating(depth))


@st.composite
def text(draw: st.DrawFn, depth: int) -> Tree:
    choice = draw(st.integers(0, 2 if depth <= 0 else 3))
    if choice == 0:
        return ("str", draw(_text()))
    if choice in (1, 2):
        return ("var", draw(st.sampled_from(NAMES_BY_TYPE["STRING"])))
    return ("call", draw(st.sampled_from(["lowercase", "uppercase"])), [draw(text(depth - 1))])


@st.composite
def moment(draw: st.DrawFn, depth: int) -> Tree:
    if draw(st.booleans()):
        return ("call", "datetime", [("str", draw(st.sampled_from(TIMES)))])
    return ("var", draw(st.sampled_from(NAMES_BY_TYPE["DATETIME"])))


def _constants(data_type: str) -> st.SearchStrategy[list[Tree]]:
    item: st.SearchStrategy[Tree]
    if data_type == "NUMBER":
        item = st.one_of(
            st.integers(0, 100).map(lambda n: ("int", n)),
            st.integers(0, 100).map(lambda n: ("neg", ("int", n))),
            st.sampled_from([0.5, 2.0, 1000.0]).map(lambda x: ("float", x)),
        )
    elif data_type == "STRING":
        item = _text().map(lambda s: ("str", s))
    elif data_type == "BOOLEAN":
        item = st.booleans().map(lambda b: ("bool", b))
    else:
        item = st.sampled_from(TIMES).map(lambda t: ("call", "datetime", [("str", t)]))
    return st.lists(item, max_size=4)


def operand(data_type: str, depth: int) -> st.SearchStrategy[Tree]:
    strategies: dict[str, Callable[[int], st.SearchStrategy[Tree]]] = {
        "NUMBER": number,
        "STRING": text,
        "BOOLEAN": boolean,
        "DATETIME": moment,
    }
    return strategies[data_type](depth)


@st.composite
def boolean(draw: st.DrawFn, depth: int) -> Tree:
    choice = draw(st.integers(0, 2 if depth <= 0 else 11))
    if choice == 0:
        return ("bool", draw(st.booleans()))
    if choice in (1, 2):
        return ("var", draw(st.sampled_from(NAMES_BY_TYPE["BOOLEAN"])))
    if choice == 3:
        return ("not", draw(boolean(depth - 1)))
    if choice in (4, 5):
        return (draw(st.sampled_from(["and", "or"])), draw(st.lists(boolean(depth - 1), min_size=2, max_size=3)))
    if choice in (6, 7):
        data_type = draw(st.sampled_from(["NUMBER", "STRING", "BOOLEAN", "DATETIME"]))
        ops = ["==", "!="] if data_type == "BOOLEAN" else ["==", "!=", "<", "<=", ">", ">="]
        return (
            "cmp",
            draw(st.sampled_from(ops)),
            draw(operand(data_type, depth - 1)),
            draw(operand(data_type, depth - 1)),
        )
    if choice == 8:
        data_type = draw(st.sampled_from(["NUMBER", "STRING", "BOOLEAN", "DATETIME"]))
        return ("in", draw(st.booleans()), draw(operand(data_type, depth - 1)), draw(_constants(data_type)))
    if choice == 9:
        data_type = draw(st.sampled_from(["NUMBER", "STRING", "BOOLEAN", "DATETIME"]))
        return ("inlist", draw(st.booleans()), draw(operand(data_type, depth - 1)), draw(st.sampled_from(LISTS)))
    if choice == 10:
        subject = draw(st.one_of(text(depth - 1), number(depth - 1)))
        return ("call", "regex_match", [("str", draw(st.sampled_from(PATTERNS))), subject])
    data_type = draw(st.sampled_from(["NUMBER", "STRING", "BOOLEAN", "DATETIME"]))
    return ("call", draw(st.sampled_from(["is_missing", "is_present"])), [draw(operand(data_type, depth - 1))])


# ---------------------------------------------------------------------------------------------
# Rendering (independently of fraudhawk): fewest parentheses, chosen spacing and keyword case


@dataclass(frozen=True)
class Style:
    sep: str
    keyword: Callable[[str], str]
    extra_parens: bool
    values: Mapping[str, Any] | None = field(default=None)  # set: render $names as these values


styles = st.builds(
    Style,
    sep=st.sampled_from([" ", "  ", "\n", " \t", "\r\n "]),
    keyword=st.sampled_from([str.lower, str.upper, str.capitalize]),
    extra_parens=st.booleans(),
)

_LEVEL = {"or": 1, "and": 2, "not": 3, "cmp": 4, "in": 4, "inlist": 4, "neg": 7}
_ARITH_LEVEL = {"+": 5, "-": 5, "*": 6, "/": 6, "%": 6}


def _level(tree: Tree) -> int:
    if tree[0] == "arith":
        return _ARITH_LEVEL[tree[1]]
    return _LEVEL.get(tree[0], 8)


def quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped.replace("\r", "\\r") + '"'


def show_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        millis = value.microsecond // 1000
        return quote(value.strftime("%Y-%m-%dT%H:%M:%S") + (f".{millis:03d}" if millis else "") + "Z")
    if isinstance(value, str):
        return quote(value)
    return repr(value)


def render(tree: Tree, style: Style) -> str:
    def sub(child: Tree, least: int) -> str:
        inner = render(child, style)
        return f"({inner})" if _level(child) < least or (style.extra_parens and _level(child) < 8) else inner

    kind, sep, kw = tree[0], style.sep, style.keyword
    if kind == "int":
        return str(tree[1])
    if kind == "float":
        return repr(tree[1])
    if kind == "str":
        return quote(tree[1])
    if kind == "bool":
        return kw("true" if tree[1] else "false")
    if kind == "var":
        return show_value(style.values.get(tree[1])) if style.values is not None else "$" + tree[1]
    if kind == "neg":
        return "-" + sub(tree[1], 7)
    if kind == "not":
        return "!" + sub(tree[1], 3)
    if kind in ("and", "or"):
        return f"{sep}{kw(kind)}{sep}".join(sub(item, _LEVEL[kind] + 1) for item in tree[1])
    if kind == "arith":
        level = _ARITH_LEVEL[tree[1]]
        return f"{sub(tree[2], level)}{sep}{tree[1]}{sep}{sub(tree[3], level + 1)}"
    if kind == "cmp":
        return f"{sub(tree[2], 5)}{sep}{tree[1]}{sep}{sub(tree[3], 5)}"
    if kind in ("in", "inlist"):
        word = f"{kw('not')} {kw('in')}" if tree[1] else kw("in")
        container = "@" + tree[3] if kind == "inlist" else "[" + ", ".join(render(c, style) for c in tree[3]) + "]"
        return f"{sub(tree[2], 5)}{sep}{word}{sep}{container}"
    if kind == "call":
        return f"{tree[1]}(" + f",{sep}".join(render(arg, style) for arg in tree[2]) + ")"
    raise AssertionError(kind)


# ---------------------------------------------------------------------------------------------
# The reference interpreter: plain, slow, obviously right. None is missing / UNKNOWN.


def _java_mod(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        quotient = -quotient
    return a - b * quotient


def _checked(result: Any) -> Any:
    if isinstance(result, int) and not INT_MIN <= result <= INT_MAX:
        return None
    if isinstance(result, float) and not math.isfinite(result):
        return None
    return result


def _arith(op: str, a: Any, b: Any) -> Any:
    both_int = isinstance(a, int) and isinstance(b, int)
    try:
        if op == "/":
            return _checked(a / b)
        if op == "%":
            return _checked(_java_mod(a, b) if both_int else math.fmod(a, b))
        return _checked({"+": operator.add, "-": operator.sub, "*": operator.mul}[op](a, b))
    except (ZeroDivisionError, ValueError, OverflowError):
        return None


def _read_element(element: str, like: Any) -> Any:
    element = element.strip()
    if isinstance(like, bool):
        return {"true": True, "false": False}.get(element.lower())
    if isinstance(like, datetime):
        try:
            return datetime.fromisoformat(element) if element.endswith("Z") and "T" in element else None
        except ValueError:
            return None
    if re.fullmatch(r"[+-]?[0-9]+", element):
        return int(element)
    try:
        number = float(element)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _member(x: Any, elements: frozenset[str]) -> bool:
    if isinstance(x, str):
        return x.strip() in elements
    return any(_read_element(element, x) == x for element in elements)


def _call(name: str, args: list[Tree], values: Mapping[str, Any], lists: Mapping[str, frozenset[str]]) -> Any:
    if name in ("is_missing", "is_present"):
        return (reference(args[0], values, lists) is None) == (name == "is_missing")
    if name == "regex_match":
        subject = reference(args[1], values, lists)
        if subject is None:
            return None
        as_text = repr(subject) if isinstance(subject, float) else str(subject)
        return re.fullmatch(args[0][1], as_text) is not None
    if name == "datetime":
        return datetime.fromisoformat(args[0][1])
    evaluated = [reference(arg, values, lists) for arg in args]
    if any(x is None for x in evaluated):
        return None
    if name in ("lowercase", "uppercase"):
        return evaluated[0].lower() if name == "lowercase" else evaluated[0].upper()
    if name.endswith("_between"):
        return (evaluated[1] - evaluated[0]) / timedelta(seconds=UNITS[name.removesuffix("_between")])
    return DATE_PARTS[name](evaluated[0])


def reference(tree: Tree, values: Mapping[str, Any], lists: Mapping[str, frozenset[str]]) -> Any:
    kind = tree[0]
    if kind in ("int", "float", "str", "bool"):
        return tree[1]
    if kind == "var":
        return values.get(tree[1])
    if kind == "call":
        return _call(tree[1], tree[2], values, lists)
    if kind in ("and", "or"):
        results = [reference(item, values, lists) for item in tree[1]]
        decisive = kind == "or"  # True decides an or, False an and
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    if kind in ("not", "neg"):
        x = reference(tree[1], values, lists)
        if x is None:
            return None
        return (not x) if kind == "not" else _checked(-x)
    if kind in ("arith", "cmp"):
        a, b = reference(tree[2], values, lists), reference(tree[3], values, lists)
        if a is None or b is None:
            return None
        if kind == "arith":
            return _arith(tree[1], a, b)
        compare = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt}
        return compare.get(tree[1], operator.ge)(a, b)
    x = reference(tree[2], values, lists)
    if kind == "in":
        found = None if x is None else any(x == reference(c, values, lists) for c in tree[3])
    else:
        elements = lists.get(tree[3])
        found = None if x is None or elements is None else _member(x, elements)
    return None if found is None else found != tree[1]


# ---------------------------------------------------------------------------------------------
# Values


def _millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=UTC)


VALUE_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "INTEGER": st.one_of(st.integers(-1000, 1000), st.sampled_from([INT_MAX, INT_MIN, 2**62, -(2**62), 2**32, 0])),
    "FLOAT": st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        st.sampled_from([1e308, -1e308, 1.7e308, -0.0, 0.5]),
    ),
    "STRING": st.one_of(_text(), st.sampled_from(POOL), st.sampled_from(POOL).map(lambda s: f" {s}\t")),
    "BOOLEAN": st.booleans(),
    "DATETIME": st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(_millis),
}
values_strategy = st.fixed_dictionaries(
    {}, optional={name: st.one_of(st.none(), VALUE_STRATEGIES[t]) for name, t in VARIABLES.items()}
)
lists_strategy = st.dictionaries(st.sampled_from(LISTS), st.frozensets(st.sampled_from(POOL), max_size=5))


def api_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """What a caller hands `evaluate`: DATETIMEs as Timestamps, the rest as they are."""
    return {name: Timestamp.of(v) if isinstance(v, datetime) else v for name, v in values.items()}


# ---------------------------------------------------------------------------------------------
# Properties


@settings(SETTINGS, max_examples=600)
@given(data=st.data(), tree=boolean(4), style=styles)
def test_evaluate_agrees_with_the_reference_interpreter(data: st.DataObject, tree: Tree, style: Style) -> None:
    expression = render(tree, style)
    assume(len(expression) <= 4096)
    rule = compile_rule(expression, ENV)
    for _ in range(3):
        values, lists = data.draw(values_strategy), data.draw(lists_strategy)
        expected = reference(tree, values, lists) is True
        assert rule.evaluate(api_values(values), lists) is expected, (expression, values, lists)


@settings(SETTINGS, max_examples=300)
@given(data=st.data(), tree=boolean(4), style=styles)
def test_conditions_of_many_events_agree_with_evaluate(data: st.DataObject, tree: Tree, style: Style) -> None:
    """Batch prediction evaluates a rule's conditions (split at and/or/!) once per distinct value
    and combines them per event: the same answer as evaluating the rule on each event."""
    expression = render(tree, style)
    assume(len(expression) <= 4096)
    rule = compile_rule(expression, ENV)
    lists = data.draw(lists_strategy)
    events = [api_values(data.draw(values_strategy)) for _ in range(6)]
    events += events[:3]  # events with the same values share their conditions' evaluations
    keys = {
        name: pl.Series(name, [None if e.get(name) is None else repr(e[name]) for e in events], dtype=pl.String)
        for name in VARIABLES
    }

    def values_of(name: str, rows: list[int]) -> list[Any]:
        return [events[row].get(name) for row in rows]

    typed = {name: functools.partial(values_of, name) for name in VARIABLES}
    levels = batch_scoring.Conditions(keys, typed, frozenset(), lists, len(events)).level(rule.parts)
    assert [bool(x == TRUE) for x in levels] == [rule.evaluate(e, lists) for e in events], expression


@st.composite
def arithmetic(draw: st.DrawFn) -> Tree:
    """Conditions over deep number expressions, where overflow, division by zero and % live."""
    left, right = draw(number(4)), draw(number(4))
    if draw(st.booleans()):
        return ("call", "is_missing", [left])
    return ("cmp", draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="])), left, right)


@settings(SETTINGS, max_examples=1000)
@given(tree=arithmetic(), style=styles, values=values_strategy)
def test_arithmetic_agrees_with_the_reference_interpreter(tree: Tree, style: Style, values: dict[str, Any]) -> None:
    expression = render(tree, style)
    assume(len(expression) <= 4096)
    expected = reference(tree, values, {}) is True
    assert compile_rule(expression, ENV).evaluate(api_values(values), {}) is expected, (expression, values)


@SETTINGS
@given(tree=boolean(3), style=styles, values=values_strategy)
def test_with_values_substitutes_exactly_the_variables(tree: Tree, style: Style, values: dict[str, Any]) -> None:
    expression = render(tree, style)
    assume(len(expression) <= 4096)
    rule = compile_rule(expression, ENV)
    shown = Style(style.sep, style.keyword, style.extra_parens, values)
    assert rule.with_values(api_values(values)) == render(tree, shown)
    variables = {n for n in VARIABLES if re.search(rf"\${n}(?![0-9a-z_])", expression)}
    assert rule.variables == variables


TOKENS = [
    "$i1", "$f1", "$s1", "$b1", "$d1", "$nope", "@l1", "@nope", "1", "2.5", "1e999", "99999999999999999999",
    '"a"', '"(?=x)"', '"', "(", ")", "[", "]", ",", "+", "-", "*", "/", "%", "==", "!=", "<", ">=", "!", "and",
    "or", "not", "in", "true", "lowercase(", "regex_match(", "datetime(", "is_missing(", "hour_of_day(", "foo(",
    "'", "&", "#", "\n", " ", "\\", "@", "$", "\x00", "\ud800", "é",
]  # fmt: skip
garbage = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=30).map("".join),
    st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
    st.binary(max_size=200).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
)


@SETTINGS
@given(expression=garbage, values=values_strategy, lists=lists_strategy)
def test_any_input_compiles_or_raises_rule_error(
    expression: str, values: dict[str, Any], lists: dict[str, frozenset[str]]
) -> None:
    error: RuleError | None = None
    try:
        rule = compile_rule(expression, ENV)
    except RuleError as caught:
        error = caught
    if error is not None:
        assert error.line >= 1
        assert error.column >= 1
        assert error.message.startswith(f"expression: line {error.line}, column {error.column}: ")
        return
    assert rule.evaluate(api_values(values), lists) in (True, False)
    assert isinstance(rule.with_values(api_values(values)), str)


@SETTINGS
@given(pattern=st.sampled_from([*PATTERNS, r"\p{L}+", "é|[^é]+", r"(?s).*"]), subject=st.text(max_size=30))
def test_fast_regex_path_agrees_with_the_public_api(pattern: str, subject: str) -> None:
    expected = re2.compile(pattern).fullmatch(subject) is not None
    assert full_matcher(pattern)(subject) is expected


DATE_RULES = {name: compile_rule(f"{name}($d1) == $i1", ENV) for name in DATE_PARTS}
BETWEEN_RULES = {unit: compile_rule(f"{unit}_between($d1, $d2) == $f1", ENV) for unit in UNITS}


@SETTINGS
@given(first=VALUE_STRATEGIES["DATETIME"], second=VALUE_STRATEGIES["DATETIME"])
def test_datetime_functions_agree_with_python_datetime(first: datetime, second: datetime) -> None:
    d1, d2 = Timestamp.of(first), Timestamp.of(second)
    for name, part in DATE_PARTS.items():
        assert DATE_RULES[name].evaluate({"d1": d1, "i1": part(first)}, {}), name
    for unit, seconds in UNITS.items():
        expected = (second - first) / timedelta(seconds=seconds)
        assert BETWEEN_RULES[unit].evaluate({"d1": d1, "d2": d2, "f1": expected}, {}), unit
