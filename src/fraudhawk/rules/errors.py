"""The one error a rule expression can raise: where in the text, and what is wrong, in plain words."""

from __future__ import annotations

from fraudhawk.errors import ValidationError


class RuleError(ValidationError):
    """An expression that does not parse, does not type-check, or names something that does not exist.

    It is a ValidationError so the wire answers ValidationException, as AFD does for a bad rule.
    """

    def __init__(self, line: int, column: int, problem: str) -> None:
        super().__init__(f"expression: line {line}, column {column}: {problem}")
        self.line = line
        self.column = column
        self.problem = problem

    def __reduce__(self) -> tuple[type[RuleError], tuple[int, int, str]]:
        """Picklable (for worker processes), although __init__ does not take the message."""
        return (RuleError, (self.line, self.column, self.problem))
