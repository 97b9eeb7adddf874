"""The login profile of Account Takeover Insights: the vectorised engine (training) and the one-event
engine (real time, ingestion) must give the same features and states, to the bit; and the profile
must mean what it says (familiarity settles, travel is measured, first logins stand alone)."""

from __future__ import annotations

import csv
import json
import math
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
from fraudhawk.features.history import EntityState, HistorySpec, compute, replay_frame
from fraudhawk.features.history.login_frame import dimension_frame, events, probe_features
from fraudhawk.features.history.login_profile import LoginProfile
from fraudhawk.features.history.login_spec import LoginSpec
from fraudhawk.features.history.login_values import dimension_values, km_between
from fraudhawk.features.plan import VariableInfo
from fraudhawk.scoring import artifacts
from fraudhawk.scoring.model import ScoringModel
from fraudhawk.settings import Settings
from fraudhawk.storage import schema
from fraudhawk.storage.database import Database
from fraudhawk.training import ati
from fraudhawk.training.dataset import LABEL, TrainingData
from fraudhawk.training.trainer import Request

LOGIN = LoginSpec("ip", "agent", "valid", "fp", "session")
SPEC = HistorySpec(login=LOGIN)
DAY = 86_400_000
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
    "Mobile/15E148 Safari/604.1",
    "curl/8.0",
    "",
]
# public addresses of several countries and networks, a private one, IPv6, an IPv4-mapped one, junk
ADDRESSES = [
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "81.2.69.160", "81.2.69.161", "203.2.218.214", "185.60.216.35",
    "102.129.152.1", "10.1.2.3", "2001:4860:4860::8888", "::ffff:8.8.8.8", "not-an-ip", " 1.1.1.1 ",
]  # fmt: skip


def _frame(n: int, seed: int, entities: int = 40) -> pl.DataFrame:
    """Random logins with ties in time, missing values, failures and events without an entity."""
    rng = np.random.default_rng(seed)
    entity = rng.integers(0, entities + 2, n)
    return pl.DataFrame(
        {
            layout.ENTITY_ID: [f"u{e}" if e < entities else None for e in entity],
            layout.EVENT_MS: 1_700_000_000_000 + rng.integers(0, 50 * 24 * 60, n) * 60_000,
            "ip": [ADDRESSES[i] if i < len(ADDRESSES) else None for i in rng.integers(0, len(ADDRESSES) + 2, n)],
            "agent": [AGENTS[i] if i < len(AGENTS) else None for i in rng.integers(0, len(AGENTS) + 1, n)],
            "valid": rng.choice(["true", "false", "FALSE", "0", "1", ""], n, p=[0.6, 0.1, 0.05, 0.05, 0.1, 0.1]),
            "fp": [f"fp{i}" for i in rng.integers(0, 30, n)],
            "session": [f"s{i}" if i < 40 else None for i in rng.integers(0, 50, n)],
        }
    ).sort(layout.EVENT_MS, maintain_order=True)


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    same: np.ndarray = (a == b) | (np.isnan(a) & np.isnan(b))
    return same


def test_vectorised_features_and_states_equal_one_event_at_a_time() -> None:
    for seed in (1, 2):
        frame = _frame(6000, seed)
        vectorised, final = compute(SPEC, frame, with_states=True)
        states: dict[str, EntityState] = {}
        online = replay_frame(SPEC, frame, states)
        for name in SPEC.feature_names():
            a, b = vectorised[name].to_numpy().astype(float), online[name].to_numpy().astype(float)
            assert _same(a, b).all(), (name, seed, a[~_same(a, b)][:3], b[~_same(a, b)][:3])
        assert set(final) == set(states)
        assert all(final[e] == states[e] for e in states)
        assert all(EntityState.from_bytes(states[e].to_bytes()) == states[e] for e in states)


def test_a_copy_advances_alone() -> None:
    """The hot path advances a copy of the cached profile: neither may change the other."""
    frame = _frame(3000, 6, entities=5)
    _, states = compute(SPEC, frame.head(2000), with_states=True)
    later = frame.slice(2000)
    for entity, state in states.items():
        before = state.to_bytes()
        copy = state.copy()
        replay_frame(SPEC, later.filter(pl.col(layout.ENTITY_ID) == entity), {entity: copy})
        assert state.to_bytes() == before
        original = EntityState.from_bytes(before)
        replay_frame(SPEC, later.filter(pl.col(layout.ENTITY_ID) == entity), {entity: state})
        assert state == copy  # the original, advanced the same way after its copy, agrees
        assert original != state


