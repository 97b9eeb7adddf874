"""The vectorised engine of the login profile: login features of a whole frame of events at once,
and each entity's profile after its last event (training).

Each feature is an as-of look-up into the entity's earlier logins: settled uses of a value are the
successful logins of (entity, value) at or before `event - SETTLE_MS`; failed attempts and the last
successful login are those before the event in (time, arrival) order. The same look-ups answer
*probes*: logins that did not happen (training's negative samples), asked at the moment of a real
login of the entity and counted nowhere. Equal, to the last bit, to replaying the rows one at a time
through `LoginProfile` (rows in time order, as training has them): the same counts, times and
formulas (`login_formulas`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.features.history import columns
from fraudhawk.features.history.login_formulas import age_days, hours_between, share, speed
from fraudhawk.features.history.login_profile import LoginProfile
from fraudhawk.features.history.login_spec import (
    COUNTRY,
    FAIL_KEEP,
    FAIL_WINDOWS,
    LOGIN_CAP,
    LOGIN_PREFIX,
    MIN_TRAVEL_HOURS,
    SETTLE_MS,
    LoginSpec,
)
from fraudhawk.features.history.login_table import ValueTable
from fraudhawk.features.history.login_values import agent_parts, ip_parts, km_between
from fraudhawk.features.history.spec import NO_ENTITY
from fraudhawk.features.seen import value_key

#: a probe's own past: how many settled uses, the first and last of them (ms), of which dimensions
#: (bit j: dimension j), and a visit shortly before (ms, unsettled; null for none)
PAST = ("past_uses", "past_first", "past_last", "past_mask", "past_visit")


def _entity(frame: pl.DataFrame) -> pl.Series:
    """ENTITY_ID as text; an event without one stands alone (a stand-in entity of its own)."""
    entity = frame[layout.ENTITY_ID].cast(pl.String)
    if not entity.null_count():
        return entity.alias("e")
    row = pl.int_range(frame.height, eager=True, dtype=pl.Int64).cast(pl.String)
    return pl.select(pl.when(entity.is_null()).then(pl.lit(NO_ENTITY) + row).otherwise(entity).alias("e")).to_series()


def _mapped(text: pl.Series, parts: Any, names: list[str]) -> pl.DataFrame:
    """Each distinct text through `parts` (the one-event engine's function), joined back per row."""
    distinct = text.drop_nulls().unique()
    results = [parts(value) for value in distinct.to_list()]
    table = pl.DataFrame(
        {"__t": distinct, **{name: [r[i] for r in results] for i, name in enumerate(names)}},
        schema={"__t": pl.String, **dict.fromkeys(names, pl.String)},
    )
    return pl.DataFrame({"__t": text}).join(table, on="__t", how="left", maintain_order="left").drop("__t")


def dimension_frame(spec: LoginSpec, frame: pl.DataFrame) -> pl.DataFrame:
    """One row per event: d0..dk (each dimension's value) and `valid`, as `login_values` reads them."""
    ip = columns.categories(frame, spec.ip)
    agent = columns.categories(frame, spec.agent)
    parts = [
        _mapped(ip, ip_parts, ["d0", "d1", "d2", "d3"]),
        _mapped(agent, agent_parts, ["d4", "d5", "d6", "d7", "d8"]),
    ]
    missing = pl.Series([None] * frame.height, dtype=pl.String)
    others = {
        f"d{9 + i}": columns.categories(frame, name) if name else missing
        for i, name in enumerate((spec.fingerprint, spec.session))
    }
    credentials = columns.categories(frame, spec.credentials)
    valid = credentials.is_null() | ~credentials.str.to_lowercase().is_in(["false", "0", "no", "f"])
    return pl.concat([*parts, pl.DataFrame({**others, "valid": valid})], how="horizontal")


def events(spec: LoginSpec, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame's events as the look-ups read them: entity, time, arrival (`row`), dimensions and
    validity, sorted by (time, arrival); `seq` is the place in that order. Build once per frame and
    hand to `features`, `probe_features` and `final_profiles`."""
    table = pl.concat(
        [
            pl.DataFrame(
                {
                    "e": _entity(frame),
                    "ms": frame[layout.EVENT_MS].cast(pl.Int64),
                    "row": np.arange(frame.height, dtype=np.int64),
                }
            ),
            dimension_frame(spec, frame),
        ],
        how="horizontal",
    )
    return table.sort(["ms", "row"]).with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("seq"))


def _answer(spec: LoginSpec, events: pl.DataFrame, queries: pl.DataFrame) -> dict[str, np.ndarray]:
    """Login features for `queries` (e, ms, seq: asked just before the event at `seq`; d0..dk),
    in the queries' order, from `events` (sorted by seq).

    A query (a probe) may come with a past (`PAST` columns): its values of the dimensions in
    `past_mask` already used `past_uses` times, first at `past_first` and last at `past_last`, all
    settled, as an attacker who got in days ago and comes back would have (those logins count as the
    entity's); and a visit at `past_visit`, within the day, from the same place (the last successful
    login)."""
    k = len(spec.dimensions())
    q = queries.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("q"), (pl.col("ms") - SETTLE_MS).alias("cut"))
    valid = events.filter(pl.col("valid"))
    past = _Past.of(q)
    out: dict[str, np.ndarray] = {}
    settled = _settled(valid, q, k)
    total = settled["n_cum"].fill_null(0).to_numpy() + past.uses
    out[f"{LOGIN_PREFIX}settled"] = np.minimum(total, LOGIN_CAP).astype(np.float64)
    _failures(events, q, out)
    _travel(valid, q, past, out)
    for j, name in enumerate(spec.dimensions()):
        distinct = settled[f"distinct{j}"].fill_null(0).to_numpy()
        _dimension(j, name, valid, q, total, distinct, past, out)
    assert all(len(v) == q.height for v in out.values())
    return out


@dataclass
class _Past:
    """The queries' own pasts (see `_answer`), zeros for queries without."""

    given: bool
    uses: np.ndarray
    mask: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, q: pl.DataFrame) -> _Past:
        if PAST[0] not in q.columns:
            none = np.zeros(q.height, dtype=np.int64)
            return cls(False, none, none, none, none)
        return cls(
            True,
            q["past_uses"].fill_null(0).to_numpy(),
            q["past_mask"].fill_null(0).to_numpy(),
            q["past_first"].fill_null(0).to_numpy(),
            q["past_last"].fill_null(0).to_numpy(),
        )


def _settled(valid: pl.DataFrame, q: pl.DataFrame, k: int) -> pl.DataFrame:
    """Per query: the entity's settled successful logins (`n_cum`) and how many distinct values of
    each dimension they had (`distinct<j>`)."""
    dims = [f"d{j}" for j in range(k)]
    firsts = [
        valid.select("e", "ms", "seq", d)
        .drop_nulls(d)
        .unique(["e", d], keep="first", maintain_order=True)
        .group_by("e", "ms")
        .agg(pl.len().alias(f"new{j}"))
        for j, d in enumerate(dims)
    ]
    per_ms = valid.group_by("e", "ms").agg(pl.len().alias("n"))
    for j, first in enumerate(firsts):
        per_ms = per_ms.join(first, on=["e", "ms"], how="left").with_columns(pl.col(f"new{j}").fill_null(0))
    per_ms = per_ms.sort("ms").with_columns(
        pl.col("n").cum_sum().over("e").alias("n_cum"),
        *(pl.col(f"new{j}").cum_sum().over("e").alias(f"distinct{j}") for j in range(k)),
    )
    return (
        q.sort("cut")
        .join_asof(
            per_ms.select("e", pl.col("ms").alias("at"), "n_cum", *(f"distinct{j}" for j in range(k))),
            left_on="cut",
            right_on="at",
            by="e",
            check_sortedness=False,
        )
        .sort("q")
    )


def _failures(events: pl.DataFrame, q: pl.DataFrame, out: dict[str, np.ndarray]) -> None:
    """Failed attempts before the event (time, then arrival), in windows."""
    failed = events.filter(~pl.col("valid")).select("e", "ms", "seq")
    failed = failed.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("e").alias("f_cum"))
    before = (
        q.sort("seq")
        .join_asof(
            failed.select("e", pl.col("seq").alias("at"), "f_cum"),
            left_on="seq",
            right_on="at",
            by="e",
            check_sortedness=False,
            allow_exact_matches=False,
        )
        .sort("q")["f_cum"]
        .fill_null(0)
        .to_numpy()
    )
    failed_at = failed.group_by("e", "ms").agg(pl.col("f_cum").max()).sort("ms")
    for w, width in FAIL_WINDOWS:
        upto = (
            q.with_columns((pl.col("ms") - width).alias("low"))
            .sort("low")
            .join_asof(
                failed_at.select("e", pl.col("ms").alias("at"), "f_cum"),
                left_on="low",
                right_on="at",
                by="e",
                check_sortedness=False,
            )
            .sort("q")["f_cum"]
            .fill_null(0)
            .to_numpy()
        )
        out[f"{LOGIN_PREFIX}fail_{w}"] = np.minimum(before - upto, LOGIN_CAP).astype(np.float64)


