"""Checked syntax tree -> nested Python closures: no tree walking, no eval, at evaluation time.

Every closure returns a value or None (missing / UNKNOWN) and never raises: a failing operation
(division by zero, an INTEGER leaving the 64-bit range, a float overflowing) makes its own result
missing, so `and`/`or` can still decide around it (Kleene logic). Sub-expressions without variables
or lists are evaluated once, here.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fraudhawk.rules import nodes
from fraudhawk.rules.env import RuleEnv
from fraudhawk.rules.errors import RuleError
from fraudhawk.rules.functions import FUNCTIONS, ArgumentProblem, Fn
from fraudhawk.rules.parts import Condition, Junction, Negation, Part
from fraudhawk.rules.values import EXACT, INT_MAX, INT_MIN, NORMALIZE, Value, coerce, list_number

Values = Mapping[str, Value]
Lists = Mapping[str, frozenset[str]]

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MIRRORED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _int_mod(a: int, b: int) -> int:
    """Remainder with the sign of the dividend, as Java's % (Python's % floors instead)."""
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


_ARITHMETIC: dict[tuple[str, bool], Callable[[Any, Any], Any]] = {
    ("+", True): operator.add,
    ("-", True): operator.sub,
    ("*", True): operator.mul,
    ("%", True): _int_mod,
    ("+", False): operator.add,
    ("-", False): operator.sub,
    ("*", False): operator.mul,
    ("/", False): operator.truediv,
    ("%", False): math.fmod,
}


def _constant(value: Value) -> Fn:
    def constant(values: Values, lists: Lists) -> Value:
        return value

    return constant


def _load(name: str, data_type: str) -> Fn:
    """A variable's value; anything not of its declared type (or a NaN/infinite FLOAT) is missing."""
    exact = EXACT[data_type]
    fix = NORMALIZE[data_type]
    if data_type == "FLOAT":

        def load_float(values: Values, lists: Lists) -> Value:
            x = values.get(name)
            if x.__class__ is float and x - x == 0.0:
                return x
            return fix(x)

        return load_float

    def load(values: Values, lists: Lists) -> Value:
        x = values.get(name)
        if x.__class__ is exact:
            return x
        return fix(x)

    return load


def _compare_constant(load: Fn, op: Callable[[Any, Any], bool], c: Value) -> Fn:
    """The common shape `$var <op> literal`, one closure call shorter than the general case."""

    def compare(values: Values, lists: Lists) -> Value:
        x = load(values, lists)
        if x is None:
            return None
        try:
            return op(x, c)
        except Exception:
            return None

    return compare


def _compare(left: Fn, op: Callable[[Any, Any], bool], right: Fn) -> Fn:
    def compare(values: Values, lists: Lists) -> Value:
        a = left(values, lists)
        if a is None:
            return None
        b = right(values, lists)
        if b is None:
            return None
        try:
            return op(a, b)
        except Exception:
            return None

    return compare


def _arithmetic(left: Fn, op: Callable[[Any, Any], Any], right: Fn, integer: bool) -> Fn:
    if integer:

        def integer_op(values: Values, lists: Lists) -> Value:
            a = left(values, lists)
            if a is None:
                return None
            b = right(values, lists)
            if b is None:
                return None
            try:
                r = op(a, b)
            except Exception:
                return None
            return r if INT_MIN <= r <= INT_MAX else None  # a 64-bit INTEGER overflowed

        return integer_op

    def float_op(values: Values, lists: Lists) -> Value:
        a = left(values, lists)
        if a is None:
            return None
        b = right(values, lists)
        if b is None:
            return None
        try:
            r = op(a, b)
        except Exception:  # division by zero, x % 0
            return None
        return r if r - r == 0.0 else None  # overflowed to infinity

    return float_op


def _negate(operand: Fn, integer: bool) -> Fn:
    def negate(values: Values, lists: Lists) -> Value:
        x = operand(values, lists)
        if x is None:
            return None
        r = -x  # type: ignore[operator]
        return r if not integer or INT_MIN <= r <= INT_MAX else None

    return negate


def _not(operand: Fn) -> Fn:
    def not_(values: Values, lists: Lists) -> Value:
        x = operand(values, lists)
        return None if x is None else not x

    return not_


def _junction(items: tuple[Fn, ...], decisive: bool) -> Fn:
    """`and` (decisive False) or `or` (decisive True) in Kleene logic: the decisive value as soon as
    an item has it, else unknown if an item is, else the other value."""
    other = not decisive
    if len(items) == 2:
        first, second = items

        def junction2(values: Values, lists: Lists) -> Value:
            a = first(values, lists)
            if a is decisive:
                return decisive
            b = second(values, lists)
            if b is decisive:
                return decisive
            return None if a is None or b is None else other

        return junction2

    def junction(values: Values, lists: Lists) -> Value:
        unknown = False
        for item in items:
            x = item(values, lists)
            if x is decisive:
                return decisive
            if x is None:
                unknown = True
        return None if unknown else other

    return junction


def _in_set(left: Fn, members: frozenset[Any], negated: bool) -> Fn:
    if negated:

        def not_in(values: Values, lists: Lists) -> Value:
            x = left(values, lists)
            return None if x is None else x not in members

        return not_in

    def in_(values: Values, lists: Lists) -> Value:
        x = left(values, lists)
        return None if x is None else x in members

    return in_