def test_a_state_carries_on_after_training() -> None:
    """Training's final states, advanced one event at a time, give what the whole history gives."""
    frame = _frame(5000, 3)
    cut = 3500
    _, states = compute(SPEC, frame.head(cut), with_states=True)
    later = replay_frame(SPEC, frame.slice(cut), states)
    whole, _ = compute(SPEC, frame, with_states=True)
    for name in SPEC.feature_names():
        a, b = whole[name].to_numpy()[cut:].astype(float), later[name].to_numpy().astype(float)
        assert _same(a, b).all(), name


def test_probes_are_asked_just_before_the_event_and_count_nowhere() -> None:
    frame = _frame(3000, 4, entities=20)
    table = events(LOGIN, frame)
    rng = np.random.default_rng(5)
    at = np.sort(rng.choice(frame.height, size=200, replace=False))
    probes = frame[rng.integers(0, frame.height, 200).tolist()].select("ip", "agent", "valid", "fp", "session")
    answered = probe_features(LOGIN, table, at, dimension_frame(LOGIN, probes))
    names = LOGIN.feature_names()
    states: dict[str, EntityState] = {}
    rows = frame.with_row_index("__i")
    done = 0
    for k, row in enumerate(at.tolist()):
        replay_frame(SPEC, rows.slice(done, row - done).drop("__i"), states)  # everything before the event
        done = row
        entity = frame[layout.ENTITY_ID][row]
        profile = states[entity].login if entity in states else LoginProfile.empty(len(LOGIN.dimensions()))
        assert profile is not None
        texts = [probes[name][k] for name in LOGIN.inputs()]
        texts = [t.strip() or None if t is not None else None for t in texts]
        values, _ = dimension_values(LOGIN, texts)
        expected = profile.features(frame[layout.EVENT_MS][row], values)
        got = [answered[name][k] for name in names]
        assert _same(np.array(got, dtype=float), np.array(expected, dtype=float)).all(), (k, names)


def _login(
    entity: str, ms: int, ip: str, agent: str = AGENTS[0], valid: str = "true", fp: str = "fp1"
) -> dict[str, Any]:
    return {layout.ENTITY_ID: entity, layout.EVENT_MS: ms, "ip": ip, "agent": agent, "valid": valid, "fp": fp}


def _features(logins: list[dict[str, Any]]) -> pl.DataFrame:
    spec = HistorySpec(login=LoginSpec("ip", "agent", "valid", "fp"))
    frame = pl.DataFrame(logins, schema_overrides={layout.EVENT_MS: pl.Int64})
    features, _ = compute(spec, frame)
    return features


def test_a_value_is_familiar_only_once_settled() -> None:
    """An attacker back an hour after a first login from a new network is not yet familiar."""
    start = 1_700_000_000_000
    history = [_login("a", start + d * DAY, "8.8.8.8") for d in range(30)]
    attack = start + 40 * DAY
    logins = [
        *history,
        _login("a", attack, "81.2.69.160", fp="evil"),
        _login("a", attack + 3_600_000, "81.2.69.160", fp="evil"),
        _login("a", attack + 2 * DAY, "81.2.69.160", fp="evil"),
    ]
    features = _features(logins)
    first, second, later = features.row(30, named=True), features.row(31, named=True), features.row(32, named=True)
    for row in (first, second):
        assert row["l.ip.uses"] == 0.0
        assert row["l.fingerprint.uses"] == 0.0
        assert row["l.ip.age_d"] is None
    assert later["l.ip.uses"] == 2.0  # a day later both attempts have settled
    assert features.row(29, named=True)["l.ip.uses"] == 29.0  # the owner's: yesterday's, exactly a day ago, too
    assert features.row(29, named=True)["l.ip.share"] == 1.0


def test_travel_and_failures() -> None:
    start = 1_700_000_000_000
    features = _features(
        [
            _login("a", start, "8.8.8.8"),  # United States
            _login("a", start + 600_000, "203.2.218.214", valid="false"),  # Australia, failed
            _login("a", start + 1_200_000, "203.2.218.214"),
            _login("a", start + 1_300_000, "8.8.4.4"),
        ]
    )
    rows = features.to_dicts()
    assert rows[0]["l.travel_km"] is None  # no earlier successful login
    km = km_between("AU", "US")
    assert km is not None
    assert km > 10_000
    assert rows[2]["l.travel_km"] == km  # from the last successful login, not the failed attempt
    assert math.isclose(rows[2]["l.travel_kmh"], km / (1_200_000 / 3_600_000))
    assert rows[2]["l.fail_1h"] == 1.0
    assert rows[3]["l.travel_km"] == km
    assert km_between("US", "US") == 0.0
    assert km_between("US", "ZZ") is None


def test_an_entitys_first_login_has_no_history() -> None:
    features = _features([_login("a", 1_700_000_000_000, "8.8.8.8"), _login("b", 1_700_000_000_000, "8.8.8.8")])
    for row in features.to_dicts():
        assert row["h.events_seen"] == 0.0
        assert row["l.settled"] == 0.0
        assert row["l.ip.share"] is None


