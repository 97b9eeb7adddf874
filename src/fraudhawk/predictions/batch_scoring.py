"""Scoring a whole frame of events with a detector plan, as GetEventPrediction would score each one.

The frame holds valid events in segment layout (EVENT_ID, EVENT_MS, ENTITY_ID, the event type's
variables as text, null where the event does not carry them). Work is done a column at a time where
the result is provably the same as `engine.evaluate`'s:

* model scores: the models score many rows at once (as `ScoringModel.scores`, on every core), rounded
  as in real time;
* TFI entity history: each entity starts from its stored state and advances in memory through the
  frame in event-time order, exactly as if the events had been sent one by one;
* rules: each condition of a rule (split at its and/or/!) is evaluated once per distinct combination
  of the values it reads (text of the variables, scores, external outputs), its result copied to
  every row with that combination, and the conditions' results combined per row in Kleene logic;
  equal text gives equal typed values, so each row gets what real time would give it;
* external models: called once per event (no batch form exists), a few at a time.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from fraudhawk.catalog.values import parse_utc_timestamp
from fraudhawk.eventdata import layout
from fraudhawk.features.history import COUNT_CAP, HOUR_MS, LONGEST, PREFIX, WINDOWS, EntityState, HistorySpec
from fraudhawk.features.seen import value_key
from fraudhawk.predictions.engine import choose
from fraudhawk.predictions.plan import DetectorPlan, PlannedModel
from fraudhawk.rules import Value, coerce
from fraudhawk.rules.parts import TRUE, UNKNOWN, Junction, Negation, Part, level
from fraudhawk.scoring.external import ExternalInvoker
from fraudhawk.scoring.model import ScoringModel
from fraudhawk.scoring.states import Tracked

MODEL_SCORES = "MODEL_SCORES"
OUTCOMES = "OUTCOMES"
RULE_RESULTS = "RULE_RESULTS"
ERROR = "ERROR"
SEPARATOR = ";"
HISTORY_STEP = 50_000  # entities whose states are loaded, or events replayed, between two calls of `tick`
SCORE_STEP = 100_000  # events scored by the models between two calls of `tick`
_ROW = "__row__"
_GROUP = "__group__"
_ABSENT: Any = object()  # a value an event does not have (rules see it as missing)
_KEY_LIMIT = 2**62  # a timeline key (entity * span + time) must fit in int64
_EXTERNAL_PARALLEL = 8
_THREADS = max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1), 1)

#: Called between steps of long work with the number of rows the step finished scoring (0: none, a
#: heartbeat only); it may raise to stop the work (cancel, lost claim, shutdown).
Tick = Callable[[int], None]
#: Loads the stored states of some entities for a TFI model version.
StateLoader = Callable[[Tracked, Sequence[str]], dict[str, EntityState]]


def with_all_variables(plan: DetectorPlan, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with a null text column for each variable of the event type it lacks: models see an
    absent variable as missing, rules as its default."""
    absent = [name for name in plan.spec.variables if name not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in absent) if absent else frame


def event_problems(plan: DetectorPlan, frame: pl.DataFrame) -> pl.Series:
    """Why each event cannot be evaluated where GetEventPrediction would refuse it (beyond what
    `validate_batch` checks), or null. `frame` has every variable (see `with_all_variables`)."""
    names = list(plan.spec.variables)
    checks: list[pl.Expr] = []
    present = [pl.col(name).is_not_null() for name in names]
    checks.append(
        pl.when(~pl.any_horizontal(present) if present else pl.lit(True)).then(
            pl.lit("the event has no variable values: provide at least one event variable")
        )
    )
    for name in names:
        if plan.spec.variables[name] == "DATETIME":
            values = frame[name].drop_nulls().unique().to_list()
            bad = [value for value in values if value != "" and parse_utc_timestamp(value) is None]
            if bad:
                checks.append(
                    pl.when(pl.col(name).is_in(bad)).then(
                        pl.lit(f"{name} '")
                        + pl.col(name).str.slice(0, 80)
                        + pl.lit("' is not a DATETIME: use an ISO-8601 UTC timestamp such as 2019-11-30T13:01:01Z")
                    )
                )
    for model in plan.models:
        if model.variables:
            read = sorted(model.variables)
            found = [pl.col(name).is_not_null() for name in read if name in frame.columns]
            checks.append(
                pl.when(~pl.any_horizontal(found) if found else pl.lit(True)).then(
                    pl.lit(f"model {model.model_id} reads {', '.join(read)}; provide at least one of them")
                )
            )
    return frame.select(pl.coalesce(checks).alias(ERROR)).to_series()


