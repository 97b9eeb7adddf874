"""Account Takeover Insights: an unsupervised login-risk model, trained without labels.

1. Check the data (the login variable types, at least 1,500 entities with two events or more, 30
   days of events) and build each entity's login profile over all its stored events (the history
   engine's login part: `features/history/login_*`).
2. The logins to learn from: successful logins in the training window of entities with an earlier
   event (an entity's first login has no history to compare with: it scores -1, "unknown risk").
3. **Negative sampling**: beside each real login, a login that did not happen: the same entity at
   the same moment, with some of another login's variables (its network and device, the network
   only, the device only, or the network and fingerprint with the owner's user agent kept); some
   with a past of their own (`_past`: an attacker back for another visit). Donor logins are drawn
   uniformly, by network or from the login's own country (`_donors`). The model learns to tell the
   real logins from these, on the login profile's features only (`model_features`); labelled
   takeovers, when there are any, join the negatives.
4. Hold out the newest 15% of logins (with their own negatives): the anomaly separation index (ASI)
   is the AUC of their negatives against them, and scores are tied to the challenge rate on them
   (500 ~ 5% of logins, 900 ~ 0.1%).

Familiarity only ever lowers the risk and failures and travel only raise it (monotone constraints):
what the model may learn is how much, not the direction, so it carries over to other data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.features import history as hist
from fraudhawk.features.history import login_frame
from fraudhawk.features.history.login_spec import COUNTRY, DIMENSIONS, LOGIN_PREFIX, LoginSpec
from fraudhawk.features.history.units import DAY_MS, HOUR_MS
from fraudhawk.features.plan import FeaturePlan, VariableInfo
from fraudhawk.scoring.calibration import CHALLENGE_ANCHORS, Calibration
from fraudhawk.training import metrics
from fraudhawk.training.ati_checks import check_login_data
from fraudhawk.training.dataset import LABEL, TrainingData
from fraudhawk.training.messages import Messages
from fraudhawk.training.trainer import Progress, Request, Trained, TrainingFailed, stepper
from fraudhawk.training.validation import HOLDOUT

MODEL_TYPE = "ACCOUNT_TAKEOVER_INSIGHTS"
#: variable type -> its role in the login profile; the first three are required
LOGIN_TYPES = {
    "IP_ADDRESS": "ip",
    "USERAGENT": "agent",
    "ARE_CREDENTIALS_VALID": "credentials",
    "FINGERPRINT": "fingerprint",
    "SESSION_ID": "session",
}
REQUIRED = ("IP_ADDRESS", "USERAGENT", "ARE_CREDENTIALS_VALID")
MIN_LOGINS = 100
MAX_FIT_LOGINS = 200_000  # real logins fitted on (each with its negative): more adds time, not accuracy
MAX_HOLDOUT_LOGINS = 300_000
TAKEOVER_WEIGHT = 15.0
DONOR_WAYS = (0.4, 0.35, 0.25)  # uniformly, by network, from the same country (see `_donors`)
PAST_SHARE = 0.4  # negatives with a past of their own (see `_past`)
PAST_VISIT_SHARE = 0.3  # negatives on a second login of the same visit
PAST_MIN_SETTLED = 5
PAST_MAX_DAYS = 21
MIN_ATO_ENTITIES = 50  # AFD reports the ATO discovery rate only with this many labelled entities
IMPORTANCE_ROWS = 2_000
MAX_ROUNDS = 600
PATIENCE = 30
#: How a negative is made: (share, variables taken from the donor login), weighted by how often an
#: attacker can do it: another device and network is the rule; copying the owner's browser (its user
#: agent) is easy, the owner's network harder, the owner's very device (its fingerprint) rare: a
#: network change alone is mostly the owner travelling. The session stays the login's own: session
#: features made a continuing session look like the owner's, and hijacks with it (measured).
MODES: tuple[tuple[float, frozenset[str]], ...] = (
    (0.55, frozenset({"ip", "agent", "fingerprint"})),  # someone else entirely
    (0.25, frozenset({"ip", "fingerprint"})),  # the owner's browser copied, from elsewhere
    (0.15, frozenset({"agent", "fingerprint"})),  # another device on the owner's network
    (0.05, frozenset({"ip"})),  # the owner's device on another network
)


def login_spec(variables: list[VariableInfo], messages: Messages) -> LoginSpec | None:
    """The login profile's variables by their types; a file-level error per missing required type."""
    by_role: dict[str, str] = {}
    for info in variables:
        role = LOGIN_TYPES.get(info.variable_type)
        if role is not None and role not in by_role:
            by_role[role] = info.name
    for variable_type in REQUIRED:
        if LOGIN_TYPES[variable_type] not in by_role:
            messages.file_error(
                f"Missing {variable_type} variable",
                f"Account Takeover Insights needs a model variable of variable type {variable_type}: create a "
                f"variable with variableType {variable_type}, add it to the event type's eventVariables "
                "(PutEventType) and list it in trainingDataSchema.modelVariables",
            )
    if messages.has_errors:
        return None
    return LoginSpec(
        by_role["ip"], by_role["agent"], by_role["credentials"], by_role.get("fingerprint"), by_role.get("session")
    )