# --- through the store ------------------------------------------------------------------------------

ATI = "ACCOUNT_TAKEOVER_INSIGHTS"
ROLE = "arn:aws:iam::123456789012:role/afd"


def _wait_import(afd: Any, job: str) -> None:
    deadline = time.monotonic() + 300
    while (status := afd.get_batch_import_jobs(jobId=job)["batchImports"][0]["status"]).startswith("IN_PROGRESS"):
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.1)
    assert status == "COMPLETE"


def _wait_status(afd: Any, wanted: str, version: dict[str, str]) -> None:
    deadline = time.monotonic() + 300
    while (status := afd.get_model_version(**version)["status"]) != wanted:
        if status == "ERROR":
            detail = afd.describe_model_versions(**version)["modelVersionDetails"][0]
            raise AssertionError(detail["trainingResult"]["dataValidationMetrics"])
        assert status in ("TRAINING_IN_PROGRESS", "ACTIVATE_REQUESTED", "ACTIVATE_IN_PROGRESS"), status
        assert time.monotonic() < deadline, f"still {status}"
        time.sleep(0.2)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.mark.timeout(900)
def test_the_stored_profile_follows_every_stored_event(afd: Any, settings: Settings) -> None:
    """Train on stored logins; then logins arrive as predictions with ingestion, as SendEvent and as
    a batch import. Each entity's stored profile is then what training computes over all of them."""
    files = settings.data_dir / "files"
    files.mkdir(parents=True, exist_ok=True)
    source = files / "all.csv"
    datagen.logins(source, users=1_600, days=36, seed=21)
    with source.open() as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    cut = int(len(rows) * 0.9)
    first, predicted, sent, last = rows[:cut], rows[cut : cut + 150], rows[cut + 150 : cut + 400], rows[cut + 400 :]
    _write(files / "first.csv", header, first)
    _write(files / "last.csv", header, last)
    datagen.declare_logins(afd)
    afd.create_batch_import_job(
        jobId="first", inputPath=str(files / "first.csv"), outputPath=str(files), eventTypeName="login", iamRoleArn=ROLE
    )
    _wait_import(afd, "first")
    afd.create_model(modelId="ati", modelType=ATI, eventTypeName="login")
    afd.create_model_version(
        modelId="ati",
        modelType=ATI,
        trainingDataSource="INGESTED_EVENTS",
        trainingDataSchema={"modelVariables": list(datagen.LOGIN_VARIABLES)},
        ingestedEventsDetail={
            "ingestedEventsTimeWindow": {"startTime": "2023-01-01T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}
        },
    )
    _deploy(afd)
    index = {name: i for i, name in enumerate(header)}

    def event(row: list[str]) -> dict[str, Any]:
        return {
            "eventId": row[index["EVENT_ID"]],
            "eventTypeName": "login",
            "eventTimestamp": row[index["EVENT_TIMESTAMP"]],
            "eventVariables": {name: row[index[name]] for name in datagen.LOGIN_VARIABLES},
            "entities": [{"entityType": "customer", "entityId": row[index["ENTITY_ID"]]}],
        }

    scores = []
    for row in predicted:  # one at a time, as a live system would: each prediction stores its event
        answer = afd.get_event_prediction(detectorId="logins", **event(row))
        scores.append(answer["modelScores"][0]["scores"]["ati_insightscore"])
    assert all(score == -1 or 0 <= score <= 1000 for score in scores)
    newcomer = event(predicted[0]) | {
        "eventId": "newcomer",
        "entities": [{"entityType": "customer", "entityId": "new"}],
    }
    first_login = afd.get_event_prediction(detectorId="logins", **newcomer)
    assert first_login["modelScores"][0]["scores"] == {"ati_insightscore": -1.0}  # unknown risk
    assert first_login["ruleResults"] == []  # -1 is below the challenge threshold
    again = afd.get_event_prediction(detectorId="logins", **(newcomer | {"eventId": "newcomer-2"}))
    assert again["modelScores"][0]["scores"]["ati_insightscore"] >= 0  # now it has a history
    for row in sent:
        afd.send_event(**event(row))
    batch = _batch_scores(afd, files)  # reviewed before they are stored: from the stored profiles
    afd.create_batch_import_job(
        jobId="last", inputPath=str(files / "last.csv"), outputPath=str(files), eventTypeName="login", iamRoleArn=ROLE
    )
    _wait_import(afd, "last")
    _check_states_and_scores(
        settings, source, [row[index["EVENT_ID"]] for row in predicted] + list(batch), scores + list(batch.values())
    )


def _batch_scores(afd: Any, files: Path) -> dict[str, float]:
    """A batch prediction job's score of each login of last.csv."""
    afd.create_batch_prediction_job(
        jobId="review",
        inputPath=str(files / "last.csv"),
        outputPath=str(files / "scored"),
        eventTypeName="login",
        detectorName="logins",
        iamRoleArn=ROLE,
    )
    deadline = time.monotonic() + 300
    while (job := afd.get_batch_prediction_jobs(jobId="review")["batchPredictions"][0])["status"] not in (
        "COMPLETE",
        "FAILED",
        "CANCELED",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert job["status"] == "COMPLETE", job
    [output] = (files / "scored").glob("review_*_output.csv")
    scored = pl.read_csv(output, infer_schema=False)
    found = scored["MODEL_SCORES"].str.extract(r"'ati': (-?[0-9.]+)").cast(pl.Float64)
    return dict(zip(scored[layout.EVENT_ID].to_list(), found.to_list(), strict=True))


def _deploy(afd: Any) -> None:
    """The trained version active, in the walk-through's kind of detector, published."""
    version = {"modelId": "ati", "modelType": ATI, "modelVersionNumber": "1.0"}
    _wait_status(afd, "TRAINING_COMPLETE", version)
    afd.update_model_version_status(**version, status="ACTIVE")
    _wait_status(afd, "ACTIVE", version)
    afd.put_detector(detectorId="logins", eventTypeName="login")
    afd.put_outcome(name="challenge")
    afd.create_rule(
        ruleId="challenge",
        detectorId="logins",
        expression="$ati_insightscore >= 500",
        language="DETECTORPL",
        outcomes=["challenge"],
    )
    afd.create_detector_version(
        detectorId="logins",
        rules=[{"detectorId": "logins", "ruleId": "challenge", "ruleVersion": "1"}],
        modelVersions=[version],
    )
    afd.update_detector_version_status(detectorId="logins", detectorVersionId="1", status="ACTIVE")


def _check_states_and_scores(settings: Settings, source: Path, predicted: list[str], scores: list[float]) -> None:
    [folder] = (settings.data_dir / "models" / "ati" / "1.0").iterdir()
    spec = HistorySpec.from_json(json.loads((folder / "manifest.json").read_text())["plan"]["history"])
    assert spec.login == LoginSpec("ip_address", "user_agent", "credentials_valid", "fingerprint", "session_id")
    everything = pl.read_csv(source, infer_schema=False)
    everything = everything.with_columns(parse_series(everything[layout.EVENT_TIMESTAMP]).alias(layout.EVENT_MS))
    _, expected = compute(spec, everything.sort(layout.EVENT_MS, maintain_order=True), with_states=True)
    database = Database(settings.database_url)
    with database.read() as conn:
        stored = {
            row.entity_id: EntityState.from_bytes(row.state)
            for row in conn.execute(select(schema.entity_states.c.entity_id, schema.entity_states.c.state))
        }
    database.dispose()
    assert stored.pop("new").n == 2  # the newcomer's two logins are in no file
    assert set(stored) == set(expected)
    different = [entity for entity in expected if stored[entity] != expected[entity]]
    assert not different, different[:5]
    # the scores of the predicted logins are those the model gives their history features
    history, _ = compute(spec, everything.sort(layout.EVENT_MS, maintain_order=True))
    positions = {e: i for i, e in enumerate(everything.sort(layout.EVENT_MS, maintain_order=True)[layout.EVENT_ID])}
    digest = artifacts.sha256((folder / "manifest.json").read_bytes())
    model = ScoringModel.from_artifact(artifacts.load(folder, digest), folder)
    ordered = everything.sort(layout.EVENT_MS, maintain_order=True)
    picked = [positions[event_id] for event_id in predicted]
    expected_scores = np.round(model.scores(ordered[picked], history[picked]))
    assert list(expected_scores) == scores


def test_training_is_deterministic_given_the_data(tmp_path: Path) -> None:
    source = tmp_path / "logins.csv"
    datagen.logins(source, users=1_600, days=31, seed=8)
    raw = pl.read_csv(source, infer_schema=False)
    frame = raw.with_columns(
        parse_series(raw[layout.EVENT_TIMESTAMP]).alias(layout.EVENT_MS), raw["EVENT_LABEL"].alias(LABEL)
    )
    variables = [VariableInfo(name, kind[0], kind[1]) for name, kind in datagen.LOGIN_VARIABLES.items()]
    request = Request(ATI, variables, {"FRAUD": ["fraud"]})
    first, second = (ati.train(TrainingData(frame), request, lambda _: None, lambda: False) for _ in range(2))
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert first.calibration == second.calibration
    assert first.performance == second.performance
    assert 0.9 < first.performance["asi"] <= 1.0
