"""Entity history for Transaction Fraud Insights: the vectorised training engine and the incremental
per-entity state must give the same values, in memory and through the store."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import select

from fraudhawk import datagen
from fraudhawk.eventdata import layout
from fraudhawk.eventdata.timestamps import parse_series
from fraudhawk.features.history import EntityState, HistorySpec, compute, replay, timeline
from fraudhawk.settings import Settings
from fraudhawk.storage import schema
from fraudhawk.storage.database import Database

SPEC = HistorySpec(amounts=("amt",), categories=("merchant", "ip_address"), amount_groups=("merchant",))


def _events(path: Path, cards: int = 60, days: int = 40, seed: int = 3) -> pl.DataFrame:
    datagen.transactions(path, cards=cards, days=days, seed=seed)
    frame = pl.read_csv(path, infer_schema=False)
    return frame.with_columns(parse_series(frame[layout.EVENT_TIMESTAMP]).alias(layout.EVENT_MS))


def _as_rows(frame: pl.DataFrame) -> list[tuple[str, int, list[Any], list[Any]]]:
    amounts = frame["amt"].cast(pl.Float64).to_list()
    return [
        (entity, ms, [amount], [merchant, ip])
        for entity, ms, amount, merchant, ip in zip(
            frame[layout.ENTITY_ID].to_list(),
            frame[layout.EVENT_MS].to_list(),
            amounts,
            frame["merchant"].to_list(),
            frame["ip_address"].to_list(),
            strict=True,
        )
    ]


def _assert_same(vectorised: pl.DataFrame, online: list[list[Any]]) -> None:
    expected = vectorised.to_numpy().astype(np.float64)
    actual = np.array([[np.nan if v is None else float(v) for v in row] for row in online])
    assert expected.shape == actual.shape
    same = (expected == actual) | (np.isnan(expected) & np.isnan(actual))
    bad = np.argwhere(~same)
    assert not len(bad), [(SPEC.feature_names()[j], int(i), expected[i, j], actual[i, j]) for i, j in bad[:5]]


def test_one_event_at_a_time_equals_the_whole_history(tmp_path: Path) -> None:
    frame = _events(tmp_path / "t.csv").sort(layout.EVENT_MS, maintain_order=True)
    # events at the same moment are ordered by arrival on both sides
    frame = pl.concat([frame, frame.head(50).with_columns(pl.lit("dup").alias("EVENT_ID"))]).sort(
        layout.EVENT_MS, maintain_order=True
    )
    vectorised, final = compute(SPEC, frame, with_states=True)
    states: dict[str, EntityState] = {}
    online = replay(SPEC, states, _as_rows(frame))
    _assert_same(vectorised, online)
    assert set(states) == set(final)
    for entity, state in states.items():
        assert state.to_bytes() == final[entity].to_bytes()
    # the features carry signal, not constants
    assert vectorised["h.count_24h"].max() > 1  # type: ignore[operator]
    assert vectorised["h.merchant.seen"].null_count() < frame.height
    # and so do the burst's: new merchants and odd hours in the last day, its largest amount
    assert vectorised["h.merchant.new_24h"].max() > 1  # type: ignore[operator]
    assert vectorised["h.odd_hours_24h"].max() > 0  # type: ignore[operator]
    assert vectorised["h.hour_share_24h"].drop_nulls().n_unique() > 10
    assert vectorised["h.hour_share_min_24h"].drop_nulls().n_unique() > 10
    assert vectorised["h.amt.max_24h_ratio_mean"].drop_nulls().n_unique() > 10


def test_state_from_history_then_online_equals_history_of_all(tmp_path: Path) -> None:
    frame = _events(tmp_path / "t.csv", seed=5).sort(layout.EVENT_MS, maintain_order=True)
    cut = int(frame.height * 0.7)
    everything, _ = compute(SPEC, frame)
    _, states = compute(SPEC, frame.head(cut), with_states=True)
    restored = {k: EntityState.from_bytes(v.to_bytes()) for k, v in states.items()}
    online = replay(SPEC, restored, _as_rows(frame.slice(cut)))
    _assert_same(everything.slice(cut), online)


def test_a_state_stored_before_the_burst_features_still_answers(tmp_path: Path) -> None:
    """A state written by an earlier version (no hour shares or new-value flags for its recent
    events) loads; its recent events count as neither odd-hour nor new, and it goes on from there."""
    frame = _events(tmp_path / "t.csv", seed=6).sort(layout.EVENT_MS, maintain_order=True)
    cut = int(frame.height * 0.7)
    _, states = compute(SPEC, frame.head(cut), with_states=True)
    entity, state = max(states.items(), key=lambda item: len(item[1].recent_ms))
    old = json.loads(json.dumps(_plain(state)))
    for name in ("recent_hours", "recent_new", "last_hour_share"):
        del old[name]
    restored = EntityState.from_bytes(json.dumps(old).encode())
    assert restored.recent_hours == [[0, 0]] * len(state.recent_ms)
    assert restored.recent_new == [[0, 0]] * len(state.recent_ms)
    later = [row for row in _as_rows(frame.slice(cut)) if row[0] == entity]
    online = replay(SPEC, {entity: restored}, later)
    names = SPEC.feature_names()
    first = dict(zip(names, online[0], strict=True))
    assert first["h.odd_hours_24h"] == 0
    assert first["h.merchant.new_24h"] == 0
    assert first["h.prev_hour_share"] is None
    current = dict(zip(names, replay(SPEC, {entity: state}, later[:1])[0], strict=True))
    assert first["h.count_7d"] == current["h.count_7d"] > 0
    assert current["h.merchant.new_24h"] is not None


def _plain(state: EntityState) -> dict[str, Any]:
    fields = dict(state.__dict__)
    fields["seen"] = [[list(table.keys), list(table.counts)] for table in state.seen]
    fields["login"] = None
    return fields


def test_missing_values_and_new_entities(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            layout.ENTITY_ID: ["a", "a", "b", "a", "a"],
            layout.EVENT_MS: [0, 1000, 1000, 7_200_000, 7_200_000],
            "amt": ["10", None, "5", "abc", "30"],
            "merchant": ["m1", "", "m1", None, "m1"],
            "ip_address": ["1.1.1.1", "1.1.1.1", None, "2.2.2.2", "1.1.1.1"],
        }
    )
    vectorised, _ = compute(SPEC, frame)
    online = replay(
        SPEC,
        {},
        [
            ("a", 0, [10.0], ["m1", "1.1.1.1"]),
            ("a", 1000, [None], [None, "1.1.1.1"]),
            ("b", 1000, [5.0], ["m1", None]),
            ("a", 7_200_000, [None], [None, "2.2.2.2"]),
            ("a", 7_200_000, [30.0], ["m1", "1.1.1.1"]),
        ],
    )
    _assert_same(vectorised, online)
    row = dict(zip(SPEC.feature_names(), online[4], strict=True))
    assert row["h.count_1h"] == 1  # the events 2h earlier are outside the hour; the same-time one counts
    assert row["h.count_24h"] == 3
    assert row["h.amt.ratio_mean"] == 30.0 / 10.0
    assert row["h.merchant.seen"] == 1
    assert row["h.ip_address.seen"] == 2


# --- through the store: training builds the state, SendEvent and imports advance it ----------------


def _wait(afd: Any, model: str, version: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found: dict[str, Any] = afd.get_model_version(
            modelId=model, modelType="TRANSACTION_FRAUD_INSIGHTS", modelVersionNumber=version
        )
        if found["status"] != "TRAINING_IN_PROGRESS":
            return found
        time.sleep(0.3)
    raise AssertionError("training did not finish")


def _wait_import(afd: Any, job: str) -> None:
    for _ in range(600):
        status = afd.get_batch_import_jobs(jobId=job)["batchImports"][0]["status"]
        if status not in ("IN_PROGRESS", "IN_PROGRESS_INITIALIZING"):
            assert status == "COMPLETE"
            return
        time.sleep(0.1)
    raise AssertionError("import did not finish")


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.mark.timeout(600)
def test_store_state_follows_every_stored_event(afd: Any, settings: Settings) -> None:
    files = settings.data_dir / "files"
    files.mkdir(parents=True, exist_ok=True)
    source = files / "all.csv"
    datagen.transactions(source, cards=100, days=40, seed=11, fraud_share=0.3)
    with source.open() as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    first, live, last = rows[: int(len(rows) * 0.8)], rows[int(len(rows) * 0.8) : -300], rows[-300:]
    _write(files / "first.csv", header, first)
    _write(files / "last.csv", header, last)
    datagen.declare_transactions(afd)
    role = "arn:aws:iam::123456789012:role/afd"
    afd.create_batch_import_job(
        jobId="first", inputPath=str(files / "first.csv"), outputPath=str(files), eventTypeName="txn", iamRoleArn=role
    )
    _wait_import(afd, "first")
    afd.create_model(modelId="tfi", modelType="TRANSACTION_FRAUD_INSIGHTS", eventTypeName="txn")
    afd.create_model_version(
        modelId="tfi",
        modelType="TRANSACTION_FRAUD_INSIGHTS",
        trainingDataSource="INGESTED_EVENTS",
        trainingDataSchema={
            "modelVariables": list(datagen.TRANSACTION_VARIABLES),
            "labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}},
        },
        ingestedEventsDetail={
            "ingestedEventsTimeWindow": {"startTime": "2023-01-01T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}
        },
    )
    if _wait(afd, "tfi", "1.0")["status"] != "TRAINING_COMPLETE":
        detail = afd.describe_model_versions(modelId="tfi")["modelVersionDetails"][0]
        raise AssertionError(detail["trainingResult"]["dataValidationMetrics"])

    index = {name: i for i, name in enumerate(header)}
    for row in live:  # one at a time, as a live system would
        afd.send_event(
            eventId=row[index["EVENT_ID"]],
            eventTypeName="txn",
            eventTimestamp=row[index["EVENT_TIMESTAMP"]],
            eventVariables={name: row[index[name]] for name in datagen.TRANSACTION_VARIABLES},
            entities=[{"entityType": "card", "entityId": row[index["ENTITY_ID"]]}],
        )
    afd.create_batch_import_job(
        jobId="last", inputPath=str(files / "last.csv"), outputPath=str(files), eventTypeName="txn", iamRoleArn=role
    )
    _wait_import(afd, "last")

    [folder] = (settings.data_dir / "models" / "tfi" / "1.0").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    spec = HistorySpec.from_json(manifest["plan"]["history"])
    assert spec.amounts == ("amt",)
    everything = pl.read_csv(source, infer_schema=False)
    everything = everything.with_columns(parse_series(everything[layout.EVENT_TIMESTAMP]).alias(layout.EVENT_MS))
    _, expected = compute(spec, everything.sort(layout.EVENT_MS, maintain_order=True), with_states=True)
    database = Database(settings.database_url)
    with database.read() as conn:
        stored = {
            row.entity_id: row.state
            for row in conn.execute(select(schema.entity_states.c.entity_id, schema.entity_states.c.state))
        }
    database.dispose()
    assert set(stored) == set(expected)
    assert all(stored[entity] == expected[entity].to_bytes() for entity in expected)


def test_a_late_event_keeps_the_history_in_time_order() -> None:
    hour = 3_600_000
    arrivals = [(0, 10.0, "m1"), (30 * hour, 20.0, "m2"), (40 * hour, 30.0, "m1"), (1 * hour, 500.0, "m3")]
    arrivals.append((41 * hour, 50.0, "m2"))
    states: dict[str, EntityState] = {}
    online = replay(SPEC, states, [("a", ms, [amount], [merchant, "1.1.1.1"]) for ms, amount, merchant in arrivals])
    in_time = sorted(arrivals)
    frame = pl.DataFrame(
        {
            layout.ENTITY_ID: ["a"] * len(in_time),
            layout.EVENT_MS: [ms for ms, _, _ in in_time],
            "amt": [str(amount) for _, amount, _ in in_time],
            "merchant": [merchant for _, _, merchant in in_time],
            "ip_address": ["1.1.1.1"] * len(in_time),
        }
    )
    vectorised, final = compute(SPEC, frame, with_states=True)
    last = dict(zip(SPEC.feature_names(), online[-1], strict=True))
    expected = dict(zip(SPEC.feature_names(), vectorised.row(len(in_time) - 1), strict=True))
    assert last == pytest.approx(expected, rel=1e-12, nan_ok=True)
    assert last["h.since_last_s"] == 3600
    assert last["h.count_24h"] == 2
    assert last["h.amt.sum_24h"] == 50.0
    # the late event itself saw only what came before it in time
    late = dict(zip(SPEC.feature_names(), online[3], strict=True))
    assert (late["h.since_last_s"], late["h.count_1h"], late["h.count_24h"]) == (3600, 0, 1)
    assert late["h.amt.sum_24h"] == 10.0
    state = states["a"]
    assert state.recent_ms == sorted(state.recent_ms)
    assert state.last_ms == final["a"].last_ms
    assert [s[0] for s in state.recent_sums] == pytest.approx([s[0] for s in final["a"].recent_sums])


def test_events_without_an_entity_have_no_history() -> None:
    frame = pl.DataFrame(
        {
            layout.ENTITY_ID: ["a", None, "a", None],
            layout.EVENT_MS: [0, 1000, 2000, 3000],
            "amt": ["10", "20", "30", "40"],
            "merchant": ["m", "m", "m", "m"],
            "ip_address": ["1", "1", "1", "1"],
        }
    )
    features, states = compute(SPEC, frame, with_states=True)
    assert set(states) == {"a"}
    assert features["h.count_24h"].to_list() == [0, 0, 1, 0]
    assert features["h.since_last_s"].to_list() == [None, None, 2.0, None]


def test_windows_over_any_time_span(monkeypatch: pytest.MonkeyPatch) -> None:
    """Times too far apart for one sorted int64 key (forced here: it takes hundreds of thousands of
    entities over centuries): each entity's windows are found on its own, and the features still
    equal the one-event engine's."""
    monkeypatch.setattr(timeline, "KEY_LIMIT", 0)
    rng = np.random.default_rng(1)
    group = np.sort(rng.integers(0, 5, 300))
    ms = np.concatenate([np.sort(rng.integers(0, 2**50, (group == g).sum())) for g in range(5)])
    ms[group == 0] = np.sort(rng.integers(0, 30 * 86_400_000, (group == 0).sum()))  # dense enough to fill windows
    frame = pl.DataFrame(
        {
            layout.ENTITY_ID: [f"e{g}" for g in group.tolist()],
            layout.EVENT_MS: ms,
            "amt": [f"{x:.2f}" for x in rng.lognormal(3, 1, len(ms)).tolist()],
            "merchant": [f"m{int(m)}" for m in rng.integers(0, 4, len(ms)).tolist()],
            "ip_address": ["1"] * len(ms),
        }
    ).sort(layout.EVENT_MS, maintain_order=True)
    vectorised, _ = compute(SPEC, frame)
    _assert_same(vectorised, replay(SPEC, {}, _as_rows(frame)))
    assert vectorised["h.count_7d"].max() > 1  # type: ignore[operator]