# --- entity history ----------------------------------------------------------------------------------


def history(model: PlannedModel, frame: pl.DataFrame, load: StateLoader, tick: Tick) -> pl.DataFrame | None:
    """TFI history features of every row of `frame`, in its order (None for a model without history):
    each entity's history starts from its stored state and takes the frame's events in event-time
    order (ties in frame order), as if they had been sent one by one.

    `vectorised_history` computes them a column at a time; the entities it cannot take (an event in
    the frame older than the entity's stored history) are replayed one event at a time."""
    spec = model.history
    if spec is None:
        return None
    entities = frame[layout.ENTITY_ID].unique(maintain_order=True).to_list()
    states: dict[str, EntityState] = {}
    for start in range(0, len(entities), HISTORY_STEP):
        states.update(load(model.tracked, entities[start : start + HISTORY_STEP]))
        tick(0)
    replayed = replayed_entities(spec, frame, states)
    if not replayed:
        fast_only = vectorised_history(spec, frame, states)
        tick(0)
        return fast_only
    indexed = frame.with_row_index(_ROW)
    slow = indexed[layout.ENTITY_ID].is_in(replayed)
    parts: list[pl.DataFrame] = []
    fast = indexed.filter(~slow)
    if fast.height:
        parts.append(vectorised_history(spec, fast, states).with_columns(fast[_ROW]))
        tick(0)
    ordered = indexed.filter(slow).sort(layout.EVENT_MS, maintain_order=True)
    for start in range(0, ordered.height, HISTORY_STEP):
        step = ordered.slice(start, HISTORY_STEP)
        features = model.model.history_of(step, states)
        assert features is not None
        parts.append(features.with_columns(step[_ROW]))
        tick(0)
    if not parts:
        return pl.DataFrame(schema=dict.fromkeys(spec.feature_names(), pl.Float64))
    return pl.concat(parts).sort(_ROW).drop(_ROW)


def _amounts(frame: pl.DataFrame, name: str) -> pl.Series:
    """A followed amount as `history.events_of` reads it: the stripped text as a number, else null."""
    if name not in frame.columns:
        return pl.Series(name, [None] * frame.height, dtype=pl.Float64)
    return frame[name].cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def _categories(frame: pl.DataFrame, name: str) -> pl.Series:
    """A followed category as `history.events_of` reads it: the stripped text, null when empty."""
    if name not in frame.columns:
        return pl.Series(name, [None] * frame.height, dtype=pl.String)
    text = frame[name].cast(pl.String).str.strip_chars()
    return pl.select(pl.when(text.str.len_chars() > 0).then(text)).to_series()


def _known(state: EntityState | None) -> EntityState | None:
    return state if state is not None and state.n > 0 and state.last_ms is not None else None


def replayed_entities(spec: HistorySpec, frame: pl.DataFrame, states: Mapping[str, EntityState]) -> list[str]:
    """Entities `vectorised_history` leaves to the one-event-at-a-time replay: those with an event in
    `frame` older than the newest of their stored history (a late event, which the state answers
    from its recent events only), and those with an amount or a stored number that is not finite."""
    amounts = [_amounts(frame, name) for name in spec.amounts]
    odd = [(x.is_not_null() & ~x.is_finite()).alias(f"odd{i}") for i, x in enumerate(amounts)]
    summary = (
        frame.select(layout.ENTITY_ID, layout.EVENT_MS)
        .with_columns(pl.any_horizontal(odd).alias("odd") if odd else pl.lit(False).alias("odd"))
        .group_by(layout.ENTITY_ID)
        .agg(pl.col(layout.EVENT_MS).min().alias("first"), pl.col("odd").any())
    )
    out: list[str] = []
    for entity, first, strange in summary.iter_rows():
        state = _known(states.get(entity))
        late = state is not None and state.last_ms is not None and first < state.last_ms
        if strange or late or (state is not None and not _finite(state)):
            out.append(entity)
    return out


def _finite(state: EntityState) -> bool:
    """Whether every number of the state is finite (else features may be NaN, which the vectorised
    engine cannot tell from missing)."""
    numbers = itertools.chain(
        state.sums,
        state.squares,
        itertools.chain.from_iterable(state.recent_sums),
        (entry[0] for table in state.by_group for entry in table.values()),
        (x for x in itertools.chain(state.maxima, state.last_amounts) if x is not None),
        (x for row in state.recent_amounts for x in row if x is not None),
    )
    return all(map(math.isfinite, numbers))