def plan_for(variables: list[VariableInfo], spec: hist.HistorySpec) -> FeaturePlan:
    login = spec.login
    assert login is not None
    used = set(login.inputs())
    excluded = {v.name: "not used by Account Takeover Insights" for v in variables if v.name not in used}
    plan = FeaturePlan(list(variables), excluded=excluded, aggregates_only=True)
    plan.fit(pl.DataFrame(), spec)
    plan.feature_names = model_features(spec)
    plan.groups = {name: plan.groups[name] for name in plan.feature_names}
    return plan


def model_features(spec: hist.HistorySpec) -> list[str]:
    """The login profile's features of the dimensions the event type has. Not the entity's activity
    (time since its last event, its rate, its usual hours): it is the same for a login and its
    negatives, so the model could learn from it only who the real logins are in ways attackers
    share: an owner abroad logs in at odd hours from a new network, and so does an attacker; the
    negatives, made at the owner's own moments, cannot show the attacker's."""
    login = spec.login
    assert login is not None
    groups = login.groups()
    return [name for name in login.feature_names() if groups[name]]


def _monotone(names: list[str]) -> list[int]:
    """-1: more of it, less risk (familiarity); +1: more of it, more risk (failures, travel)."""
    out = []
    for name in names:
        if not name.startswith(LOGIN_PREFIX):
            out.append(0)
        elif name.endswith((".uses", ".share", ".age_d")):
            out.append(-1)
        elif "fail_" in name or "travel_" in name:
            out.append(1)
        else:
            out.append(0)
    return out


def _params(seed: int, names: list[str]) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": 0.12,
        "max_bin": 63,
        "num_leaves": 31,
        "min_data_in_leaf": 100,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "monotone_constraints": _monotone(names),
        "metric": "auc",
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": max(1, min(os.cpu_count() or 1, 4)),
        "verbosity": -1,
    }


