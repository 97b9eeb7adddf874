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
