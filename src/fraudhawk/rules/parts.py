"""A rule split at its `and`, `or` and `!` into conditions, for evaluating many events at once.

A condition (a comparison, a membership test, a call, a boolean variable) usually reads one or two
variables, while the whole rule may read several: `$score > 800 and $amount > 500` has a thousand
distinct scores and thousands of amounts, but nearly as many distinct pairs as events. Evaluated on
its own, each condition needs one evaluation per distinct value of what it reads; the results are
then combined per event. In Kleene logic with FALSE < UNKNOWN < TRUE, `and` is the least of its
items, `or` the greatest and `!` the mirror image, so the combination needs no short-circuit: the
conditions are pure, and the answer is the one the whole rule's closure gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from fraudhawk.rules.functions import Fn

FALSE, UNKNOWN, TRUE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Condition:
    """A sub-expression without `and`, `or` or `!` at its top; `fn` as the rule's own closures."""

    fn: Fn
    variables: frozenset[str]


@dataclass(frozen=True, slots=True)
class Junction:
    """`and` (`least` True) or `or` of the items."""

    least: bool
    items: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    item: Part


Part = Condition | Junction | Negation


def level(value: object) -> int:
    """A condition's result on the FALSE < UNKNOWN < TRUE scale (a missing value is UNKNOWN)."""
    if value is True:
        return TRUE
    if value is False:
        return FALSE
    return UNKNOWN
