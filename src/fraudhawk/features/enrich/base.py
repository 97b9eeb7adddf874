"""What an enricher is: a pure function from one raw value to a fixed tuple of named features.

Enrichers work on one value at a time so that training (a column at once) and real-time prediction
(one event) share a single code path and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["numeric", "categorical"]
Value = float | str | None


@dataclass(frozen=True)
class Output:
    """One derived feature; the caller names its column f"{variable_name}.{name}". `description` says
    what it is in an analyst's words (explanations show it beside the variable it comes from)."""

    name: str
    kind: Kind
    description: str = ""


@dataclass(frozen=True)
class Enricher:
    """Derives `outputs` from one raw value (already stripped and non-empty), in the same order."""

    key: str
    outputs: tuple[Output, ...]
    derive: Callable[[str], tuple[Value, ...]]


def numeric(**described: str) -> tuple[Output, ...]:
    """Numeric outputs, name=description, in the order given."""
    return tuple(Output(name, "numeric", description) for name, description in described.items())


def categorical(**described: str) -> tuple[Output, ...]:
    """Categorical outputs (learnt as categories), name=description, in the order given."""
    return tuple(Output(name, "categorical", description) for name, description in described.items())


def flag(condition: bool) -> float:
    """Booleans as the 0.0/1.0 the model reads."""
    return 1.0 if condition else 0.0
