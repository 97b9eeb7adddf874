"""History features of a whole frame of events: the entry point of training and batch prediction.

Most entities go through the vectorised engine (`timeline`); the few it cannot take to the bit are
replayed one event at a time through `EntityState`: an entity with an event older than the newest
of its starting history (a late event, which a state answers from its recent events only), or with
an amount or a stored number that is not finite (NaN, which the columns use for "missing", would be
mistaken for it). Either way every row gets exactly what GetEventPrediction would have given it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.features.history import columns, login_frame
from fraudhawk.features.history.formulas import hour_of, share
from fraudhawk.features.history.spec import LONGEST, NO_ENTITY, HistorySpec
from fraudhawk.features.history.state import EntityState, replay
from fraudhawk.features.history.timeline import Timeline, known
from fraudhawk.features.seen import Seen

REPLAY_STEP = 50_000  # events replayed between two calls of `tick`
_ROW = "__row__"

#: Called between steps of long work (a heartbeat); it may raise to stop the work.
Tick = Callable[[], None]


def compute(
    spec: HistorySpec,
    frame: pl.DataFrame,
    states: Mapping[str, EntityState] | None = None,
    with_states: bool = False,
    tick: Tick | None = None,
    login_table: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, EntityState]]:
    """History features of every row of `frame` (ENTITY_ID, EVENT_MS and the spec's variables as
    text), in its order: each entity starts from its state in `states` (none: a new entity) and takes
    the frame's events in time order, ties in frame order (so give them in arrival order).

    With `with_states` (training: no starting states), also each entity's state after its last event,
    what `EntityState.advance` would have built one event at a time. `states` is not changed.
    `login_table`: `login_frame.events` of `frame`, when the caller has it already."""
    if with_states and states:
        raise ValueError("final states are built only from no starting state")
    beat = tick or (lambda: None)
    names = spec.feature_names()
    if not frame.height:
        return pl.DataFrame(schema=dict.fromkeys(names, pl.Float64)), {}
    starting = states or {}
    slow = needs_replay(spec, frame, starting)
    if not slow:
        features, final = _vectorised(spec, frame, starting, with_states, login_table)
        beat()
        return features, final
    indexed = frame.with_row_index(_ROW)
    is_slow = indexed[layout.ENTITY_ID].is_in(slow)
    parts: list[pl.DataFrame] = []
    final = {}
    fast = indexed.filter(~is_slow)
    if fast.height:
        features, final = _vectorised(spec, fast, starting, with_states)
        parts.append(features.with_columns(fast[_ROW]))
        beat()
    replayed = {entity: starting[entity].copy() for entity in slow if entity in starting}
    ordered = indexed.filter(is_slow).sort(layout.EVENT_MS, maintain_order=True)
    for start in range(0, ordered.height, REPLAY_STEP):
        step = ordered.slice(start, REPLAY_STEP)
        parts.append(replay_frame(spec, step, replayed).with_columns(step[_ROW]))
        beat()
    if with_states:
        final.update(replayed)
    return pl.concat(parts).sort(_ROW).drop(_ROW), final


def replay_frame(spec: HistorySpec, frame: pl.DataFrame, states: dict[str, EntityState]) -> pl.DataFrame:
    """History features of `frame`'s events in its order, advancing `states` one event at a time."""
    rows = replay(spec, states, columns.events_of(spec, frame))
    return pl.DataFrame(rows, schema=dict.fromkeys(spec.feature_names(), pl.Float64), orient="row", strict=False)


