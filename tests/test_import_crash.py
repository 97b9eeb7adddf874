"""Kill the server in the middle of a large batch import, start it again, and find every event
stored exactly once: the job resumes after its last committed batch."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.helpers import boto_client, free_port, start_server_process

ROWS = 300_000


def _write_events(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write("EVENT_ID,EVENT_TIMESTAMP,ENTITY_ID,ENTITY_TYPE,EVENT_LABEL,LABEL_TIMESTAMP,amount\n")
        for i in range(ROWS):
            label = "fraud" if i % 50 == 0 else "legit"
            stamp = f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"
            out.write(f"ev{i:07d},{stamp},c{i % 5000},customer,{label},{stamp},{i % 997}.5\n")


def _job(afd: Any) -> dict[str, Any]:
    job: dict[str, Any] = afd.get_batch_import_jobs(jobId="big")["batchImports"][0]
    return job


def _start_import(client: Any) -> None:
    """The catalog for the generated events, and the import job "big" of s3://bucket/events.csv."""
    client.put_entity_type(name="customer")
    for label in ("fraud", "legit"):
        client.put_label(name=label)
    client.create_variable(name="amount", dataType="FLOAT", dataSource="EVENT", defaultValue="0", variableType="PRICE")
    client.put_event_type(
        name="payment",
        eventVariables=["amount"],
        labels=["fraud", "legit"],
        entityTypes=["customer"],
        eventIngestion="ENABLED",
    )
    client.create_batch_import_job(
        jobId="big",
        inputPath="s3://bucket/events.csv",
        outputPath="s3://bucket/reports/",
        eventTypeName="payment",
        iamRoleArn="arn:aws:iam::123456789012:role/importer",
    )


def test_killed_import_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    data, s3 = tmp_path / "data", tmp_path / "s3"
    _write_events(s3 / "bucket" / "events.csv")
    port = free_port()
    server = start_server_process(data, s3, port)
    try:
        afd = boto_client(f"http://127.0.0.1:{port}")
        _start_import(afd)
        deadline = time.monotonic() + 120
        while _job(afd)["processedRecordsCount"] == 0:
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.05)
        before = _job(afd)
        assert before["status"] == "IN_PROGRESS", before
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    assert before["processedRecordsCount"] < ROWS  # killed part-way

    server = start_server_process(data, s3, port)
    try:
        afd = boto_client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 300
        while _job(afd)["status"] in ("IN_PROGRESS", "IN_PROGRESS_INITIALIZING"):
            assert time.monotonic() < deadline, "the import did not resume"
            time.sleep(0.2)
        job = _job(afd)
        assert job["status"] == "COMPLETE", job
        assert (job["processedRecordsCount"], job["failedRecordsCount"], job["totalRecordsCount"]) == (ROWS, 0, ROWS)
        stats = afd.get_event_types(name="payment")["eventTypes"][0]["ingestedEventStatistics"]
        assert stats["numberOfEvents"] == ROWS
        for i in (0, ROWS // 2, ROWS - 1):
            event = afd.get_event(eventTypeName="payment", eventId=f"ev{i:07d}")["event"]
            assert event["eventVariables"]["amount"] == f"{i % 997}.5"
    finally:
        server.terminate()
        server.wait(timeout=30)
    with sqlite3.connect(data / "fraudhawk.db") as db:
        indexed = db.execute("SELECT count(*) FROM event_index WHERE event_type = 'payment'").fetchone()[0]
        in_segments = db.execute("SELECT sum(row_count) FROM event_segments WHERE event_type = 'payment'").fetchone()[0]
    assert indexed == in_segments == ROWS  # every event once: no batch stored twice or half


def test_a_stopped_worker_hands_its_job_to_the_next(tmp_path: Path) -> None:
    """Closing a client mid-import (its worker stops between batches) lets the next one resume at once."""
    import fraudhawk
    from fraudhawk.settings import Settings

    s3 = tmp_path / "s3"
    _write_events(s3 / "bucket" / "events.csv")
    settings = Settings.load(data_dir=tmp_path / "data", s3_root=s3, environ={})
    first = fraudhawk.Client(settings=settings)
    _start_import(first)
    while _job(first)["processedRecordsCount"] == 0:
        time.sleep(0.01)
    first.close()
    with fraudhawk.Client(settings=settings) as second:
        stopped = _job(second)
        assert stopped["status"] == "IN_PROGRESS", stopped  # the first worker left it part-way
        assert stopped["processedRecordsCount"] < ROWS
        deadline = time.monotonic() + 60  # well inside the 120 s after which a claim would go stale
        while _job(second)["status"] != "COMPLETE":
            assert time.monotonic() < deadline, _job(second)
            time.sleep(0.1)
        job = _job(second)
    assert (job["processedRecordsCount"], job["failedRecordsCount"], job["totalRecordsCount"]) == (ROWS, 0, ROWS)
