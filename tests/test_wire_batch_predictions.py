"""Batch predictions over the wire: CreateBatchPredictionJob scoring a CSV under a local S3 root (or a
plain path) with a detector version, its output file, GetBatchPredictionJobs / CancelBatchPredictionJob /
DeleteBatchPredictionJob, driven by boto3 against a real server; with rules alone (a fresh server per
test) and with real trained OFI and TFI models (the predictions suite's module-scoped lab)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import signal
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl
import pytest

from fraudhawk.eventdata import layout
from fraudhawk.features.history import EntityState, HistorySpec, events_of, needs_replay, replay, timeline
from fraudhawk.predictions import batch, batch_scoring
from fraudhawk.service.contract import check_output
from fraudhawk.settings import Settings
from tests.helpers import (
    OFI,
    TFI,
    FakeSageMaker,
    Lab,
    RunningServer,
    boto_client,
    check_response_shape,
    csv_model,
    error_of,
    free_port,
    rule,
    setup_catalog,
    setup_txn_event_type,
    start_server_process,
    wait_status,
)

BUCKET = "scoring"
ROLE = "arn:aws:iam::123456789012:role/FraudDetectorBatch"
ACCOUNT = "arn:aws:frauddetector:us-east-1:123456789012"
RUNNING = ("IN_PROGRESS_INITIALIZING", "IN_PROGRESS", "CANCEL_IN_PROGRESS")
RESULTS = ["MODEL_SCORES", "OUTCOMES", "RULE_RESULTS", "STATUS", "ERROR"]
HEADER = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "order_amount", "email_address", "items", "note"]

# --- fixtures and helpers --------------------------------------------------------------------------------


def _shape_check(http_response: Any, model: Any, **_: Any) -> None:
    """The response shape check of conftest, less AFD's one known deviation from its own model:
    BatchPrediction.detectorVersion is "1" on the wire, where the model asks for "1.0"."""
    if http_response.status_code != 200:
        return
    problems = check_output(model.name, json.loads(http_response.content or b"{}"))
    problems = [p for p in problems if ".detectorVersion'" not in p]
    assert not problems, f"{model.name} response breaks the output shape: {problems}"


def client_for(url: str) -> Any:
    client = boto_client(url)
    client.meta.events.unregister("after-call.frauddetector", check_response_shape)
    client.meta.events.register("after-call.frauddetector", _shape_check)
    return client


@pytest.fixture
def s3_root(tmp_path: Path) -> Path:
    root = (tmp_path / "s3").resolve()
    (root / BUCKET).mkdir(parents=True)
    return root


@pytest.fixture
def settings(tmp_path: Path, s3_root: Path) -> Settings:
    """Every server of this module reads s3://bucket/key from the local S3 root."""
    return Settings.load(data_dir=tmp_path / "data", s3_root=s3_root, environ={})


@pytest.fixture
def shop(settings: Settings) -> Iterator[Any]:
    """The checkout catalog of the detector tests, with three rules in order (FIRST_MATCHED) in
    ACTIVE version 1 of detector "shop"."""
    with RunningServer(settings) as running:
        afd = client_for(running.url)
        setup_catalog(afd)
        rules = [
            rule(afd, "big_order", "$order_amount > 1000 and !$is_member", ["block", "review"]),
            rule(afd, "throwaway", 'regex_match(".*@mailinator\\.com", lowercase($email_address))', ["review"]),
            rule(afd, "everyone", "$items >= 0", ["approve"]),
        ]
        afd.create_detector_version(detectorId="shop", rules=rules)
        afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")
        yield afd


