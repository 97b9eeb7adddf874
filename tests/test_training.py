"""Training below the wire: determinism, calibration, the variable checks, artifacts and metrics, and
a server killed mid-training."""

from __future__ import annotations

import csv
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from fraudhawk import datagen
from fraudhawk.errors import InternalError
from fraudhawk.eventdata.timestamps import parse_series
from fraudhawk.events.paths import Location
from fraudhawk.features.plan import VariableInfo
from fraudhawk.scoring import artifacts
from fraudhawk.scoring.calibration import Calibration, fpr_for_score
from fraudhawk.training import metrics, trainer
from fraudhawk.training.dataset import from_csv
from fraudhawk.training.messages import Messages
from tests.helpers import boto_client, free_port, start_server_process

FRAUD = {"FRAUD": ["fraud"], "LEGIT": ["legit"]}


def _variables(table: dict[str, tuple[str, str]]) -> list[VariableInfo]:
    return [VariableInfo(name, data_type, variable_type) for name, (data_type, variable_type) in table.items()]


def _train(path: Path, model_type: str, variables: list[VariableInfo], **request: Any) -> trainer.Trained:
    messages = Messages()
    data = from_csv(Location(str(path), path), [v.name for v in variables], messages)
    assert not messages.has_errors, messages.to_wire()
    return trainer.train(
        data, trainer.Request(model_type, variables, FRAUD, **request), lambda _text: None, lambda: False
    )


def test_same_data_and_seed_give_the_same_model_and_metrics(tmp_path: Path) -> None:
    source = tmp_path / "txn.csv"
    datagen.transactions(source, cards=150, days=40, seed=2, fraud_share=0.3)
    variables = _variables(datagen.TRANSACTION_VARIABLES)
    first = _train(source, "TRANSACTION_FRAUD_INSIGHTS", variables)
    second = _train(source, "TRANSACTION_FRAUD_INSIGHTS", variables)
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert first.performance == second.performance
    assert first.calibration.knots == second.calibration.knots
    assert first.importance == second.importance
    other = _train(source, "TRANSACTION_FRAUD_INSIGHTS", variables, seed=99)
    assert other.booster.model_to_string() != first.booster.model_to_string()


def test_scores_mean_false_positive_rates(tmp_path: Path) -> None:
    source = tmp_path / "reg.csv"
    datagen.registrations(source, events=6000, seed=4, fraud_rate=0.05)
    trained = _train(source, "ONLINE_FRAUD_INSIGHTS", _variables(datagen.REGISTRATION_VARIABLES))
    points = {p["threshold"]: p for p in trained.performance["points"]}
    # on the validation legit events, 600 flags about 10% and 900 about 2%, as AFD documents
    assert points[600.0]["fpr"] == pytest.approx(0.10, abs=0.02)
    assert points[900.0]["fpr"] == pytest.approx(0.02, abs=0.01)
    tprs = [p["tpr"] for p in trained.performance["points"]]
    fprs = [p["fpr"] for p in trained.performance["points"]]
    assert tprs == sorted(tprs, reverse=True)
    assert fprs == sorted(fprs, reverse=True)
    assert trained.performance["auc"] > 0.8
    low, high = trained.performance["aucRange"]
    assert low <= trained.performance["auc"] <= high


def test_calibration_is_monotone_and_anchored() -> None:
    legit = np.random.default_rng(0).normal(0, 1, 20_000)
    calibration = Calibration.fit(legit)
    raw = np.linspace(-6, 12, 5000)
    scores = calibration.score(raw)
    assert np.all(np.diff(scores) >= 0)
    assert scores[0] == 0.0
    assert scores[-1] == 1000.0
    for score, fpr in ((600, 0.10), (900, 0.02)):
        share = float((calibration.score(legit) >= score).mean())
        assert share == pytest.approx(fpr, rel=0.1)
    assert fpr_for_score(600) == pytest.approx(0.1)
    assert fpr_for_score(900) == pytest.approx(0.02)
    # with few legit events the top scores lie beyond the largest legit output: still ranked there
    few = legit[:2000]
    sparse = Calibration.fit(few)
    top, above = sparse.score(np.array([few.max(), few.max() + 0.1]))
    assert top < above < 1000.0