def _list_reader(data_type: str) -> Callable[[str], Any]:
    """How a stored list element (always text) is read to compare with a value of `data_type`."""
    if data_type in ("INTEGER", "FLOAT"):
        return list_number
    return lambda element: coerce(data_type, element)


def _in_stored_list(left: Fn, name: str, data_type: str, negated: bool) -> Fn:
    """`x in @name`. Text compares exactly after stripping the value; other types compare with the
    elements read as that type (unreadable elements match nothing). The read set is kept until the
    caller passes a different list object, so a stable list is converted once."""
    if data_type == "STRING":

        def in_text(values: Values, lists: Lists) -> Value:
            x = left(values, lists)
            if x is None:
                return None
            elements = lists.get(name)
            if elements is None:
                return None
            return (x.strip() in elements) is not negated  # type: ignore[union-attr]

        return in_text

    read = _list_reader(data_type)
    cache: list[tuple[frozenset[str] | None, frozenset[Any]]] = [(None, frozenset())]

    def in_typed(values: Values, lists: Lists) -> Value:
        x = left(values, lists)
        if x is None:
            return None
        elements = lists.get(name)
        if elements is None:
            return None
        seen, members = cache[0]
        if seen is not elements:
            try:
                members = frozenset(read(element) for element in elements) - {None}
            except Exception:
                return None
            cache[0] = (elements, members)
        return (x in members) is not negated

    return in_typed


class Compiler:
    def __init__(self, types: Mapping[nodes.Node, str], env: RuleEnv) -> None:
        self.types = types
        self.env = env

    def compile(self, node: nodes.Node) -> Fn:
        return self._compile(node)[0]

    def parts(self, node: nodes.Node, variables: Sequence[nodes.Variable]) -> Part:
        """`node` split at its `and`, `or` and `!` into conditions (see `fraudhawk.rules.parts`);
        `variables` are the expression's variable occurrences (the checker's), each condition reads
        those written inside it."""
        if isinstance(node, nodes.Logic):
            return Junction(node.op == "and", tuple(self.parts(item, variables) for item in node.items))
        if isinstance(node, nodes.Not):
            return Negation(self.parts(node.operand, variables))
        inside = frozenset(v.name for v in variables if node.where.start <= v.where.start < node.where.end)
        return Condition(self.compile(node), inside)

    def _compile(self, node: nodes.Node) -> tuple[Fn, bool]:
        """The closure for `node`, and whether it is constant (then it is already folded)."""
        if isinstance(node, nodes.Literal):
            return _constant(node.value), True
        if isinstance(node, nodes.Variable):
            return _load(node.name, self.env.variables[node.name]), False
        fn, constant = self._build(node)
        if constant:
            return _constant(fn({}, {})), True
        return fn, False

    def _build(self, node: nodes.Node) -> tuple[Fn, bool]:
        if isinstance(node, nodes.Compare):
            return self._comparison(node)
        if isinstance(node, nodes.Member):
            return self._membership(node)
        if isinstance(node, nodes.Call):
            return self._call(node)
        if isinstance(node, nodes.Logic):
            parts = [self._compile(item) for item in node.items]
            fns = tuple(fn for fn, _ in parts)
            return _junction(fns, decisive=node.op != "and"), all(c for _, c in parts)
        if isinstance(node, nodes.Arith):
            integer = self.types[node] == "INTEGER"
            (left, lc), (right, rc) = self._compile(node.left), self._compile(node.right)
            return _arithmetic(left, _ARITHMETIC[node.op, integer], right, integer), lc and rc
        if isinstance(node, nodes.Negate):
            operand, constant = self._compile(node.operand)
            return _negate(operand, self.types[node] == "INTEGER"), constant
        if isinstance(node, nodes.Not):
            operand, constant = self._compile(node.operand)
            return _not(operand), constant
        raise AssertionError(f"{type(node).__name__} is compiled by its parent")

    def _comparison(self, node: nodes.Compare) -> tuple[Fn, bool]:
        (left, lc), (right, rc) = self._compile(node.left), self._compile(node.right)
        if (lc and left({}, {}) is None) or (rc and right({}, {}) is None):
            return _constant(None), True  # compared with a value that can never exist
        if rc and not lc:
            return _compare_constant(left, _COMPARISONS[node.op], right({}, {})), False
        if lc and not rc:
            return _compare_constant(right, _COMPARISONS[_MIRRORED[node.op]], left({}, {})), False
        return _compare(left, _COMPARISONS[node.op], right), lc and rc

    def _membership(self, node: nodes.Member) -> tuple[Fn, bool]:
        left, constant = self._compile(node.left)
        container = node.container
        if isinstance(container, nodes.ListRef):
            return _in_stored_list(left, container.name, self.types[node.left], node.negated), False
        members: list[Value] = []
        for item in container.items:
            value = self._compile(item)[0]({}, {})
            if value is None:
                raise RuleError(item.where.line, item.where.column, "this list value has no value (division by zero?)")
            members.append(value)
        return _in_set(left, frozenset(members), node.negated), constant

    def _call(self, node: nodes.Call) -> tuple[Fn, bool]:
        function = FUNCTIONS[node.name]
        parts = [self._compile(arg) for arg in node.args]
        types = tuple(self.types[arg] for arg in node.args)
        try:
            fn = function.build(tuple(fn for fn, _ in parts), node.args, types)
        except ArgumentProblem as problem:
            at = node.args[problem.index].where
            raise RuleError(at.line, at.column, problem.problem) from None
        return fn, all(c for _, c in parts)