def csv_bytes(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def put_object(root: Path, key: str, data: bytes) -> str:
    path = root / BUCKET / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"s3://{BUCKET}/{key}"


def order(index: int, amount: str = "20", email: str = "someone@example.com", items: str = "2") -> list[str]:
    return [f"o{index}", f"2024-05-01T10:{index % 60:02d}:00Z", f"c{index % 7}", "customer", amount, email, items, "x"]


def create(afd: Any, job_id: str, input_path: str, output_path: str = f"s3://{BUCKET}/out", **extra: Any) -> None:
    request = {
        "jobId": job_id,
        "inputPath": input_path,
        "outputPath": output_path,
        "eventTypeName": "checkout",
        "detectorName": "shop",
        "iamRoleArn": ROLE,
        **extra,
    }
    afd.create_batch_prediction_job(**request)


def job_of(afd: Any, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = afd.get_batch_prediction_jobs(jobId=job_id)["batchPredictions"][0]
    return found


def wait_done(afd: Any, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = job_of(afd, job_id)
        if job["status"] not in RUNNING:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def output_of(folder: Path, job_id: str) -> tuple[Path, list[dict[str, str]], list[str]]:
    """The job's one output file, its rows as dicts, and its header."""
    found = sorted(folder.glob(f"{job_id}_*_output.csv"))
    assert len(found) == 1, found
    assert re.fullmatch(rf"{job_id}_[0-9]{{10}}_output\.csv", found[0].name)
    with found[0].open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    return found[0], rows, header


def predict(afd: Any, row: dict[str, str], detector: str = "shop", version: str | None = None) -> dict[str, Any]:
    """GetEventPrediction of an output row's event (its non-empty variables)."""
    variables = {k: v for k, v in row.items() if k in ("order_amount", "email_address", "items", "is_member") and v}
    request: dict[str, Any] = {
        "detectorId": detector,
        "eventId": row["EVENT_ID"],
        "eventTypeName": "checkout",
        "eventTimestamp": row["EVENT_TIMESTAMP"],
        "entities": [{"entityType": row["ENTITY_TYPE"], "entityId": row["ENTITY_ID"]}],
        "eventVariables": variables,
    }
    if version:
        request["detectorVersionId"] = version
    result: dict[str, Any] = afd.get_event_prediction(**request)
    return result


def outcomes_of(result: dict[str, Any]) -> str:
    seen: list[str] = []
    for rule_result in result["ruleResults"]:
        seen += [o for o in rule_result["outcomes"] if o not in seen]
    return ";".join(seen)


# --- rules only -------------------------------------------------------------------------------------------


def test_lifecycle_and_output_match_real_time(shop: Any, s3_root: Path) -> None:
    rows = [
        order(1, amount="1500"),
        order(2, amount="1500", email="A@Mailinator.com"),
        order(3, email="x@MAILINATOR.COM"),
        order(4, amount="12.50", items=""),  # items takes its default (1)
        order(5, amount="", email="", items="7"),
        ["o6", "2024-05-01T11:00:00Z", "c1", "customer", "5", 'quoted, "text"', "3", "a\nb"],
    ]
    source = put_object(s3_root, "in/orders.csv", csv_bytes(rows))
    create(shop, "nightly", source, tags=[{"key": "team", "value": "risk"}])
    job = wait_done(shop, "nightly")
    assert job["status"] == "COMPLETE", job
    assert job["detectorName"] == "shop"
    assert job["detectorVersion"] == "1"
    assert job["eventTypeName"] == "checkout"
    assert (job["inputPath"], job["outputPath"], job["iamRoleArn"]) == (source, f"s3://{BUCKET}/out", ROLE)
    assert job["arn"] == f"{ACCOUNT}:batch-prediction/nightly"
    assert (job["processedRecordsCount"], job["totalRecordsCount"]) == (6, 6)
    assert job["startTime"] <= job["lastHeartbeatTime"] <= job["completionTime"]
    assert "failureReason" not in job
    assert shop.list_tags_for_resource(resourceARN=job["arn"])["tags"] == [{"key": "team", "value": "risk"}]

    path, output, header = output_of(s3_root / BUCKET / "out", "nightly")
    assert header == [*HEADER, *RESULTS]
    assert path.read_bytes().startswith(b"EVENT_ID,EVENT_TIMESTAMP")
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as any file the process creates, not mkstemp's 0600
    assert [[r[name] for name in HEADER] for r in output] == rows  # every input column as read
    for row in output:
        assert (row["STATUS"], row["ERROR"], row["MODEL_SCORES"]) == ("Success", "", "{}"), row
        expected = predict(shop, row)
        assert row["OUTCOMES"] == outcomes_of(expected), row
        assert row["RULE_RESULTS"] == ";".join(r["ruleId"] for r in expected["ruleResults"]), row
    by_id = {r["EVENT_ID"]: r for r in output}
    assert (by_id["o1"]["RULE_RESULTS"], by_id["o1"]["OUTCOMES"]) == ("big_order", "block;review")
    assert by_id["o3"]["RULE_RESULTS"] == "throwaway"
    assert by_id["o4"]["RULE_RESULTS"] == "everyone"
    # scoring stores nothing: no event, no prediction record beyond those made above
    code, _ = error_of(shop.get_event, eventId="o1", eventTypeName="checkout")
    assert code == "ResourceNotFoundException"


def test_all_matched_version_by_number(shop: Any, s3_root: Path) -> None:
    rules = shop.get_detector_version(detectorId="shop", detectorVersionId="1")["rules"]
    shop.create_detector_version(detectorId="shop", rules=rules, ruleExecutionMode="ALL_MATCHED")
    source = put_object(s3_root, "in/all.csv", csv_bytes([order(1, amount="5000", email="z@mailinator.com")]))
    create(shop, "every_rule", source, output_path=f"s3://{BUCKET}/results/all.csv", detectorVersion="2")
    job = wait_done(shop, "every_rule")
    assert (job["status"], job["detectorVersion"]) == ("COMPLETE", "2")
    with (s3_root / BUCKET / "results" / "all.csv").open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["RULE_RESULTS"] == "big_order;throwaway;everyone"
    assert row["OUTCOMES"] == "block;review;approve"
    expected = predict(shop, row, version="2")
    assert row["RULE_RESULTS"] == ";".join(r["ruleId"] for r in expected["ruleResults"])


@pytest.mark.parametrize("write_step", [100_000, 1, 5, 6])
def test_bad_rows_are_reported_and_the_rest_scored(
    shop: Any, s3_root: Path, monkeypatch: pytest.MonkeyPatch, write_step: int
) -> None:
    """Also with the report written a few rows at a time: the malformed line (the 6th) alone, ending
    a slice, starting one, or inside one."""
    monkeypatch.setattr(batch, "WRITE_STEP", write_step)
    lines = [
        ",".join(HEADER),
        ",".join(order(1, amount="1500")),
        ",".join(["", "2024-05-01T10:00:00Z", "c1", "customer", "5", "a@b.com", "1", ""]),  # no EVENT_ID
        ",".join(["o3", "yesterday", "c1", "customer", "5", "a@b.com", "1", ""]),
        ",".join(["o4", "2024-05-01T10:00:00Z", "c1", "customer", "5", "a@b.com", "many", ""]),
        ",".join(["o5", "2024-05-01T10:00:00Z", "c1", "merchant", "5", "a@b.com", "1", ""]),
        "o6,2024-05-01T10:00:00Z,c1,customer,5,too,many,fields,here",
        ",".join(order(1, amount="3")),  # o1 again
        ",".join(["o8", "2024-05-01T10:00:00Z", "c1", "customer", "", "", "", "n"]),  # no variable values
        ",".join(order(9, amount="1500")),
    ]
    source = put_object(s3_root, "in/bad.csv", ("\n".join(lines) + "\n").encode())
    create(shop, "messy", source)
    job = wait_done(shop, "messy")
    assert job["status"] == "COMPLETE", job
    assert (job["processedRecordsCount"], job["totalRecordsCount"]) == (9, 9)
    _, output, _ = output_of(s3_root / BUCKET / "out", "messy")
    assert len(output) == 9
    status = [(r["STATUS"], r["ERROR"]) for r in output]
    assert status[0] == ("Success", "")
    assert status[8] == ("Success", "")
    assert output[8]["RULE_RESULTS"] == "big_order"
    expected = {
        1: ("INVALID_EVENT", "line 3: EVENT_ID is missing"),
        2: ("INVALID_EVENT", "line 4: EVENT_TIMESTAMP 'yesterday' is not a timestamp"),
        3: ("INVALID_EVENT", "line 5: items 'many' is not an INTEGER"),
        4: ("INVALID_EVENT", "line 6: ENTITY_TYPE 'merchant' is not an entity type"),
        5: ("MALFORMED_RECORD", "line 7: expected 8 fields, found 9"),
        6: ("INVALID_EVENT", "line 8: EVENT_ID 'o1' is repeated in the file"),
        7: ("INVALID_EVENT", "line 9: the event has no variable values"),
    }
    for index, (code, reason) in expected.items():
        assert status[index][0] == code, output[index]
        assert status[index][1].startswith(reason), output[index]
        assert output[index]["OUTCOMES"] == output[index]["RULE_RESULTS"] == output[index]["MODEL_SCORES"] == ""
    assert output[1]["EVENT_TIMESTAMP"] == "2024-05-01T10:00:00Z"  # a refused row keeps its columns
    assert output[5]["EVENT_ID"] == ""  # a malformed line has none to keep
    assert "too,many,fields" in output[5]["ERROR"]


def test_repeats_across_batches_and_unsorted_input(shop: Any, s3_root: Path) -> None:
    """Enough rows for several read batches; an EVENT_ID repeated far apart is still caught."""
    rows = [order(i, amount=str(i % 2000), items=str(i % 60)) for i in range(150_000)]
    rows.append(order(3))
    source = put_object(s3_root, "in/many.csv", csv_bytes(rows[::-1]))
    create(shop, "many", source)
    job = wait_done(shop, "many")
    assert job["status"] == "COMPLETE", job
    assert (job["processedRecordsCount"], job["totalRecordsCount"]) == (150_001, 150_001)
    _, output, _ = output_of(s3_root / BUCKET / "out", "many")
    assert [r["EVENT_ID"] for r in output] == [r[0] for r in rows[::-1]]
    assert [r["STATUS"] for r in output].count("INVALID_EVENT") == 1
    assert output[-4]["ERROR"] == "line 149999: EVENT_ID 'o3' is repeated in the file"
    for row in output[::15_001]:
        amount = float(row["order_amount"])
        assert row["RULE_RESULTS"] == ("big_order" if amount > 1000 else "everyone"), row


def test_a_file_of_no_events_gives_a_file_of_no_results(shop: Any, s3_root: Path) -> None:
    create(shop, "nothing", put_object(s3_root, "in/none.csv", csv_bytes([])))
    job = wait_done(shop, "nothing")
    assert (job["status"], job["processedRecordsCount"], job["totalRecordsCount"]) == ("COMPLETE", 0, 0)
    assert output_of(s3_root / BUCKET / "out", "nothing")[1:] == ([], [*HEADER, *RESULTS])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"EVENT_ID,EVENT_TIMESTAMP,order_amount\no1,2024-05-01T10:00:00Z,5\n", "ENTITY_ID, ENTITY_TYPE"),
        (b"EVENT_ID,EVENT_ID,ENTITY_ID,ENTITY_TYPE,EVENT_TIMESTAMP\n", "EVENT_ID more than once"),
    ],
)
def test_unusable_input_fails_the_job(shop: Any, s3_root: Path, content: bytes, reason: str) -> None:
    create(shop, "broken", put_object(s3_root, "in/broken.csv", content))
    job = wait_done(shop, "broken")
    assert job["status"] == "FAILED", job
    assert reason in job["failureReason"]
    assert not list((s3_root / BUCKET).glob("out/*"))


