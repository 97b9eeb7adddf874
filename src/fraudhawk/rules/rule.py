"""A compiled rule: what it refers to, how to evaluate it, and how to show it with an event's values."""

from __future__ import annotations

from collections.abc import Mapping

from fraudhawk.rules.checker import Checker
from fraudhawk.rules.compiler import Compiler
from fraudhawk.rules.env import RuleEnv
from fraudhawk.rules.errors import RuleError
from fraudhawk.rules.functions import Fn
from fraudhawk.rules.parts import Part
from fraudhawk.rules.syntax import parse
from fraudhawk.rules.values import NORMALIZE, Value, render_value


class CompiledRule:
    """An expression checked against an environment and compiled to closures; safe to share between threads."""

    __slots__ = ("_fn", "_occurrences", "expression", "lists", "parts", "variables")

    def __init__(
        self,
        expression: str,
        fn: Fn,
        occurrences: tuple[tuple[int, int, str, str], ...],
        lists: frozenset[str],
        parts: Part,
    ):
        self.expression = expression
        self.parts = parts  # the same expression as conditions joined by and/or/!, to evaluate many events
        self.variables = frozenset(name for _, _, name, _ in occurrences)
        self.lists = lists
        self._fn = fn
        self._occurrences = occurrences  # (start, end, name, data type) of each $name, in source order

    def evaluate(self, values: Mapping[str, Value], lists: Mapping[str, frozenset[str]]) -> bool:
        """True only when the expression is TRUE; FALSE and UNKNOWN (missing values) are both False.

        `values` holds coerced values (see `coerce`); an absent name is missing. `lists` maps each
        list name to its elements; a list absent from it makes its membership test UNKNOWN.
        """
        try:
            return self._fn(values, lists) is True
        except Exception:  # only a misbehaving `values`/`lists` mapping can get here
            return False

    def with_values(self, values: Mapping[str, Value]) -> str:
        """AFD's `expressionWithValues`: the expression as written, each $variable replaced by its value.

        Text and times are quoted, numbers and booleans bare, a missing value is null.
        """
        parts: list[str] = []
        position = 0
        for start, end, name, data_type in self._occurrences:
            try:
                value = NORMALIZE[data_type](values.get(name))
            except Exception:
                value = None
            parts += [self.expression[position:start], render_value(value)]
            position = end
        parts.append(self.expression[position:])
        return "".join(parts)

    def __repr__(self) -> str:
        return f"CompiledRule({self.expression!r})"


def compile_rule(expression: str, env: RuleEnv) -> CompiledRule:
    """Parse, type-check and compile `expression`; RuleError (a ValidationError) says where and why it is wrong."""
    if not isinstance(expression, str):
        raise RuleError(1, 1, "the expression must be text")
    root = parse(expression)
    checker = Checker(env)
    checker.check_rule(root)
    compiler = Compiler(checker.types, env)
    fn = compiler.compile(root)
    occurrences = tuple(sorted((v.where.start, v.where.end, v.name, env.variables[v.name]) for v in checker.variables))
    return CompiledRule(expression, fn, occurrences, frozenset(checker.lists), compiler.parts(root, checker.variables))
