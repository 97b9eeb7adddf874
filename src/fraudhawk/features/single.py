"""One event's model input in plain Python: the real-time twin of `FeaturePlan.transform`.

`transform` on a one-row polars frame costs milliseconds of fixed overhead; GetEventPrediction has
well under one. `SingleRowPlan` precomputes everything a plan needs (feature slots, category codes,
frequency tables, which enricher output goes where) and then derives one event's vector with dict
look-ups and the cached enrichers. Every step copies the polars semantics it replaces, down to the
last bit, and tests/test_single_row.py checks the two against each other on fitted plans:

* text is trimmed of Unicode White_Space (Rust's `str::trim`, what `str.strip_chars()` removes, which
  is Python's `str.strip()` without \\x1c-\\x1f), and empty text is missing;
* numbers parse as polars' `cast(pl.Float64, strict=False)` does: ASCII decimal or scientific
  notation, inf/infinity/nan in any case, nothing else (no spaces, underscores, hex or other digits);
* timestamps parse as `eventdata.timestamps.parse_series` does for a single value (see `parse_ms`).
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from fraudhawk.features import enrich
from fraudhawk.features.history import EntityState, HistorySpec
from fraudhawk.features.history.login_values import login_inputs
from fraudhawk.features.plan import EVENT_PREFIX, NOVELTY_TYPES, FeaturePlan, VariableInfo, role_of

#: What polars' `str.strip_chars()` removes: Unicode White_Space (Python's `str.strip()` also strips \x1c-\x1f).
POLARS_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_NAN = math.nan
# polars divides a column by a number by multiplying with its reciprocal, which can differ from the
# quotient in the last bit: (event_ms - moment) / 86_400_000 is computed the same way here.
_PER_DAY = 1.0 / 86_400_000
_BOOLEAN = {"true": 1.0, "1": 1.0, "yes": 1.0, "t": 1.0, "false": 0.0, "0": 0.0, "no": 0.0, "f": 0.0}
# The strings polars' float parser accepts (checked against polars by fuzzing); Python's float() reads
# each of them to the same double, but also accepts spaces, underscores and non-ASCII digits.
_NUMBER = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)


def text_of(value: str | None) -> str | None:
    """A variable's text as the plan reads it: trimmed as polars trims, None when missing or empty."""
    if value is None:
        return None
    return value.strip(POLARS_WHITESPACE) or None


def to_float(text: str | None) -> float | None:
    """`pl.Series([text]).cast(pl.Float64, strict=False)[0]` for already-trimmed text."""
    if text is None or _NUMBER.fullmatch(text) is None:
        return None
    return float(text)


# --- timestamps ------------------------------------------------------------------------------------
# parse_series tries the strict ISO form, then each (shape, chrono format) of timestamps.FORMATS in turn;
# for one value the first that parses wins. The regular expressions below are those shapes (ASCII
# digits: chrono reads no others), and the checks are chrono's: day within the month (proleptic
# Gregorian, year 0 exists), hour < 24 (1-12 with AM/PM, 12 AM = 0), minute < 60, second <= 60 (a
# leap second, counted as the next second), fraction truncated to milliseconds, offsets < 24:00,
# two-digit years 00-69 -> 20xx and 70-99 -> 19xx. The shapes of the different families exclude one
# another, and where two formats fit one string they give the same instant, so one pass suffices.

