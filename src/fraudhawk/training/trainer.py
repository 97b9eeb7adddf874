"""From training data to a scored, evaluated model: the steps one training job runs.

1. Map labels and check the data (an error stops here, with AFD-style diagnostics).
2. Plan features from the declared variable types; for TFI add each entity's history, computed over
   all of the entity's earlier events (also those before the training window).
3. Hold out the newest 15% of events by time; fit LightGBM on the rest, stopping early on the
   newest part of the training rows.
4. Calibrate scores on the holdout's legit events and measure the holdout.
5. Fit the same settings once more on every event, holdout included, for the model that scores:
   the newest events teach it the most (AP over four Sparkov runs 0.9793 -> 0.9811), and its scores
   keep the validated model's calibration (legit events above 900 on their test months: 1.9-2.2%
   either way; docs/modelling.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.features import history as hist
from fraudhawk.features.plan import CATEGORY_TYPES, NOVELTY_TYPES, NUMERIC_TYPES, FeaturePlan, VariableInfo, role_of
from fraudhawk.scoring.calibration import YOUNG_BUCKETS, Calibration
from fraudhawk.training import metrics, young
from fraudhawk.training.dataset import TrainingData
from fraudhawk.training.messages import Messages
from fraudhawk.training.validation import (
    EVALUATE,
    HOLDOUT,
    TARGET,
    WEIGHT,
    Labelled,
    apply_labels,
    check_file,
    check_variables,
)

SEED = 7
MAX_ROUNDS = 3000
DEFAULT_ROUNDS = 300  # when the training part's newest events lack a class to stop early on
REFIT_ROUNDS = 1.15
PATIENCE = 50
IMPORTANCE_ROWS = 2_000
HISTORY_CATEGORIES = 6
VARIES_WITHIN_ENTITY = 1.5  # distinct values per entity, on average
MAX_GROUP_VALUES = 50
#: legit events are sampled down to this share of fraud: 2% keeps more of the rare legit events that
#: look like fraud than 5% did (AP +0.0002 to +0.0023 on four Sparkov runs; docs/modelling.md)
TARGET_FRAUD_SHARE = 0.02
SAMPLE_ABOVE = 50_000  # smaller data is kept whole: every legit event counts there
SEEN = f"{hist.PREFIX}events_seen"
MIN_BUCKET_LEGIT = 200  # validation legit events a young bucket needs for a curve of its own
MIN_YOUNG_LEGIT = 30  # and all young buckets together for any curve of their own


class TrainingFailed(Exception):
    """The data cannot train a model; the messages say why."""

    def __init__(self, messages: Messages) -> None:
        super().__init__("; ".join(messages.errors()) or "training failed")
        self.messages = messages


class Cancelled(Exception):
    """Training was cancelled or its worker is stopping."""


@dataclass
class Request:
    model_type: str
    variables: list[VariableInfo]
    label_mapper: dict[str, list[str]]
    unlabeled: str = "IGNORE"
    window: tuple[int, int] | None = None  # training events' time range (ms, inclusive), None for all
    seed: int = SEED


@dataclass
class Trained:
    booster: lgb.Booster
    plan: FeaturePlan
    calibration: Calibration
    performance: dict[str, Any]
    importance: dict[str, float]  # feature -> mean |log-odds contribution| on holdout events
    messages: Messages
    summary: dict[str, Any]
    states: dict[str, hist.EntityState] = field(default_factory=dict)


Progress = Callable[[str], None]


def stepper(progress: Progress, stop: Callable[[], bool]) -> Progress:
    """`progress` that first ends the training (Cancelled) when `stop` says so: each new step of a
    training is where a cancel is seen."""

    def step(text: str) -> None:
        if stop():
            raise Cancelled()
        progress(text)

    return step


def _history_spec(plan: FeaturePlan, data: Labelled) -> hist.HistorySpec:
    used = plan.used
    amounts = [v.name for v in used if v.variable_type == "PRICE"]
    if not amounts:
        amounts = [v.name for v in used if v.variable_type in NUMERIC_TYPES and role_of(v) == "numeric"][:2]
    frame = data.frame
    candidates = [
        v.name
        for v in used
        if v.variable_type in NOVELTY_TYPES or (v.variable_type in CATEGORY_TYPES and v.name not in plan.raw_dropped)
    ]
    # Novelty only means something for values that change within an entity: a card's holder name or
    # home town is always "seen before".
    varied = []
    for name in candidates:
        per_entity = (
            frame.select(layout.ENTITY_ID, name)
            .drop_nulls()
            .group_by(layout.ENTITY_ID)
            .agg(pl.col(name).n_unique().alias("n"))
        )
        if per_entity.height and float(per_entity["n"].mean() or 0) >= VARIES_WITHIN_ENTITY:  # type: ignore[arg-type]
            varied.append(name)
    categories = varied[:HISTORY_CATEGORIES]
    # Amounts are also compared with the entity's usual amount for the same kind of purchase: the
    # category with the fewest values that still has several.
    kinds = sorted(
        (frame[name].n_unique(), name) for name in categories if 2 < frame[name].n_unique() <= MAX_GROUP_VALUES
    )
    groups = (kinds[0][1],) if kinds and amounts else ()
    return hist.HistorySpec(tuple(amounts), tuple(categories), groups)


@dataclass
class _Prepared:
    labelled: Labelled
    plan: FeaturePlan
    matrix: np.ndarray
    states: dict[str, hist.EntityState]
    seen: np.ndarray | None = None  # each row's earlier events of its entity (TFI)
    young_rows: np.ndarray | None = None  # the rows young copies were made of
    young_matrix: np.ndarray | None = None  # the copies' model inputs
    young_seen: np.ndarray | None = None


def _prepare(data: TrainingData, request: Request, messages: Messages, step: Progress) -> _Prepared:
    """Labels, checks and features of the training window's events (history from all events)."""
    frame = data.frame
    tfi = request.model_type == "TRANSACTION_FRAUD_INSIGHTS"
    if tfi and frame.height and frame[layout.ENTITY_ID].null_count() == frame.height:
        messages.file_error(
            "Missing ENTITY_ID",
            "Transaction Fraud Insights learns from each entity's history: the data needs ENTITY_ID",
        )
        raise TrainingFailed(messages)
    everything = frame.sort(layout.EVENT_MS, maintain_order=True).with_row_index("__position")
    window = everything
    if request.window is not None:
        window = everything.filter(pl.col(layout.EVENT_MS).is_between(*request.window, closed="both"))
    if window.height == 0:
        messages.file_error("No events", "There are no events to train on in the given data or time window")
        raise TrainingFailed(messages)
    labelled = apply_labels(window, request.label_mapper, request.unlabeled, messages)
    check_file(labelled, messages)
    if messages.has_errors:
        raise TrainingFailed(messages)
    plan = FeaturePlan(list(request.variables))
    check_variables(plan, labelled, entity_aware=tfi, messages=messages)
    if messages.has_errors:
        raise TrainingFailed(messages)
    spec: hist.HistorySpec | None = None
    history: pl.DataFrame | None = None
    states: dict[str, hist.EntityState] = {}
    copies: tuple[young.YoungCopies, young.YoungCopies] | None = None
    if tfi:
        spec = _history_spec(plan, labelled)
        step("computing each entity's history")
        every_history, states = hist.compute(spec, everything, with_states=True)
        history = every_history[labelled.frame["__position"].to_numpy()]
        step("computing young entities' history")
        data_start = int(everything[layout.EVENT_MS].min())  # type: ignore[arg-type]
        cut = int(labelled.frame.height * (1 - HOLDOUT))
        copies = (
            young.training_copies(spec, labelled.frame, data_start, cut, request.seed),
            young.validation_copies(spec, labelled.frame, data_start, cut, request.seed),
        )
    step("engineering features")
    # vocabularies and frequencies come from the training part only: the holdout stays unseen
    base = plan.fit(labelled.frame, spec, fit_rows=int(labelled.frame.height * (1 - HOLDOUT)))
    prepared = _Prepared(labelled, plan, plan.transform(labelled.frame, history, base), states)
    if history is not None and copies is not None:
        prepared.seen = history[SEEN].to_numpy()
        made = young.YoungCopies(
            np.concatenate([part.rows for part in copies]), pl.concat([part.history for part in copies])
        )
        if len(made.rows):
            copied = labelled.frame[made.rows]
            prepared.young_rows = made.rows
            prepared.young_matrix = plan.transform(copied, made.history, base[made.rows])
            prepared.young_seen = made.history[SEEN].to_numpy()
    return prepared


