"""`fraudhawk serve` as a user runs it: by default one server process per usable core, on SQLite and on
PostgreSQL, answering boto3; `--workers 1` serves from one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraudhawk.api.server import usable_cores
from tests.helpers import boto_client, free_port, wait_healthy


def serve(tmp_path: Path, database_url: str, *options: str) -> tuple[subprocess.Popen[str], int, Path]:
    port = free_port()
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "fraudhawk.cli", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")]
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [*command, *options],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "FRAUDHAWK_DATABASE_URL": database_url, "FRAUDHAWK_ACCESS_KEYS": ""},
        )
    return process, port, log


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()  # uvicorn stops its worker processes on SIGTERM
    process.wait(timeout=60)


def test_serve_uses_every_core_by_default(tmp_path: Path, backend_url: str) -> None:
    cores = usable_cores()
    assert cores == len(os.sched_getaffinity(0))
    process, port, log = serve(tmp_path, backend_url)
    try:
        wait_healthy(port, process)
        afd = boto_client(f"http://127.0.0.1:{port}")
        afd.put_entity_type(name="customer")
        # each request on a fresh connection, so the processes' accept queues share them
        for index in range(20):
            afd = boto_client(f"http://127.0.0.1:{port}")
            afd.put_label(name=f"label_{index}")
        assert len(boto_client(f"http://127.0.0.1:{port}").get_labels()["labels"]) == 20
    finally:
        stop(process)
    text = log.read_text(encoding="utf-8")
    plural = "es" if cores > 1 else ""
    assert f"listening on http://127.0.0.1:{port} with {cores} server process{plural}" in text, text
    if cores > 1:
        assert text.count("Started server process") == cores, text  # uvicorn's line from each worker
    assert process.returncode == 0, text


def test_one_worker_serves_from_one_process(tmp_path: Path) -> None:
    process, port, log = serve(tmp_path, f"sqlite:///{tmp_path / 'one.db'}", "--workers", "1")
    try:
        wait_healthy(port, process)
        afd = boto_client(f"http://127.0.0.1:{port}")
        afd.put_outcome(name="review")
        assert [o["name"] for o in afd.get_outcomes()["outcomes"]] == ["review"]
    finally:
        stop(process)
    text = log.read_text(encoding="utf-8")
    assert f"listening on http://127.0.0.1:{port} with 1 server process\n" in text, text
    assert text.count("Started server process") == 1, text
    assert "Started parent process" not in text, text  # no supervisor: the server is this process


@pytest.mark.parametrize("workers", ["0", "65"])
def test_workers_out_of_range_are_refused(tmp_path: Path, workers: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fraudhawk.cli", "serve", "--workers", workers, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--workers" in result.stderr
