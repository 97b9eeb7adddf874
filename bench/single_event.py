"""Scoring one event in process: the polars path against the single-row path, and entity states'
JSON old (json) against new (msgspec). Prints p50/p99 per event in microseconds and the machine.

    .venv/bin/python bench/single_event.py [--cards 300] [--days 90] [--events 2000]

Trains a Transaction Fraud Insights model with the real trainer on synthetic card payments (the
first 85% of events by time), then scores the remaining events one at a time in time order, each
with its card's state as it was just before it, and checks both paths give the same bits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from run import machine

from fraudhawk import datagen
from fraudhawk.eventdata import layout
from fraudhawk.eventdata.timestamps import parse_series
from fraudhawk.events.paths import Location
from fraudhawk.features import history as hist
from fraudhawk.features.plan import VariableInfo
from fraudhawk.features.single import SingleRowPlan
from fraudhawk.scoring.fastpredict import FastBooster
from fraudhawk.scoring.model import ScoringModel
from fraudhawk.training import trainer
from fraudhawk.training.dataset import from_csv
from fraudhawk.training.messages import Messages

Event = tuple[str, int, dict[str, str | None]]


def _train(folder: Path, cards: int, days: int) -> tuple[trainer.Trained, list[Event], list[str]]:
    source = folder / "txn.csv"
    datagen.transactions(source, cards=cards, days=days, seed=11)
    frame = pl.read_csv(source, infer_schema=False)
    cut = int(frame.height * 0.85)  # datagen writes events in time order
    frame.head(cut).write_csv(folder / "train.csv")
    variables = [VariableInfo(name, d, t) for name, (d, t) in datagen.TRANSACTION_VARIABLES.items()]
    messages = Messages()
    data = from_csv(Location(str(folder / "train.csv"), folder / "train.csv"), [v.name for v in variables], messages)
    request = trainer.Request("TRANSACTION_FRAUD_INSIGHTS", variables, {"FRAUD": ["fraud"], "LEGIT": ["legit"]})
    trained = trainer.train(data, request, lambda _text: None, lambda: False)
    names = [v.name for v in variables]
    rest = frame.slice(cut)
    times = parse_series(rest[layout.EVENT_TIMESTAMP]).to_list()
    events = [
        (row[layout.ENTITY_ID], int(ms), {n: row[n] for n in names})
        for row, ms in zip(rest.to_dicts(), times, strict=True)
    ]
    return trained, events, names


def _frame(entity: str, event_ms: int, variables: dict[str, str | None], names: list[str]) -> pl.DataFrame:
    """The one-row frame the prediction engine builds (predictions.engine.event_frame)."""
    return pl.DataFrame(
        {layout.EVENT_MS: [event_ms], layout.ENTITY_ID: [entity], **{n: [variables.get(n)] for n in names}},
        schema={layout.EVENT_MS: pl.Int64, layout.ENTITY_ID: pl.String, **dict.fromkeys(names, pl.String)},
    )


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1e6:8.1f} µs   p99 {p99 * 1e6:8.1f} µs"


def _threads(work: Callable[[int], None], threads: int, per_thread: int) -> float:
    """Events per second when `threads` threads each run `work` on `per_thread` events."""

    def run() -> None:
        for i in range(per_thread):
            work(i)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return threads * per_thread / (time.perf_counter() - start)


def _fixed_rounds(trained: trainer.Trained, folder: Path, rounds: int) -> lgb.Booster:
    """A booster of `rounds` trees on the trained plan's features (the trainer stops early, which on
    this easy synthetic data can leave a handful of trees: too few to time the model fairly)."""
    frame = pl.read_csv(folder / "train.csv", infer_schema=False)
    frame = frame.with_columns(parse_series(frame[layout.EVENT_TIMESTAMP]).alias(layout.EVENT_MS))
    spec = trained.plan.history
    assert spec is not None
    features, _ = hist.compute(spec, frame)
    matrix = trained.plan.transform(frame, features)
    target = (frame[layout.EVENT_LABEL] == "fraud").cast(pl.Float64).to_numpy()
    params = trainer._params(target, np.arange(len(target)), trainer.SEED)
    categorical = [trained.plan.feature_names.index(name) for name in trained.plan.categorical]
    data = lgb.Dataset(matrix, label=target, categorical_feature=categorical, free_raw_data=False)
    return lgb.train(params, data, num_boost_round=rounds)


Timings = dict[str, list[float]]
Outputs = list[tuple[np.ndarray, float]]


def _old_path(
    model: ScoringModel, trained: trainer.Trained, events: list[Event], names: list[str]
) -> tuple[Timings, Outputs]:
    """What predictions.engine.score_model did: a one-row frame, history through polars, transform, predict."""
    plan, booster = model.plan, model.booster
    spec = plan.history
    assert spec is not None
    timings: Timings = {}
    outputs: Outputs = []
    states = {entity: state.copy() for entity, state in trained.states.items()}
    for entity, event_ms, variables in events:
        started = time.perf_counter()
        frame = _frame(entity, event_ms, variables, names)
        state = states.get(entity)
        copy = hist.EntityState.from_bytes(state.to_bytes()) if state is not None else hist.EntityState.empty(spec)
        matrix = plan.transform(frame, model.history_of(frame, {entity: copy}))
        featured = time.perf_counter()
        raw = float(np.asarray(booster.predict(matrix, raw_score=True, num_threads=1))[0])
        done = time.perf_counter()
        outputs.append((matrix[0], raw))
        _add(timings, "old: frame + history_of + transform", featured - started)
        _add(timings, "old: booster.predict", done - featured)
        _add(timings, "old: total", done - started)
        hist.replay(spec, states, hist.events_of(spec, frame), features=False)
    return timings, outputs


def _new_path(
    single: SingleRowPlan, fast: FastBooster, trained: trainer.Trained, events: list[Event]
) -> tuple[Timings, Outputs]:
    timings: Timings = {}
    outputs: Outputs = []
    spec = single.history
    assert spec is not None
    states = {entity: state.copy() for entity, state in trained.states.items()}
    for entity, event_ms, variables in events:
        state = states.get(entity)
        started = time.perf_counter()
        history = single.history_features(state, variables, event_ms)
        historied = time.perf_counter()
        vector = single.vector(variables, event_ms, history)
        vectored = time.perf_counter()
        raw = fast.raw_one(vector)
        done = time.perf_counter()
        outputs.append((vector, raw))
        _add(timings, "new: history_features", historied - started)
        _add(timings, "new: vector", vectored - historied)
        _add(timings, "new: raw_one", done - vectored)
        _add(timings, "new: total", done - started)
        if state is None:
            state = states[entity] = hist.EntityState.empty(spec)
        amounts, categories = single.history_inputs(variables)
        state.advance(event_ms, amounts, categories, single.history_groups)
    return timings, outputs


def _add(timings: Timings, key: str, seconds: float) -> None:
    timings.setdefault(key, []).append(seconds)


def _old_to_bytes(state: hist.EntityState) -> bytes:
    """A state as JSON, the form states were stored in before (seen-counts as key and count lists)."""
    fields = dict(state.__dict__)
    fields["seen"] = [[list(table.keys), list(table.counts)] for table in state.seen]
    return json.dumps(fields, separators=(",", ":")).encode()


def _old_from_bytes(data: bytes) -> hist.EntityState:
    return hist.EntityState.from_bytes(data)  # still reads the JSON form


def _copy_through_bytes(state: hist.EntityState) -> hist.EntityState:
    return hist.EntityState.from_bytes(state.to_bytes())


def _states(states: dict[str, hist.EntityState]) -> Timings:
    timings: Timings = {}
    for state in states.values():
        blob = state.to_bytes()
        old_blob = _old_to_bytes(state)
        cases: list[tuple[str, Callable[[], object]]] = [
            ("to_bytes old (json.dumps)", partial(_old_to_bytes, state)),
            ("to_bytes new", state.to_bytes),
            ("from_bytes old (json.loads + init)", partial(_old_from_bytes, old_blob)),
            ("from_bytes new", partial(hist.EntityState.from_bytes, blob)),
            ("copy as the engine did (bytes round trip)", partial(_copy_through_bytes, state)),
            ("copy()", state.copy),
        ]
        for key, fn in cases:
            started = time.perf_counter()
            fn()
            _add(timings, key, time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=300)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--events", type=int, default=2000, help="events to score (at most the last 15%%)")
    parser.add_argument("--rounds", type=int, default=300, help="trees of the timed model")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        trained, events, names = _train(Path(folder), args.cards, args.days)
        elapsed = time.perf_counter() - started
        booster = _fixed_rounds(trained, Path(folder), args.rounds)
    events = events[: args.events]
    plan = trained.plan
    spec = plan.history
    assert spec is not None
    print(
        f"plan: {len(plan.feature_names)} features ({len(spec.feature_names())} of history), trained in "
        f"{elapsed:.1f} s (the trainer's model: {trained.booster.num_trees()} trees); timed model: "
        f"{booster.num_trees()} trees of up to {booster.params.get('num_leaves')} leaves"
    )
    single = SingleRowPlan.of(plan)
    fast = FastBooster(booster)
    # The paths run one after the other, so polars' threads and cache traffic do not disturb the other.
    old_timings, old_out = _old_path(ScoringModel(booster, plan, trained.calibration, {}), trained, events, names)
    new_timings, new_out = _new_path(single, fast, trained, events)
    mismatches = sum(
        not (np.array_equal(a[0], b[0], equal_nan=True) and a[1] == b[1]) for a, b in zip(old_out, new_out, strict=True)
    )
    print(f"per event, in process, {len(events)} events in time order (vectors or scores differing: {mismatches})")
    for key, samples in {**old_timings, **new_timings}.items():
        print(f"  {key:42s} {_percentiles(samples)}")
    sizes = sorted(len(s.to_bytes()) for s in trained.states.values())
    print(f"entity states ({len(sizes)} cards, median {statistics.median(sizes):.0f} bytes of JSON)")
    for key, samples in _states(trained.states).items():
        print(f"  {key:42s} {_percentiles(samples)}")

    def full(i: int) -> None:
        entity, event_ms, variables = events[i % len(events)]
        history = single.history_features(trained.states.get(entity), variables, event_ms)
        fast.raw_one(single.vector(variables, event_ms, history))

    def model_only(i: int) -> None:
        fast.raw_one(new_out[i % len(new_out)][0])

    print("throughput, events per second (1 thread | 4 threads)")
    for label, work in (("history_features + vector + raw_one", full), ("raw_one alone", model_only)):
        print(f"  {label:42s} {_threads(work, 1, 20000):9.0f} | {_threads(work, 4, 5000):9.0f}")
    fast.close()


if __name__ == "__main__":
    main()
