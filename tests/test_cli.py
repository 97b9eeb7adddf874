"""The command line, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from fraudhawk.storage.database import Database


def fraudhawk(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudhawk.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_call_runs_operations(tmp_path: Path) -> None:
    data = str(tmp_path)
    assert fraudhawk("call", "PutEntityType", '{"name": "customer"}', "--data-dir", data).returncode == 0
    result = fraudhawk("call", "GetEntityTypes", "-", "--data-dir", data, stdin="{}")
    assert result.returncode == 0, result.stderr
    assert [e["name"] for e in json.loads(result.stdout)["entityTypes"]] == ["customer"]


def test_call_reports_errors(tmp_path: Path) -> None:
    result = fraudhawk("call", "GetLabels", '{"name": "nope"}', "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert json.loads(result.stderr)["__type"] == "ResourceNotFoundException"
    result = fraudhawk("call", "GetLabels", "{not json", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "not JSON" in result.stderr


def test_migrate_and_operations(tmp_path: Path) -> None:
    head = Database.head_revision()
    result = fraudhawk("migrate", "--data-dir", str(tmp_path))
    assert result.returncode == 0
    assert f"schema at revision {head} (was empty)" in result.stdout
    assert f"(was {head})" in fraudhawk("migrate", "--data-dir", str(tmp_path)).stdout
    listing = fraudhawk("operations").stdout.splitlines()
    assert len(listing) == 73
    assert all(line.startswith("yes  ") for line in listing), [line for line in listing if not line.startswith("yes")]


def test_train_on_stored_events_and_on_a_csv(tmp_path: Path) -> None:
    from fraudhawk import datagen

    data = str(tmp_path / "data")
    raw = tmp_path / "payments.csv"
    datagen.transactions(raw, cards=120, days=40, seed=1, fraud_share=0.3)
    imported = fraudhawk(
        "import", str(raw), "--event-type", "txn", "--entity-id", "ENTITY_ID", "--timestamp", "EVENT_TIMESTAMP",
        "--event-id", "EVENT_ID", "--label", "EVENT_LABEL", "--fraud-values", "fraud",
        "--exclude", "ENTITY_TYPE,LABEL_TIMESTAMP", "--data-dir", data,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    trained = fraudhawk(
        "train", "--model-id", "cards", "--event-type", "txn", "--model-type", "tfi", "--data-dir", data
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "cards 1.0: TRAINING_COMPLETE" in trained.stdout
    assert "AUC " in trained.stdout
    assert "average precision" in trained.stdout
    assert "score >=  900" in trained.stdout

    signups = tmp_path / "signups.csv"
    datagen.registrations(signups, events=2500, seed=2)
    for name, (data_type, variable_type) in datagen.REGISTRATION_VARIABLES.items():
        if name in datagen.TRANSACTION_VARIABLES:
            continue  # ip_address came with the import
        body = {
            "name": name,
            "dataType": data_type,
            "dataSource": "EVENT",
            "defaultValue": "",
            "variableType": variable_type,
        }
        assert fraudhawk("call", "CreateVariable", json.dumps(body), "--data-dir", data).returncode == 0
    event_type = {
        "name": "signup",
        "eventVariables": list(datagen.REGISTRATION_VARIABLES),
        "labels": ["fraud", "legit"],
        "entityTypes": ["customer"],
    }
    assert fraudhawk("call", "PutEventType", json.dumps(event_type), "--data-dir", data).returncode == 0
    trained = fraudhawk(
        "train", "--model-id", "signups", "--event-type", "signup", "--data", str(signups), "--data-dir", data
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "signups 1.0: TRAINING_COMPLETE" in trained.stdout
    failed = fraudhawk("train", "--model-id", "signups", "--event-type", "txn", "--data-dir", data)
    assert failed.returncode != 0
    assert "exists as ONLINE_FRAUD_INSIGHTS for event type signup" in failed.stderr
    # predict with the TFI model through a detector, as a user would after training
    model = {"modelId": "cards", "modelType": "TRANSACTION_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}
    status = {**model, "status": "ACTIVE"}
    assert fraudhawk("call", "UpdateModelVersionStatus", json.dumps(status), "--data-dir", data).returncode == 0
    for _ in range(30):  # each short-lived command also runs the background steps of activation
        got = fraudhawk("call", "GetModelVersion", json.dumps(model), "--data-dir", data)
        if json.loads(got.stdout)["status"] == "ACTIVE":
            break
    else:
        raise AssertionError("the model version never became ACTIVE")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("PutOutcome", {"name": "review"}),
        ("PutOutcome", {"name": "approve"}),
        ("PutDetector", {"detectorId": "cards_detector", "eventTypeName": "txn"}),
        (
            "CreateRule",
            {
                "ruleId": "risky",
                "detectorId": "cards_detector",
                "expression": "$cards_insightscore > 900 or $amt > 5000",
                "language": "DETECTORPL",
                "outcomes": ["review"],
            },
        ),
        (
            "CreateRule",
            {
                "ruleId": "fine",
                "detectorId": "cards_detector",
                "expression": "$cards_insightscore <= 900",
                "language": "DETECTORPL",
                "outcomes": ["approve"],
            },
        ),
        (
            "CreateDetectorVersion",
            {
                "detectorId": "cards_detector",
                "rules": [
                    {"detectorId": "cards_detector", "ruleId": "risky", "ruleVersion": "1"},
                    {"detectorId": "cards_detector", "ruleId": "fine", "ruleVersion": "1"},
                ],
                "modelVersions": [model],
            },
        ),
        ("UpdateDetectorVersionStatus", {"detectorId": "cards_detector", "detectorVersionId": "1", "status": "ACTIVE"}),
    ]
    for operation, body in steps:
        done = fraudhawk("call", operation, json.dumps(body), "--data-dir", data)
        assert done.returncode == 0, (operation, done.stderr)
    predicted = fraudhawk(
        "predict", "--detector-id", "cards_detector", "--entity-id", "card_00003", "--var", "amt=7500",
        "--var", "category=shopping_net", "--timestamp", "2024-03-01T02:00:00Z", "--explain", "--data-dir", data,
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stdout + predicted.stderr
    assert "cards_insightscore: " in predicted.stdout
    assert "rule risky v1: matched" in predicted.stdout
    assert "outcomes: review" in predicted.stdout
    assert "log-odds" in predicted.stdout
    as_json = fraudhawk(
        "predict", "--detector-id", "cards_detector", "--entity-id", "card_00003", "--var", "amt=3",
        "--event-id", "small", "--json", "--data-dir", data,
    )  # fmt: skip
    record = json.loads(as_json.stdout)["record"]
    assert record["eventId"] == "small"
    assert [r["ruleId"] for r in record["rules"] if r["matched"]] in (["risky"], ["fine"])
    bad = fraudhawk("predict", "--detector-id", "cards_detector", "--var", "amt", "--data-dir", data)
    assert bad.returncode == 2
    assert "name=value" in bad.stderr