def _ratio(x: np.ndarray, base: np.ndarray) -> np.ndarray:
    """history's `_ratio` for columns: x / base where both are known and base > 0, else missing (NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        result: np.ndarray = np.where(~np.isnan(x) & ~np.isnan(base) & (base > 0), x / base, np.nan)
    return result


def _exclusive_count(flags: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """How many earlier rows of the row's entity have the flag (rows sorted by entity; `starts`: the
    index of each row's entity's first row)."""
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


def vectorised_history(spec: HistorySpec, frame: pl.DataFrame, states: Mapping[str, EntityState]) -> pl.DataFrame:
    """History features of `frame`'s rows (in its order), each entity starting from its stored state,
    a column at a time. Equal, to the last bit, to replaying the rows one at a time in time order
    (`EntityState.features` then `advance`), for entities `replayed_entities` does not name: the same
    running sums, taken in the same order, and the same divisions."""
    names = spec.feature_names()
    if not frame.height:
        return pl.DataFrame(schema=dict.fromkeys(names, pl.Float64))
    timeline = _Timeline(spec, frame, states)
    columns: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        timeline.activity(columns)
        for i, name in enumerate(spec.amounts):
            timeline.amount(i, name, columns)
        for j, name in enumerate(spec.categories):
            timeline.category(j, name, columns)
    restore = np.empty(frame.height, dtype=np.int64)
    restore[timeline.work["row"].to_numpy()] = timeline.index
    return pl.DataFrame({name: np.asarray(columns[name], dtype=np.float64)[restore] for name in names}).fill_nan(None)


class _Timeline:
    """The rows sorted by (entity, time, arrival), and for each entity one timeline: its stored
    state's recent events (the last 7 days, with the running sums before each), then its rows; the
    time windows, their sums and maxima look back along it."""

    def __init__(self, spec: HistorySpec, frame: pl.DataFrame, states: Mapping[str, EntityState]) -> None:
        n_rows = frame.height
        self.spec = spec
        self.work = work = pl.DataFrame(
            {
                "e": frame[layout.ENTITY_ID].cast(pl.String),
                "ms": frame[layout.EVENT_MS].cast(pl.Int64),
                "row": np.arange(n_rows, dtype=np.int64),
                **{f"a{i}": _amounts(frame, name) for i, name in enumerate(spec.amounts)},
                **{f"c{j}": _categories(frame, name) for j, name in enumerate(spec.categories)},
            }
        ).sort(["e", "ms", "row"])
        self.ms = ms = work["ms"].to_numpy()
        is_start = np.ones(n_rows, dtype=bool)
        is_start[1:] = (work["e"][1:] != work["e"][:-1]).to_numpy()
        self.group = group = np.cumsum(is_start) - 1
        self.begins = begins = np.flatnonzero(is_start)
        self.index = np.arange(n_rows)
        self.starts = begins[group]
        self.work = work = work.with_columns(pl.Series("g", group))
        self.k = self.index - self.starts  # the row's place among its entity's rows
        self.known = known = [_known(states.get(name)) for name in work["e"].gather(begins).to_list()]
        n_entities = len(known)
        recent = np.array([len(s.recent_ms) if s else 0 for s in known], dtype=np.int64)
        lengths = recent + np.bincount(group, minlength=n_entities)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        self.size = int(lengths.sum())
        recent_group = np.repeat(np.arange(n_entities), recent)
        recent_start = np.concatenate(([0], np.cumsum(recent)[:-1]))
        self.recent_pos = offsets[recent_group] + np.arange(len(recent_group)) - recent_start[recent_group]
        self.pos = offsets[group] + recent[group] + self.k  # the row's place on the timelines
        times = self.on_timeline(ms, [t for s in known if s for t in s.recent_ms], np.int64)
        groups = self.on_timeline(group, recent_group, np.int64)
        self.lows = _window_lows(times, groups, self.pos, offsets, lengths)
        self.counts = [self.pos - low for low in self.lows]
        self.n_before = self.per_entity([s.n if s else 0 for s in known], np.int64) + self.k
        self.entity_keys = work.select("e")
        self.seed_keys = work.select("e").gather(begins)

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

    def activity(self, columns: dict[str, np.ndarray]) -> None:
        known, ms, counts, n_before = self.known, self.ms, self.counts, self.n_before
        has_state = self.per_entity([s is not None for s in known], bool)
        last_ms = self.per_entity([s.last_ms if s and s.last_ms is not None else 0 for s in known], np.int64)
        since = (ms - self.previous(ms, last_ms)) / 1000
        columns[f"{PREFIX}since_last_s"] = np.where((self.k > 0) | has_state, since, np.nan)
        for (w, _), count in zip(WINDOWS, counts, strict=True):
            columns[f"{PREFIX}count_{w}"] = count.astype(np.float64)
        columns[f"{PREFIX}events_seen"] = np.minimum(n_before, COUNT_CAP).astype(np.float64)
        columns[f"{PREFIX}rate_ratio"] = counts[1] / ((counts[2] + 1) / 7)
        hours = (ms // HOUR_MS) % 24
        stored_hours = np.array([s.hours if s else [0] * 24 for s in known], dtype=np.int64).reshape(len(known), 24)
        near = np.zeros(len(ms), dtype=np.int64)
        for hour in range(24):
            before = _exclusive_count(hours == hour, self.starts) + stored_hours[self.group, hour]
            neighbours = (hours == hour) | (hours == (hour + 1) % 24) | (hours == (hour - 1) % 24)
            near[neighbours] += before[neighbours]
        positive = n_before > 0
        columns[f"{PREFIX}hour_share"] = np.where(positive, near / np.maximum(n_before, 1), np.nan)
        first_ms = self.per_entity([s.first_ms if s and s.first_ms is not None else -1 for s in known], np.int64)
        first = np.where(first_ms >= 0, first_ms, ms[self.starts])
        days = np.maximum((ms - first) / 86_400_000, 1.0)
        columns[f"{PREFIX}rate_vs_usual"] = np.where(positive, counts[1] / (n_before / days), np.nan)

    def amount(self, i: int, name: str, columns: dict[str, np.ndarray]) -> None:
        known, pos, size = self.known, self.pos, self.size
        x = self.work[f"a{i}"].fill_null(np.nan).to_numpy()
        present = ~np.isnan(x)
        value = np.where(present, x, 0.0)
        total = _running_before(self.entity_keys, value, self.seed_keys, [s.sums[i] if s else 0.0 for s in known])
        squares = _running_before(
            self.entity_keys, value * value, self.seed_keys, [s.squares[i] if s else 0.0 for s in known]
        )
        n_values = _exclusive_count(present, self.starts) + self.per_entity([s.counts[i] if s else 0 for s in known])
        stored_top = [float(m) if s and (m := s.maxima[i]) is not None else -np.inf for s in known]
        top = _running_before(self.entity_keys, np.where(present, x, -np.inf), self.seed_keys, stored_top, True)
        top = np.where(np.isinf(top), np.nan, top)  # -inf: no value yet
        sums_at = self.on_timeline(total, [sums[i] for s in known if s for sums in s.recent_sums], np.float64)
        recent_amounts = [_or_nan(values[i]) for s in known if s for values in s.recent_amounts]
        amounts_at = self.on_timeline(x, recent_amounts, np.float64)
        windows = []
        for (w, _), low in zip(WINDOWS, self.lows, strict=True):
            window = np.where(low < pos, total - sums_at[np.minimum(low, size - 1)], 0.0)
            windows.append(window)
            columns[f"{PREFIX}{name}.sum_{w}"] = window
        mean = np.where(n_values > 0, total / np.maximum(n_values, 1), np.nan)
        columns[f"{PREFIX}{name}.ratio_mean"] = _ratio(x, mean)
        std = np.sqrt(np.maximum(squares / np.maximum(n_values, 1) - mean * mean, 0.0))
        columns[f"{PREFIX}{name}.zscore"] = np.where(present & (n_values >= 2) & (std > 0), (x - mean) / std, np.nan)
        columns[f"{PREFIX}{name}.ratio_max"] = _ratio(x, top)
        day_mean = np.where(self.counts[1] > 0, windows[1] / np.maximum(self.counts[1], 1), np.nan)
        columns[f"{PREFIX}{name}.ratio_mean_24h"] = _ratio(x, day_mean)
        columns[f"{PREFIX}{name}.ratio_max_24h"] = _ratio(x, _range_max(amounts_at, self.lows[1], pos))
        last = self.previous(x, self.per_entity([_or_nan(s.last_amounts[i]) if s else np.nan for s in known]))
        columns[f"{PREFIX}{name}.prev_ratio_mean"] = _ratio(last, mean)
        for g, position in enumerate(self.spec.group_index()):
            group_mean = self.group_mean(i * len(self.spec.amount_groups) + g, f"c{position}", value, present)
            columns[f"{PREFIX}{name}.ratio_mean_by_{self.spec.amount_groups[g]}"] = _ratio(x, group_mean)

    def pairs(self, category: str) -> pl.DataFrame:
        """The distinct (entity index, entity, category value) of the rows with a value."""
        return self.work.select("g", "e", category).unique(maintain_order=True).drop_nulls(category)

    def pair_seeds(self, category: str, value: Callable[[EntityState, str], Any]) -> pl.DataFrame:
        """One row per (entity, category value) of the rows: `value(state, text)` or null (no state)."""
        pairs = self.pairs(category)
        seeds = []
        for group, text in pairs.select("g", category).iter_rows():
            state = self.known[group]
            seeds.append(value(state, text) if state is not None else None)
        return pairs.select("e", category).with_columns(pl.Series("seed", seeds, dtype=pl.Object))

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
        seeds = self.pair_seeds(category, lambda state, text: state.by_group[slot].get(text))
        stored = [seed if seed is not None else [0.0, 0] for seed in seeds["seed"].to_list()]
        keys = self.work.select("e", category)
        seed_keys = seeds.select("e", category)
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
        mean: np.ndarray = np.where(n_values > 0, sums / np.maximum(n_values, 1), np.nan)
        mean[self.work[category].is_null().to_numpy()] = np.nan
        return mean

    def category(self, j: int, name: str, columns: dict[str, np.ndarray]) -> None:
        category = f"c{j}"
        start = self.stored_seen(j, category)
        seen = (
            self.work.select("e", category, pl.int_range(pl.len()).over(["e", category]).alias("n"))
            .join(start, on=["e", category], how="left", maintain_order="left")
            .select(pl.col("n") + pl.col("s0").fill_null(0))
            .to_series()
            .to_numpy()
            .astype(np.float64)
        )
        seen[self.work[category].is_null().to_numpy()] = np.nan
        columns[f"{PREFIX}{name}.seen"] = seen
        columns[f"{PREFIX}{name}.seen_share"] = np.where(self.n_before > 0, seen / np.maximum(self.n_before, 1), np.nan)


def _or_nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _window_lows(
    timeline_ms: np.ndarray, timeline_group: np.ndarray, pos: np.ndarray, offsets: np.ndarray, lengths: np.ndarray
) -> list[np.ndarray]:
    """Per window, the timeline index of the first event inside it before each row (at `pos`)."""
    low_ms = int(timeline_ms.min())
    span = int(timeline_ms.max()) - low_ms + LONGEST + 1
    if (len(offsets) + 1) * span < _KEY_LIMIT:
        # one sorted key: each entity's times, offset far past the previous entity's
        key = timeline_group * span + (timeline_ms - low_ms)
        return [np.searchsorted(key, key[pos] - width, side="right") for _, width in WINDOWS]
    lows = [np.empty(len(pos), dtype=np.int64) for _ in WINDOWS]
    row_group = timeline_group[pos]
    for group, (begin, length) in enumerate(zip(offsets.tolist(), lengths.tolist(), strict=True)):
        rows = np.flatnonzero(row_group == group)
        times = timeline_ms[begin : begin + length]
        for low, (_, width) in zip(lows, WINDOWS, strict=True):
            low[rows] = begin + np.searchsorted(times, timeline_ms[pos[rows]] - width, side="right")
    return lows


# --- scoring -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class External:
    """External models' answers for each row: output variable -> raw text (None where absent), and
    the errors of the calls, if any."""

    outputs: dict[str, list[str | None]]
    errors: list[str | None]
    values: list[dict[str, Value]]  # the typed outputs as rules see them, per row


def _variable_text(plan: DetectorPlan, frame: pl.DataFrame, name: str) -> pl.Series:
    """A variable as rules read it: the event's text, or the variable's default where it is absent."""
    default = plan.spec.defaults.get(name, "")
    column = frame[name]
    return column if default is None else column.fill_null(default)


def call_external(plan: DetectorPlan, frame: pl.DataFrame, invoker: ExternalInvoker, tick: Tick) -> External:
    """Each event's external model outputs. The endpoints are called once per event, as real time
    calls them: slow for large files, but the same answer."""
    outputs: dict[str, list[str | None]] = {
        name: [None] * frame.height for model in plan.external for name in model.output_variables
    }
    errors: list[str | None] = [None] * frame.height
    values: list[dict[str, Value]] = [{} for _ in range(frame.height)]
    if not plan.external or not frame.height:
        return External(outputs, errors, values)
    texts = {name: _variable_text(plan, frame, name).to_list() for name in plan.spec.variables}

    def one(row: int) -> None:
        plain = {name: column[row] for name, column in texts.items()}
        problems = []
        for result in invoker.invoke_many(plan.external, plain, {}):
            if result.error:
                problems.append(f"external model {result.model.endpoint}: {result.error}")
            for name, raw in result.outputs.items():
                outputs[name][row] = raw.strip()
                values[row][name] = coerce(plan.score_types.get(name, "FLOAT"), raw.strip())
        errors[row] = "; ".join(problems) or None

    step = 100  # a heartbeat at least every 100 events, however slow the endpoints
    with ThreadPoolExecutor(max_workers=_EXTERNAL_PARALLEL, thread_name_prefix="fraudhawk-batch-external") as pool:
        for start in range(0, frame.height, step):
            list(pool.map(one, range(start, min(start + step, frame.height))))
            tick(0)
    return External(outputs, errors, values)


class BaseColumns:
    """Each model's features other than the entity history, a step of rows at a time, computed on a
    thread of their own up to `AHEAD` steps before the models need them: the first steps while the
    job computes the entity history (mostly on one core), the next while the models score. Taken
    in the order `model_scores` scores (step by step, model by model)."""

    AHEAD = 2

    def __init__(self, plan: DetectorPlan, frame: pl.DataFrame) -> None:
        self._frame = frame
        self._plans = [m.model.plan for m in plan.models]
        self._order = [(i, start) for start in range(0, frame.height, SCORE_STEP) for i in range(len(plan.models))]
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="fraudhawk-features")
        self._ahead: dict[tuple[int, int], Future[pl.DataFrame]] = {}
        self._next = 0
        for _ in range(self.AHEAD * len(plan.models)):
            self._submit()

    def _submit(self) -> None:
        if self._next < len(self._order):
            i, start = self._order[self._next]
            self._ahead[i, start] = self._pool.submit(self._plans[i].base, self._frame.slice(start, SCORE_STEP))
            self._next += 1

    def take(self, model: int, start: int) -> pl.DataFrame:
        base = self._ahead.pop((model, start)).result()
        self._submit()
        return base

    def __enter__(self) -> BaseColumns:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def model_scores(
    plan: DetectorPlan,
    frame: pl.DataFrame,
    histories: Mapping[str, pl.DataFrame | None],
    tick: Tick,
    bases: BaseColumns | None = None,
) -> list[np.ndarray]:
    """Each model's 0-1000 scores of every row, rounded as GetEventPrediction rounds them; a step of
    rows at a time, so memory stays bounded."""
    scores = [np.empty(frame.height) for _ in plan.models]
    for start in range(0, frame.height, SCORE_STEP):
        step = frame.slice(start, SCORE_STEP)
        for index, (model, out) in enumerate(zip(plan.models, scores, strict=True)):
            history = histories.get(model.model_id)
            step_history = history.slice(start, SCORE_STEP) if history is not None else None
            base = bases.take(index, start) if bases is not None else None
            out[start : start + step.height] = np.round(_scores(model.model, step, step_history, base))
        tick(step.height if plan.models else 0)
    return scores


def _scores(
    model: ScoringModel, frame: pl.DataFrame, history: pl.DataFrame | None, base: pl.DataFrame | None
) -> np.ndarray:
    """`ScoringModel.scores` on every core: LightGBM scores each row on one thread, walking the trees
    in the same order whatever the number of threads, so the scores are the same to the last bit."""
    matrix = model.plan.transform(frame, history, base)
    raw = model.raw_matrix(matrix, threads=_THREADS)
    return model.calibration.score(raw)


def _scores_text(plan: DetectorPlan, scores: list[np.ndarray], external: External, height: int) -> pl.Series:
    """MODEL_SCORES as AFD writes it: a Python-dict-like text keyed by model id, e.g. {'m': 953.0};
    external models' outputs follow, keyed by their output variables."""
    if plan.external:
        rows: list[str] = []
        for row in range(height):
            shown: dict[str, Any] = {m.model_id: float(s[row]) for m, s in zip(plan.models, scores, strict=True)}
            for name, column in external.outputs.items():
                value = external.values[row].get(name)
                if column[row] is not None:
                    shown[name] = value if value is not None else column[row]
            rows.append(repr(shown))
        return pl.Series(MODEL_SCORES, rows, dtype=pl.String)
    parts: list[pl.Expr] = []
    for index, (model, values) in enumerate(zip(plan.models, scores, strict=True)):
        prefix = "{" if index == 0 else ", "
        parts += [pl.lit(f"{prefix}{model.model_id!r}: "), pl.lit(pl.Series(values)).cast(pl.String)]
    if not parts:
        return pl.Series(MODEL_SCORES, ["{}"] * height, dtype=pl.String)
    # Whole floats print alike in polars and Python (953.0); scores are whole after rounding.
    return pl.select(pl.concat_str([*parts, pl.lit("}")]).alias(MODEL_SCORES)).to_series()