def needs_replay(spec: HistorySpec, frame: pl.DataFrame, states: Mapping[str, EntityState]) -> list[str]:
    """The entities the vectorised engine leaves to the one-event engine (see the module's text)."""
    amounts = [columns.amounts(frame, name) for name in spec.amounts]
    odd = [(x.is_not_null() & ~x.is_finite()).alias(f"odd{i}") for i, x in enumerate(amounts)]
    summary = (
        frame.select(layout.ENTITY_ID, layout.EVENT_MS)
        .with_columns(pl.any_horizontal(odd).alias("odd") if odd else pl.lit(False).alias("odd"))
        .group_by(layout.ENTITY_ID)
        .agg(pl.col(layout.EVENT_MS).min().alias("first"), pl.col("odd").any())
    )
    if not states:
        summary = summary.filter(pl.col("odd"))
    out: list[str] = []
    for entity, first, strange in summary.iter_rows():
        if entity is None:  # events without an entity stand alone: nothing to be late against
            continue
        state = known(states.get(entity))
        late = state is not None and state.last_ms is not None and first < state.last_ms
        # the login profile's vectorised engine starts every entity from nothing
        profiled = state is not None and spec.login is not None
        if strange or late or profiled or (state is not None and not _finite(state)):
            out.append(entity)
    return out


def _finite(state: EntityState) -> bool:
    """Whether every number of the state is finite."""
    numbers = itertools.chain(
        state.sums,
        state.squares,
        itertools.chain.from_iterable(state.recent_sums),
        (entry[0] for table in state.by_group for entry in table.values()),
        (x for x in itertools.chain(state.maxima, state.last_amounts) if x is not None),
        (x for row in state.recent_amounts for x in row if x is not None),
    )
    return all(map(math.isfinite, numbers))


def _vectorised(
    spec: HistorySpec,
    frame: pl.DataFrame,
    states: Mapping[str, EntityState],
    with_states: bool,
    login_table: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, EntityState]]:
    timeline = Timeline(spec, frame, states)
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        timeline.activity(out)
        running = [timeline.amount(i, name, out) for i, name in enumerate(spec.amounts)]
        for j, name in enumerate(spec.categories):
            timeline.category(j, name, out)
    restore = np.empty(frame.height, dtype=np.int64)
    restore[timeline.work["row"].to_numpy()] = timeline.index
    columns_out = {name: np.asarray(values, dtype=np.float64)[restore] for name, values in out.items()}
    logins = login_table
    if logins is None and spec.login is not None:
        logins = login_frame.events(spec.login, frame)
    if spec.login is not None and logins is not None:
        columns_out.update(login_frame.features(spec.login, logins))
    features = pl.DataFrame({name: columns_out[name] for name in spec.feature_names()}).fill_nan(None)
    final = _final_states(spec, timeline, running) if with_states else {}
    if with_states and spec.login is not None and logins is not None:
        for entity, profile in login_frame.final_profiles(spec.login, logins).items():
            final[entity].login = profile
    return features, final


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


def _final_states(spec: HistorySpec, timeline: Timeline, running: list[np.ndarray]) -> dict[str, EntityState]:
    """Each entity's state after its last event (entities that started from nothing)."""
    work = timeline.work
    n_rows = work.height
    begins = timeline.begins
    ends = np.append(begins[1:], n_rows)
    hours = hour_of(timeline.ms).tolist()
    ms_list = timeline.ms.tolist()
    amount_values = [work[f"a{i}"].to_list() for i in range(len(spec.amounts))]
    category_values = [work[f"c{j}"].to_list() for j in range(len(spec.categories))]
    running_lists = [r.tolist() for r in running]
    near = timeline.near.tolist()
    n_before = timeline.n_before.tolist()
    new_flags = [timeline.new[j].astype(np.int64).tolist() for j in range(len(spec.categories))]
    groups = spec.group_index()
    states: dict[str, EntityState] = {}
    for entity, begin, end in zip(timeline.entities, begins.tolist(), ends.tolist(), strict=True):
        if entity.startswith(NO_ENTITY):
            continue
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
        state.recent_hours = [[near[r], n_before[r]] for r in keep]
        state.recent_new = [[flags[r] for flags in new_flags] for r in keep]
        last_near, last_n = near[end - 1], n_before[end - 1]
        state.last_hour_share = share(last_near, last_n) if last_n else None
        states[entity] = state
    return states