def _travel(valid: pl.DataFrame, q: pl.DataFrame, past: _Past, out: dict[str, np.ndarray]) -> None:
    """Distance and speed from the last successful login before the event."""
    last = (
        q.sort("seq")
        .join_asof(
            valid.select("e", pl.col("seq").alias("at"), pl.col("ms").alias("last_ms"), pl.col("d3").alias("last_c")),
            left_on="seq",
            right_on="at",
            by="e",
            check_sortedness=False,
            allow_exact_matches=False,
        )
        .sort("q")
    )
    if past.given:
        # a probe's own visit shortly before (unsettled): the last successful login, from its own place
        newer = pl.col("past_visit").is_not_null() & (
            pl.col("last_ms").is_null() | (pl.col("past_visit") > pl.col("last_ms"))
        )
        last = last.with_columns(
            pl.when(newer).then(pl.col(f"d{COUNTRY}")).otherwise(pl.col("last_c")).alias("last_c"),
            pl.when(newer).then(pl.col("past_visit")).otherwise(pl.col("last_ms")).alias("last_ms"),
        )
    pairs = last.select(pl.col(f"d{COUNTRY}").alias("a"), pl.col("last_c").alias("b"))
    distinct_pairs = pairs.drop_nulls().unique()
    km_table = distinct_pairs.with_columns(
        pl.Series("km", [km_between(a, b) for a, b in distinct_pairs.iter_rows()], dtype=pl.Float64)
    )
    km = pairs.join(km_table, on=["a", "b"], how="left", maintain_order="left")["km"].fill_null(np.nan).to_numpy()
    last_ms = last["last_ms"].fill_null(0).to_numpy()
    hours = np.maximum(hours_between(q["ms"].to_numpy(), last_ms), MIN_TRAVEL_HOURS)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[f"{LOGIN_PREFIX}travel_km"] = km
        out[f"{LOGIN_PREFIX}travel_kmh"] = np.where(np.isnan(km), np.nan, speed(km, hours))