def decide(
    plan: DetectorPlan, frame: pl.DataFrame, scores: list[np.ndarray], external: External
) -> tuple[pl.Series, pl.Series]:
    """OUTCOMES and RULE_RESULTS of every row (`;`-joined).

    A condition's result depends only on the values it reads, so each condition of each rule is
    evaluated once per distinct combination of those values' text (equal text, equal typed values),
    and the results are copied to the rows. Evaluation is pure and never raises, so evaluating every
    rule and then choosing as `engine.run_rules` does (in order; FIRST_MATCHED stops at the first
    match) gives its answer."""
    height = frame.height
    if not plan.rules or not height:
        empty = pl.Series([""] * height, dtype=pl.String)
        return empty.alias(OUTCOMES), empty.alias(RULE_RESULTS)
    read = sorted(set().union(*(rule.compiled.variables for rule in plan.rules)))
    score_of = {m.score_variable: s for m, s in zip(plan.models, scores, strict=True)}
    keys: dict[str, pl.Series] = {}
    typed: dict[str, Callable[[list[int]], list[Any]]] = {}
    for name in read:
        if name in external.outputs:
            column = external.outputs[name]
            keys[name] = pl.Series(name, column, dtype=pl.String)
            typed[name] = _external_values(external, name)
        elif name in score_of:
            score = score_of[name]
            keys[name] = pl.Series(name, score).cast(pl.String)  # shortest round-trip text: one per value
            typed[name] = _score_values(plan.score_types.get(name, "FLOAT"), score)
        elif name in plan.spec.variables:
            keys[name] = _variable_text(plan, frame, name).alias(name)
            typed[name] = _text_values(plan.spec.variables[name], keys[name])
    conditions = _Conditions(keys, typed, frozenset(external.outputs), plan.lists, height)
    pattern = np.zeros(height, dtype=np.int64)
    for position, rule in enumerate(plan.rules):
        matched = conditions.level(rule.compiled.parts) == TRUE
        pattern |= matched.astype(np.int64) << position
    found, which = np.unique(pattern, return_inverse=True)
    outcomes = np.empty(len(found), dtype=object)
    matched = np.empty(len(found), dtype=object)
    for index, bits in enumerate(found.tolist()):
        chosen, rule_ids = choose(plan, [bool(bits >> position & 1) for position in range(len(plan.rules))])
        outcomes[index] = SEPARATOR.join(chosen)
        matched[index] = SEPARATOR.join(rule_ids)
    return (
        pl.Series(OUTCOMES, outcomes[which.reshape(-1)].tolist(), dtype=pl.String),
        pl.Series(RULE_RESULTS, matched[which.reshape(-1)].tolist(), dtype=pl.String),
    )


