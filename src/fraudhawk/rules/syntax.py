"""Text -> syntax tree, with syntax errors said in plain words (what was found, what could come there).

The lark LALR parser is built once per process from `grammar.lark`; parsing is iterative, and the tree
is converted only after its nesting depth is checked, so no input can exhaust the Python stack.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from fraudhawk.rules import nodes
from fraudhawk.rules.errors import RuleError
from fraudhawk.rules.values import INT_MAX

MAX_LENGTH = 4096  # AFD's limit on `expression`
MAX_DEPTH = 100  # nesting levels (parentheses, operators, calls); real rules stay far below

_VALUE_STARTS = frozenset({"NUMBER", "STRING", "VARIABLE", "NAME", "TRUE", "FALSE"})
_OPERATORS = frozenset({"COMP_OP", "PLUS", "MUL_OP"})
_TRAILING_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*$")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_DECODED = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_CHARACTER_HINTS = {
    "'": "strings are written in double quotes",
    "&": "write and",
    "|": "write or",
    "=": "compare with ==",
}


@functools.cache
def _parser() -> lark.Lark:
    grammar = resources.files("fraudhawk.rules").joinpath("grammar.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=False)


def where(text: str, start: int, end: int) -> nodes.Where:
    """The line and column (1-based, as lark counts them) of offset `start` in `text`."""
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return nodes.Where(line, column, start, end)


def error_at(text: str, offset: int, problem: str) -> RuleError:
    place = where(text, offset, offset)
    return RuleError(place.line, place.column, problem)


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> nodes.Node:
    """The syntax tree of `text`; RuleError naming line and column when it is not a well-formed expression."""
    if len(text) > MAX_LENGTH:
        raise error_at(
            text, MAX_LENGTH, f"the expression is {len(text)} characters long; at most {MAX_LENGTH} are allowed"
        )
    if not text.strip():
        raise RuleError(1, 1, "the expression is empty")
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as e:
        raise _bad_character(text, e.pos_in_stream or 0) from None
    except UnexpectedToken as e:
        raise _bad_token(text, e) from None
    except UnexpectedInput as e:  # not raised by LALR today; kept so no lark error escapes
        raise error_at(text, max(e.pos_in_stream or 0, 0), "the expression is not well formed") from None
    _check_depth(text, tree)
    return _Builder(text).node(tree.children[0])


def _bad_character(text: str, offset: int) -> RuleError:
    char = text[offset]
    if char == '"':
        return error_at(text, offset, 'unterminated string: a string must end with " on the same line')
    if char == "$":
        return error_at(text, offset, "expected a variable name after $ (letters, digits and _)")
    if char == "@":
        return error_at(text, offset, "expected a list name after @ (letters, digits, _ and -)")
    shown = f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"
    hint = _CHARACTER_HINTS.get(char)
    return error_at(text, offset, f"unexpected character {shown}" + (f": {hint}" if hint else ""))


def _bad_token(text: str, e: UnexpectedToken) -> RuleError:
    token: lark.Token = e.token
    parser = e.interactive_parser
    accepts = frozenset(parser.accepts() if parser is not None else e.expected)  # type: ignore[no-untyped-call]
    if token.type == "$END":
        offset, found = len(text.rstrip()), "end of the expression"
    else:
        offset, found = token.start_pos or 0, _show(token)
    if token.type == "COMP_OP" and "COMP_OP" not in accepts and "AND" in accepts:
        return error_at(text, offset, f"unexpected {found}: comparisons cannot be chained, join them with and")
    if token.type in ("RPAR", "RSQB") and "$END" in accepts:  # at the top level: nothing is open
        opening = "(" if token.type == "RPAR" else "["
        return error_at(text, offset, f"unexpected {found}: there is no '{opening}' for it to close")
    problem = f"unexpected {found}, expected {_expected(accepts)}"
    if accepts == {"LPAR"}:
        name = _TRAILING_NAME.search(text, 0, offset)
        if name is not None:
            problem += f" after {name.group(1)} (a function call; variables are written with $, as in ${name.group(1)})"
    return error_at(text, offset, problem)


def _show(token: lark.Token) -> str:
    value = str(token)
    if len(value) > 40:
        value = value[:37] + "..."
    if token.type == "STRING":
        return f"string {value}"
    return f"'{value}'"


def _expected(accepts: frozenset[str]) -> str:
    """The terminals the parser could take, as a reader would name them."""
    parts: list[str] = []
    if accepts & _VALUE_STARTS:
        parts.append("a value")
    elif "LPAR" in accepts:
        parts.append("'('")
    if accepts & _OPERATORS:
        parts.append("an operator")
    else:
        parts += [f"'{word}'" for word in ("and", "or", "in") if word.upper() in accepts]
    if accepts & {"LIST_NAME", "LSQB"}:
        parts.append("a list (@name or [...])")
    parts += [f"'{mark}'" for name, mark in (("COMMA", ","), ("RPAR", ")"), ("RSQB", "]")) if name in accepts]
    if "$END" in accepts:
        parts.append("the end of the expression")
    if not parts:
        return "something else"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _weight(tree: lark.Tree[lark.Token]) -> int:
    """Levels a lark node becomes in the syntax tree: a chain `a + b - c` becomes one level per operator."""
    if tree.data in ("sum", "product"):
        return len(tree.children) // 2
    return 1


def _check_depth(text: str, tree: lark.Tree[lark.Token]) -> None:
    stack = [(tree, _weight(tree))]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise error_at(text, node.meta.start_pos, f"the expression nests more than {MAX_DEPTH} levels deep")
        stack += [(child, depth + _weight(child)) for child in node.children if isinstance(child, lark.Tree)]


def decode_string(literal: str) -> str:
    """The value of a string literal: \\" \\\\ \\n \\t \\r are escapes; any other backslash is kept (for regexes)."""
    return _ESCAPE.sub(lambda m: _DECODED.get(m.group(1), m.group(0)), literal[1:-1])


