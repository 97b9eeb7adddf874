"""The vectorised engine: history features of a whole frame of events a column at a time.

The rows are sorted by (entity, time, arrival) and each entity gets one timeline: its starting
state's recent events (the last 7 days, with the running sums before each), then its rows; the time
windows, their sums and maxima look back along it. Training starts every entity from nothing;
batch prediction starts each from its stored state. Equal, to the last bit, to replaying the rows
one at a time through `EntityState` (for the entities `vectorised.needs_replay` does not name): the
same running sums, taken in the same order, through the same formulas (`formulas`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.features.history import columns
from fraudhawk.features.history import formulas as f
from fraudhawk.features.history.spec import COUNT_CAP, LONGEST, NO_ENTITY, PREFIX, WINDOWS, HistorySpec
from fraudhawk.features.history.state import EntityState
from fraudhawk.features.seen import value_key

#: a timeline key (entity * span + time) must fit in int64; a module constant so a test can force
#: the per-entity search that very long time spans need
KEY_LIMIT = 2**62


def known(state: EntityState | None) -> EntityState | None:
    """The state if it has seen an event (an empty one starts the entity as new)."""
    return state if state is not None and state.n > 0 and state.last_ms is not None else None


def entity_column(frame: pl.DataFrame) -> pl.Series:
    """ENTITY_ID as text; an event without an entity has no history: each stands alone (a stand-in
    entity of its own, which no stored state has and which keeps no state)."""
    entity = frame[layout.ENTITY_ID].cast(pl.String)
    if not entity.null_count():
        return entity.alias("e")
    row = pl.int_range(frame.height, eager=True, dtype=pl.Int64).cast(pl.String)
    return pl.select(pl.when(entity.is_null()).then(pl.lit(NO_ENTITY) + row).otherwise(entity).alias("e")).to_series()


class Timeline:
    """A frame's rows on their entities' timelines, and the features computed along them."""

    def __init__(self, spec: HistorySpec, frame: pl.DataFrame, states: Mapping[str, EntityState]) -> None:
        n_rows = frame.height
        self.spec = spec
        self.work = work = pl.DataFrame(
            {
                "e": entity_column(frame),
                "ms": frame[layout.EVENT_MS].cast(pl.Int64),
                "row": np.arange(n_rows, dtype=np.int64),
                **{f"a{i}": columns.amounts(frame, name) for i, name in enumerate(spec.amounts)},
                **{f"c{j}": columns.categories(frame, name) for j, name in enumerate(spec.categories)},
            }
        ).sort(["e", "ms", "row"])
        self.ms = ms = work["ms"].to_numpy()
        self.is_start = is_start = np.ones(n_rows, dtype=bool)
        is_start[1:] = (work["e"][1:] != work["e"][:-1]).to_numpy()
        self.group = group = np.cumsum(is_start) - 1
        self.begins = begins = np.flatnonzero(is_start)
        self.index = np.arange(n_rows)
        self.starts = begins[group]
        self.work = work = work.with_columns(pl.Series("g", group))
        self.k = self.index - self.starts  # the row's place among its entity's rows
        names = work["e"].gather(begins).to_list()
        self.entities = names
        self.known = known_states = [known(states.get(name)) for name in names] if states else [None] * len(names)
        self.any_known = any(s is not None for s in known_states)
        n_entities = len(known_states)
        recent = np.array([len(s.recent_ms) if s else 0 for s in known_states], dtype=np.int64)
        lengths = recent + np.bincount(group, minlength=n_entities)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        self.size = int(lengths.sum())
        recent_group = np.repeat(np.arange(n_entities), recent)
        recent_start = np.concatenate(([0], np.cumsum(recent)[:-1]))
        self.recent_pos = offsets[recent_group] + np.arange(len(recent_group)) - recent_start[recent_group]
        self.pos = offsets[group] + recent[group] + self.k  # the row's place on the timelines
        times = self.on_timeline(ms, [t for s in known_states if s for t in s.recent_ms], np.int64)
        groups = self.on_timeline(group, recent_group, np.int64)
        self.lows = _window_lows(times, groups, self.pos, offsets, lengths)
        self.counts = [self.pos - low for low in self.lows]
        self.n_before = self.per_entity([s.n if s else 0 for s in known_states], np.int64) + self.k
        self.entity_keys = work.select("e")
        self.seed_keys = work.select("e").gather(begins)
        # filled by `activity` and `category` for `amount` and the final states
        self.near = np.zeros(0, dtype=np.int64)
        self.days = np.zeros(0)
        self.new: dict[int, np.ndarray] = {}

    def per_entity(self, values: Sequence[Any], dtype: Any = np.float64) -> np.ndarray:
        """A value of each entity's state, for each row."""
        result: np.ndarray = np.asarray(values, dtype=dtype)[self.group]
        return result

    def on_timeline(self, rows: np.ndarray, recent: Sequence[Any] | np.ndarray, dtype: Any) -> np.ndarray:
        """The rows' values and the states' recent events' values, laid along the timelines."""
        out = np.empty(self.size, dtype=dtype)
        out[self.pos] = rows
        out[self.recent_pos] = np.asarray(recent, dtype=dtype)
        return out

    def previous(self, values: np.ndarray, stored: np.ndarray) -> np.ndarray:
        """The value of the entity's previous row, or `stored` (per row) for its first."""
        result: np.ndarray = np.where(self.k > 0, values[np.maximum(self.index - 1, 0)], stored)
        return result

    def activity(self, out: dict[str, np.ndarray]) -> None:
        known_states, ms, counts, n_before = self.known, self.ms, self.counts, self.n_before
        has_state = self.per_entity([s is not None for s in known_states], bool)
        last_ms = self.per_entity([s.last_ms if s and s.last_ms is not None else 0 for s in known_states], np.int64)
        since = f.since_seconds(ms, self.previous(ms, last_ms))
        out[f"{PREFIX}since_last_s"] = np.where((self.k > 0) | has_state, since, np.nan)
        for (w, _), count in zip(WINDOWS, counts, strict=True):
            out[f"{PREFIX}count_{w}"] = count.astype(np.float64)
        out[f"{PREFIX}events_seen"] = np.minimum(n_before, COUNT_CAP).astype(np.float64)
        out[f"{PREFIX}rate_ratio"] = f.rate_ratio(counts[1], counts[2])
        hours = f.hour_of(ms)
        stored_hours = np.array([s.hours if s else [0] * 24 for s in known_states], dtype=np.int64)
        stored_hours = stored_hours.reshape(len(known_states), 24)
        near = np.zeros(len(ms), dtype=np.int64)
        for hour in range(24):
            before = _exclusive_count(hours == hour, self.starts) + stored_hours[self.group, hour]
            # the rows whose neighbour hours include `hour`: those of the same hours around it
            neighbours = np.isin(hours, f.neighbour_hours(hour))
            near[neighbours] += before[neighbours]
        positive = n_before > 0
        some = np.maximum(n_before, 1)
        hour_share = np.where(positive, f.share(near, some), np.nan)
        out[f"{PREFIX}hour_share"] = hour_share
        first_ms = self.per_entity([s.first_ms if s and s.first_ms is not None else -1 for s in known_states], np.int64)
        first = np.where(first_ms >= 0, first_ms, ms[self.starts])
        self.days = days = np.maximum(f.days_between(ms, first), f.MIN_DAYS)
        out[f"{PREFIX}rate_vs_usual"] = np.where(positive, f.rate_vs_usual(counts[1], some, days), np.nan)
        stored_last = [_or_nan(s.last_hour_share) if s else np.nan for s in known_states]
        out[f"{PREFIX}prev_hour_share"] = self.previous(hour_share, self.per_entity(stored_last))
        self.near = near
        recent = [pair for s in known_states if s for pair in s.recent_hours]
        near_at = self.on_timeline(near, [pair[0] for pair in recent], np.int64)
        n_at = self.on_timeline(n_before, [pair[1] for pair in recent], np.int64)
        counted = n_at > 0
        shares_at = np.where(counted, f.share(near_at, np.maximum(n_at, 1)), np.nan)
        out[f"{PREFIX}hour_share_min_24h"] = -_range_max(-shares_at, self.lows[1], self.pos)
        n_day = self.window_count(n_at, 1)
        pooled = f.share(self.window_count(np.where(counted, near_at, 0), 1), np.maximum(n_day, 1))
        out[f"{PREFIX}hour_share_24h"] = np.where(n_day > 0, pooled, np.nan)
        odd = counted & f.odd_hour(np.where(counted, shares_at, 1.0))
        out[f"{PREFIX}odd_hours_24h"] = self.window_count(odd, 1).astype(np.float64)

    def amount(self, i: int, name: str, out: dict[str, np.ndarray]) -> np.ndarray:
        """The amount's features; returns the running sums before each row (for final states)."""
        known_states, pos, size = self.known, self.pos, self.size
        x = self.work[f"a{i}"].fill_null(np.nan).to_numpy()
        present = ~np.isnan(x)
        value = np.where(present, x, 0.0)
        total = self.running_before(value, [s.sums[i] if s else 0.0 for s in known_states])
        squares = self.running_before(value * value, [s.squares[i] if s else 0.0 for s in known_states])
        n_values = _exclusive_count(present, self.starts)
        if self.any_known:
            n_values = n_values + self.per_entity([s.counts[i] if s else 0 for s in known_states])
        stored_top = [float(m) if s and (m := s.maxima[i]) is not None else -np.inf for s in known_states]
        top = self.running_before(np.where(present, x, -np.inf), stored_top, maximum=True)
        top = np.where(np.isinf(top), np.nan, top)  # -inf: no value yet
        sums_at = self.on_timeline(total, [sums[i] for s in known_states if s for sums in s.recent_sums], np.float64)
        recent_amounts = [_or_nan(values[i]) for s in known_states if s for values in s.recent_amounts]
        amounts_at = self.on_timeline(x, recent_amounts, np.float64)
        windows = []
        for (w, _), low in zip(WINDOWS, self.lows, strict=True):
            window = np.where(low < pos, total - sums_at[np.minimum(low, size - 1)], 0.0)
            windows.append(window)
            out[f"{PREFIX}{name}.sum_{w}"] = window
        some = np.maximum(n_values, 1)
        average = np.where(n_values > 0, f.mean(total, some), np.nan)
        out[f"{PREFIX}{name}.ratio_mean"] = f.ratios(x, average)
        spread = np.sqrt(np.maximum(f.variance(squares, some, average), 0.0))
        zscore = np.where(present & (n_values >= 2) & (spread > 0), f.zscore(x, average, spread), np.nan)
        out[f"{PREFIX}{name}.zscore"] = zscore
        out[f"{PREFIX}{name}.ratio_max"] = f.ratios(x, top)
        day_mean = np.where(self.counts[1] > 0, f.mean(windows[1], np.maximum(self.counts[1], 1)), np.nan)
        out[f"{PREFIX}{name}.ratio_mean_24h"] = f.ratios(x, day_mean)
        top_day = _range_max(amounts_at, self.lows[1], pos)
        out[f"{PREFIX}{name}.ratio_max_24h"] = f.ratios(x, top_day)
        last = self.previous(x, self.per_entity([_or_nan(s.last_amounts[i]) if s else np.nan for s in known_states]))
        out[f"{PREFIX}{name}.prev_ratio_mean"] = f.ratios(last, average)
        for g, position in enumerate(self.spec.group_index()):
            group_mean = self.group_mean(i * len(self.spec.amount_groups) + g, f"c{position}", value, present)
            out[f"{PREFIX}{name}.ratio_mean_by_{self.spec.amount_groups[g]}"] = f.ratios(x, group_mean)
        out[f"{PREFIX}{name}.max_24h_ratio_mean"] = f.ratios(top_day, average)
        usual = np.where(n_values > 0, f.per_day(total, self.days), np.nan)
        out[f"{PREFIX}{name}.sum_24h_ratio_usual"] = f.ratios(windows[1], usual)
        return total

    def running_before(self, values: np.ndarray, seeds: Sequence[float], maximum: bool = False) -> np.ndarray:
        """Per row: its entity's seed, then the values of the entity's earlier rows, summed (or maxed)."""
        return _running_before(self.entity_keys, values, self.seed_keys, seeds, maximum)

    def pairs(self, category: str) -> pl.DataFrame:
        """The distinct (entity index, entity, category value) of the rows with a value."""
        return self.work.select("g", "e", category).unique(maintain_order=True).drop_nulls(category)

    def stored_seen(self, j: int, category: str) -> pl.DataFrame:
        """One row per (entity, category value) of the rows: how often the entity's stored state saw
        the value (`Seen.get`, all pairs at once: a join on the values' keys)."""
        pairs = self.pairs(category)
        texts = pairs[category].unique()
        key_of = pl.DataFrame(
            {category: texts, "key": pl.Series([value_key(t) for t in texts.to_list()], dtype=pl.UInt64)}
        )
        entities = [g for g, state in enumerate(self.known) if state is not None and len(state.seen[j])]
        tables = [self.known[g].seen[j] for g in entities]  # type: ignore[union-attr]
        none = np.zeros(0, dtype=np.uint64)
        stored = pl.DataFrame(
            {
                "g": np.repeat(np.asarray(entities, dtype=np.int64), [len(t) for t in tables]),
                "key": np.concatenate([none, *(np.frombuffer(t.keys, dtype=np.uint64) for t in tables)]),
                "s0": np.concatenate([none, *(np.frombuffer(t.counts, dtype=np.uint64) for t in tables)]).astype(
                    np.int64
                ),
            }
        )
        return (
            pairs.join(key_of, on=category, how="left", maintain_order="left")
            .join(stored, on=["g", "key"], how="left", maintain_order="left")
            .select("e", category, pl.col("s0").fill_null(0))
        )

    def group_mean(self, slot: int, category: str, value: np.ndarray, present: np.ndarray) -> np.ndarray:
        """The entity's mean amount among its events of the row's category value (NaN: none or no value)."""
        keys = self.work.select("e", category)
        pairs = self.pairs(category)
        stored: list[list[float]] = []
        if self.any_known:
            for group, text in pairs.select("g", category).iter_rows():
                state = self.known[group]
                found = state.by_group[slot].get(text) if state is not None else None
                stored.append(found if found is not None else [0.0, 0])
        else:
            stored = [[0.0, 0]] * pairs.height
        seed_keys = pairs.select("e", category)
        sums = _running_before(keys, value, seed_keys, [float(p[0]) for p in stored])
        start = seed_keys.with_columns(pl.Series("n0", [int(p[1]) for p in stored], dtype=pl.Int64))
        n_values = (
            keys.with_columns(pl.Series("p", present).cast(pl.Int64))
            .with_columns(pl.col("p").cum_sum().shift(1).over(["e", category]).fill_null(0).alias("n"))
            .join(start, on=["e", category], how="left", maintain_order="left")
            .select(pl.col("n") + pl.col("n0").fill_null(0))
            .to_series()
            .to_numpy()
        )
        average: np.ndarray = np.where(n_values > 0, f.mean(sums, np.maximum(n_values, 1)), np.nan)
        average[self.work[category].is_null().to_numpy()] = np.nan
        return average

    def category(self, j: int, name: str, out: dict[str, np.ndarray]) -> None:
        category = f"c{j}"
        counted = self.work.select("e", category, pl.int_range(pl.len()).over(["e", category]).alias("n"))
        if self.any_known:
            start = self.stored_seen(j, category)
            counted = counted.join(start, on=["e", category], how="left", maintain_order="left").select(
                pl.col("n") + pl.col("s0").fill_null(0)
            )
        seen = counted.select(pl.last()).to_series().to_numpy().astype(np.float64)
        seen[self.work[category].is_null().to_numpy()] = np.nan
        out[f"{PREFIX}{name}.seen"] = seen
        some = np.maximum(self.n_before, 1)
        out[f"{PREFIX}{name}.seen_share"] = np.where(self.n_before > 0, f.share(seen, some), np.nan)
        self.new[j] = new = seen == 0  # a value (NaN: none) the entity had not used before
        flags = self.on_timeline(new, [bool(r[j]) for s in self.known if s for r in s.recent_new], bool)
        out[f"{PREFIX}{name}.new_24h"] = self.window_count(flags, 1).astype(np.float64)

    def window_count(self, values: np.ndarray, w: int) -> np.ndarray:
        """Per row: the total of `values` (flags or whole numbers, on the timeline) over its entity's
        events in window `w` before it."""
        running = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
        result: np.ndarray = running[self.pos] - running[self.lows[w]]
        return result


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _exclusive_count(flags: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """How many earlier rows of the row's entity have the flag (rows sorted by entity; `starts`: the
    index of each row's entity's first row). Integer sums: exact."""
    values = flags.astype(np.int64)
    total: np.ndarray = np.cumsum(values) - values
    result: np.ndarray = total - total[starts]
    return result


def _running_before(
    keys: pl.DataFrame, values: np.ndarray, seed_keys: pl.DataFrame, seeds: Sequence[float], maximum: bool = False
) -> np.ndarray:
    """For each row: its key's seed, then the values of the key's earlier rows, summed (or maxed) in
    that order, one addition at a time as `EntityState.advance` adds them. Rows are in time order
    within each key; every key of `keys` has one seed row in `seed_keys`."""
    column = "__value__"
    both = pl.concat(
        [
            seed_keys.with_columns(pl.Series(column, np.asarray(seeds, dtype=np.float64), dtype=pl.Float64)),
            keys.with_columns(pl.Series(column, values, dtype=pl.Float64)),
        ]
    )
    running = pl.col(column).cum_max() if maximum else pl.col(column).cum_sum()
    result = both.select(running.shift(1).over(keys.columns))[column].tail(keys.height)
    return result.to_numpy()


def _range_max(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """max(values[low[k]:high[k]]) ignoring NaN, NaN where there is none (a sparse table)."""
    filled = np.where(np.isnan(values), -np.inf, values)
    levels = [filled]
    width = 1
    while width * 2 <= max(len(values), 1):
        previous = levels[-1]
        levels.append(np.maximum(previous[:-width], previous[width:]))
        width *= 2
    result = np.full(len(low), -np.inf)
    length = high - low
    present = length > 0
    if present.any():
        level = np.floor(np.log2(length[present])).astype(np.int64)
        lo, hi = low[present], high[present]
        best = np.full(len(lo), -np.inf)
        for k in np.unique(level).tolist():
            pick = level == k
            best[pick] = np.maximum(levels[k][lo[pick]], levels[k][hi[pick] - (1 << k)])
        result[present] = best
    out: np.ndarray = np.where(np.isinf(result), np.nan, result)
    return out


def _window_lows(
    timeline_ms: np.ndarray, timeline_group: np.ndarray, pos: np.ndarray, offsets: np.ndarray, lengths: np.ndarray
) -> list[np.ndarray]:
    """Per window, the timeline index of the first event inside it before each row (at `pos`)."""
    if not len(pos):
        return [np.zeros(0, dtype=np.int64) for _ in WINDOWS]
    low_ms = int(timeline_ms.min())
    span = int(timeline_ms.max()) - low_ms + LONGEST + 1
    if (len(offsets) + 1) * span < KEY_LIMIT:
        # one sorted key: each entity's times, offset far past the previous entity's
        key = timeline_group * span + (timeline_ms - low_ms)
        return [np.searchsorted(key, key[pos] - width, side="right") for _, width in WINDOWS]
    lows = [np.empty(len(pos), dtype=np.int64) for _ in WINDOWS]
    row_group = timeline_group[pos]
    order = np.argsort(row_group, kind="stable")
    bounds = np.searchsorted(row_group[order], np.arange(len(offsets) + 1))
    for group, (begin, length) in enumerate(zip(offsets.tolist(), lengths.tolist(), strict=True)):
        rows = order[bounds[group] : bounds[group + 1]]
        times = timeline_ms[begin : begin + length]
        for low, (_, width) in zip(lows, WINDOWS, strict=True):
            low[rows] = begin + np.searchsorted(times, timeline_ms[pos[rows]] - width, side="right")
    return lows


Loader = Callable[[Sequence[str]], dict[str, EntityState]]