def test_create_errors(shop: Any, s3_root: Path) -> None:
    source = put_object(s3_root, "in/one.csv", csv_bytes([order(1)]))
    shop.put_event_type(name="other", eventVariables=["items"], entityTypes=["customer"])
    shop.put_detector(detectorId="idle", eventTypeName="checkout")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"detectorName": "nope"}, "ResourceNotFoundException", "nope"),
        ({"detectorVersion": "9"}, "ResourceNotFoundException", "9"),
        ({"detectorName": "idle"}, "ResourceNotFoundException", "ACTIVE"),
        ({"eventTypeName": "other"}, "ValidationException", "checkout"),
        ({"inputPath": f"s3://{BUCKET}/in/missing.csv"}, "ValidationException", "inputPath"),
        ({"inputPath": "s3://elsewhere/../../etc/passwd"}, "ValidationException", "inputPath"),
        ({"inputPath": "s3:/nope"}, "ValidationException", "inputPath"),
        ({"tags": [{"key": "aws:x", "value": "1"}]}, "ValidationException", "aws:"),
    ]
    for change, code, text in cases:
        request = {
            "jobId": "job1",
            "inputPath": source,
            "outputPath": f"s3://{BUCKET}/out",
            "eventTypeName": "checkout",
            "detectorName": "shop",
            "iamRoleArn": ROLE,
            **change,
        }
        got, message = error_of(shop.create_batch_prediction_job, **request)
        assert (got, text in message) == (code, True), (change, message)
    assert shop.get_batch_prediction_jobs()["batchPredictions"] == []
    create(shop, "job1", source)
    code, message = error_of(create, shop, "job1", source)
    assert code == "ValidationException"
    assert "job1" in message
    code, _ = error_of(shop.get_batch_prediction_jobs, jobId="nope")
    assert code == "ResourceNotFoundException"
    code, _ = error_of(shop.cancel_batch_prediction_job, jobId="nope")
    assert code == "ResourceNotFoundException"