class _Builder:
    """Turns lark's tree into `nodes`, keeping source positions."""

    def __init__(self, text: str) -> None:
        self.text = text

    def at(self, item: lark.Tree[lark.Token] | lark.Token) -> nodes.Where:
        if isinstance(item, lark.Token):
            return where(self.text, item.start_pos or 0, item.end_pos or 0)
        return where(self.text, item.meta.start_pos, item.meta.end_pos)

    def span(self, first: lark.Token, last: lark.Token) -> nodes.Where:
        return where(self.text, first.start_pos or 0, last.end_pos or 0)

    def node(self, item: lark.Tree[lark.Token] | lark.Token) -> nodes.Node:
        assert isinstance(item, lark.Tree)
        kids = item.children
        at = self.at(item)
        kind = item.data
        if kind in ("disj", "conj"):
            return nodes.Logic(at, "or" if kind == "disj" else "and", tuple(self.node(k) for k in kids[::2]))
        if kind in ("sum", "product"):
            result = self.node(kids[0])
            for op, right in zip(kids[1::2], kids[2::2], strict=True):
                assert isinstance(op, lark.Token)
                operand = self.node(right)
                whole = where(self.text, at.start, operand.where.end)
                result = nodes.Arith(whole, str(op), result, operand, self.at(op))
            return result
        if kind == "compare":
            op = kids[1]
            assert isinstance(op, lark.Token)
            return nodes.Compare(at, str(op), self.node(kids[0]), self.node(kids[2]), self.at(op))
        if kind in ("member", "not_member"):
            first, last = kids[1], kids[-2]
            assert isinstance(first, lark.Token)
            assert isinstance(last, lark.Token)
            container = self.container(kids[-1])
            return nodes.Member(at, kind == "not_member", self.node(kids[0]), container, self.span(first, last))
        if kind == "not_":
            return nodes.Not(at, self.node(kids[1]))
        if kind == "negate":
            return nodes.Negate(at, self.node(kids[1]))
        if kind == "group":
            return self.node(kids[1])
        if kind == "call":
            return nodes.Call(at, str(kids[0]), tuple(self.node(k) for k in kids[2:-1:2]))
        token = kids[0]
        assert isinstance(token, lark.Token)
        if kind == "variable":
            return nodes.Variable(at, str(token)[1:])
        if kind == "string":
            return nodes.Literal(at, decode_string(str(token)), "STRING")
        if kind in ("true", "false"):
            return nodes.Literal(at, kind == "true", "BOOLEAN")
        if kind == "number":
            return self.number(at, str(token))
        raise AssertionError(f"grammar rule {kind} has no conversion")

    def container(self, item: lark.Tree[lark.Token] | lark.Token) -> nodes.ListRef | nodes.LiteralList:
        assert isinstance(item, lark.Tree)
        kids = item.children
        if len(kids) == 1:
            return nodes.ListRef(self.at(item), str(kids[0])[1:])
        return nodes.LiteralList(self.at(item), tuple(self.node(k) for k in kids[1:-1:2]))

    def number(self, at: nodes.Where, text: str) -> nodes.Literal:
        if any(c in text for c in ".eE"):
            value = float(text)
            if value == float("inf"):
                raise RuleError(at.line, at.column, f"the number {text} is too large")
            return nodes.Literal(at, value, "FLOAT")
        digits = text.lstrip("0") or "0"
        if len(digits) > 19 or int(digits) > INT_MAX:
            raise RuleError(at.line, at.column, f"the number {text} is too large for an INTEGER (at most {INT_MAX})")
        return nodes.Literal(at, int(digits), "INTEGER")
