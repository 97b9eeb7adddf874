"""Per-entity history features for Transaction Fraud Insights: velocity, habits and novelty.

One definition, two engines that must agree to the last bit:

* `compute` runs over a whole history at once (training, batch scoring), vectorised with polars
  and numpy, and also returns each entity's final state;
* `EntityState` holds one entity's running summary in the store and answers the same features for
  its next event (real-time prediction), then advances.

Every feature of an event uses only the entity's earlier events (earlier in time; ties in arrival
order). Sums are running sums taken in event order on both sides and window sums are differences of
those running sums, so both engines do the same floating-point operations and get equal values.
Features that only count up with time (an entity's age, its total number of events) are left out
or capped: on a time split they describe *when* an event happened, not how risky it is.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import msgspec
import numpy as np
import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.features.seen import Seen

HOUR_MS = 3_600_000
WINDOWS: tuple[tuple[str, int], ...] = (("1h", HOUR_MS), ("24h", 24 * HOUR_MS), ("7d", 7 * 24 * HOUR_MS))
LONGEST = max(ms for _, ms in WINDOWS)
COUNT_CAP = 100
NO_ENTITY = "\x00"  # prefix of the stand-in entity of an event without one (never a real id)
PREFIX = "h."


@dataclass(frozen=True)
class HistorySpec:
    """Which variables the history follows: amounts (numbers) and categories (their novelty)."""

    amounts: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    amount_groups: tuple[str, ...] = ()  # categories by which amounts are also compared (e.g. per product type)

    def feature_names(self) -> list[str]:
        names = [f"{PREFIX}since_last_s", *(f"{PREFIX}count_{w}" for w, _ in WINDOWS)]
        names += [f"{PREFIX}events_seen", f"{PREFIX}rate_ratio", f"{PREFIX}hour_share", f"{PREFIX}rate_vs_usual"]
        for a in self.amounts:
            names += [f"{PREFIX}{a}.sum_{w}" for w, _ in WINDOWS]
            names += [f"{PREFIX}{a}.{k}" for k in ("ratio_mean", "zscore", "ratio_max", "ratio_mean_24h")]
            names += [f"{PREFIX}{a}.ratio_max_24h", f"{PREFIX}{a}.prev_ratio_mean"]
            names += [f"{PREFIX}{a}.ratio_mean_by_{g}" for g in self.amount_groups]
        for c in self.categories:
            names += [f"{PREFIX}{c}.seen", f"{PREFIX}{c}.seen_share"]
        return names

    def groups(self) -> dict[str, list[str]]:
        """Feature name -> the variables it is computed from (for grouped importance)."""
        out: dict[str, list[str]] = {}
        for name in self.feature_names():
            rest = name[len(PREFIX) :]
            variable = rest.rpartition(".")[0]
            out[name] = [variable] if variable else []
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "amounts": list(self.amounts),
            "categories": list(self.categories),
            "amount_groups": list(self.amount_groups),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistorySpec:
        return cls(tuple(data["amounts"]), tuple(data["categories"]), tuple(data.get("amount_groups", ())))

    def group_index(self) -> list[int]:
        """Position in `categories` of each amount group."""
        return [self.categories.index(g) for g in self.amount_groups]


def _hour(ms: int) -> int:
    return (ms // HOUR_MS) % 24


def _ratio(x: float | None, base: float | None) -> float | None:
    if x is None or base is None or base <= 0:
        return None
    return x / base


def _zscore(x: float | None, total: float, squares: float, n: int) -> float | None:
    if x is None or n < 2:
        return None
    mean = total / n
    std = math.sqrt(max(squares / n - mean * mean, 0.0))
    return None if std <= 0 else (x - mean) / std


def _rate_ratio(count_24h: int, count_7d: int) -> float:
    return count_24h / ((count_7d + 1) / 7)


def _rate_vs_usual(count_24h: int, n: int, event_ms: int, first_ms: int | None) -> float | None:
    """Activity of the last day against the entity's usual daily rate since its first event."""
    if n == 0 or first_ms is None:
        return None
    days = max((event_ms - first_ms) / 86_400_000, 1.0)
    return count_24h / (n / days)