def _sample(target: np.ndarray, end: int, seed: int) -> np.ndarray:
    """Rows to fit on among the first `end`: every fraud event and, when fraud is rarer than
    TARGET_FRAUD_SHARE, a seeded sample of legit events (AFD down-samples imbalanced data too)."""
    rows = np.arange(end)
    fraud = target[:end] == 1
    share = fraud.mean() if end else 0.0
    if end == 0 or share >= TARGET_FRAUD_SHARE or end < SAMPLE_ABOVE:
        return rows
    keep = share * (1 - TARGET_FRAUD_SHARE) / ((1 - share) * TARGET_FRAUD_SHARE)
    chosen = np.random.default_rng(seed).random(end) < keep
    kept: np.ndarray = rows[fraud | chosen]
    return kept


def train(data: TrainingData, request: Request, progress: Progress, stop: Callable[[], bool]) -> Trained:
    messages = Messages()
    step = stepper(progress, stop)
    step("checking the data")
    prepared = _prepare(data, request, messages, step)
    rows, plan, matrix = prepared.labelled.frame, prepared.plan, prepared.matrix
    target = rows[TARGET].to_numpy()
    weight = rows[WEIGHT].to_numpy()
    evaluate = rows[EVALUATE].to_numpy()
    cut = int(rows.height * (1 - HOLDOUT))
    inner = int(cut * (1 - HOLDOUT))
    fit = _with_young(prepared, target, weight, inner, cut)
    step("training the model")
    fit_matrix, fit_target, fit_weight, _, fit_cut = fit
    rounds = _rounds(plan, *fit, request.seed, stop, progress)
    booster, fitted = _fit(plan, fit_matrix, fit_target, fit_weight, fit_cut, rounds, request.seed, stop, progress)

    step("evaluating on the newest 15% of events")
    keep = evaluate[cut:]
    held = matrix[cut:][keep]
    raw = np.asarray(booster.predict(held, raw_score=True), dtype=np.float64)
    held_target = target[cut:][keep]
    held_seen = prepared.seen[cut:][keep] if prepared.seen is not None else None
    young_held = _young_holdout(prepared, booster, target, evaluate, cut)
    calibration = _calibrate(raw, held_target, held_seen, young_held)
    performance = metrics.performance(calibration.score(raw, held_seen), raw, held_target)
    if held_seen is not None:
        young_scores = None
        if young_held is not None:
            young_raw, young_target, young_seen = young_held
            young_scores = (calibration.score(young_raw, young_seen), young_target, young_seen)
        performance["historyLength"] = metrics.by_history(
            calibration.score(raw, held_seen), held_target, held_seen, young_scores
        )
    importance = _importance(booster, plan, held, held_target, request.seed)
    if keep.any():
        step("training the model on every event")
        every = _with_holdout(fit, prepared, target, weight, cut)
        more = max(1, round(rounds * len(every[1]) / fit_cut))
        booster, fitted = _fit(plan, *every, len(every[1]), more, request.seed, stop, progress)
    ms = rows[layout.EVENT_MS]
    summary = {
        "events": rows.height,
        "fraudEvents": prepared.labelled.fraud,
        "legitEvents": prepared.labelled.legit,
        "unlabeledEvents": prepared.labelled.unlabeled,
        "trainingEvents": cut,
        "fittedEvents": fitted,
        "validationEvents": int(keep.sum()),
        "youngCopyEvents": 0 if prepared.young_rows is None else len(prepared.young_rows),
        "firstEventMs": int(ms.min()),  # type: ignore[arg-type]
        "lastEventMs": int(ms.max()),  # type: ignore[arg-type]
        "validationFromMs": int(ms[cut]) if cut < rows.height else None,
        "rounds": booster.current_iteration(),
        "features": len(plan.feature_names),
    }
    return Trained(booster, plan, calibration, performance, importance, messages, summary, prepared.states)