def test_queue_cancel_and_delete(shop: Any, s3_root: Path) -> None:
    """One job runs at a time; a waiting job cancels at once, a running one at its next step."""
    big = put_object(s3_root, "in/big.csv", csv_bytes([order(i, amount=str(i)) for i in range(300_000)]))
    small = put_object(s3_root, "in/small.csv", csv_bytes([order(1)]))
    rules = shop.get_detector_version(detectorId="shop", detectorVersionId="1")["rules"]
    shop.create_detector_version(detectorId="shop", rules=rules)
    create(shop, "a_first", big)
    create(shop, "b_second", small)
    create(shop, "c_third", small)
    create(shop, "d_fourth", small, detectorVersion="2")
    deadline = time.monotonic() + 60
    while job_of(shop, "a_first")["status"] != "IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert job_of(shop, "b_second")["status"] == "IN_PROGRESS_INITIALIZING"
    # the version a waiting job is to use cannot be deleted until the job ends (here: is cancelled)
    code, message = error_of(shop.delete_detector_version, detectorId="shop", detectorVersionId="2")
    assert code == "ConflictException"
    assert "d_fourth" in message
    shop.cancel_batch_prediction_job(jobId="d_fourth")
    assert job_of(shop, "d_fourth")["status"] == "CANCELED"
    shop.delete_detector_version(detectorId="shop", detectorVersionId="2")
    shop.cancel_batch_prediction_job(jobId="b_second")
    cancelled = job_of(shop, "b_second")
    assert cancelled["status"] == "CANCELED"
    assert "completionTime" in cancelled
    code, _ = error_of(shop.delete_batch_prediction_job, jobId="a_first")
    assert code == "ValidationException"
    shop.cancel_batch_prediction_job(jobId="a_first")
    assert job_of(shop, "a_first")["status"] in ("CANCEL_IN_PROGRESS", "CANCELED")
    assert wait_done(shop, "a_first")["status"] == "CANCELED"
    assert wait_done(shop, "c_third")["status"] == "COMPLETE"
    assert not list((s3_root / BUCKET / "out").glob("a_first_*"))
    assert not list((s3_root / BUCKET / "out").glob("b_second_*"))
    code, _ = error_of(shop.cancel_batch_prediction_job, jobId="c_third")
    assert code == "ValidationException"
    arn = job_of(shop, "c_third")["arn"]
    shop.tag_resource(resourceARN=arn, tags=[{"key": "k", "value": "v"}])
    for job_id in ("a_first", "b_second", "c_third"):
        shop.delete_batch_prediction_job(jobId=job_id)
        shop.delete_batch_prediction_job(jobId=job_id)  # idempotent
        code, _ = error_of(shop.get_batch_prediction_jobs, jobId=job_id)
        assert code == "ResourceNotFoundException"
    code, _ = error_of(shop.list_tags_for_resource, resourceARN=arn)
    assert code == "ResourceNotFoundException"
    assert list((s3_root / BUCKET / "out").glob("c_third_*"))  # the output outlives the job