def _dimension(
    j: int,
    name: str,
    valid: pl.DataFrame,
    q: pl.DataFrame,
    total: np.ndarray,
    distinct: np.ndarray,
    past: _Past,
    out: dict[str, np.ndarray],
) -> None:
    """One dimension's features: the settled uses of the event's value."""
    d = f"d{j}"
    uses = (
        valid.select("e", "ms", d)
        .drop_nulls(d)
        .group_by("e", d, "ms")
        .agg(pl.len().alias("n"))
        .sort("ms")
        .with_columns(pl.col("n").cum_sum().over("e", d).alias("uses"), pl.col("ms").min().over("e", d).alias("first"))
    )
    found = (
        q.select("q", "e", "cut", d)
        .sort("cut")
        .join_asof(
            uses.select("e", d, pl.col("ms").alias("at"), "uses", "first"),
            left_on="cut",
            right_on="at",
            by=["e", d],
            check_sortedness=False,
        )
        .sort("q")
    )
    ms = q["ms"].to_numpy()
    missing = found[d].is_null().to_numpy()
    count = found["uses"].fill_null(0).to_numpy()
    at = found["at"].fill_null(0).to_numpy()
    first_ms = found["first"].fill_null(0).to_numpy()
    new_value = count == 0
    if past.given:
        lived = ((past.mask >> j) & 1).astype(bool) & (past.uses > 0) & ~missing
        first_ms = np.where(lived & ~new_value, np.minimum(first_ms, past.first), first_ms)
        first_ms = np.where(lived & new_value, past.first, first_ms)
        at = np.where(lived & ~new_value, np.maximum(at, past.last), at)
        at = np.where(lived & new_value, past.last, at)
        count = count + np.where(lived, past.uses, 0)
        distinct = distinct + (new_value & lived)  # a value only its past used is one more
    used = count > 0
    p = LOGIN_PREFIX
    with np.errstate(invalid="ignore", divide="ignore"):
        out[f"{p}{name}.uses"] = np.where(missing, np.nan, np.minimum(count, LOGIN_CAP).astype(np.float64))
        out[f"{p}{name}.share"] = np.where(missing | (total == 0), np.nan, share(count, np.maximum(total, 1)))
        out[f"{p}{name}.since_d"] = np.where(used & ~missing, age_days(ms, at), np.nan)
        out[f"{p}{name}.age_d"] = np.where(used & ~missing, age_days(ms, first_ms), np.nan)
    out[f"{p}{name}.distinct"] = np.minimum(distinct, LOGIN_CAP).astype(np.float64)


