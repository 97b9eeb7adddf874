"""The history features' formulas, each written once and called by both engines.

The one-event engine (`EntityState`) calls them with Python numbers, the vectorised engine
(`timeline`) with numpy arrays: each formula uses only arithmetic operators, which mean the same
IEEE operation on a float and on an array of float64, so the two engines get equal values to the
last bit. What the engines keep apart is how they gather the inputs (a running summary against a
whole sorted history) and how they say "missing" (None against NaN): `ratio` and `ratios` below,
and the guards on counts (a mean needs one value, a spread two), which each engine applies to the
formula's operands before calling it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

from fraudhawk.features.history.units import DAY_MS, HOUR_MS

N = TypeVar("N")  # a number or an array of numbers

MIN_DAYS = 1.0  # an entity's usual daily rate is taken over at least one day (else one event is a burst)
#: an event at an hour (give or take one) of under this share of the entity's earlier events is at an
#: odd hour for it (an even spread over the day would give 3/24)
ODD_HOUR_SHARE = 0.05


def hour_of(ms: Any) -> Any:
    """The hour of the day (UTC) of an epoch-milliseconds time."""
    return (ms // HOUR_MS) % 24


def neighbour_hours(hour: int) -> tuple[int, int, int]:
    """The hours counted as "about the same time of day" as `hour`."""
    return ((hour - 1) % 24, hour, (hour + 1) % 24)


def since_seconds(event_ms: Any, previous_ms: Any) -> Any:
    return (event_ms - previous_ms) / 1000


def rate_ratio(count_24h: Any, count_7d: Any) -> Any:
    """The last day's events against the last week's daily rate (one event added so a quiet week
    does not divide by zero)."""
    return count_24h / ((count_7d + 1) / 7)


def days_between(later_ms: Any, earlier_ms: Any) -> Any:
    """Days from the entity's first event, before the `MIN_DAYS` floor."""
    return (later_ms - earlier_ms) / DAY_MS


def rate_vs_usual(count_24h: Any, n: Any, days: Any) -> Any:
    """The last day's events against the entity's usual daily rate since its first event; `days` at
    least `MIN_DAYS`, `n` at least one."""
    return count_24h / (n / days)


def per_day(total: Any, days: Any) -> Any:
    """The entity's usual daily total since its first event; `days` at least `MIN_DAYS`."""
    return total / days


def odd_hour(hour_share: Any) -> Any:
    """Whether an event's `hour_share` (present) puts it at an hour the entity seldom uses."""
    return hour_share < ODD_HOUR_SHARE


def share(part: Any, n: Any) -> Any:
    """How much of the entity's `n` earlier events `part` is (hour habits, value novelty)."""
    return part / n


def mean(total: Any, n: Any) -> Any:
    return total / n


def variance(squares: Any, n: Any, average: Any) -> Any:
    """Of the running sum of squares; may be a hair below zero from rounding: clamp at 0 before the root."""
    return squares / n - average * average


def zscore(x: Any, average: Any, spread: Any) -> Any:
    return (x - average) / spread


def ratio(x: float | None, base: float | None) -> float | None:
    """x against a base of the entity's history, missing when either is or the base is not positive."""
    if x is None or base is None or base <= 0:
        return None
    return x / base


def ratios(x: np.ndarray, base: np.ndarray) -> np.ndarray:
    """`ratio` for columns, NaN for missing."""
    with np.errstate(invalid="ignore", divide="ignore"):
        result: np.ndarray = np.where(~np.isnan(x) & ~np.isnan(base) & (base > 0), x / base, np.nan)
    return result