class _Conditions:
    """Each condition of the rules (see `fraudhawk.rules.parts`) evaluated once per distinct
    combination of the values it reads, its result copied to the rows with that combination."""

    def __init__(
        self,
        keys: Mapping[str, pl.Series],
        typed: Mapping[str, Callable[[list[int]], list[Any]]],
        external: frozenset[str],
        lists: Mapping[str, frozenset[str]],
        height: int,
    ) -> None:
        self.keys, self.typed, self.external, self.lists, self.height = keys, typed, external, lists, height
        self.groupings: dict[tuple[str, ...], tuple[list[int], np.ndarray]] = {}

    def level(self, part: Part) -> np.ndarray:
        """Each row's result on the FALSE < UNKNOWN < TRUE scale (int8)."""
        if isinstance(part, Junction):
            levels = [self.level(item) for item in part.items]
            combined: np.ndarray = functools.reduce(np.minimum if part.least else np.maximum, levels)
            return combined
        if isinstance(part, Negation):
            return TRUE - self.level(part.item)
        names = tuple(sorted(name for name in part.variables if name in self.keys))
        if names not in self.groupings:
            self.groupings[names] = _distinct([self.keys[name] for name in names], self.height)
        firsts, group_of = self.groupings[names]
        rows = zip(*(self.typed[name](firsts) for name in names), strict=True) if names else iter([()])
        fn, lists, partial = part.fn, self.lists, any(name in self.external for name in names)
        results: list[int] = []
        for row in rows:
            values = dict(zip(names, row, strict=True))
            if partial:  # an external model gave no such output for these rows: missing
                values = {name: value for name, value in values.items() if value is not _ABSENT}
            try:
                results.append(level(fn(values, lists)))
            except Exception:  # as `CompiledRule.evaluate`: only a misbehaving mapping could raise
                results.append(UNKNOWN)
        spread: np.ndarray = np.asarray(results, dtype=np.int8)[group_of]
        return spread


