"""`fraudhawk import`: a raw CSV (here a small Sparkov-shaped file made by the test) in, events out."""

from __future__ import annotations

import lzma
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

import fraudhawk
from fraudhawk.events.raw import suggest

HEADER = (
    ",trans_date_trans_time,cc_num,merchant,category,amt,first,gender,city,state,zip,lat,long,city_pop,"
    "email,ip,trans_num,unix_time,is_fraud"
)


def _raw_file(path: Path, rows: int) -> None:
    rng = random.Random(7)
    start = datetime(2019, 1, 1, tzinfo=UTC)
    lines = [HEADER]
    for i in range(rows):
        moment = start + timedelta(minutes=17 * i)
        fraud = 1 if i % 40 == 0 else 0
        lines.append(
            f"{i},{moment:%Y-%m-%d %H:%M:%S},{4000000000000000 + i % 300},merchant_{rng.randint(1, 50)},"
            f"{rng.choice(['grocery_pos', 'travel', 'misc_net'])},{rng.uniform(1, 900):.2f},Ann,F,Dallas,TX,"
            f"{75000 + i % 90},32.7,-96.9,{rng.randint(100, 100000)},user{i % 300}@example.com,"
            f"10.0.{i % 200}.{i % 250},{i:032x},{int(moment.timestamp())},{fraud}"
        )
    path.write_bytes(lzma.compress(("\n".join(lines) + "\n").encode()))


def test_import_a_raw_file(tmp_path: Path) -> None:
    source = tmp_path / "train.csv.xz"
    _raw_file(source, 3000)
    command = [sys.executable, "-m", "fraudhawk.cli", "import", str(source), "--data-dir", str(tmp_path / "data")]
    mapping = ["--event-type", "cc_txn", "--entity-id", "cc_num", "--timestamp", "trans_date_trans_time"]
    mapping += ["--timestamp-format", "%Y-%m-%d %H:%M:%S", "--event-id", "trans_num", "--label", "is_fraud"]
    result = subprocess.run([*command, *mapping], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "COMPLETE: 3,000 events stored, 0 rejected" in result.stdout
    with fraudhawk.Client(data_dir=tmp_path / "data") as client:
        event_type = client.get_event_types(name="cc_txn")["eventTypes"][0]
        assert event_type["eventIngestion"] == "ENABLED"
        assert event_type["ingestedEventStatistics"]["numberOfEvents"] == 3000
        assert "cc_num" not in event_type["eventVariables"]  # mapped columns are not variables
        types = {v["name"]: v["variableType"] for v in client.get_variables(maxResults=100)["variables"]}
        assert types["amt"] == "PRICE"
        assert types["email"] == "EMAIL_ADDRESS"
        assert types["ip"] == "IP_ADDRESS"
        assert types["city_pop"] == "NUMERIC"
        assert types["zip"] == "BILLING_ZIP"
        event = client.get_event(eventTypeName="cc_txn", eventId=f"{40:032x}")["event"]
        assert event["currentLabel"] == "fraud"
        assert event["eventTimestamp"] == "2019-01-01T11:20:00.000Z"  # 17 minutes x 40, read as UTC
        assert event["entities"] == [{"entityType": "customer", "entityId": str(4000000000000000 + 40)}]
    # A second import of the same file stores nothing twice.
    again = subprocess.run([*command, *mapping], capture_output=True, text=True, timeout=300, check=False)
    assert "0 events stored, 3,000 rejected" in again.stdout


def test_missing_mapped_column_is_a_usage_error(tmp_path: Path) -> None:
    source = tmp_path / "train.csv.xz"
    _raw_file(source, 10)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fraudhawk.cli",
            "import",
            str(source),
            "--data-dir",
            str(tmp_path / "d"),
            "--event-type",
            "t",
            "--entity-id",
            "nope",
            "--timestamp",
            "trans_date_trans_time",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "nope" in result.stderr


def test_suggested_types_from_values() -> None:
    sample = pl.DataFrame(
        {
            "contact": ["a@b.com", "c@d.org"],
            "addr": ["1.2.3.4", "5.6.7.8"],
            "score": ["1.5", "2"],
            "colour": ["red", "blue"],
        }
    )
    found = {s.variable: (s.data_type, s.variable_type) for s in suggest(sample, list(sample.columns))}
    assert found == {
        "contact": ("STRING", "EMAIL_ADDRESS"),
        "addr": ("STRING", "IP_ADDRESS"),
        "score": ("FLOAT", "NUMERIC"),
        "colour": ("STRING", "CATEGORICAL"),
    }


def test_login_variables_are_typed_for_account_takeover_insights() -> None:
    sample = pl.DataFrame(
        {
            "ip": ["1.2.3.4", "5.6.7.8"],
            "user_agent": ["Mozilla/5.0", "curl/8.0"],
            "device_fingerprint": ["a1", "b2"],
            "session_id": ["s1", "s2"],
            "login_successful": ["True", "False"],
            "success_rate": ["0.5", "0.7"],  # a number, not whether credentials were valid
        }
    )
    found = {s.variable: (s.data_type, s.variable_type) for s in suggest(sample, list(sample.columns))}
    assert found == {
        "ip": ("STRING", "IP_ADDRESS"),
        "user_agent": ("STRING", "USERAGENT"),
        "device_fingerprint": ("STRING", "FINGERPRINT"),
        "session_id": ("STRING", "SESSION_ID"),
        "login_successful": ("BOOLEAN", "ARE_CREDENTIALS_VALID"),
        "success_rate": ("FLOAT", "NUMERIC"),
    }