def test_variables_that_only_encode_time_or_identity_are_left_out(tmp_path: Path) -> None:
    source = tmp_path / "txn.csv"
    datagen.transactions(source, cards=150, days=40, seed=6, fraud_share=0.3)
    frame = pl.read_csv(source, infer_schema=False)
    homes = {card: f"{i * 7919 % 100000:05d}" for i, card in enumerate(frame["ENTITY_ID"].unique().sort())}
    frame = frame.with_columns(
        pl.int_range(frame.height).cast(pl.String).alias("sequence"),  # grows with time
        pl.col("ENTITY_ID").replace_strict(homes).alias("home_zip"),  # one value per card
        pl.lit("same").alias("constant"),
        pl.when(pl.int_range(frame.height) % 20 == 0).then(pl.lit("x")).alias("mostly_missing"),
    )
    frame.write_csv(source)
    variables = [
        *_variables(datagen.TRANSACTION_VARIABLES),
        VariableInfo("sequence", "FLOAT", "NUMERIC"),
        VariableInfo("home_zip", "STRING", "CATEGORICAL"),
        VariableInfo("constant", "STRING", "CATEGORICAL"),
        VariableInfo("mostly_missing", "STRING", "CATEGORICAL"),
    ]
    trained = _train(source, "TRANSACTION_FRAUD_INSIGHTS", variables)
    assert set(trained.plan.excluded) == {"sequence", "home_zip", "constant", "mostly_missing"}
    titles = {m["fieldName"]: m["title"] for m in trained.messages.field_level}
    assert titles == {
        "sequence": "Variable follows time",
        "home_zip": "Identifies the entity",
        "constant": "Constant variable",
        "mostly_missing": "High missing rate",
    }
    assert not any(name.startswith(("sequence", "home_zip")) for name in trained.plan.feature_names)
    assert "h.amt.ratio_mean" in trained.plan.feature_names


def test_too_little_data_fails_with_a_reason(tmp_path: Path) -> None:
    source = tmp_path / "reg.csv"
    datagen.registrations(source, events=400, seed=1, fraud_rate=0.01)
    with pytest.raises(trainer.TrainingFailed) as failure:
        _train(source, "ONLINE_FRAUD_INSIGHTS", _variables(datagen.REGISTRATION_VARIABLES))
    assert [m["title"] for m in failure.value.messages.file_level if m["type"] == "ERROR"] == ["Insufficient data"]


def test_artifacts_are_verified_on_load(tmp_path: Path) -> None:
    digest, target = artifacts.save(tmp_path / "models" / "m" / "1.0", "tree model text", {"plan": {}, "modelId": "m"})
    assert target == artifacts.folder(tmp_path, "m", "1.0", digest)
    loaded = artifacts.load(target, digest)
    assert loaded.model_text == "tree model text"
    assert set(loaded.manifest["libraries"]) >= {"lightgbm", "numpy", "python"}
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json", "model.txt"]
    (target / "model.txt").write_text("tampered")
    with pytest.raises(InternalError, match="does not match its manifest"):
        artifacts.load(target, digest)
    with pytest.raises(InternalError, match="does not match the one trained"):
        artifacts.load(target, "0" * 64)


def test_metrics_match_their_definitions() -> None:
    rng = np.random.default_rng(3)
    target = (rng.random(400) < 0.2).astype(float)
    scores = np.round(rng.normal(target * 1.5, 1.0), 1)  # with ties
    pairs = [(p, n) for p in scores[target == 1] for n in scores[target == 0]]
    brute = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert metrics.roc_auc(scores, target) == pytest.approx(brute)
    # average precision: mean of precision at each fraud event's rank (no ties here)
    distinct = scores + rng.random(400) * 1e-6
    order = np.argsort(-distinct)
    hits = np.cumsum(target[order])
    reference = float(np.sum((hits / np.arange(1, 401))[target[order] == 1]) / target.sum())
    assert metrics.average_precision(distinct, target) == pytest.approx(reference)
    low, high = metrics.auc_range(0.9, 50, 500)
    assert 0.8 < low < 0.9 < high < 1.0


