"""The syntax tree of an expression: small immutable nodes that remember where they were written.

Nodes compare by identity (`eq=False`), so the checker can key a dict on them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Where:
    """A place in the expression text: 1-based line and column, and 0-based [start, end) offsets."""

    line: int
    column: int
    start: int
    end: int


@dataclass(frozen=True, eq=False, slots=True)
class Literal:
    """A constant; `data_type` is STRING, INTEGER, FLOAT or BOOLEAN."""

    where: Where
    value: str | int | float | bool
    data_type: str


@dataclass(frozen=True, eq=False, slots=True)
class Variable:
    where: Where
    name: str  # without the $


@dataclass(frozen=True, eq=False, slots=True)
class ListRef:
    where: Where
    name: str  # without the @


@dataclass(frozen=True, eq=False, slots=True)
class LiteralList:
    where: Where
    items: tuple[Node, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Call:
    where: Where
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Not:
    where: Where
    operand: Node


@dataclass(frozen=True, eq=False, slots=True)
class Negate:
    where: Where
    operand: Node


@dataclass(frozen=True, eq=False, slots=True)
class Logic:
    """A flat chain of `and` (or of `or`): evaluation loops instead of recursing per operand."""

    where: Where
    op: str  # "and" | "or"
    items: tuple[Node, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Arith:
    where: Where
    op: str  # + - * / %
    left: Node
    right: Node
    op_where: Where


@dataclass(frozen=True, eq=False, slots=True)
class Compare:
    where: Where
    op: str  # == != < <= > >=
    left: Node
    right: Node
    op_where: Where


@dataclass(frozen=True, eq=False, slots=True)
class Member:
    where: Where
    negated: bool
    left: Node
    container: ListRef | LiteralList
    op_where: Where


Node = Literal | Variable | ListRef | LiteralList | Call | Not | Negate | Logic | Arith | Compare | Member