def features(spec: LoginSpec, table: pl.DataFrame) -> dict[str, np.ndarray]:
    """Login features of every event of `table` (`events` of a frame), in the frame's order, each
    entity starting from nothing."""
    answered = _answer(spec, table, table)
    restore = np.empty(table.height, dtype=np.int64)
    restore[table["row"].to_numpy()] = np.arange(table.height)
    return {name: values[restore] for name, values in answered.items()}


def probe_features(
    spec: LoginSpec, table: pl.DataFrame, at: np.ndarray, dims: pl.DataFrame, past: pl.DataFrame | None = None
) -> dict[str, np.ndarray]:
    """Login features of logins that did not happen: probe i has the dimension values of `dims` row
    i (d0..dk, as `dimension_frame` reads them) and is asked of the entity of the frame's row
    `at[i]`, just before that event (its history, not counting any probe). `table` is `events` of the
    frame. `past` (columns `PAST`), if given, gives probes a past of their own (see `_answer`)."""
    position = np.empty(table.height, dtype=np.int64)
    position[table["row"].to_numpy()] = np.arange(table.height)
    picked = table[position[at].tolist()].select("e", "ms", "seq")
    names = [f"d{j}" for j in range(len(spec.dimensions()))]
    queries = pl.concat(
        [picked, dims.select(names), *([past.select(PAST)] if past is not None else [])], how="horizontal"
    )
    return _answer(spec, table, queries)


def final_profiles(spec: LoginSpec, table: pl.DataFrame) -> dict[str, LoginProfile]:
    """Each entity's profile after its last event (what `LoginProfile.advance` builds one event at a
    time over the rows in time order); `table` is `events` of the frame."""
    k = len(spec.dimensions())
    events = table.with_columns(pl.col("ms").max().over("e").alias("end"))
    events = events.filter(~pl.col("e").str.starts_with(NO_ENTITY))
    profiles: dict[str, LoginProfile] = {e: LoginProfile.empty(k) for e in events["e"].unique().to_list()}
    valid = events.filter(pl.col("valid"))
    ripe = valid.filter(pl.col("ms") <= pl.col("end") - SETTLE_MS)
    for e, n in ripe.group_by("e").agg(pl.len()).iter_rows():
        profiles[e].settled_n = n
    for j in range(k):
        _settled_tables(ripe, f"d{j}", j, profiles)
    dims = [f"d{j}" for j in range(k)]
    for row in valid.filter(pl.col("ms") > pl.col("end") - SETTLE_MS).select("e", "ms", *dims).iter_rows():
        profiles[row[0]].recent.append([row[1], list(row[2:])])
    kept = (
        events.filter(~pl.col("valid") & (pl.col("ms") > pl.col("end") - FAIL_KEEP))
        .select("e", "ms")
        .group_by("e", maintain_order=True)
        .agg(pl.col("ms").tail(LOGIN_CAP))
    )
    for e, times in kept.iter_rows():
        profiles[e].failed_ms = list(times)
    latest = valid.group_by("e", maintain_order=True).agg(pl.col("ms").last(), pl.col(f"d{COUNTRY}").last())
    for e, last_ms, country in latest.iter_rows():
        profiles[e].last_valid_ms = last_ms
        profiles[e].last_valid_country = country
    return profiles


def _settled_tables(ripe: pl.DataFrame, d: str, j: int, profiles: dict[str, LoginProfile]) -> None:
    """Each entity's table of dimension `j` from its settled successful logins (by value key, as
    `ValueTable.add` counts them)."""
    values = ripe[d].drop_nulls().unique()
    keys = pl.DataFrame({d: values, "key": pl.Series([value_key(v) for v in values.to_list()], dtype=pl.UInt64)})
    stats = (
        ripe.select("e", "ms", d)
        .drop_nulls(d)
        .join(keys, on=d, how="left")
        .group_by("e", "key")
        .agg(pl.len().alias("n"), pl.col("ms").min().alias("first"), pl.col("ms").max().alias("last"))
        .sort("e", "key")
    )
    entities = stats["e"].to_list()
    key_list, uses, first, last = (stats[c].to_list() for c in ("key", "n", "first", "last"))
    begin = 0
    for end in range(1, len(entities) + 1):
        if end == len(entities) or entities[end] != entities[begin]:
            table = ValueTable.of_sorted(key_list[begin:end], uses[begin:end], first[begin:end], last[begin:end])
            profiles[entities[begin]].settled[j] = table
            begin = end