def test_killed_server_leaves_the_version_in_error_not_in_progress(tmp_path: Path) -> None:
    data, files = tmp_path / "data", tmp_path / "data" / "files"
    files.mkdir(parents=True)
    datagen.transactions(files / "txn.csv", cards=800, days=120, seed=8, fraud_share=0.3)
    port = free_port()
    server = start_server_process(data, tmp_path / "s3", port)
    try:
        afd = boto_client(f"http://127.0.0.1:{port}")
        datagen.declare_transactions(afd)
        afd.create_model(modelId="m", modelType="TRANSACTION_FRAUD_INSIGHTS", eventTypeName="txn")
        afd.create_model_version(
            modelId="m",
            modelType="TRANSACTION_FRAUD_INSIGHTS",
            trainingDataSource="EXTERNAL_EVENTS",
            trainingDataSchema={
                "modelVariables": list(datagen.TRANSACTION_VARIABLES),
                "labelSchema": {"labelMapper": FRAUD},
            },
            externalEventsDetail={
                "dataLocation": str(files / "txn.csv"),
                "dataAccessRoleArn": "arn:aws:iam::123456789012:role/afd",
            },
        )
        time.sleep(1.5)  # inside training: reading, features or fitting
        version = afd.get_model_version(modelId="m", modelType="TRANSACTION_FRAUD_INSIGHTS", modelVersionNumber="1.0")
        assert version["status"] == "TRAINING_IN_PROGRESS"
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    server = start_server_process(data, tmp_path / "s3", port)
    try:
        afd = boto_client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        status = ""
        while time.monotonic() < deadline:
            status = afd.get_model_version(
                modelId="m", modelType="TRANSACTION_FRAUD_INSIGHTS", modelVersionNumber="1.0"
            )["status"]
            if status != "TRAINING_IN_PROGRESS":
                break
            time.sleep(0.2)
        assert status == "ERROR"
        detail = afd.describe_model_versions(modelId="m", modelType="TRANSACTION_FRAUD_INSIGHTS")[
            "modelVersionDetails"
        ][0]
        messages = detail["trainingResult"]["dataValidationMetrics"]["fileLevelMessages"]
        assert [m["title"] for m in messages] == ["Training interrupted"]
        assert not (data / "models" / "m" / "1.0").exists()
    finally:
        server.terminate()
        server.wait()


def test_training_csv_with_bad_lines_keeps_the_good_ones(tmp_path: Path) -> None:
    source = tmp_path / "reg.csv"
    datagen.registrations(source, events=3000, seed=5)
    with source.open() as handle:
        rows = list(csv.reader(handle))
    rows[10][0] = "not a time"
    rows[20] = rows[20][:2]  # too few fields
    with source.open("w", newline="") as out:
        csv.writer(out).writerows(rows)
    variables = _variables(datagen.REGISTRATION_VARIABLES)
    messages = Messages()
    data = from_csv(Location(str(source), source), [v.name for v in variables], messages)
    assert not messages.has_errors
    assert [m["title"] for m in messages.file_level] == ["Unreadable lines"]
    assert "line(s)" in messages.file_level[0]["content"]
    assert "21" in messages.file_level[0]["content"]  # the short row's line number
    assert [(m["fieldName"], m["type"]) for m in messages.field_level] == [("EVENT_TIMESTAMP", "WARNING")]
    assert "11" in messages.field_level[0]["content"]  # the bad time's line number
    assert data.frame.height == 2998
    trained = trainer.train(
        data, trainer.Request("ONLINE_FRAUD_INSIGHTS", variables, FRAUD), lambda _text: None, lambda: False
    )
    assert trained.summary["events"] == 2998


def test_training_csv_without_labels_or_times_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "reg.csv"
    datagen.registrations(source, events=300, seed=5)
    frame = pl.read_csv(source, infer_schema=False)
    frame.drop("EVENT_LABEL").write_csv(tmp_path / "no_labels.csv")
    frame.drop("EVENT_TIMESTAMP").write_csv(tmp_path / "no_times.csv")
    names = list(datagen.REGISTRATION_VARIABLES)
    for name, title in (("no_labels.csv", "Missing EVENT_LABEL"), ("no_times.csv", "Missing EVENT_TIMESTAMP")):
        messages = Messages()
        from_csv(Location(name, tmp_path / name), [*names, "not_there"], messages)
        titles = [m["title"] for m in messages.file_level if m["type"] == "ERROR"]
        assert titles == [title, "Missing variables"]
        assert "not_there" in messages.file_level[-1]["content"]


