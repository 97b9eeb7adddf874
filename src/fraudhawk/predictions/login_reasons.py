"""Plain words for a login's aggregated features, shown beside an Account Takeover Insights score.

They restate the login-profile features recorded with the prediction (`features/history/login_spec.py`),
so they are exactly what the model saw. "New to this entity" means what the profile means by it: no
successful login of the entity used the value a day or more before this one (a value used only in
the last day is not familiar yet).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from fraudhawk.features.history.login_spec import DIMENSIONS, LOGIN_CAP, LOGIN_PREFIX, WORDS

#: faster than an airliner between two logins' countries: the same person cannot have made both
IMPOSSIBLE_KMH = 1_000.0
#: a shorter move between countries' centres is not worth a mention
FAR_KM = 500.0
_ORDER = [name for name, _ in DIMENSIONS]


def _count(value: float) -> str:
    return f"{LOGIN_CAP}+" if value >= LOGIN_CAP else f"{value:.0f}"


def _days(days: float) -> str:
    whole = round(days)
    return "1 day" if whole == 1 else f"{whole} days"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _plural(value: float, noun: str) -> str:
    return f"{_count(value)} {noun}{'' if value == 1 else 's'}"


def _dimensions(values: Mapping[str, float], dimensions: list[str]) -> list[str]:
    new = [d for d in dimensions if values[f"{LOGIN_PREFIX}{d}.uses"] == 0]
    familiar = [d for d in dimensions if values[f"{LOGIN_PREFIX}{d}.uses"] > 0]
    parts = []
    if new:
        parts.append(f"new to this entity: {_join([WORDS[d] for d in new])}")
    if familiar and not new:
        first = familiar[0]  # the most specific (an IP before its subnet, a user agent before its browser)
        uses = values[f"{LOGIN_PREFIX}{first}.uses"]
        since = values[f"{LOGIN_PREFIX}{first}.since_d"]
        parts.append(f"{WORDS[first]} used in {_plural(uses, 'earlier login')}, most recently {_days(since)} before")
    elif familiar:
        parts.append(f"familiar: {_join([WORDS[d] for d in familiar])}")
    return parts


def _travel(values: Mapping[str, float]) -> list[str]:
    km = values.get(f"{LOGIN_PREFIX}travel_km", math.nan)
    kmh = values.get(f"{LOGIN_PREFIX}travel_kmh", math.nan)
    if math.isnan(km) or math.isnan(kmh) or km < FAR_KM:
        return []
    if kmh >= IMPOSSIBLE_KMH:
        return [f"impossible travel: {km:,.0f} km from the last login's country at {kmh:,.0f} km/h"]
    return [f"{km:,.0f} km from the last login's country"]


def _credentials(values: Mapping[str, float]) -> list[str]:
    parts = []
    hour = values.get(f"{LOGIN_PREFIX}fail_1h", math.nan)
    day = values.get(f"{LOGIN_PREFIX}fail_24h", math.nan)
    if not math.isnan(day):
        if day == 0:
            parts.append("no failed logins in the last 24 hours")
        elif not math.isnan(hour) and hour > 0:
            parts.append(f"{_plural(hour, 'failed login')} in the last hour, {_count(day)} in the last 24 hours")
        else:
            parts.append(f"{_plural(day, 'failed login')} in the last 24 hours")
    return parts


def describe(values: Mapping[str, float], features: list[str]) -> str | None:
    """Words for one aggregated group: `features` are its login features, `values` every feature of
    the event. None when the group has nothing to say."""
    settled = values.get(f"{LOGIN_PREFIX}settled", math.nan)
    mine = set(features)
    dimensions = [
        d for d in _ORDER if f"{LOGIN_PREFIX}{d}.uses" in mine and not math.isnan(values[f"{LOGIN_PREFIX}{d}.uses"])
    ]
    parts: list[str] = []
    if settled == 0 and dimensions:
        parts.append("no earlier login of this entity to compare with (none a day or more before)")
    elif dimensions:
        parts += _dimensions(values, dimensions)
    if f"{LOGIN_PREFIX}travel_km" in mine:
        parts += _travel(values)
    if f"{LOGIN_PREFIX}settled" in mine and not math.isnan(settled):
        parts.append(f"{_plural(settled, 'earlier successful login')} (a day or more before)")
    if mine & {f"{LOGIN_PREFIX}fail_1h", f"{LOGIN_PREFIX}fail_24h"}:
        parts += _credentials(values)
    return "; ".join(parts) or None