def _distinct(columns: list[pl.Series], height: int) -> tuple[list[int], np.ndarray]:
    """The first row of each distinct combination of `columns` and each row's combination."""
    if not columns:
        return [0], np.zeros(height, dtype=np.int64)
    grouped = (
        pl.DataFrame(columns)
        .with_row_index(_ROW)
        .group_by([c.name for c in columns], maintain_order=True)
        .agg(pl.col(_ROW))
        .with_row_index(_GROUP)
    )
    members = grouped.select(_GROUP, _ROW).explode(_ROW)
    group_of = np.empty(height, dtype=np.int64)
    group_of[members[_ROW].to_numpy()] = members[_GROUP].to_numpy()
    return grouped[_ROW].list.first().to_list(), group_of


def _text_values(data_type: str, texts: pl.Series) -> Callable[[list[int]], list[Any]]:
    """The typed values of a variable's text at some rows, as `coerce` makes them."""
    memo: dict[str | None, Value] = {}

    def values_at(rows: list[int]) -> list[Any]:
        out: list[Any] = []
        for text in texts.gather(rows).to_list():
            value = memo.get(text, _ABSENT)
            if value is _ABSENT:
                value = memo[text] = coerce(data_type, text)
            out.append(value)
        return out

    return values_at


def _score_values(data_type: str, scores: np.ndarray) -> Callable[[list[int]], list[Any]]:
    """A score as real time gives it to rules: its text coerced to the score variable's type."""
    memo: dict[str, Value] = {}

    def values_at(rows: list[int]) -> list[Any]:
        out: list[Any] = []
        for score in scores[rows].tolist():
            text = str(score)
            if text not in memo:
                memo[text] = coerce(data_type, text) if math.isfinite(score) else None
            out.append(memo[text])
        return out

    return values_at