def test_paging(shop: Any, s3_root: Path) -> None:
    source = put_object(s3_root, "in/one.csv", csv_bytes([order(1)]))
    for i in range(5):
        create(shop, f"job_{i}", source)
    first = shop.get_batch_prediction_jobs(maxResults=2)
    second = shop.get_batch_prediction_jobs(maxResults=2, nextToken=first["nextToken"])
    third = shop.get_batch_prediction_jobs(maxResults=2, nextToken=second["nextToken"])
    ids = [j["jobId"] for page in (first, second, third) for j in page["batchPredictions"]]
    assert ids == [f"job_{i}" for i in range(5)]
    assert "nextToken" not in third
    assert len(shop.get_batch_prediction_jobs()["batchPredictions"]) == 5
    code, _ = error_of(shop.get_batch_prediction_jobs, nextToken="garbage")
    assert code == "ValidationException"
    for i in range(5):
        assert wait_done(shop, f"job_{i}")["status"] == "COMPLETE"


def test_plain_paths_and_a_deleted_version(shop: Any, settings: Settings) -> None:
    files = settings.data_dir / "files"
    files.mkdir(parents=True, exist_ok=True)
    (files / "in.csv").write_bytes(csv_bytes([order(1, amount="2000")]))
    rules = shop.get_detector_version(detectorId="shop", detectorVersionId="1")["rules"]
    shop.create_detector_version(detectorId="shop", rules=rules)
    create(shop, "local", str(files / "in.csv"), output_path=str(files / "out"))
    assert wait_done(shop, "local")["status"] == "COMPLETE"
    _, output, _ = output_of(files / "out", "local")
    assert output[0]["RULE_RESULTS"] == "big_order"
    # the version is fixed when the job is created: deleted before the job runs, the job fails
    shop.delete_detector_version(detectorId="shop", detectorVersionId="2")
    code, _ = error_of(create, shop, "gone", str(files / "in.csv"), output_path=str(files), detectorVersion="2")
    assert code == "ResourceNotFoundException"


# --- with trained models ----------------------------------------------------------------------------------


def _activate(afd: Any, model_id: str, model_type: str) -> None:
    version = {"modelId": model_id, "modelType": model_type, "modelVersionNumber": "1.0"}
    status = afd.get_model_version(**version)["status"]
    if status != "ACTIVE":
        afd.update_model_version_status(**version, status="ACTIVE")
        wait_status(afd, model_id, model_type, "1.0", "ACTIVE")


def _model_detector(afd: Any, detector: str, event_type: str, model_id: str, model_type: str) -> None:
    """A detector whose version 1 (ACTIVE) has the model and two rules on its score."""
    _activate(afd, model_id, model_type)
    for outcome in ("review", "approve"):
        afd.put_outcome(name=outcome)
    afd.put_detector(detectorId=detector, eventTypeName=event_type)
    score = f"${model_id}_insightscore"
    rules = [
        rule(afd, "risky", f"{score} > 500", ["review"], detector=detector),
        rule(afd, "rest", f"{score} >= 0", ["approve"], detector=detector),
    ]
    model = {"modelId": model_id, "modelType": model_type, "modelVersionNumber": "1.0"}
    afd.create_detector_version(detectorId=detector, rules=rules, modelVersions=[model])
    afd.update_detector_version_status(detectorId=detector, detectorVersionId="1", status="ACTIVE")


def _run(lab: Lab, job_id: str, detector: str, event_type: str, data: bytes) -> list[dict[str, str]]:
    files = lab.settings.data_dir / "files"
    (files / f"{job_id}.csv").write_bytes(data)
    afd = client_for(lab.afd.meta.endpoint_url)
    afd.create_batch_prediction_job(
        jobId=job_id,
        inputPath=str(files / f"{job_id}.csv"),
        outputPath=str(files / "scored"),
        eventTypeName=event_type,
        detectorName=detector,
        iamRoleArn=ROLE,
    )
    job = wait_done(afd, job_id)
    assert job["status"] == "COMPLETE", job
    return output_of(files / "scored", job_id)[1]


def test_ofi_scores_equal_real_time(lab: Lab) -> None:
    afd = lab.afd
    _model_detector(afd, "signup_batch", "signup", "signup_model", OFI)
    header = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "email_address", "ip_address", "billing_state"]
    rows = [
        ["s1", "2024-07-01T12:00:00Z", "u1", "customer", "xq7zk2v9r1@mailinator.com", "185.105.3.4", "CA"],
        ["s2", "2024-07-01T12:00:00Z", "u2", "customer", "mary.smith@gmail.com", "64.12.9.80", "NY"],
        ["s3", "2024-07-01T13:00:00Z", "u3", "customer", "", "10.0.0.1", ""],
        ["s4", "2024-07-02T13:00:00Z", "u4", "customer", "", "", "TX"],
    ]
    output = _run(lab, "signups_batch", "signup_batch", "signup", csv_bytes(rows, header))
    scores = []
    for row in output:
        assert row["STATUS"] == "Success", row
        result = afd.get_event_prediction(
            detectorId="signup_batch",
            eventId=row["EVENT_ID"],
            eventTypeName="signup",
            eventTimestamp=row["EVENT_TIMESTAMP"],
            entities=[{"entityType": "customer", "entityId": row["ENTITY_ID"]}],
            eventVariables={k: row[k] for k in header[4:] if row[k]},
        )
        score = result["modelScores"][0]["scores"]["signup_model_insightscore"]
        assert row["MODEL_SCORES"] == repr({"signup_model": score}), row
        assert row["RULE_RESULTS"] == result["ruleResults"][0]["ruleId"]
        assert row["OUTCOMES"] == ";".join(result["ruleResults"][0]["outcomes"])
        scores.append(score)
    assert scores[0] > scores[1]


