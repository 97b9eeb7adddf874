"""The command line, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    assert "yes  PutEventType" in listing
    assert len(listing) == 73


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