def test_the_holdout_stays_unseen_by_the_feature_plan(tmp_path: Path) -> None:
    source = tmp_path / "reg.csv"
    datagen.registrations(source, events=3000, seed=9)
    frame = pl.read_csv(source, infer_schema=False)
    newest = pl.int_range(frame.height) >= int(frame.height * 0.9)
    frame = frame.with_columns(
        pl.when(newest).then(pl.lit("ZZ")).otherwise(pl.col("billing_state")).alias("billing_state")
    )
    frame.write_csv(source)
    trained = _train(source, "ONLINE_FRAUD_INSIGHTS", _variables(datagen.REGISTRATION_VARIABLES))
    assert "ZZ" not in trained.plan.vocabularies["billing_state"]
    assert "ZZ" not in trained.plan.frequencies.get("billing_state", {})


def test_the_scoring_model_also_learns_from_the_newest_events(tmp_path: Path) -> None:
    """Validation measures a model fitted without the newest 15%; the model that scores is fitted
    once more with them, so a pattern only the newest events show is learned."""
    source = tmp_path / "reg.csv"
    datagen.registrations(source, events=4000, seed=12, fraud_rate=0.1)
    frame = pl.read_csv(source, infer_schema=False).sort("EVENT_TIMESTAMP", maintain_order=True)
    rng = np.random.default_rng(3)
    newest = np.arange(frame.height) >= int(frame.height * 0.85)
    fraud = (frame["EVENT_LABEL"] == "fraud").to_numpy()
    basket = np.where(newest & fraud, rng.uniform(500, 600, frame.height), rng.uniform(0, 100, frame.height))
    frame.with_columns(pl.Series("basket", basket.round(2)).cast(pl.String)).write_csv(source)
    variables = [*_variables(datagen.REGISTRATION_VARIABLES), VariableInfo("basket", "FLOAT", "NUMERIC")]
    trained = _train(source, "ONLINE_FRAUD_INSIGHTS", variables)
    legit = pl.read_csv(source, infer_schema=False).filter(pl.col("EVENT_LABEL") == "legit").head(200)
    legit = legit.with_columns(parse_series(legit["EVENT_TIMESTAMP"]).alias("EVENT_MS"))
    raw = [
        np.asarray(
            trained.booster.predict(
                trained.plan.transform(legit.with_columns(pl.lit(value).alias("basket"))), raw_score=True
            )
        )
        for value in ("550", "50")
    ]
    assert np.median(raw[0] - raw[1]) > 1.0  # the same events, scored far riskier with the new pattern
    # every event was fitted on (small data keeps every legit event), not only the training part's
    assert trained.summary["fittedEvents"] == trained.summary["events"] > trained.summary["trainingEvents"]


def test_missing_model_files_block_activation_but_not_ingestion(tmp_path: Path) -> None:
    import shutil

    import fraudhawk
    from fraudhawk.settings import Settings

    settings = Settings.load(data_dir=tmp_path / "data", environ={})
    files = settings.data_dir / "files"
    files.mkdir(parents=True)
    datagen.transactions(files / "txn.csv", cards=100, days=40, seed=3, fraud_share=0.3)
    kind = "TRANSACTION_FRAUD_INSIGHTS"
    with fraudhawk.Client(settings=settings) as client:
        datagen.declare_transactions(client)
        client.create_model(modelId="m", modelType=kind, eventTypeName="txn")
        client.create_model_version(
            modelId="m",
            modelType=kind,
            trainingDataSource="EXTERNAL_EVENTS",
            trainingDataSchema={
                "modelVariables": list(datagen.TRANSACTION_VARIABLES),
                "labelSchema": {"labelMapper": FRAUD},
            },
            externalEventsDetail={
                "dataLocation": str(files / "txn.csv"),
                "dataAccessRoleArn": "arn:aws:iam::123456789012:role/afd",
            },
        )
        for _ in range(1200):
            if client.get_model_version(modelId="m", modelType=kind, modelVersionNumber="1.0")["status"] != (
                "TRAINING_IN_PROGRESS"
            ):
                break
            time.sleep(0.05)
        shutil.rmtree(settings.data_dir / "models")
        client.send_event(
            eventId="after",
            eventTypeName="txn",
            eventTimestamp="2025-01-01T00:00:00Z",
            eventVariables={"amt": "10.00", "merchant": "merchant_001", "ip_address": "10.0.0.1"},
            entities=[{"entityType": "card", "entityId": "card_00002"}],
        )
        with pytest.raises(client.exceptions.ValidationException, match="cannot be activated") as refused:
            client.update_model_version_status(modelId="m", modelType=kind, modelVersionNumber="1.0", status="ACTIVE")
        assert str(settings.data_dir) not in str(refused.value)