def _states(settings: Settings) -> dict[str, bytes]:
    with closing(sqlite3.connect(settings.data_dir / "fraudhawk.db")) as db:
        return dict(db.execute("SELECT entity_id, state FROM entity_states").fetchall())


def test_tfi_history_advances_in_time_order_without_storing(lab: Lab) -> None:
    """Scores equal those of GetEventPrediction sent the same events one by one in time order, though
    the file is not in time order; the batch itself stores no event and leaves entity state alone."""
    afd = lab.afd
    _model_detector(afd, "card_batch", "payment", "card_model", TFI)
    header = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "amt", "category", "merchant", "card_bin"]
    rows = []
    for i in range(12):
        card = ("card_00003", "card_00011", "new_card")[i % 3]
        stamp = f"2031-03-0{1 + i // 6}T0{i % 6}:1{i % 10}:00Z"
        rows.append([f"b{i:02d}", stamp, card, "card", f"{40 + 90 * i}.00", "shopping_net", "merchant_001", "411111"])
    rows = rows[6:] + rows[:6]  # later events first in the file
    before = _states(lab.settings)
    output = _run(lab, "cards_batch", "card_batch", "payment", csv_bytes(rows, header))
    assert _states(lab.settings) == before
    code, _ = error_of(afd.get_event, eventId="b00", eventTypeName="payment")
    assert code == "ResourceNotFoundException"
    assert [r["EVENT_ID"] for r in output] == [r[0] for r in rows]
    batch_scores = {r["EVENT_ID"]: r["MODEL_SCORES"] for r in output}
    for row in sorted(output, key=lambda r: r["EVENT_TIMESTAMP"]):
        result = afd.get_event_prediction(  # stores the event: the card's history advances
            detectorId="card_batch",
            eventId=row["EVENT_ID"],
            eventTypeName="payment",
            eventTimestamp=row["EVENT_TIMESTAMP"],
            entities=[{"entityType": "card", "entityId": row["ENTITY_ID"]}],
            eventVariables={k: row[k] for k in header[4:]},
        )
        score = result["modelScores"][0]["scores"]["card_model_insightscore"]
        assert batch_scores[row["EVENT_ID"]] == repr({"card_model": score}), row


def test_tfi_new_entities_score_alike_in_batch_and_real_time(lab: Lab) -> None:
    """Cards the store has never seen, from their first event on: their events are scored on the young
    entities' score curves (fitted on validation events as if their card were new), and a batch job
    gives each the score GetEventPrediction gives it at the same point of the card's history."""
    afd = lab.afd
    _model_detector(afd, "young_batch", "payment", "card_model", TFI)
    manifest = json.loads(next((lab.settings.data_dir / "models" / "card_model").rglob("manifest.json")).read_text())
    young = manifest["calibrationYoung"]
    assert [below for below, _ in young] == [1, 3, 10, 30, 100]
    assert any(knots != manifest["calibration"] for _, knots in young)  # curves of their own
    header = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "amt", "category", "merchant", "card_bin"]
    rows = []
    for i in range(24):
        card = f"young_card_{i % 3}"
        stamp = f"2031-05-{1 + i // 8:02d}T{2 + i % 8:02d}:{i:02d}:00Z"
        amount = f"{(20 + 37 * i) % 700 + 5}.50"
        category = ("grocery_pos", "shopping_net", "gas_transport")[i % 3]
        rows.append([f"y{i:02d}", stamp, card, "card", amount, category, f"merchant_{i % 7:03d}", "411111"])
    output = _run(lab, "young_batch", "young_batch", "payment", csv_bytes(rows[::-1], header))
    batch_scores = {r["EVENT_ID"]: r["MODEL_SCORES"] for r in output}
    for row in rows:  # time order: each card's history builds up from nothing, as the batch's did
        result = afd.get_event_prediction(
            detectorId="young_batch",
            eventId=row[0],
            eventTypeName="payment",
            eventTimestamp=row[1],
            entities=[{"entityType": "card", "entityId": row[2]}],
            eventVariables=dict(zip(header[4:], row[4:], strict=True)),
        )
        score = result["modelScores"][0]["scores"]["card_model_insightscore"]
        assert batch_scores[row[0]] == repr({"card_model": score}), row


# --- the vectorised history engine ------------------------------------------------------------------------

SPECS = [
    HistorySpec(amounts=("amt", "fee"), categories=("category", "merchant"), amount_groups=("category", "merchant")),
    HistorySpec(amounts=("amt",)),
    HistorySpec(categories=("merchant",)),
    HistorySpec(),
]
DAY = 86_400_000