def _with_young(
    prepared: _Prepared, target: np.ndarray, weight: np.ndarray, inner: int, cut: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """The rows to fit on (matrix, target, weight) and the ends of their two parts (rounds search,
    early stopping): the training part's events, each part followed by the young copies of its events."""
    matrix = prepared.matrix
    copied, young_matrix = prepared.young_rows, prepared.young_matrix
    if copied is None or young_matrix is None:
        return matrix, target, weight, inner, cut
    first = copied < inner
    second = (copied >= inner) & (copied < cut)
    order = [(slice(0, inner), first), (slice(inner, cut), second)]
    fit_matrix = np.concatenate([part for rows, pick in order for part in (matrix[rows], young_matrix[pick])])
    fit_target = np.concatenate([part for rows, pick in order for part in (target[rows], target[copied[pick]])])
    fit_weight = np.concatenate([part for rows, pick in order for part in (weight[rows], weight[copied[pick]])])
    fit_inner = inner + int(first.sum())
    return fit_matrix, fit_target, fit_weight, fit_inner, fit_inner + (cut - inner) + int(second.sum())


def _with_holdout(
    fit: tuple[np.ndarray, np.ndarray, np.ndarray, int, int],
    prepared: _Prepared,
    target: np.ndarray,
    weight: np.ndarray,
    cut: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows the validated model was fitted on, then the holdout's events (not their young copies,
    which are many more per event than the training part's: they were made to fit the young curves)."""
    matrix, fit_target, fit_weight, _, fit_cut = fit
    return (
        np.concatenate([matrix[:fit_cut], prepared.matrix[cut:]]),
        np.concatenate([fit_target[:fit_cut], target[cut:]]),
        np.concatenate([fit_weight[:fit_cut], weight[cut:]]),
    )


def _young_holdout(
    prepared: _Prepared, booster: lgb.Booster, target: np.ndarray, evaluate: np.ndarray, cut: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Raw outputs, targets and earlier-event counts of the young copies of validation events."""
    copied, young_matrix, young_seen = prepared.young_rows, prepared.young_matrix, prepared.young_seen
    if copied is None or young_matrix is None or young_seen is None:
        return None
    pick = (copied >= cut) & evaluate[copied]
    if not pick.any():
        return None
    raw = np.asarray(booster.predict(young_matrix[pick], raw_score=True), dtype=np.float64)
    return raw, target[copied[pick]], young_seen[pick]


def _calibrate(
    raw: np.ndarray,
    target: np.ndarray,
    seen: np.ndarray | None,
    young_held: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
) -> Calibration:
    """Scores tied to the validation legit events' FPR; for TFI, each young bucket of history length
    on its own legit events (the validation events' and their young copies'), the rest on the events
    of entities with a longer history."""
    legit = target == 0
    if seen is None:
        return Calibration.fit(raw[legit])
    known = legit & (seen >= YOUNG_BUCKETS[-1])
    calibration = Calibration.fit(raw[known] if known.sum() >= MIN_BUCKET_LEGIT else raw[legit])
    young_raw = [raw[legit]] + ([young_held[0][young_held[1] == 0]] if young_held is not None else [])
    young_seen = [seen[legit]] + ([young_held[2][young_held[1] == 0]] if young_held is not None else [])
    values, counts = np.concatenate(young_raw), np.concatenate(young_seen)
    every_young = counts < YOUNG_BUCKETS[-1]
    if every_young.sum() < MIN_YOUNG_LEGIT:
        return calibration
    buckets = []
    low = 0
    for below in YOUNG_BUCKETS:
        # a bucket short of events shares the curve of all young events (small data)
        pick = (counts >= low) & (counts < below)
        buckets.append((below, Calibration.fit(values[pick if pick.sum() >= MIN_BUCKET_LEGIT else every_young])))
        low = below
    return calibration.with_young(buckets)


def _importance(
    booster: lgb.Booster, plan: FeaturePlan, held: np.ndarray, target: np.ndarray, seed: int
) -> dict[str, float]:
    """Mean |log-odds contribution| of each feature over the holdout events.

    Contributions cost about a millisecond per event for a large model, so they are computed on a
    sample: up to IMPORTANCE_ROWS / 4 fraud and the rest legit, each class weighted by its real share.
    """
    rng = np.random.default_rng(seed)
    total = np.zeros(len(plan.feature_names))
    for label, quota in ((1.0, IMPORTANCE_ROWS // 4), (0.0, IMPORTANCE_ROWS - IMPORTANCE_ROWS // 4)):
        rows = np.flatnonzero(target == label)
        if len(rows) == 0:
            continue
        if len(rows) > quota:
            rows = np.sort(rng.choice(rows, size=quota, replace=False))
        contributions = np.asarray(booster.predict(held[rows], pred_contrib=True))[:, :-1]
        total += np.abs(contributions).mean(axis=0) * (float((target == label).sum()) / len(target))
    return dict(zip(plan.feature_names, total.astype(float).tolist(), strict=True))


def _params(target: np.ndarray, rows: np.ndarray, seed: int) -> dict[str, Any]:
    fraud = float(target[rows].sum())
    legit = float(len(rows) - fraud)
    small = len(rows) < 20_000
    return {
        "objective": "binary",
        "learning_rate": 0.1,
        "num_leaves": 15 if small else 63,
        "min_data_in_leaf": 10 if small else 50,
        "min_sum_hessian_in_leaf": 1e-3,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        # Rare fraud gets more weight so trees split on it, but not the full ratio: scores are ranked
        # against legit events afterwards, so only the order matters, and full reweighting overfits.
        "scale_pos_weight": max(1.0, (legit / max(fraud, 1.0)) ** 0.5),
        "max_cat_to_onehot": 8,
        "cat_smooth": 10,
        "metric": "average_precision",
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": max(1, min(os.cpu_count() or 1, 4)),
        "verbosity": -1,
    }


def _dataset(
    plan: FeaturePlan, matrix: np.ndarray, target: np.ndarray, weight: np.ndarray, rows: np.ndarray
) -> lgb.Dataset:
    return lgb.Dataset(
        matrix[rows],
        label=target[rows],
        weight=weight[rows],
        feature_name=plan.feature_names,
        categorical_feature=[plan.feature_names.index(name) for name in plan.categorical],
        free_raw_data=False,
    )


def _watch(stage: str, stop: Callable[[], bool], progress: Progress) -> Callable[[Any], None]:
    def callback(env: Any) -> None:
        if env.iteration % 10 == 0:
            if stop():
                raise Cancelled()
            progress(f"training the model: {stage}, round {env.iteration}")

    return callback


def _rounds(
    plan: FeaturePlan,
    matrix: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    inner: int,
    cut: int,
    seed: int,
    stop: Callable[[], bool],
    progress: Progress,
) -> int:
    """How many rounds to fit the first `cut` rows with: found on the older rows, stopping early on
    the newest of them (from `inner` on), plus a little for the added data."""
    stop_rows = slice(inner, cut)
    if not 0 < target[stop_rows].sum() < (cut - inner):
        return DEFAULT_ROUNDS
    search_rows = _sample(target, inner, seed)
    search = _dataset(plan, matrix, target, weight, search_rows)
    valid = search.create_valid(matrix[stop_rows], label=target[stop_rows], weight=weight[stop_rows])
    booster = lgb.train(
        _params(target, search_rows, seed),
        search,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid],
        callbacks=[
            lgb.early_stopping(PATIENCE, first_metric_only=True, verbose=False),
            _watch("finding the rounds", stop, progress),
        ],
    )
    return max(1, round((booster.best_iteration or booster.current_iteration()) * REFIT_ROUNDS))


def _fit(
    plan: FeaturePlan,
    matrix: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    end: int,
    rounds: int,
    seed: int,
    stop: Callable[[], bool],
    progress: Progress,
) -> tuple[lgb.Booster, int]:
    """`rounds` rounds on the first `end` rows (legit events sampled down); the booster and its rows."""
    rows = _sample(target, end, seed)
    final = lgb.train(
        _params(target, rows, seed),
        _dataset(plan, matrix, target, weight, rows),
        num_boost_round=rounds,
        callbacks=[_watch("final fit", stop, progress)],
    )
    return final, len(rows)