def _external_values(external: External, name: str) -> Callable[[list[int]], list[Any]]:
    """An external model's typed output at some rows (`_ABSENT` where it gave none)."""

    def values_at(rows: list[int]) -> list[Any]:
        return [external.values[row].get(name, _ABSENT) for row in rows]

    return values_at


def score_frame(
    plan: DetectorPlan,
    frame: pl.DataFrame,
    histories: Mapping[str, pl.DataFrame | None],
    invoker: ExternalInvoker | None,
    tick: Tick,
    bases: BaseColumns | None = None,
) -> pl.DataFrame:
    """MODEL_SCORES, OUTCOMES, RULE_RESULTS and ERROR (external model failures) for each row of
    `frame`; `histories` holds each TFI model's history features for the same rows, `bases` (if
    given) the other features."""
    scores = model_scores(plan, frame, histories, tick, bases)
    if invoker is not None:
        external = call_external(plan, frame, invoker, tick)
    else:
        external = External({}, [None] * frame.height, [{} for _ in range(frame.height)])
    outcomes, rules = decide(plan, frame, scores, external)
    if not plan.models:
        tick(frame.height)
    return pl.DataFrame(
        [
            _scores_text(plan, scores, external, frame.height),
            outcomes,
            rules,
            pl.Series(ERROR, external.errors, dtype=pl.String),
        ]
    )