def _within(rng: np.random.Generator, keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each of `wanted` (codes into `keys`' distinct values), a random position whose key has it."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(int(keys.max(initial=0)) + 2))
    size = bounds[wanted + 1] - bounds[wanted]
    picked: np.ndarray = order[bounds[wanted] + (rng.random(len(wanted)) * size).astype(np.int64)]
    return picked


def _donors(rng: np.random.Generator, entities: np.ndarray, networks: np.ndarray, countries: np.ndarray) -> np.ndarray:
    """For each login of a part, another login of the part to take variables from: uniformly (the
    attacker is anyone), uniformly over networks (an attacker's network is not chosen by how many
    users it has) or from the login's own country (attackers go through proxies in the victim's
    country to pass geographic checks); never one of the same entity (where the part has another)."""
    m = len(entities)
    uniform = rng.integers(0, m, m)
    _, network_codes = np.unique(networks, return_inverse=True)
    by_network = _within(rng, network_codes, rng.integers(0, int(network_codes.max(initial=0)) + 1, m))
    _, country_codes = np.unique(countries, return_inverse=True)
    same_country = _within(rng, country_codes, country_codes)
    way = rng.choice(3, size=m, p=DONOR_WAYS)
    picked = np.select([way == 0, way == 1], [uniform, by_network], same_country)
    for _ in range(4):  # a donor of the same entity is drawn again (uniformly)
        same = entities[picked] == entities
        if not same.any():
            break
        picked[same] = rng.integers(0, m, int(same.sum()))
    return picked


def _past(
    rng: np.random.Generator, login: LoginSpec, mode: np.ndarray, event_ms: np.ndarray, settled: np.ndarray
) -> pl.DataFrame:
    """For a share of negatives, a past: the donor's network and device already used by "the
    attacker" once to a few times, one to three weeks ago at most and at least a day ago (settled);
    and for a share, a login of the same visit earlier in the day (the last successful login was the
    attacker's own, from where they are). Without it every negative is a stranger arriving from the
    owner's last place, and a model learns that any value seen before is the owner's, and that a
    login from where the last one came from is: an attacker who got in once would be trusted on
    every later attempt."""
    m = len(mode)
    chosen = (rng.random(m) < PAST_SHARE) & (settled >= PAST_MIN_SETTLED)
    uses = rng.choice([1, 2, 3], size=m, p=[0.5, 0.3, 0.2])
    span = np.exp(rng.uniform(np.log(DAY_MS + HOUR_MS), np.log(PAST_MAX_DAYS * DAY_MS), m)).astype(np.int64)
    first = event_ms - span
    last = np.where(uses > 1, first + (rng.random(m) * (span - DAY_MS)).astype(np.int64), first)
    roles = [source for _, source in DIMENSIONS]
    masks = np.array([sum(1 << j for j, role in enumerate(roles) if role in taken) for _, taken in MODES])
    visited = rng.random(m) < PAST_VISIT_SHARE
    visit = event_ms - np.exp(rng.uniform(np.log(5 * 60_000), np.log(DAY_MS - HOUR_MS), m)).astype(np.int64)
    return pl.DataFrame(
        {
            "past_uses": np.where(chosen, uses, 0),
            "past_first": first,
            "past_last": last,
            "past_mask": np.where(chosen, masks[mode], 0),
            "past_visit": pl.Series(np.where(visited, visit, 0)).replace(0, None),
        }
    )


def _negatives(rng: np.random.Generator, logins: _Logins, rows: np.ndarray) -> tuple[pl.DataFrame, np.ndarray]:
    """The dimension values of one negative per login of `rows` (positions in `everything`), taken
    from the login or its donor as each was made (read from the events' own values, not parsed
    again), and how each was made."""
    entities = logins.everything[layout.ENTITY_ID].cast(pl.String).fill_null("").to_numpy()[rows]
    donors = rows[_donors(rng, entities, logins.networks[rows], logins.countries[rows])]
    shares = np.array([share for share, _ in MODES])
    mode = rng.choice(len(MODES), size=len(rows), p=shares / shares.sum())
    columns: dict[str, pl.Series] = {}
    for j, (_, role) in enumerate(DIMENSIONS):
        from_donor = np.array([role in taken for _, taken in MODES])[mode]
        columns[f"d{j}"] = logins.dimensions[f"d{j}"].gather(np.where(from_donor, donors, rows))
    return pl.DataFrame(columns), mode


@dataclass
class _Logins:
    """The profiled events and the logins to learn from (positions in `everything`, time order)."""

    everything: pl.DataFrame
    window_events: int
    login: LoginSpec
    names: list[str]
    table: pl.DataFrame  # every event as the login look-ups read it (`login_frame.events`)
    dimensions: pl.DataFrame  # every event's dimension values, in `everything`'s order
    matrix: np.ndarray  # every event's features
    networks: np.ndarray  # every event's network (ASN), "" when unknown
    countries: np.ndarray  # every event's country, "" when unknown
    rows: np.ndarray
    takeover: np.ndarray  # per login of `rows`: labelled a takeover
    ato_entities: int
    states: dict[str, hist.EntityState]


def _logins(data: TrainingData, request: Request, messages: Messages, step: Progress) -> _Logins:
    login = login_spec(request.variables, messages)
    everything = data.frame.sort(layout.EVENT_MS, maintain_order=True)
    in_window = pl.lit(True)
    if request.window is not None:
        in_window = pl.col(layout.EVENT_MS).is_between(*request.window, closed="both")
    window = everything.filter(in_window)
    check_login_data(window, messages)
    if login is None or messages.has_errors:
        raise TrainingFailed(messages)
    spec = hist.HistorySpec(login=login)
    step("building each entity's login profile")
    table = login_frame.events(login, everything)
    features, states = hist.compute(
        spec, everything, with_states=True, tick=lambda: step("building login profiles"), login_table=table
    )
    fraud_values = [str(v) for v in request.label_mapper.get("FRAUD", [])]
    dimensions = table.sort("row")  # back in `everything`'s order
    flags = everything.select(
        in_window.alias("window"),
        pl.col(LABEL).is_in(fraud_values).fill_null(False).alias("takeover"),
    ).with_columns(
        dimensions["valid"].alias("valid"),
        (features[f"{hist.PREFIX}events_seen"].fill_null(0) > 0).alias("seen"),
    )
    rows = np.flatnonzero(flags.select(pl.all_horizontal("window", "valid", "seen")).to_series().to_numpy())
    if len(rows) < MIN_LOGINS:
        messages.file_error(
            "Too few logins to learn from",
            f"Only {len(rows)} successful logins in the time window come after an earlier event of their entity; "
            f"Account Takeover Insights needs at least {MIN_LOGINS}",
        )
        raise TrainingFailed(messages)
    names = model_features(spec)
    return _Logins(
        everything,
        window.height,
        login,
        names,
        table,
        dimensions,
        features.select(names).to_numpy().astype(np.float64),
        dimensions["d2"].fill_null("").to_numpy(),
        dimensions[f"d{COUNTRY}"].fill_null("").to_numpy(),
        rows,
        flags["takeover"].to_numpy()[rows],
        int(everything.filter(flags["takeover"])[layout.ENTITY_ID].n_unique()),
        states,
    )


def _with_negatives(
    logins: _Logins, chosen: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The chosen logins' features, one negative's features per login, and which are labelled takeovers."""
    at = logins.rows[chosen]
    negatives, mode = _negatives(rng, logins, at)
    real = logins.matrix[at]
    settled = real[:, logins.names.index(f"{LOGIN_PREFIX}settled")]
    event_ms = logins.everything[layout.EVENT_MS].to_numpy()[at]
    past = _past(rng, logins.login, mode, event_ms, settled)
    probe = login_frame.probe_features(logins.login, logins.table, at, negatives, past)
    probes = real.copy()  # the entity's own activity features: the same entity at the same moment
    for j, name in enumerate(logins.names):
        if name in probe:
            probes[:, j] = probe[name]
    return real, probes, logins.takeover[chosen]


def _fit(names: list[str], part: tuple[np.ndarray, np.ndarray, np.ndarray], seed: int, step: Progress) -> lgb.Booster:
    """Real logins (0) against their negatives and labelled takeovers (1); the newest part of the
    fitted logins (and their negatives) decides when to stop."""
    real, probes, labelled = part
    x = np.vstack([real, probes])
    y = np.concatenate([labelled.astype(np.float64), np.ones(len(probes))])
    weight = np.concatenate([np.where(labelled, TAKEOVER_WEIGHT, 1.0), np.ones(len(probes))])
    n_real = len(real)
    inner = int(n_real * (1 - HOLDOUT))
    stop_rows = np.concatenate([np.arange(inner, n_real), n_real + np.arange(inner, n_real)])
    fit_rows = np.concatenate([np.arange(inner), n_real + np.arange(inner)])

    def watch(env: Any) -> None:
        if env.iteration % 10 == 0:
            step(f"training the model: round {env.iteration}")

    train_set = lgb.Dataset(x[fit_rows], label=y[fit_rows], weight=weight[fit_rows], feature_name=names)
    valid_set = train_set.create_valid(x[stop_rows], label=y[stop_rows], weight=weight[stop_rows])
    booster = lgb.train(
        _params(seed, names),
        train_set,
        num_boost_round=MAX_ROUNDS,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(PATIENCE, first_metric_only=True, verbose=False), watch],
    )
    if booster.best_iteration:
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    return booster


def train(data: TrainingData, request: Request, progress: Progress, stop: Callable[[], bool]) -> Trained:
    messages = Messages()
    step = stepper(progress, stop)
    step("checking the data")
    logins = _logins(data, request, messages, step)
    rng = np.random.default_rng(request.seed)
    cut = int(len(logins.rows) * (1 - HOLDOUT))

    def sample(part: np.ndarray, limit: int) -> np.ndarray:
        if len(part) <= limit:
            return part
        return part[np.sort(rng.choice(len(part), size=limit, replace=False))]

    step("drawing logins that did not happen")
    fit_rows = sample(np.arange(cut), MAX_FIT_LOGINS)
    held_rows = sample(np.arange(cut, len(logins.rows)), MAX_HOLDOUT_LOGINS)
    fitted = _with_negatives(logins, fit_rows, rng)
    held_real, held_probes, held_takeover = _with_negatives(logins, held_rows, rng)
    step("training the model")
    booster = _fit(logins.names, fitted, request.seed, step)

    step("evaluating on the newest 15% of logins")
    raw_real = np.asarray(booster.predict(held_real, raw_score=True), dtype=np.float64)
    raw_probes = np.asarray(booster.predict(held_probes, raw_score=True), dtype=np.float64)
    calibration = Calibration.fit(raw_real, CHALLENGE_ANCHORS)
    report_takeovers = logins.ato_entities >= MIN_ATO_ENTITIES and bool(held_takeover.any())
    performance = metrics.ati_performance(
        calibration.score(raw_real[~held_takeover]),
        calibration.score(raw_probes),
        calibration.score(raw_real[held_takeover]) if report_takeovers else None,
        raw_real[~held_takeover],
        raw_probes,
    )
    performance["atoEntities"] = logins.ato_entities
    spec = hist.HistorySpec(login=logins.login)
    importance = _importance(booster, logins.names, held_real, held_probes, rng)
    ms = logins.everything[layout.EVENT_MS]
    summary = {
        "events": logins.everything.height,
        "windowEvents": logins.window_events,
        "entities": int(logins.everything[layout.ENTITY_ID].n_unique()),
        "logins": len(logins.rows),
        "trainingEvents": cut,
        "fittedEvents": len(fit_rows),
        "negativeSamples": len(fit_rows) + len(held_rows),
        "validationEvents": len(held_rows),
        "labelledTakeovers": int(logins.takeover.sum()),
        "takeoverEntities": logins.ato_entities,
        "firstEventMs": int(ms.min()),  # type: ignore[arg-type]
        "lastEventMs": int(ms.max()),  # type: ignore[arg-type]
        "validationFromMs": int(ms[int(logins.rows[cut])]) if cut < len(logins.rows) else None,
        "rounds": booster.current_iteration(),
        "features": len(logins.names),
    }
    plan = plan_for(request.variables, spec)
    return Trained(booster, plan, calibration, performance, importance, messages, summary, logins.states)


def _importance(
    booster: lgb.Booster, names: list[str], real: np.ndarray, probes: np.ndarray, rng: np.random.Generator
) -> dict[str, float]:
    """Mean |log-odds contribution| of each feature over held-out real logins and their negatives."""
    half = IMPORTANCE_ROWS // 2
    picked = [part[np.sort(rng.choice(len(part), size=min(half, len(part)), replace=False))] for part in (real, probes)]
    rows = np.vstack([p for p in picked if len(p)])
    contributions = np.asarray(booster.predict(rows, pred_contrib=True))[:, :-1]
    return dict(zip(names, np.abs(contributions).mean(axis=0).astype(float).tolist(), strict=True))