def _random_events(rng: np.random.Generator, rows: int, entities: list[str], start: int, span: int) -> pl.DataFrame:
    """Events on the minute (so times tie), amounts missing, empty, whole or decimal, categories with
    spaces, empty or missing."""

    def amounts() -> list[str | None]:
        out: list[str | None] = []
        for draw in rng.random(rows).tolist():
            if draw < 0.1:
                out.append(None)
            elif draw < 0.13:
                out.append("")
            elif draw < 0.8:
                out.append(f"{rng.lognormal(3, 1):.2f}")
            else:
                out.append(str(int(rng.integers(0, 500))))
        return out

    kinds = ["a", "b", "c", " d ", None, ""]
    return pl.DataFrame(
        {
            layout.ENTITY_ID: rng.choice(entities, rows).tolist(),
            layout.EVENT_MS: start + (rng.integers(0, span, rows) // 60_000) * 60_000,
            "amt": amounts(),
            "fee": amounts(),
            "category": [kinds[i] for i in rng.integers(0, len(kinds), rows).tolist()],
            "merchant": [None if rng.random() < 0.1 else f"m{int(rng.integers(0, 30))}" for _ in range(rows)],
        },
        schema_overrides=dict.fromkeys(("amt", "fee", "category", "merchant"), pl.String),
    )


def _replayed(spec: HistorySpec, frame: pl.DataFrame, states: dict[str, EntityState]) -> pl.DataFrame:
    """The reference: every event replayed one at a time in time order (ties in frame order)."""
    ordered = frame.with_row_index("i").sort(layout.EVENT_MS, maintain_order=True)
    rows = replay(spec, states, events_of(spec, ordered))
    features = pl.DataFrame(rows, schema=dict.fromkeys(spec.feature_names(), pl.Float64), orient="row", strict=False)
    return features.with_columns(ordered["i"]).sort("i").drop("i")


def _copies(states: dict[str, EntityState]) -> dict[str, EntityState]:
    return {entity: EntityState.from_bytes(state.to_bytes()) for entity, state in states.items()}


def _engine_case(spec: HistorySpec, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Stored states from 60 days of events, then a file of later events for most entities (one at
    the very time of its last stored event), new entities, and late events for a few."""
    rng = np.random.default_rng(seed)
    entities = [f"e{i}" for i in range(40)]
    stored: dict[str, EntityState] = {}
    past = _random_events(rng, 3000, entities[:30], 0, 60 * DAY)
    unknown = pl.lit(None, dtype=pl.String)
    no_amounts = _random_events(rng, 5, ["e30"], 0, 60 * DAY).with_columns(unknown.alias("amt"), unknown.alias("fee"))
    past = pl.concat([past, no_amounts])  # e30's stored history has events but no amount yet
    replay(spec, stored, events_of(spec, past.sort(layout.EVENT_MS, maintain_order=True)), features=False)
    stored = _copies(stored)
    late_ones = entities[25:30]
    on_time = [e for e in entities if e not in late_ones]
    later = _random_events(rng, 3000, on_time, 60 * DAY + int(rng.integers(0, 3)) * 3_600_000, 30 * DAY)
    late = _random_events(rng, 300, late_ones, 50 * DAY, 20 * DAY)
    tie = later.head(1).with_columns(
        pl.lit("e0").alias(layout.ENTITY_ID), pl.lit(stored["e0"].last_ms, dtype=pl.Int64).alias(layout.EVENT_MS)
    )
    frame = pl.concat([later, late, tie]).sample(fraction=1.0, shuffle=True, seed=seed)
    expected = _replayed(spec, frame, _copies(stored))
    model = SimpleNamespace(history=spec, tracked=None)

    def load(tracked: Any, names: Sequence[str]) -> dict[str, EntityState]:
        return {name: EntityState.from_bytes(stored[name].to_bytes()) for name in names if name in stored}

    got = batch_scoring.history(model, frame, load, lambda done: None)  # type: ignore[arg-type]
    assert got is not None
    return got, expected, needs_replay(spec, frame, stored)


@pytest.mark.parametrize("spec", SPECS, ids=["full", "amount", "category", "activity"])
@pytest.mark.parametrize("seed", range(4))
def test_vectorised_history_equals_replay_to_the_bit(spec: HistorySpec, seed: int) -> None:
    got, expected, replayed = _engine_case(spec, seed)
    assert sorted(replayed) == [f"e{i}" for i in range(25, 30)]  # only the late ones are replayed
    assert got.equals(expected)


def test_vectorised_history_without_one_timeline_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Times too far apart for one int64 key: each entity's windows are found on its own."""
    monkeypatch.setattr(timeline, "KEY_LIMIT", 0)
    got, expected, _ = _engine_case(SPECS[0], 7)
    assert got.equals(expected)


def test_states_or_amounts_that_are_not_finite_are_replayed() -> None:
    spec = SPECS[1]
    odd = EntityState.empty(spec)
    odd.advance(0, [float("inf")], [], [])
    fine = EntityState.empty(spec)
    fine.advance(0, [5.0], [], [])
    frame = pl.DataFrame(
        {layout.ENTITY_ID: ["odd", "fine", "nan", "new"], layout.EVENT_MS: [DAY] * 4, "amt": ["1", "2", "NaN", "3"]}
    )
    assert sorted(needs_replay(spec, frame, {"odd": odd, "fine": fine})) == ["nan", "odd"]


# --- external models --------------------------------------------------------------------------------------


def test_external_model_outputs_reach_the_rules_and_the_output(
    settings: Settings, s3_root: Path, sagemaker: FakeSageMaker
) -> None:
    sagemaker.answer("fraud-xgb", "0.75\n")
    sagemaker.answer("broken", "oops", status=500)
    with RunningServer(dataclasses.replace(settings, external_model_url=sagemaker.url_template)) as running:
        afd = client_for(running.url)
        setup_txn_event_type(afd)
        afd.put_external_model(**csv_model())
        afd.put_external_model(
            **csv_model(
                "broken", outputConfiguration={"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "other_score"}}
            )
        )
        afd.put_outcome(name="review")
        afd.put_outcome(name="approve")
        afd.put_detector(detectorId="ext", eventTypeName="txn")
        rules = [
            rule(afd, "high", "$xgb_score > 0.5 and $order_amt > 10", ["review"], detector="ext"),
            rule(afd, "rest", "$order_amt >= 0", ["approve"], detector="ext"),
        ]
        afd.create_detector_version(detectorId="ext", rules=rules, externalModelEndpoints=["fraud-xgb", "broken"])
        afd.update_detector_version_status(detectorId="ext", detectorVersionId="1", status="ACTIVE")
        header = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "order_amt", "prev_amt", "note"]
        rows = [
            ["x1", "2024-05-01T10:00:00Z", "c1", "customer", "50", "3", "hi"],
            ["x2", "2024-05-01T10:01:00Z", "c1", "customer", "5", "", "hi"],
        ]
        source = put_object(s3_root, "in/ext.csv", csv_bytes(rows, header))
        afd.create_batch_prediction_job(
            jobId="ext_job",
            inputPath=source,
            outputPath=f"s3://{BUCKET}/out",
            eventTypeName="txn",
            detectorName="ext",
            iamRoleArn=ROLE,
        )
        assert wait_done(afd, "ext_job")["status"] == "COMPLETE"
        _, output, _ = output_of(s3_root / BUCKET / "out", "ext_job")
        sent = sorted(call.body for call in sagemaker.calls if call.endpoint == "fraud-xgb")
        assert sent == [b"5, 0.0", b"50, 3"]  # the template filled per event, defaults where absent
        for row in output:
            assert row["MODEL_SCORES"] == "{'xgb_score': 0.75}"
            assert row["STATUS"] == "Success"
            assert row["ERROR"].startswith("external model broken: the endpoint answered HTTP 500"), row
        assert [r["RULE_RESULTS"] for r in output] == ["high", "rest"]
        expected = afd.get_event_prediction(
            detectorId="ext",
            eventId="x1",
            eventTypeName="txn",
            eventTimestamp="2024-05-01T10:00:00Z",
            entities=[{"entityType": "customer", "entityId": "c1"}],
            eventVariables={"order_amt": "50", "prev_amt": "3", "note": "hi"},
        )
        assert [r["ruleId"] for r in expected["ruleResults"]] == ["high"]


# --- crash safety -----------------------------------------------------------------------------------------


def test_a_killed_job_starts_again_and_writes_one_whole_file(tmp_path: Path) -> None:
    """SIGKILL the server mid-job: started again, the job scores from the beginning and completes with
    exactly one output file holding every record."""
    data, s3 = tmp_path / "data", tmp_path / "s3"
    rows = 300_000
    put_object(s3, "in/big.csv", csv_bytes([order(i, amount=str(i % 3000)) for i in range(rows)]))
    port = free_port()
    server = start_server_process(data, s3, port)
    try:
        afd = client_for(f"http://127.0.0.1:{port}")
        setup_catalog(afd)
        first = rule(afd, "big_order", "$order_amount > 1000", ["block"])
        afd.create_detector_version(detectorId="shop", rules=[first])
        afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")
        create(afd, "crashy", f"s3://{BUCKET}/in/big.csv")
        deadline = time.monotonic() + 120
        while job_of(afd, "crashy")["totalRecordsCount"] == 0:
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.02)
        assert job_of(afd, "crashy")["status"] == "IN_PROGRESS"
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    assert not list((s3 / BUCKET / "out").glob("*_output.csv"))

    server = start_server_process(data, s3, port)
    try:
        afd = client_for(f"http://127.0.0.1:{port}")
        job = wait_done(afd, "crashy", timeout=300)
        assert job["status"] == "COMPLETE", job
        assert (job["processedRecordsCount"], job["totalRecordsCount"]) == (rows, rows)
    finally:
        server.terminate()
        server.wait(timeout=30)
    _, output, _ = output_of(s3 / BUCKET / "out", "crashy")
    assert len(output) == rows
    assert [r["RULE_RESULTS"] for r in output[1000:1003]] == ["", "big_order", "big_order"]
