"""The login profile's formulas, each written once and called by both engines (Python numbers in
`LoginProfile`, numpy arrays in `login_frame`): arithmetic operators only, so both do the same IEEE
operations; the guards (a floor on hours, a cap on counts) are applied by each engine with its own
min/max before or after."""

from __future__ import annotations

from typing import Any

from fraudhawk.features.history.login_spec import LOGIN_CAP, MIN_TRAVEL_HOURS
from fraudhawk.features.history.units import DAY_MS, HOUR_MS


def capped(count: int) -> float:
    """A count as a feature: beyond LOGIN_CAP, only "very many" (numpy: `np.minimum` instead)."""
    return float(min(count, LOGIN_CAP))


def share(part: Any, total: Any) -> Any:
    """How much of the entity's settled successful logins used the value."""
    return part / total


def age_days(event_ms: Any, moment_ms: Any) -> Any:
    """Days from a use of a value to the event."""
    return (event_ms - moment_ms) / DAY_MS


def hours_between(event_ms: Any, moment_ms: Any) -> Any:
    return (event_ms - moment_ms) / HOUR_MS


def speed(km: Any, hours: Any) -> Any:
    """km per hour, hours already floored at MIN_TRAVEL_HOURS."""
    return km / hours


def speed_kmh(km: float, event_ms: int, last_ms: int) -> float:
    """Travel speed from the last successful login, for one event."""
    return float(speed(km, max(hours_between(event_ms, last_ms), MIN_TRAVEL_HOURS)))