def test_young_copies_start_after_the_data_start_and_keep_their_history_short(tmp_path: Path) -> None:
    """Young copies restart an entity's history at a moment a week or more after the data's first
    event (the data's edge is not a new entity), and each copy's first event has no earlier event."""
    from fraudhawk.eventdata import layout
    from fraudhawk.features.history import HistorySpec
    from fraudhawk.training import young

    source = tmp_path / "txn.csv"
    datagen.transactions(source, cards=60, days=30, seed=5)
    messages = Messages()
    frame = from_csv(Location(str(source), source), ["amt", "category"], messages).frame
    frame = frame.sort(layout.EVENT_MS, maintain_order=True)
    spec = HistorySpec(amounts=("amt",), categories=("category",))
    start = int(frame[layout.EVENT_MS].min())  # type: ignore[arg-type]
    made = young.copies(spec, frame, start, seed=1, begin=0, end=frame.height, wanted=300)
    times = frame[layout.EVENT_MS].to_numpy()[made.rows]
    seen = made.history["h.events_seen"].to_numpy()
    assert len(made.rows) > 300  # most copies run on for several events
    assert (times[seen == 0] >= start + young.START_GRACE_MS).all()
    assert (seen == 0).sum() == 300
    assert seen.max() < young.YOUNG_EVENTS


def test_new_entities_get_score_curves_of_their_own(tmp_path: Path) -> None:
    """TFI validation covers new and young entities: the report gives each history-length bucket's
    share and false positive rates, for the validation events and as if their entity were new, and
    the young curves make 900 flag about 2% of a new entity's legit validation events."""
    source = tmp_path / "txn.csv"
    datagen.transactions(source, cards=120, days=60, seed=3)
    trained = _train(source, "TRANSACTION_FRAUD_INSIGHTS", _variables(datagen.TRANSACTION_VARIABLES))
    assert [below for below, _ in trained.calibration.young] == [1, 3, 10, 30, 100]
    buckets = {b["earlierEvents"]: b for b in trained.performance["historyLength"]}
    assert list(buckets) == ["new", "1-2", "3-9", "10-29", "30-99", "100+"]
    assert sum(b["share"] for b in buckets.values()) == pytest.approx(1.0)
    new = buckets["new"]["asIfNew"]
    assert new["events"] > 100
    assert new["fprAtThreshold"]["900"] == pytest.approx(0.02, abs=0.02)


def test_young_curves_score_each_event_by_its_history_length() -> None:
    """The same raw output means a 2% false positive rate among new entities' legit events at a
    higher value than among known ones': each event is scored by its bucket's curve."""
    rng = np.random.default_rng(3)
    known = Calibration.fit(rng.normal(0.0, 1.0, 20_000))
    new = Calibration.fit(rng.normal(2.0, 1.0, 20_000))
    both = known.with_young([(1, new), (3, known), (10, known), (30, known), (100, known)])
    top_2_percent = 2.0537  # the normal distribution's 98th percentile
    raw = np.array([2.0 + top_2_percent, top_2_percent, 2.0 + top_2_percent])
    scores = both.score(raw, np.array([0.0, 50.0, 50.0]))
    assert scores[0] == pytest.approx(900, abs=10)
    assert scores[1] == pytest.approx(900, abs=10)
    assert scores[2] > 990  # a known entity's event this high is rarer than one in a thousand
    assert both.score(raw, None).tolist() == known.score(raw).tolist()
