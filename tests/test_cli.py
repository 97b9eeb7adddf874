"""The command line, run as a user would run it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fraudhawk.storage.database import Database
from tests.helpers import free_port, wait_healthy


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


def assert_phase_lines(stdout: str) -> None:
    """`fraudhawk train` into a pipe: a line per phase, no carriage returns, no moving counters."""
    assert "\r" not in stdout
    phases = [line.split("s  ", 1)[1] for line in stdout.splitlines() if re.match(r"\s+\d+s  \S", line)]
    assert phases, stdout
    assert len(phases) == len(set(phases)), phases
    assert not [phase for phase in phases if re.search(r"round \d", phase)], phases


def assert_named_features(stdout: str, score: str) -> None:
    """Each row of `predict --explain` names its variables and derived feature in words, once."""
    why = stdout.split(f"why {score} = ", 1)[1].splitlines()[1:]
    assert why, stdout
    rows = [re.fullmatch(r"  (\S+) \((.+)\)\s+(raises|lowers) risk \([+-][\d.]+ log-odds\)", line) for line in why]
    assert all(rows), why
    labels = [(row.group(1), row.group(2)) for row in rows if row]
    assert len(labels) == len(set(labels)), labels
    assert not [words for _, words in labels if "." in words.split()[0]], labels  # words, not feature ids
    assert any("the entity's" in words for _, words in labels), labels  # a history feature among them


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
    for text in ("AUC ", "average precision", "score >=  900"):
        assert text in trained.stdout
    assert_phase_lines(trained.stdout)

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
    assert_named_features(predicted.stdout, "cards_insightscore")
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


def test_train_progress_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """Into a pipe or a log, one line per phase however often the counter moves; on a terminal, one
    line rewritten in place."""
    from fraudhawk.cli.train import ProgressLines

    steps = [
        "waiting for a worker",
        "checking the data",
        "checking the data",
        "engineering features",
        *(f"training the model: search, round {n}" for n in range(0, 100, 10)),
        *(f"training the model: final, round {n}" for n in range(0, 50, 10)),
        "evaluating on the newest 15% of events",
    ]
    piped = ProgressLines(live=False)
    for second, step in enumerate(steps):
        piped.show(second, step)
    piped.end()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("s  ", 1)[1] for line in lines] == [
        "waiting for a worker",
        "checking the data",
        "engineering features",
        "training the model: search",
        "training the model: final",
        "evaluating on the newest 15% of events",
    ]
    live = ProgressLines(live=True)
    for second, step in enumerate(steps):
        live.show(second, step)
    live.end()
    out = capsys.readouterr().out
    assert out.count("\r") == len(steps)  # the elapsed time moves each second here
    assert "round 90" in out
    assert out.endswith("\n")


def test_every_feature_has_words() -> None:
    """--explain names each derived feature with the words of its definition: every enricher output,
    every history and login-profile feature and the plan's own have them."""
    from fraudhawk.features import enrich
    from fraudhawk.features.history import HistorySpec
    from fraudhawk.features.history.login_spec import LoginSpec
    from fraudhawk.features.plan import FeaturePlan, VariableInfo

    outputs = [o for enrichers in enrich.ENRICHERS.values() for e in enrichers for o in e.outputs]
    assert all(o.description for o in outputs), [o.name for o in outputs if not o.description]
    history = HistorySpec(("amt",), ("merchant", "category"), ("category",), LoginSpec("ip", "agent", "ok", "fp", "s"))
    unnamed = [name for name in history.feature_names() if history.describe(name) is None]
    assert not unnamed
    plan = FeaturePlan(
        [
            VariableInfo("amt", "FLOAT", "PRICE"),
            VariableInfo("email", "STRING", "EMAIL_ADDRESS"),
            VariableInfo("billing_zip", "STRING", "BILLING_ZIP"),
            VariableInfo("shipping_zip", "STRING", "SHIPPING_ZIP"),
            VariableInfo("signup", "DATETIME", "NUMERIC"),
        ],
        history=history,
    )
    plan._find_pairs()
    names = [
        "amt", "email.domain", "email.is_disposable", "email.domain.freq", "event.hour", "event.weekday",
        "billing_zip~shipping_zip.same", "signup.days_before_event", "billing_zip.zip3", *history.feature_names(),
    ]  # fmt: skip
    words = {name: plan.describe(name) for name in names}
    assert not [name for name, text in words.items() if text == name]
    assert words["h.amt.ratio_mean_24h"] == "this value vs the entity's average over the last 24h"
    assert words["email.is_disposable"] == "whether the email is from a throwaway provider"


def test_serve_says_where_the_console_and_the_data_are(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    server = subprocess.Popen(
        [sys.executable, "-m", "fraudhawk.cli", "serve", "--port", str(port), "--data-dir", str(data),
         "--workers", "1", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        wait_healthy(port, server)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=60)
    lines = out.splitlines()
    assert lines[1].split() == ["console:", f"http://127.0.0.1:{port}/", *lines[1].split()[2:]]
    assert lines[2].startswith(f"  data:     {data.resolve()}  (s3://bucket/key is the file {data.resolve()}/s3/")
    refused = fraudhawk("serve", "--host", "0.0.0.0", "--data-dir", str(data))
    assert refused.returncode == 2
    assert "console:" not in refused.stdout  # no address to a server that does not start
    assert "refusing to listen on 0.0.0.0" in refused.stderr
