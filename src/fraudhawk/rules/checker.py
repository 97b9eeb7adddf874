"""Type checking: every name exists, every operator gets operands it can use, the whole is a condition.

Errors point at the offending place (the operator of a bad comparison, the unknown $name) and
suggest the closest existing name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from fraudhawk.rules import nodes
from fraudhawk.rules.env import RuleEnv
from fraudhawk.rules.errors import RuleError
from fraudhawk.rules.functions import FUNCTIONS
from fraudhawk.rules.values import DATA_TYPES

MAX_LISTS = 3  # AFD: "A rule can have up to 3 lists"
_NUMBERS = frozenset({"INTEGER", "FLOAT"})
_ORDINALS = ("first", "second", "third")
_SHOWN_NAMES = 20


def article(data_type: str) -> str:
    return f"an {data_type}" if data_type[0] in "AEIOU" else f"a {data_type}"


def comparable(left: str, right: str) -> bool:
    """Numbers compare with numbers (INTEGER with FLOAT too); anything else only with its own type."""
    return left == right or (left in _NUMBERS and right in _NUMBERS)


def _fail(at: nodes.Where, problem: str) -> RuleError:
    return RuleError(at.line, at.column, problem)


def _unknown(kind: str, sigil: str, name: str, known: Iterable[str], context: str, none: str) -> str:
    names = sorted(known)
    if not names:
        return f"unknown {kind} {sigil}{name} ({none})"
    shown = ", ".join(sigil + n for n in names[:_SHOWN_NAMES])
    if len(names) > _SHOWN_NAMES:
        shown += f" and {len(names) - _SHOWN_NAMES} more"
    message = f"unknown {kind} {sigil}{name} ({context}: {shown}"
    guess = _closest(name, names)
    return message + (f"; did you mean {sigil}{guess}?)" if guess else ")")


def _closest(name: str, names: list[str]) -> str | None:
    if name.lower() in names:
        return name.lower()
    close = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
    return close[0] if close else None


class Checker:
    """Walks the tree left to right, recording each node's data type for the compiler."""

    def __init__(self, env: RuleEnv) -> None:
        for name, data_type in env.variables.items():
            if data_type not in DATA_TYPES:
                raise ValueError(f"variable {name} has unknown data type {data_type!r}")
        self.env = env
        self.types: dict[nodes.Node, str] = {}
        self.variables: list[nodes.Variable] = []  # every occurrence, in source order
        self.lists: list[str] = []  # distinct, in order of first use

    def check_rule(self, root: nodes.Node) -> None:
        data_type = self.check(root)
        if data_type != "BOOLEAN":
            raise _fail(
                root.where, f"the expression must be a condition (true or false), but it is {article(data_type)}"
            )

    def check(self, node: nodes.Node) -> str:
        data_type = self._check(node)
        self.types[node] = data_type
        return data_type

    def _check(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Literal):
            return node.data_type
        if isinstance(node, nodes.Variable):
            return self._variable(node)
        if isinstance(node, nodes.Call):
            return self._call(node)
        if isinstance(node, nodes.Not):
            operand = self.check(node.operand)
            if operand != "BOOLEAN":
                raise _fail(node.operand.where, f"'!' needs a condition (true or false), not {article(operand)}")
            return "BOOLEAN"
        if isinstance(node, nodes.Negate):
            operand = self.check(node.operand)
            if operand not in _NUMBERS:
                raise _fail(node.operand.where, f"'-' needs a number, not {article(operand)}")
            return operand
        if isinstance(node, nodes.Logic):
            for item in node.items:
                item_type = self.check(item)
                if item_type != "BOOLEAN":
                    raise _fail(item.where, f"'{node.op}' needs conditions (true or false), not {article(item_type)}")
            return "BOOLEAN"
        if isinstance(node, nodes.Arith):
            return self._arith(node)
        if isinstance(node, nodes.Compare):
            return self._compare(node)
        if isinstance(node, nodes.Member):
            return self._member(node)
        raise _fail(node.where, "a list can only follow in or not in")

    def _variable(self, node: nodes.Variable) -> str:
        data_type = self.env.variables.get(node.name)
        if data_type is None:
            problem = _unknown(
                "variable",
                "$",
                node.name,
                self.env.variables,
                "variables of this event type",
                "this event type has no variables",
            )
            raise _fail(node.where, problem)
        self.variables.append(node)
        return data_type

    def _call(self, node: nodes.Call) -> str:
        function = FUNCTIONS.get(node.name)
        if function is None:
            guess = _closest(node.name, sorted(FUNCTIONS))
            hint = f"; did you mean {guess}?" if guess else ""
            raise _fail(node.where, f"unknown function {node.name} (functions: {', '.join(sorted(FUNCTIONS))}{hint})")
        if len(node.args) != len(function.params):
            count = len(function.params)
            raise _fail(
                node.where,
                f"{node.name} takes {count} argument{'s' if count != 1 else ''} ({function.usage}), "
                f"but is given {len(node.args)}",
            )
        for index, (arg, accepted) in enumerate(zip(node.args, function.params, strict=True)):
            arg_type = self.check(arg)
            if index == function.literal and not isinstance(arg, nodes.Literal):
                raise _fail(arg.where, f"the {_ORDINALS[index]} argument of {node.name} must be a string literal")
            if arg_type not in accepted:
                wanted = " or ".join(accepted) if len(accepted) < len(DATA_TYPES) else "a value"
                raise _fail(
                    arg.where,
                    f"{node.name} needs {wanted} as its {_ORDINALS[index]} argument, not {article(arg_type)}",
                )
        return function.result

    def _arith(self, node: nodes.Arith) -> str:
        left = self.check(node.left)
        right = self.check(node.right)
        for side, data_type in (("left", left), ("right", right)):
            if data_type not in _NUMBERS:
                raise _fail(node.op_where, f"'{node.op}' needs numbers, but its {side} side is {article(data_type)}")
        if node.op == "/" or "FLOAT" in (left, right):
            return "FLOAT"
        return "INTEGER"

    def _compare(self, node: nodes.Compare) -> str:
        left = self.check(node.left)
        right = self.check(node.right)
        if not comparable(left, right):
            raise _fail(node.op_where, f"{article(left)} cannot be compared with {article(right)}")
        if left == "BOOLEAN" and node.op not in ("==", "!="):
            raise _fail(node.op_where, f"BOOLEAN values can only be compared with == or !=, not {node.op}")
        return "BOOLEAN"

    def _member(self, node: nodes.Member) -> str:
        left = self.check(node.left)
        container = node.container
        if isinstance(container, nodes.ListRef):
            self._list(container)
            return "BOOLEAN"
        for item in container.items:
            used = len(self.variables)
            item_type = self.check(item)
            if len(self.variables) != used:
                raise _fail(item.where, "the values in [...] must be constants (use @list for a stored list)")
            if not comparable(left, item_type):
                raise _fail(item.where, f"{article(left)} cannot be compared with {article(item_type)}")
        return "BOOLEAN"

    def _list(self, node: nodes.ListRef) -> None:
        if node.name not in self.env.lists:
            raise _fail(node.where, _unknown("list", "@", node.name, self.env.lists, "lists", "there are no lists"))
        if node.name not in self.lists:
            self.lists.append(node.name)
            if len(self.lists) > MAX_LISTS:
                used = ", ".join("@" + name for name in self.lists)
                raise _fail(node.where, f"a rule can use at most {MAX_LISTS} lists, and this one uses {used}")