_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:Z|([+-])([0-9]{2}):?([0-9]{2}))?"
)
_TIME = r"[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(?: ?([AaPp])[Mm])?"
_YEAR_FIRST = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})" + _TIME)
_MONTH_FIRST = re.compile(r"([0-9]{1,2})([-/])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})" + _TIME)
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _epoch_day(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _instant(year: int, month: int, day: int, hour: int, minute: int, second: int, fraction: str | None) -> int | None:
    if not (1 <= month <= 12 and day >= 1 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    if day > _MONTH_DAYS[month] and not (
        month == 2 and day == 29 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    ):
        return None
    ms = ((_epoch_day(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000
    if fraction:
        ms += int(fraction) * 10 ** (9 - len(fraction)) // 1_000_000
    return ms


@lru_cache(maxsize=65_536)
def parse_ms(text: str) -> int | None:
    """Epoch milliseconds of trimmed text as `eventdata.timestamps.parse_series` reads it, or None."""
    match = _ISO.fullmatch(text)
    if match is not None:
        year, month, day, hour, minute, second, fraction, sign, off_hours, off_minutes = match.groups()
        ms = _instant(int(year), int(month), int(day), int(hour), int(minute), int(second), fraction)
        if ms is None or sign is None:
            return ms
        hours, minutes = int(off_hours), int(off_minutes)
        if hours > 23 or minutes > 59:
            return None
        offset = (hours * 60 + minutes) * 60_000
        return ms - offset if sign == "+" else ms + offset
    match = _YEAR_FIRST.fullmatch(text)
    if match is not None:
        year, _, month, day, hour, minute, second, fraction, half = match.groups()
        full_year = int(year)
    else:
        match = _MONTH_FIRST.fullmatch(text)
        if match is None:
            return None
        month, _, day, year, hour, minute, second, fraction, half = match.groups()
        full_year = int(year)
        if len(year) == 2:
            full_year += 2000 if full_year < 70 else 1900
    hours = int(hour)
    if half is not None:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if half in "Pp" else 0)
    return _instant(full_year, int(month), int(day), hours, int(minute), int(second) if second else 0, fraction)


# --- the plan --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Category:
    """Where a text value goes: its code (known, or `other`) and its training frequency."""

    slot: int  # -1 when the plan has no category column for it
    codes: dict[str, float]
    other: float
    freq_slot: int  # -1 when the plan has no frequency column for it
    table: dict[str, float]
    floor: float  # frequency of a value the table lacks


@dataclass(frozen=True)
class _Enriched:
    name: str
    enricher: enrich.Enricher
    numeric: tuple[tuple[int, int], ...]  # (output index, slot)
    categories: tuple[tuple[int, _Category], ...]  # (output index, category)
    raw: _Category | None  # the trimmed text itself as a category


class _Slots:
    """Where each feature of the plan goes, and which base columns `_base_columns` produces (the
    history fills only the others, as in `transform`)."""

    def __init__(self, plan: FeaturePlan) -> None:
        self.plan = plan
        self.index = {name: i for i, name in enumerate(plan.feature_names)}
        self.produced: set[str] = set()

    def slot(self, name: str) -> int:
        """The feature's position, -1 when the plan has no such feature; records it as produced."""
        found = self.index.get(name, -1)
        if found >= 0:
            self.produced.add(name)
        return found

    def category(self, name: str) -> _Category | None:
        """As `FeaturePlan._category` codes a text column, or None when it makes no feature."""
        vocabulary = self.plan.vocabularies.get(name, [])
        table = self.plan.frequencies.get(name)
        spec = _Category(
            self.slot(name) if vocabulary else -1,
            {value: float(i) for i, value in enumerate(vocabulary)},
            float(len(vocabulary)),
            self.slot(f"{name}.freq") if table is not None else -1,
            dict(table or {}),
            (min(table.values()) if table else 0.0) / 2,
        )
        return spec if spec.slot >= 0 or spec.freq_slot >= 0 else None

    def enriched(self, info: VariableInfo, enricher: enrich.Enricher) -> _Enriched:
        numeric: list[tuple[int, int]] = []
        coded: list[tuple[int, _Category]] = []
        for j, output in enumerate(enricher.outputs):
            column = f"{info.name}.{output.name}"
            if output.kind == "categorical":
                spec = self.category(column)
                if spec is not None:
                    coded.append((j, spec))
            elif (position := self.slot(column)) >= 0:
                numeric.append((j, position))
        raw = None
        if info.name not in self.plan.raw_dropped and info.variable_type not in NOVELTY_TYPES:
            raw = self.category(info.name)
        return _Enriched(info.name, enricher, tuple(numeric), tuple(coded), raw)


class SingleRowPlan:
    """A fitted `FeaturePlan` compiled for one event at a time; immutable, so shareable by threads."""

    def __init__(self, plan: FeaturePlan) -> None:
        self.feature_names = list(plan.feature_names)
        self._template = [_NAN] * len(plan.feature_names)
        slots = _Slots(plan)
        self._hour = slots.slot(f"{EVENT_PREFIX}hour")
        self._weekday = slots.slot(f"{EVENT_PREFIX}weekday")
        self._numeric: list[tuple[str, int]] = []
        self._boolean: list[tuple[str, int]] = []
        self._datetime: list[tuple[str, int]] = []
        self._categories: list[tuple[str, _Category]] = []
        self._enriched: list[_Enriched] = []
        for info in plan.used:
            role = role_of(info)
            if role in ("numeric", "boolean", "datetime"):
                kind = {"numeric": self._numeric, "boolean": self._boolean, "datetime": self._datetime}[role]
                column = f"{info.name}.days_before_event" if role == "datetime" else info.name
                if (position := slots.slot(column)) >= 0:
                    kind.append((info.name, position))
            elif role == "enriched":
                for enricher in enrich.enrichers_for(info.variable_type, info.data_type):
                    self._enriched.append(slots.enriched(info, enricher))
            elif role == "category" and info.name not in plan.raw_dropped:
                spec = slots.category(info.name)
                if spec is not None:
                    self._categories.append((info.name, spec))
        self._enriched = [e for e in self._enriched if e.numeric or e.categories or e.raw is not None]
        pairs = [(a, b, slots.slot(f"{a}~{b}.same")) for a, b in plan.pairs]
        self._pairs = [pair for pair in pairs if pair[2] >= 0]
        checks = [(ip, country, slots.slot(f"{ip}~{country}.same_country")) for ip, country in plan.ip_country_checks]
        self._ip_checks = [check for check in checks if check[2] >= 0]
        history = plan.history
        self.history = history
        # features() only reads a state, so one empty state serves every new entity
        self._empty = None if history is None else EntityState.empty(history)
        self.history_groups: list[int] = [] if history is None else history.group_index()
        self._amounts = [] if history is None else list(history.amounts)
        self._history_categories = [] if history is None else list(history.categories)
        self._login = None if history is None else history.login
        self._history_slots = (
            []
            if history is None
            else [-1 if n in slots.produced else slots.index.get(n, -1) for n in history.feature_names()]
        )

    # Built once per plan object: plans loaded for scoring are not changed afterwards. No lock: dict
    # operations are atomic, and two threads building the same plan at once is merely wasted work.
    _built: ClassVar[dict[int, tuple[weakref.ref[FeaturePlan], SingleRowPlan]]] = {}

    @classmethod
    def of(cls, plan: FeaturePlan) -> SingleRowPlan:
        """The compiled form of `plan`, built on first use and kept as long as the plan lives."""
        key = id(plan)
        found = cls._built.get(key)
        if found is not None and found[0]() is plan:
            return found[1]
        compiled = cls(plan)
        built = cls._built

        def forget(_ref: weakref.ref[FeaturePlan]) -> None:
            entry = built.get(key)
            if entry is not None and entry[0]() is None:
                built.pop(key, None)

        built[key] = (weakref.ref(plan, forget), compiled)
        return compiled

    def vector(
        self, variables: Mapping[str, str | None], event_ms: int, history: Sequence[float | None] | None = None
    ) -> np.ndarray:
        """`plan.transform(frame, history_frame)[0]` for one event (variables as sent, missing ones
        absent or None) and its history features as `EntityState.features` returns them."""
        out: list[Any] = self._template.copy()
        get = variables.get
        if self._hour >= 0:
            out[self._hour] = float((event_ms // 3_600_000) % 24)
        if self._weekday >= 0:
            out[self._weekday] = float(((event_ms // 86_400_000) + 3) % 7)
        for name, slot in self._numeric:
            raw = get(name)
            if raw is not None:
                number = to_float(raw.strip(POLARS_WHITESPACE))
                if number is not None:
                    out[slot] = number
        for name, slot in self._boolean:
            raw = get(name)
            if raw is not None:
                flag = _BOOLEAN.get(raw.strip(POLARS_WHITESPACE).lower())
                if flag is not None:
                    out[slot] = flag
        for name, slot in self._datetime:
            raw = get(name)
            if raw is not None:
                text = raw.strip(POLARS_WHITESPACE)
                moment = parse_ms(text) if text else None
                if moment is not None:
                    out[slot] = float(event_ms - moment) * _PER_DAY
        for name, spec in self._categories:
            raw = get(name)
            if raw is not None:
                text = raw.strip(POLARS_WHITESPACE)
                if text:
                    _place(out, spec, text)
        if self._enriched:
            self._enrich(out, get)
        for left, right, slot in self._pairs:
            same = enrich.same_place(get(left), get(right))
            if same is not None:
                out[slot] = same
        for ip, country, slot in self._ip_checks:
            same = enrich.same_place(enrich.ip_country(get(ip)), get(country))
            if same is not None:
                out[slot] = same
        if history is not None and self._history_slots:
            for slot, value in zip(self._history_slots, history, strict=True):
                if value is not None and slot >= 0:
                    out[slot] = value
        return np.array(out, dtype=np.float64)

    def _enrich(self, out: list[Any], get: Callable[[str], str | None]) -> None:
        for item in self._enriched:
            raw = get(item.name)
            if raw is None:
                continue
            text = raw.strip(POLARS_WHITESPACE)
            if not text:
                continue
            derived = enrich.derive_one(item.enricher, text)
            for j, slot in item.numeric:
                value = derived[j]
                if value is not None:
                    out[slot] = value if value.__class__ is float else _numeric_output(value)
            for j, spec in item.categories:
                value = derived[j]
                if value is not None:
                    _place(out, spec, str(value))
            if item.raw is not None:
                _place(out, item.raw, text)

    # --- entity history ----------------------------------------------------------------------------

    def history_inputs(self, variables: Mapping[str, str | None]) -> tuple[list[float | None], list[str | None]]:
        """The event's amounts and categories as `history.events_of` parses them, for `EntityState`."""
        amounts = [_amount(variables.get(name)) for name in self._amounts]
        categories = [text_of(variables.get(name)) for name in self._history_categories]
        if self._login is not None:
            categories += login_inputs(self._login, [text_of(variables.get(name)) for name in self._login.inputs()])
        return amounts, categories

    def history_features(
        self, state: EntityState | None, variables: Mapping[str, str | None], event_ms: int
    ) -> list[Any] | None:
        """The event's history features from its entity's state (None: a new entity); None when the
        plan has no history. `EntityState.features` only reads the state: no copy is needed."""
        if self._empty is None:
            return None
        amounts, categories = self.history_inputs(variables)
        return (state if state is not None else self._empty).features(
            event_ms, amounts, categories, self.history_groups
        )


def history_inputs(
    spec: HistorySpec, variables: Mapping[str, str | None]
) -> tuple[list[float | None], list[str | None]]:
    """`SingleRowPlan.history_inputs` for a spec alone (advancing a stored state needs no plan)."""
    categories = [text_of(variables.get(c)) for c in spec.categories]
    if spec.login is not None:
        categories += login_inputs(spec.login, [text_of(variables.get(name)) for name in spec.login.inputs()])
    return [_amount(variables.get(a)) for a in spec.amounts], categories


def _amount(value: str | None) -> float | None:
    return None if value is None else to_float(value.strip(POLARS_WHITESPACE))


def _place(out: list[Any], spec: _Category, text: str) -> None:
    if spec.slot >= 0:
        out[spec.slot] = spec.codes.get(text, spec.other)
    if spec.freq_slot >= 0:
        out[spec.freq_slot] = spec.table.get(text, spec.floor)


def _numeric_output(value: object) -> float:
    """A numeric enricher output that is not a float, as `pl.Series(..., dtype=Float64, strict=False)`
    reads it: numbers become floats, anything else is missing."""
    if isinstance(value, (int, float)):
        return float(value)
    return _NAN