@dataclass
class EntityState:
    """One entity's running summary; `features` then `advance` for each new event, in time order."""

    n: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    # per amount: running sum, running sum of squares, count of values, largest value
    sums: list[float] = field(default_factory=list)
    squares: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    maxima: list[float | None] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)  # per category: how often each value was used
    # events of the last LONGEST ms: their times and the running sums just before each
    recent_ms: list[int] = field(default_factory=list)
    recent_sums: list[list[float]] = field(default_factory=list)
    recent_amounts: list[list[float | None]] = field(default_factory=list)
    last_amounts: list[float | None] = field(default_factory=list)
    # per (amount, group): group value -> [running sum, count of values]
    by_group: list[dict[str, list[float]]] = field(default_factory=list)

    @classmethod
    def empty(cls, spec: HistorySpec) -> EntityState:
        k = len(spec.amounts)
        return cls(
            sums=[0.0] * k,
            squares=[0.0] * k,
            counts=[0] * k,
            maxima=[None] * k,
            seen=[Seen() for _ in spec.categories],
            last_amounts=[None] * k,
            by_group=[{} for _ in range(k * len(spec.amount_groups))],
        )

    def features(
        self, event_ms: int, amounts: list[float | None], categories: list[str | None], groups: list[int]
    ) -> list[Any]:
        hour = _hour(event_ms)
        n = self.n
        # Normally every event is newer than the state; a late one sees only what came before it
        # in time (as retraining would), where the recent events allow.
        end = bisect.bisect_right(self.recent_ms, event_ms)
        late = end < len(self.recent_ms)
        previous_ms = self.last_ms if not late else (self.recent_ms[end - 1] if end else None)
        out: list[Any] = [None if previous_ms is None else (event_ms - previous_ms) / 1000]
        starts = [min(bisect.bisect_right(self.recent_ms, event_ms - ms), end) for _, ms in WINDOWS]
        counts = [end - s for s in starts]
        out += counts
        out += [min(n, COUNT_CAP), _rate_ratio(counts[1], counts[2])]
        near = self.hours[(hour - 1) % 24] + self.hours[hour] + self.hours[(hour + 1) % 24]
        out.append(near / n if n else None)
        out.append(_rate_vs_usual(counts[1], n, event_ms, self.first_ms))
        for i, x in enumerate(amounts):
            current = self.recent_sums[end][i] if late else self.sums[i]
            window_sums = [current - self.recent_sums[s][i] if s < end else 0.0 for s in starts]
            out += window_sums
            mean = self.sums[i] / self.counts[i] if self.counts[i] else None
            out.append(_ratio(x, mean))
            out.append(_zscore(x, self.sums[i], self.squares[i], self.counts[i]))
            out.append(_ratio(x, self.maxima[i]))
            out.append(_ratio(x, window_sums[1] / counts[1] if counts[1] else None))
            day = [amount for v in self.recent_amounts[starts[1] : end] if (amount := v[i]) is not None]
            out.append(_ratio(x, max(day) if day else None))
            out.append(_ratio(self.last_amounts[i], mean))
            for g, position in enumerate(groups):
                value = categories[position]
                stats = None if value is None else self.by_group[i * len(groups) + g].get(value)
                out.append(_ratio(x, stats[0] / stats[1] if stats and stats[1] else None))
        for j, value in enumerate(categories):
            if value is None:
                out += [None, None]
            else:
                seen = self.seen[j].get(value)
                out += [seen, seen / n if n else None]
        return out

    def advance(
        self, event_ms: int, amounts: list[float | None], categories: list[str | None], groups: list[int]
    ) -> None:
        self.first_ms = event_ms if self.first_ms is None else min(self.first_ms, event_ms)
        position = bisect.bisect_right(self.recent_ms, event_ms)
        late = position < len(self.recent_ms)
        if late:
            # keep the recent events in time order: the later ones now have this event before them
            self.recent_ms.insert(position, event_ms)
            self.recent_sums.insert(position, list(self.recent_sums[position]))
            self.recent_amounts.insert(position, list(amounts))
            for later in self.recent_sums[position + 1 :]:
                for i, x in enumerate(amounts):
                    later[i] = later[i] + (0.0 if x is None else x)
        else:
            self.recent_ms.append(event_ms)
            self.recent_sums.append(list(self.sums))
            self.recent_amounts.append(list(amounts))
        for i, x in enumerate(amounts):
            value = 0.0 if x is None else x
            if not late:
                self.last_amounts[i] = x
            for g, position in enumerate(groups):
                key = categories[position]
                if key is not None:
                    entry = self.by_group[i * len(groups) + g].setdefault(key, [0.0, 0])
                    entry[0] = entry[0] + value
                    entry[1] += 0 if x is None else 1
            self.sums[i] = self.sums[i] + value
            self.squares[i] = self.squares[i] + value * value
            if x is not None:
                self.counts[i] += 1
                previous = self.maxima[i]
                self.maxima[i] = x if previous is None else max(previous, x)
        for j, value_text in enumerate(categories):
            if value_text is not None:
                self.seen[j].add(value_text)
        self.hours[_hour(event_ms)] += 1
        self.n += 1
        self.last_ms = event_ms if self.last_ms is None else max(self.last_ms, event_ms)
        cut = bisect.bisect_right(self.recent_ms, max(self.recent_ms) - LONGEST)
        if cut:
            del self.recent_ms[:cut]
            del self.recent_sums[:cut]
            del self.recent_amounts[:cut]

    def to_bytes(self) -> bytes:
        """MessagePack of the fields: floats as exact doubles (NaN and infinities included), each
        category's counts as two little-endian arrays. A lone surrogate in a group value (which
        UTF-8 cannot hold) makes it JSON instead, which `from_bytes` also reads."""
        fields = dict(self.__dict__)
        fields["seen"] = [table.encode() for table in self.seen]
        try:
            return _ENCODE(fields)
        except UnicodeEncodeError:
            fields["seen"] = [[list(table.keys), list(table.counts)] for table in self.seen]
            return json.dumps(fields, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> EntityState:
        """A state `to_bytes` wrote, or one stored as JSON before (values -> counts then)."""
        decoded = json.loads(data) if data[:1] == b"{" else _DECODE(data)
        decoded["seen"] = [Seen.decode(table) for table in decoded["seen"]]
        if tuple(decoded) == _FIELDS:
            state = cls.__new__(cls)  # every field given: skip __init__'s defaults
            state.__dict__.update(decoded)
            return state
        return cls(**decoded)

    def copy(self) -> EntityState:
        """An independent copy (what from_bytes(to_bytes()) gives, without the JSON)."""
        state = EntityState.__new__(EntityState)
        state.__dict__.update(
            n=self.n,
            first_ms=self.first_ms,
            last_ms=self.last_ms,
            hours=self.hours.copy(),
            sums=self.sums.copy(),
            squares=self.squares.copy(),
            counts=self.counts.copy(),
            maxima=self.maxima.copy(),
            seen=[table.copy() for table in self.seen],
            recent_ms=self.recent_ms.copy(),
            recent_sums=[row.copy() for row in self.recent_sums],
            recent_amounts=[row.copy() for row in self.recent_amounts],
            last_amounts=self.last_amounts.copy(),
            by_group=[{key: entry.copy() for key, entry in table.items()} for table in self.by_group],
        )
        return state


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder().decode
_FIELDS = tuple(f.name for f in fields(EntityState))


def _column(frame: pl.DataFrame, name: str) -> pl.Series:
    if name not in frame.columns:  # a variable the event did not carry
        return pl.Series(name, [None] * frame.height, pl.String)
    return frame[name].cast(pl.String).str.strip_chars()


def _as_float(frame: pl.DataFrame, name: str) -> pl.Series:
    return _column(frame, name).cast(pl.Float64, strict=False)


def _as_text(frame: pl.DataFrame, name: str) -> pl.Series:
    text = _column(frame, name)
    return pl.select(pl.when(text.str.len_chars() > 0).then(text).alias(name)).to_series()


Event = tuple[str, int, list[Any], list[Any]]  # entity, time (ms), amounts, categories


def events_of(spec: HistorySpec, frame: pl.DataFrame) -> list[Event]:
    """The rows of `frame` (ENTITY_ID, EVENT_MS, variables as text) as the incremental engine takes
    them, values parsed exactly as `compute` parses them."""
    entities = frame[layout.ENTITY_ID].cast(pl.String).to_list()
    times = frame[layout.EVENT_MS].cast(pl.Int64).to_list()
    amounts = [_as_float(frame, a).to_list() for a in spec.amounts]
    categories = [_as_text(frame, c).to_list() for c in spec.categories]
    return [(entities[i], times[i], [a[i] for a in amounts], [c[i] for c in categories]) for i in range(frame.height)]


def _exclusive_group_cumsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Integer running counts before each row, restarting at each group start (exact for integers)."""
    total: np.ndarray = np.cumsum(values) - values
    result: np.ndarray = total - total[starts]
    return result


def _window_starts(ms: np.ndarray, group: np.ndarray, is_start: np.ndarray) -> list[np.ndarray]:
    """Per window, the index of each row's first earlier event inside it (rows sorted by entity, time)."""
    n_rows = len(ms)
    if not n_rows:
        return [np.zeros(0, dtype=np.int64) for _ in WINDOWS]
    low_ms = int(ms.min())
    span = int(ms.max()) - low_ms + LONGEST + 1
    if (int(group[-1]) + 1) * span < 2**62:
        # one sorted key for all entities: an entity's times, offset far past the previous entity's
        key = group.astype(np.int64) * span + (ms - low_ms)
        return [np.searchsorted(key, key - width, side="right") for _, width in WINDOWS]
    begins = np.flatnonzero(is_start)
    ends = np.append(begins[1:], n_rows)
    lows = []
    for _, width in WINDOWS:
        low = np.empty(n_rows, dtype=np.int64)
        for begin, end in zip(begins.tolist(), ends.tolist(), strict=True):
            times = ms[begin:end]
            low[begin:end] = begin + np.searchsorted(times, times - width, side="right")
        lows.append(low)
    return lows


@dataclass
class _Sorted:
    """The events sorted by (entity, time, arrival), with each row's place in its entity's history."""

    work: pl.DataFrame
    ms: np.ndarray
    is_start: np.ndarray
    starts: np.ndarray  # index of the first row of the row's entity
    position: np.ndarray
    lows: list[np.ndarray]  # per window: index of the first earlier row inside it

    @property
    def n_prev(self) -> np.ndarray:
        result: np.ndarray = self.position - self.starts
        return result

    @classmethod
    def build(cls, spec: HistorySpec, frame: pl.DataFrame) -> _Sorted:
        n_rows = frame.height
        row = pl.int_range(n_rows, eager=True, dtype=pl.Int64)
        entity = frame[layout.ENTITY_ID].cast(pl.String)
        # an event without an entity has no history: each stands alone (and keeps no state)
        alone = pl.select(pl.when(entity.is_null()).then(pl.lit(NO_ENTITY) + row.cast(pl.String)).otherwise(entity))
        base = pl.DataFrame({"entity": alone.to_series(), "ms": frame[layout.EVENT_MS].cast(pl.Int64), "row": row})
        work = base.with_columns(
            *(_as_float(frame, a).alias(f"a{i}") for i, a in enumerate(spec.amounts)),
            *(_as_text(frame, c).alias(f"c{j}") for j, c in enumerate(spec.categories)),
        ).sort(["entity", "ms", "row"], maintain_order=True)
        entity = work["entity"]
        ms = work["ms"].to_numpy()
        is_start = np.ones(n_rows, dtype=bool)
        if n_rows:
            is_start[1:] = (entity[1:] != entity[:-1]).to_numpy()
        group = np.cumsum(is_start) - 1
        starts = np.flatnonzero(is_start)[group] if n_rows else np.zeros(0, dtype=np.int64)
        return cls(work, ms, is_start, starts, np.arange(n_rows), _window_starts(ms, group, is_start))

    def before(self, values: np.ndarray, fill: float) -> np.ndarray:
        """Each row's value of the previous row of the same entity (`fill` for an entity's first)."""
        shifted = np.concatenate(([fill], values[:-1])) if len(values) else values
        return np.where(self.is_start, fill, shifted)


def _activity(rows: _Sorted, columns: dict[str, Any]) -> list[np.ndarray]:
    ms, n_prev = rows.ms, rows.n_prev
    since = np.full(len(ms), np.nan)
    later = ~rows.is_start
    since[later] = (ms[later] - ms[np.flatnonzero(later) - 1]) / 1000
    columns[f"{PREFIX}since_last_s"] = since
    counts = [rows.position - low for low in rows.lows]
    for (w, _), count in zip(WINDOWS, counts, strict=True):
        columns[f"{PREFIX}count_{w}"] = count
    columns[f"{PREFIX}events_seen"] = np.minimum(n_prev, COUNT_CAP)
    columns[f"{PREFIX}rate_ratio"] = counts[1] / ((counts[2] + 1) / 7)
    hours = (ms // HOUR_MS) % 24
    near = np.zeros(len(ms), dtype=np.int64)
    for h in range(24):
        before = _exclusive_group_cumsum((hours == h).astype(np.int64), rows.starts)
        neighbours = (hours == h) | (hours == (h + 1) % 24) | (hours == (h - 1) % 24)
        near[neighbours] += before[neighbours]
    with np.errstate(invalid="ignore", divide="ignore"):
        columns[f"{PREFIX}hour_share"] = np.where(n_prev > 0, near / np.maximum(n_prev, 1), np.nan)
        days = np.maximum((ms - ms[rows.starts]) / 86_400_000, 1.0)
        usual = n_prev / days
        columns[f"{PREFIX}rate_vs_usual"] = np.where(n_prev > 0, counts[1] / usual, np.nan)
    return counts


def _window_max(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """max(values[low[k]:high[k]]) for every k (NaN where empty or all missing), by a sparse table."""
    filled = np.where(np.isnan(values), -np.inf, values)
    levels = [filled]
    width = 1
    while width * 2 <= max(len(values), 1):
        previous = levels[-1]
        levels.append(np.maximum(previous[:-width], previous[width:]))
        width *= 2
    length = high - low
    result = np.full(len(low), -np.inf)
    present = length > 0
    if present.any():
        k = np.floor(np.log2(length[present])).astype(np.int64)
        lo, hi = low[present], high[present]
        best = np.full(len(lo), -np.inf)
        for level in np.unique(k):
            pick = k == level
            table = levels[level]
            span = 1 << int(level)
            best[pick] = np.maximum(table[lo[pick]], table[hi[pick] - span])
        result[present] = best
    return np.where(np.isinf(result), np.nan, result)


def _amount(
    rows: _Sorted, spec: HistorySpec, i: int, name: str, counts: list[np.ndarray], columns: dict[str, Any]
) -> np.ndarray:
    """Features of one amount variable; returns the running sums before each row (for the states)."""
    work = rows.work
    filled = pl.col(f"a{i}").fill_null(0.0)
    sums = work.select(filled.cum_sum().over("entity").alias("s"))["s"].to_numpy()
    squares = work.select((filled * filled).cum_sum().over("entity").alias("q"))["q"].to_numpy()
    x = work[f"a{i}"].to_numpy()  # NaN where missing
    before = rows.before(sums, 0.0)
    squares_before = rows.before(squares, 0.0)
    n_values = _exclusive_group_cumsum((~np.isnan(x)).astype(np.int64), rows.starts)
    maxima = np.zeros(0)
    if work.height:
        running_max = pl.col(f"a{i}").cum_max().forward_fill().over("entity").alias("m")
        maxima = work.select(running_max)["m"].to_numpy().astype(float)
    max_before = rows.before(maxima, np.nan)
    last = max(work.height - 1, 0)
    window_sums = []
    for (w, _), low in zip(WINDOWS, rows.lows, strict=True):
        window = np.where(low < rows.position, before - before[np.minimum(low, last)], 0.0)
        window_sums.append(window)
        columns[f"{PREFIX}{name}.sum_{w}"] = window
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_values > 0, before / np.maximum(n_values, 1), np.nan)
        columns[f"{PREFIX}{name}.ratio_mean"] = np.where(mean > 0, x / mean, np.nan)
        mean_sq = np.where(n_values > 0, squares_before / np.maximum(n_values, 1), np.nan)
        std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
        columns[f"{PREFIX}{name}.zscore"] = np.where((n_values >= 2) & (std > 0), (x - mean) / std, np.nan)
        columns[f"{PREFIX}{name}.ratio_max"] = np.where(max_before > 0, x / max_before, np.nan)
        mean_24h = np.where(counts[1] > 0, window_sums[1] / np.maximum(counts[1], 1), np.nan)
        columns[f"{PREFIX}{name}.ratio_mean_24h"] = np.where(mean_24h > 0, x / mean_24h, np.nan)
        day_max = _window_max(x, rows.lows[1], rows.position)
        columns[f"{PREFIX}{name}.ratio_max_24h"] = np.where(day_max > 0, x / day_max, np.nan)
        columns[f"{PREFIX}{name}.prev_ratio_mean"] = np.where(mean > 0, rows.before(x, np.nan) / mean, np.nan)
        for g, position in zip(spec.amount_groups, spec.group_index(), strict=True):
            keys = ["entity", f"c{position}"]
            sums_g = work.select(filled.cum_sum().shift(1).over(keys).fill_null(0.0).alias("s"))["s"].to_numpy()
            present = pl.col(f"a{i}").is_not_null().cast(pl.Int64)
            counts_g = work.select(present.cum_sum().shift(1).over(keys).fill_null(0).alias("n"))["n"].to_numpy()
            mean_g = np.where(counts_g > 0, sums_g / np.maximum(counts_g, 1), np.nan)
            missing = work[f"c{position}"].is_null().to_numpy()
            ratio = np.where(mean_g > 0, x / mean_g, np.nan)
            ratio[missing] = np.nan
            columns[f"{PREFIX}{name}.ratio_mean_by_{g}"] = ratio
    return before


def _category(rows: _Sorted, j: int, name: str, columns: dict[str, Any]) -> None:
    work = rows.work
    seen = work.select(pl.int_range(pl.len()).over(["entity", f"c{j}"]).alias("k"))["k"].to_numpy()
    seen = seen.astype(np.float64)
    seen[work[f"c{j}"].is_null().to_numpy()] = np.nan
    columns[f"{PREFIX}{name}.seen"] = seen
    with np.errstate(invalid="ignore", divide="ignore"):
        columns[f"{PREFIX}{name}.seen_share"] = np.where(rows.n_prev > 0, seen / np.maximum(rows.n_prev, 1), np.nan)


def compute(
    spec: HistorySpec, frame: pl.DataFrame, with_states: bool = False
) -> tuple[pl.DataFrame, dict[str, EntityState]]:
    """History features of every row of `frame` (ENTITY_ID, EVENT_MS and the spec's variables as text).

    Rows are taken in the order given for events at the same time, so give them in arrival order.
    Returns the features in the rows' original order and, if asked, each entity's final state.
    """
    rows = _Sorted.build(spec, frame)
    columns: dict[str, Any] = {}
    counts = _activity(rows, columns)
    running = [_amount(rows, spec, i, name, counts, columns) for i, name in enumerate(spec.amounts)]
    for j, name in enumerate(spec.categories):
        _category(rows, j, name, columns)
    restore = np.empty(frame.height, dtype=np.int64)
    restore[rows.work["row"].to_numpy()] = np.arange(frame.height)
    features = pl.DataFrame(
        {name: np.asarray(columns[name], dtype=np.float64)[restore] for name in spec.feature_names()}
    ).fill_nan(None)
    states = _final_states(spec, rows.work, rows.ms, rows.is_start, running) if with_states else {}
    return features, states


def _amount_state(state: EntityState, i: int, values: list[Any], total: float, begin: int, end: int) -> None:
    squares = 0.0
    count = 0
    top: float | None = None
    for r in range(begin, end):
        x = values[r]
        value = 0.0 if x is None else x
        squares = squares + value * value
        if x is not None:
            count += 1
            top = x if top is None else max(top, x)
    last = values[end - 1]
    state.sums[i] = total + (0.0 if last is None else last)
    state.squares[i] = squares
    state.counts[i] = count
    state.maxima[i] = top
    state.last_amounts[i] = last


def _group_state(table: dict[str, list[float]], values: list[Any], keys: list[Any], begin: int, end: int) -> None:
    for r in range(begin, end):
        key = keys[r]
        if key is not None:
            x = values[r]
            entry = table.setdefault(key, [0.0, 0])
            entry[0] = entry[0] + (0.0 if x is None else x)
            entry[1] += 0 if x is None else 1


def _final_states(
    spec: HistorySpec, work: pl.DataFrame, ms: np.ndarray, is_start: np.ndarray, running: list[np.ndarray]
) -> dict[str, EntityState]:
    """Each entity's state after its last event: what `advance` would have built one event at a time."""
    n_rows = work.height
    if not n_rows:
        return {}
    ends = np.append(np.flatnonzero(is_start)[1:], n_rows)
    begins = np.flatnonzero(is_start)
    entities = work["entity"].to_list()
    hours = ((ms // HOUR_MS) % 24).tolist()
    ms_list = ms.tolist()
    amount_values = [work[f"a{i}"].to_list() for i in range(len(spec.amounts))]
    category_values = [work[f"c{j}"].to_list() for j in range(len(spec.categories))]
    running_lists = [r.tolist() for r in running]
    groups = spec.group_index()
    states: dict[str, EntityState] = {}
    for begin, end in zip(begins.tolist(), ends.tolist(), strict=True):
        state = EntityState.empty(spec)
        hist = state.hours
        for r in range(begin, end):
            hist[hours[r]] += 1
        for i, values in enumerate(amount_values):
            _amount_state(state, i, values, running_lists[i][end - 1], begin, end)
            for g, position in enumerate(groups):
                _group_state(state.by_group[i * len(groups) + g], values, category_values[position], begin, end)
        state.seen = [Seen.counting(values_text[begin:end]) for values_text in category_values]
        state.n = end - begin
        state.first_ms = ms_list[begin]
        state.last_ms = ms_list[end - 1]
        newest = max(ms_list[begin:end])
        keep = [r for r in range(begin, end) if ms_list[r] > newest - LONGEST]
        state.recent_ms = [ms_list[r] for r in keep]
        state.recent_sums = [[running_lists[i][r] for i in range(len(spec.amounts))] for r in keep]
        state.recent_amounts = [[values[r] for values in amount_values] for r in keep]
        if not entities[begin].startswith(NO_ENTITY):
            states[entities[begin]] = state
    return states


def replay(
    spec: HistorySpec, states: dict[str, EntityState], events: Iterable[Event], features: bool = True
) -> list[list[Any]]:
    """Features of each event (if asked), advancing `states` one event at a time."""
    out = []
    groups = spec.group_index()
    for entity, event_ms, amounts, categories in events:
        state = states.get(entity)
        if state is None:
            state = states[entity] = EntityState.empty(spec)
        if features:
            out.append(state.features(event_ms, amounts, categories, groups))
        state.advance(event_ms, amounts, categories, groups)
    return out
