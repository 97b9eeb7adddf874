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
from fraudhawk.features.history import EntityState
from fraudhawk.features.history import compute as compute_history
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
HISTORY_STEP = 50_000  # entities whose states are loaded between two calls of `tick`
SCORE_STEP = 100_000  # events scored by the models between two calls of `tick`
_ROW = "__row__"
_GROUP = "__group__"
_ABSENT: Any = object()  # a value an event does not have (rules see it as missing)
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
    order (ties in frame order), as if they had been sent one by one (`history.compute`)."""
    spec = model.history
    if spec is None:
        return None
    entities = frame[layout.ENTITY_ID].unique(maintain_order=True).to_list()
    states: dict[str, EntityState] = {}
    for start in range(0, len(entities), HISTORY_STEP):
        states.update(load(model.tracked, entities[start : start + HISTORY_STEP]))
        tick(0)
    features, _ = compute_history(spec, frame, states, tick=lambda: tick(0))
    return features


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
    return model.calibrated(raw, history)


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
    conditions = Conditions(keys, typed, frozenset(external.outputs), plan.lists, height)
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


class Conditions:
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
