"""Batch import over the wire: CreateBatchImportJob from CSV files under a local S3 root, the job's
progress and report, and GetBatchImportJobs / CancelBatchImportJob / DeleteBatchImportJob, driven by
boto3 against a real server."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fraudhawk.settings import Settings
from tests.helpers import (
    EVENT_TYPE,
    RunningServer,
    boto_client,
    get_event,
    instant,
    send,
    setup_event_type,
    statistics,
    unchecked_client,
)

BUCKET = "events-bucket"
ROLE = "arn:aws:iam::123456789012:role/FraudDetectorImport"
OUTPUT = f"s3://{BUCKET}/reports"
HEADER = (
    "EVENT_ID",
    "EVENT_TIMESTAMP",
    "ENTITY_ID",
    "ENTITY_TYPE",
    "EVENT_LABEL",
    "LABEL_TIMESTAMP",
    "email",
    "amount",
    "count",
    "is_member",
)
ACTIVE = ("IN_PROGRESS", "IN_PROGRESS_INITIALIZING", "CANCEL_IN_PROGRESS")
JOB_TIMEOUT = 60.0
BASE = datetime(2024, 1, 1, tzinfo=UTC)


# --- fixtures and helpers --------------------------------------------------------------------------


@pytest.fixture
def s3_root(tmp_path: Path) -> Path:
    root = (tmp_path / "s3").resolve()
    (root / BUCKET).mkdir(parents=True)
    return root


@pytest.fixture
def s3_settings(settings: Settings, s3_root: Path) -> Settings:
    return dataclasses.replace(settings, s3_root=s3_root, allowed_roots=(*settings.allowed_roots, s3_root))


@pytest.fixture
def s3_afd(s3_settings: Settings) -> Iterator[Any]:
    """A boto3 client for a fresh server that reads s3://bucket/key from the S3 root, with the event type set up."""
    with RunningServer(s3_settings) as running:
        client = boto_client(running.url)
        setup_event_type(client)
        yield client


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def row(index: int, label: bool = True) -> list[str]:
    """One generated event in AFD's column order (HEADER)."""
    moment = BASE + timedelta(minutes=index)
    label_name = ("fraud" if index % 10 == 0 else "legit") if label else ""
    label_time = iso(moment + timedelta(days=1)) if label else ""
    return [
        f"ev-{index:05d}",
        iso(moment),
        f"cust{index % 100}",
        "customer",
        label_name,
        label_time,
        f"user{index}@example.com",
        f"{index}.5",
        str(index % 7),
        "true" if index % 2 else "false",
    ]


def csv_bytes(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def put_object(root: Path, key: str, data: bytes, bucket: str = BUCKET) -> str:
    """Write `data` at s3://bucket/key under the S3 root and return that URL."""
    path = root / bucket / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"s3://{bucket}/{key}"


def create_job(
    afd: Any,
    job_id: str,
    input_path: str,
    output_path: str = OUTPUT,
    event_type: str = EVENT_TYPE,
    role: str = ROLE,
    **extra: Any,
) -> None:
    afd.create_batch_import_job(
        jobId=job_id,
        inputPath=input_path,
        outputPath=output_path,
        eventTypeName=event_type,
        iamRoleArn=role,
        **extra,
    )


def get_job(afd: Any, job_id: str) -> dict[str, Any]:
    jobs = afd.get_batch_import_jobs(jobId=job_id)["batchImports"]
    assert len(jobs) == 1
    job: dict[str, Any] = jobs[0]
    assert job["jobId"] == job_id
    return job


def wait_job(afd: Any, job_id: str) -> dict[str, Any]:
    """Poll GetBatchImportJobs until the job is no longer running."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        job = get_job(afd, job_id)
        if job["status"] not in ACTIVE:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"batch import {job_id} still {job['status']} after {JOB_TIMEOUT} s")
        time.sleep(0.05)


def run_job(afd: Any, job_id: str, input_path: str, output_path: str = OUTPUT) -> dict[str, Any]:
    create_job(afd, job_id, input_path, output_path)
    return wait_job(afd, job_id)


def report_rows(path: Path) -> list[dict[str, str]]:
    """The failed-records report: LINE_NUMBER, REASON, RECORD."""
    assert path.is_file(), f"no report at {path}"
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["LINE_NUMBER", "REASON", "RECORD"]
        return list(reader)


def report_of(root: Path, job_id: str) -> dict[int, str]:
    """Line number -> reason, from the report at OUTPUT."""
    rows = report_rows(root / BUCKET / "reports" / f"{job_id}_failed_records.csv")
    reasons = {int(item["LINE_NUMBER"]): item["REASON"] for item in rows}
    assert len(reasons) == len(rows), "a line is reported twice"
    assert all(reasons.values()), "a line is reported without a reason"
    return reasons


def assert_complete(job: dict[str, Any], processed: int, failed: int) -> None:
    assert job["status"] == "COMPLETE", job.get("failureReason")
    assert "failureReason" not in job
    assert job["processedRecordsCount"] == processed
    assert job["failedRecordsCount"] == failed
    assert job["totalRecordsCount"] == processed + failed


# --- clean imports ---------------------------------------------------------------------------------


def test_clean_import_stores_every_row(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    count = 3000
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(i) for i in range(count)]))
    job = run_job(afd, "clean", source)
    assert_complete(job, count, 0)
    assert job["inputPath"] == source
    assert job["outputPath"] == OUTPUT
    assert job["eventTypeName"] == EVENT_TYPE
    assert job["iamRoleArn"] == ROLE
    assert job["arn"] == "arn:aws:frauddetector:us-east-1:123456789012:batch-import/clean"
    assert instant(job["startTime"]) <= instant(job["completionTime"])
    assert report_of(s3_root, "clean") == {}

    event = get_event(afd, "ev-01234")
    assert event["eventVariables"] == {
        "email": "user1234@example.com",
        "amount": "1234.5",
        "count": str(1234 % 7),
        "is_member": "false",
    }
    assert event["entities"] == [{"entityType": "customer", "entityId": "cust34"}]
    assert instant(event["eventTimestamp"]) == BASE + timedelta(minutes=1234)
    assert event["currentLabel"] == "legit"
    assert instant(event["labelTimestamp"]) == BASE + timedelta(minutes=1234, days=1)
    assert get_event(afd, "ev-02990")["currentLabel"] == "fraud"

    stats = statistics(afd)
    assert stats["numberOfEvents"] == count
    assert stats["eventDataSizeInBytes"] > 0
    assert instant(stats["leastRecentEvent"]) == BASE
    assert instant(stats["mostRecentEvent"]) == BASE + timedelta(minutes=count - 1)


def test_gzip_compressed_import(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    count = 3000
    source = put_object(s3_root, "in/events.csv.gz", gzip.compress(csv_bytes([row(i) for i in range(count)])))
    assert_complete(run_job(afd, "gz", source), count, 0)
    assert get_event(afd, "ev-02999")["eventVariables"]["email"] == "user2999@example.com"
    assert statistics(afd)["numberOfEvents"] == count


def test_import_without_label_columns_and_with_columns_in_another_order(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    header = ("amount", "ENTITY_TYPE", "EVENT_ID", "email", "ENTITY_ID", "EVENT_TIMESTAMP")
    rows = [["2.5", "customer", "a1", "a@example.com", "c1", "2024-05-01T00:00:00Z"]]
    source = put_object(s3_root, "in/nolabel.csv", csv_bytes(rows, header))
    assert_complete(run_job(afd, "nolabel", source), 1, 0)
    event = get_event(afd, "a1")
    assert event["eventVariables"] == {"amount": "2.5", "email": "a@example.com"}
    assert event["entities"] == [{"entityType": "customer", "entityId": "c1"}]
    assert "currentLabel" not in event
    assert "labelTimestamp" not in event


def test_quoted_values_with_commas_and_newlines_are_kept(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    first, second = row(1), row(2)
    first[6] = "a,b@example.com"
    second[6] = 'say "hi"'
    source = put_object(s3_root, "in/quoted.csv", csv_bytes([first, second, row(3)]))
    assert_complete(run_job(afd, "quoted", source), 3, 0)
    assert get_event(afd, "ev-00001")["eventVariables"]["email"] == "a,b@example.com"
    assert get_event(afd, "ev-00002")["eventVariables"]["email"] == 'say "hi"'
    assert get_event(afd, "ev-00003")["eventVariables"]["email"] == "user3@example.com"


def test_byte_order_mark_and_crlf_line_endings(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    data = b"\xef\xbb\xbf" + csv_bytes([row(1), row(2)]).replace(b"\n", b"\r\n")
    source = put_object(s3_root, "in/windows.csv", data)
    assert_complete(run_job(afd, "windows", source), 2, 0)
    event = get_event(afd, "ev-00001")
    assert event["eventVariables"] == {
        "email": "user1@example.com",
        "amount": "1.5",
        "count": "1",
        "is_member": "true",
    }
    assert event["currentLabel"] == "legit"


def test_two_servers_in_one_process_each_read_their_own_events(
    s3_afd: Any, s3_settings: Settings, tmp_path: Path, s3_root: Path
) -> None:
    """Two servers (two databases) in one process, as the library client or these tests run them:
    an imported event read from one must not come back from the other's data."""
    first = s3_afd
    base = Settings.load(data_dir=tmp_path / "data-2", environ={})
    other = dataclasses.replace(base, s3_root=s3_root, allowed_roots=(*base.allowed_roots, s3_root))
    with RunningServer(other) as running:
        second = boto_client(running.url)
        setup_event_type(second)
        one, two = row(1), row(1)
        two[6] = "someone.else@example.com"
        assert_complete(run_job(first, "one", put_object(s3_root, "in/one.csv", csv_bytes([one]))), 1, 0)
        assert_complete(run_job(second, "two", put_object(s3_root, "in/two.csv", csv_bytes([two]))), 1, 0)
        assert get_event(first, "ev-00001")["eventVariables"]["email"] == "user1@example.com"
        assert get_event(second, "ev-00001")["eventVariables"]["email"] == "someone.else@example.com"
        assert get_event(first, "ev-00001")["eventVariables"]["email"] == "user1@example.com"


# The forms AFD's importer accepts in CSV files, and the instant each stands for (times without a
# zone are UTC).
TIMESTAMP_FORMS = [
    ("2019-11-30T13:01:01Z", datetime(2019, 11, 30, 13, 1, 1, tzinfo=UTC)),
    ("2020-04-11T17:48:52.000Z", datetime(2020, 4, 11, 17, 48, 52, tzinfo=UTC)),
    ("4/10/2019 11:05", datetime(2019, 4, 10, 11, 5, tzinfo=UTC)),
    ("2019/11/30 1:01:01 PM", datetime(2019, 11, 30, 13, 1, 1, tzinfo=UTC)),
    ("11/30/19 13:01:01", datetime(2019, 11, 30, 13, 1, 1, tzinfo=UTC)),
    ("2019-11-30 13:01:01", datetime(2019, 11, 30, 13, 1, 1, tzinfo=UTC)),
    ("11-30-2019 01:01:01 PM", datetime(2019, 11, 30, 13, 1, 1, tzinfo=UTC)),
    ("2019-11-30T13:01:01.250", datetime(2019, 11, 30, 13, 1, 1, 250000, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "moment"), TIMESTAMP_FORMS, ids=[text for text, _ in TIMESTAMP_FORMS])
def test_csv_timestamp_forms_are_stored_as_the_right_instant(
    s3_afd: Any, s3_root: Path, text: str, moment: datetime
) -> None:
    afd = s3_afd
    rows = []
    for index in range(3):
        item = row(index)
        item[1] = text
        item[5] = text
        rows.append(item)
    source = put_object(s3_root, "in/forms.csv", csv_bytes(rows))
    assert_complete(run_job(afd, "forms", source), 3, 0)
    for index in range(3):
        event = get_event(afd, f"ev-{index:05d}")
        assert instant(event["eventTimestamp"]) == moment
        assert instant(event["labelTimestamp"]) == moment


def test_csv_timestamp_forms_mixed_in_one_file(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    rows = []
    for index, (text, _moment) in enumerate(TIMESTAMP_FORMS):
        item = row(index)
        item[1] = text
        rows.append(item)
    source = put_object(s3_root, "in/mixed.csv", csv_bytes(rows))
    assert_complete(run_job(afd, "mixed", source), len(TIMESTAMP_FORMS), 0)
    for index, (text, moment) in enumerate(TIMESTAMP_FORMS):
        stored = instant(get_event(afd, f"ev-{index:05d}")["eventTimestamp"])
        assert stored == moment, f"{text!r} was stored as {stored}"


# --- bad rows and bad files ------------------------------------------------------------------------


def test_malformed_rows_are_reported_by_line_and_good_rows_stored(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    header = ",".join((*HEADER, "extra"))

    def line(index: int, **changes: str) -> str:
        values = dict(zip((*HEADER, "extra"), [*row(index), "x"], strict=True))
        values.update(changes)
        return ",".join(values.values())

    lines: list[bytes] = [
        header.encode(),  # 1: "extra" is no variable of the event type (noted, not counted)
        line(1, EVENT_ID="good-1").encode(),  # 2
        line(2, EVENT_TIMESTAMP="yesterday").encode(),  # 3
        line(3, EVENT_ID="good-2").encode(),  # 4
        line(4, LABEL_TIMESTAMP="not-a-time").encode(),  # 5
        line(5, EVENT_LABEL="suspicious").encode(),  # 6: unknown label
        line(6, LABEL_TIMESTAMP="").encode(),  # 7: EVENT_LABEL without LABEL_TIMESTAMP
        line(7, amount="abc").encode(),  # 8
        line(8, count="1.5").encode(),  # 9
        line(9, is_member="maybe").encode(),  # 10
        line(10, EVENT_ID="good-1").encode(),  # 11: repeated EVENT_ID
        (line(11) + ",surplus,fields").encode(),  # 12: too many fields
        line(12, EVENT_ID="good-3", email='"q,uoted@example.com"').encode(),  # 13
        line(13, email="PLACEHOLDER").encode().replace(b"PLACEHOLDER", b"caf\xe9\xff@example.com"),  # 14: not UTF-8
        line(14, ENTITY_TYPE="merchant").encode(),  # 15: not an entity type of the event type
        line(15, EVENT_ID="UPPER").encode(),  # 16: not a valid event id
        line(16, EVENT_ID="good-4").encode(),  # 17
        b"ev-00017,2024-01-0",  # 18: truncated last line, no final newline
    ]
    source = put_object(s3_root, "in/malformed.csv", b"\n".join(lines))
    bad = {3, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 18}
    job = run_job(afd, "malformed", source)
    assert_complete(job, 4, len(bad))

    reasons = report_of(s3_root, "malformed")
    assert set(reasons) == {1, *bad}
    expected_words = {
        1: "extra",
        3: "EVENT_TIMESTAMP",
        5: "LABEL_TIMESTAMP",
        6: "suspicious",
        7: "LABEL_TIMESTAMP",
        8: "amount",
        9: "count",
        10: "is_member",
        11: "good-1",
        12: "field",
        14: "UTF-8",
        15: "merchant",
        16: "EVENT_ID",
        18: "field",
    }
    for number, word in expected_words.items():
        assert word in reasons[number], f"line {number}: {reasons[number]!r} does not mention {word!r}"

    for event_id in ("good-1", "good-2", "good-3", "good-4"):
        assert get_event(afd, event_id)["eventId"] == event_id
    assert get_event(afd, "good-1")["eventVariables"]["email"] == "user1@example.com"  # the first of the repeats
    assert get_event(afd, "good-3")["eventVariables"]["email"] == "q,uoted@example.com"
    assert "extra" not in get_event(afd, "good-2")["eventVariables"]
    for index in (2, 4, 5, 6, 7, 8, 9, 11, 13, 14, 17):
        with pytest.raises(afd.exceptions.ResourceNotFoundException):
            get_event(afd, f"ev-{index:05d}")
    assert statistics(afd)["numberOfEvents"] == 4


def test_a_stray_quote_loses_only_its_line(s3_afd: Any, s3_root: Path) -> None:
    """A quote opened on line 5 and never closed: the 1,000 rows after it are stored, and the line
    is reported."""
    rows = [row(index) for index in range(1005)]
    rows[3][HEADER.index("email")] = '"stray@example.com'
    lines = csv_bytes(rows).replace(b'"""stray@example.com"', b'"stray@example.com').splitlines()
    source = put_object(s3_root, "in/stray.csv", b"\n".join(lines) + b"\n")
    job = run_job(s3_afd, "stray", source)
    assert_complete(job, 1004, 1)
    assert report_of(s3_root, "stray") == {5: "unterminated quoted value"}
    assert statistics(s3_afd)["numberOfEvents"] == 1004


def test_values_the_api_refuses_are_refused_on_every_backend(backend_url: str, tmp_path: Path) -> None:
    """NUL and values over AFD's length limit are refused by line, as the API refuses them, and what
    is written about a rejected line is storable on SQLite and PostgreSQL alike."""
    s3_root = (tmp_path / "s3").resolve()
    (s3_root / BUCKET).mkdir(parents=True)
    settings = Settings.load(data_dir=tmp_path / "data", database_url=backend_url, environ={})
    settings = dataclasses.replace(settings, s3_root=s3_root, allowed_roots=(s3_root,))
    lines = csv_bytes([row(index) for index in range(6)]).splitlines()
    lines[2] = lines[2].replace(b"@example.com", b"@exa\x00mple.com")  # line 3: a NUL in a value
    lines[3] = lines[3].replace(b"@example.com", b"@" + b"x" * 8200 + b".com")  # line 4: too long
    lines[4] = lines[4] + b",\x00surplus"  # line 5: malformed, its raw text holds a NUL
    with RunningServer(settings) as running:
        afd = boto_client(running.url)
        setup_event_type(afd)
        source = put_object(s3_root, "in/nul.csv", b"\n".join(lines) + b"\n")
        job = run_job(afd, "nul", source)
        assert_complete(job, 3, 3)
        reasons = report_of(s3_root, "nul")
        assert set(reasons) == {3, 4, 5}
        assert "NUL" in reasons[3]
        assert "8192" in reasons[4]
        assert "field" in reasons[5]
        assert statistics(afd)["numberOfEvents"] == 3


def test_empty_file_fails(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/empty.csv", b"")
    job = run_job(afd, "empty", source)
    assert job["status"] == "FAILED"
    assert job["failureReason"]
    assert job["processedRecordsCount"] == 0
    assert statistics(afd)["numberOfEvents"] == 0


def test_header_only_file_completes_with_no_records(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/header.csv", csv_bytes([]))
    assert_complete(run_job(afd, "header-only", source), 0, 0)
    assert statistics(afd)["numberOfEvents"] == 0


def test_header_without_entity_id_fails_naming_it(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    header = [name for name in HEADER if name != "ENTITY_ID"]
    rows = [[value for name, value in zip(HEADER, row(i), strict=True) if name != "ENTITY_ID"] for i in range(3)]
    source = put_object(s3_root, "in/noentity.csv", csv_bytes(rows, header))
    job = run_job(afd, "no-entity", source)
    assert job["status"] == "FAILED"
    assert "ENTITY_ID" in job["failureReason"]
    assert job["processedRecordsCount"] == 0
    assert statistics(afd)["numberOfEvents"] == 0


def test_second_import_of_the_same_ids_reports_each_row_as_already_stored(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    count = 50
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(i) for i in range(count)]))
    assert_complete(run_job(afd, "first", source), count, 0)
    send(afd, "ev-09999", "2024-06-01T00:00:00Z")
    again = put_object(s3_root, "in/again.csv", csv_bytes([row(i) for i in (*range(count), 9999, 10000)]))
    assert_complete(run_job(afd, "second", again), 1, count + 1)
    reasons = report_of(s3_root, "second")
    assert set(reasons) == set(range(2, count + 3))
    assert all("already stored" in reason for reason in reasons.values())
    assert statistics(afd)["numberOfEvents"] == count + 2
    # The stored event is the one SendEvent stored, not the file's.
    assert instant(get_event(afd, "ev-09999")["eventTimestamp"]) == datetime(2024, 6, 1, tzinfo=UTC)


def test_imported_events_can_be_relabelled_and_deleted(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    count = 3000
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(i) for i in range(count)]))
    assert_complete(run_job(afd, "imported", source), count, 0)
    afd.update_event_label(
        eventId="ev-00005", eventTypeName=EVENT_TYPE, assignedLabel="fraud", labelTimestamp="2025-01-01T00:00:00Z"
    )
    event = get_event(afd, "ev-00005")
    assert event["currentLabel"] == "fraud"
    assert instant(event["labelTimestamp"]) == datetime(2025, 1, 1, tzinfo=UTC)
    size = statistics(afd)["eventDataSizeInBytes"]
    afd.delete_event(eventId="ev-00007", eventTypeName=EVENT_TYPE)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        get_event(afd, "ev-00007")
    stats = statistics(afd)
    assert stats["numberOfEvents"] == count - 1
    assert stats["eventDataSizeInBytes"] < size
    afd.delete_events_by_event_type(eventTypeName=EVENT_TYPE)
    deadline = time.monotonic() + JOB_TIMEOUT
    while afd.get_delete_events_by_event_type_status(eventTypeName=EVENT_TYPE)["eventsDeletionStatus"] != "COMPLETE":
        assert time.monotonic() < deadline, "the deletion did not complete"
        time.sleep(0.05)
    assert statistics(afd)["numberOfEvents"] == 0
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        get_event(afd, "ev-00005")
    afd.delete_event_type(name=EVENT_TYPE)


# --- CreateBatchImportJob errors -------------------------------------------------------------------


def assert_no_job(afd: Any, job_id: str) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_batch_import_jobs(jobId=job_id)


def test_create_for_unknown_event_type_is_not_found(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(1)]))
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="no_such_type"):
        create_job(afd, "job1", source, event_type="no_such_type")
    assert_no_job(afd, "job1")


def test_create_with_ingestion_disabled_is_refused(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    setup_event_type(afd, name="quiet", ingestion="DISABLED")
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(1)]))
    with pytest.raises(afd.exceptions.ValidationException, match="DISABLED"):
        create_job(afd, "job1", source, event_type="quiet")
    assert_no_job(afd, "job1")


def test_create_with_a_used_job_id_is_refused(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(1)]))
    assert_complete(run_job(afd, "job1", source), 1, 0)
    other = put_object(s3_root, "in/other.csv", csv_bytes([row(2)]))
    with pytest.raises(afd.exceptions.ValidationException, match="job1"):
        create_job(afd, "job1", other)
    assert get_job(afd, "job1")["inputPath"] == source
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        get_event(afd, "ev-00002")


def test_create_with_missing_input_is_refused(s3_afd: Any) -> None:
    afd = s3_afd
    with pytest.raises(afd.exceptions.ValidationException, match="inputPath"):
        create_job(afd, "job1", f"s3://{BUCKET}/in/nothing-here.csv")
    with pytest.raises(afd.exceptions.ValidationException, match="inputPath"):
        create_job(afd, "job1", "s3://no-such-bucket/events.csv")
    assert_no_job(afd, "job1")


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "file:///etc/passwd",
        f"s3://{BUCKET}/../../etc/passwd",
        f"s3://{BUCKET}/../../../../../../etc/passwd",
        "s3://../etc/passwd",
        "relative/events.csv",
    ],
)
def test_create_with_a_path_outside_the_allowed_roots_is_refused(s3_afd: Any, s3_root: Path, path: str) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(1)]))
    with pytest.raises(afd.exceptions.ValidationException, match="inputPath"):
        create_job(afd, "job1", path)
    with pytest.raises(afd.exceptions.ValidationException, match="outputPath"):
        create_job(afd, "job1", source, output_path=path)
    assert_no_job(afd, "job1")


@pytest.mark.parametrize("role", ["not-an-arn", "arn:aws:iam::12345:role/x", "arn:aws:s3:::bucket"])
def test_create_with_a_bad_iam_role_arn_is_refused(s3_afd: Any, s3_root: Path, role: str) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(1)]))
    raw = unchecked_client(afd)
    with pytest.raises(raw.exceptions.ValidationException, match="iamRoleArn"):
        create_job(raw, "job1", source, role=role)
    assert_no_job(afd, "job1")


def test_plain_paths_inside_data_dir_files_work(s3_afd: Any, s3_settings: Settings) -> None:
    afd = s3_afd
    files = s3_settings.data_dir / "files"
    source = files / "incoming" / "events.csv"
    source.parent.mkdir(parents=True)
    source.write_bytes(csv_bytes([row(1), row(2), [*row(3)[:7], "abc", *row(3)[8:]]]))
    reports = files / "reports"
    job = run_job(afd, "plain", str(source), str(reports))
    assert_complete(job, 2, 1)
    assert job["inputPath"] == str(source)
    assert job["outputPath"] == str(reports)
    rows = report_rows(reports / "plain_failed_records.csv")
    assert [item["LINE_NUMBER"] for item in rows] == ["4"]
    assert "amount" in rows[0]["REASON"]
    assert get_event(afd, "ev-00002")["eventId"] == "ev-00002"

    job = run_job(afd, "file-url", f"file://{source}", f"file://{reports}")
    assert_complete(job, 0, 3)
    assert len(report_rows(reports / "file-url_failed_records.csv")) == 3


# --- GetBatchImportJobs, CancelBatchImportJob, DeleteBatchImportJob, tags -------------------------


def test_get_batch_import_jobs_by_id_and_unknown_id(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(1)]))
    assert_complete(run_job(afd, "job1", source), 1, 0)
    assert get_job(afd, "job1")["status"] == "COMPLETE"
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="ghost"):
        afd.get_batch_import_jobs(jobId="ghost")


def test_list_batch_import_jobs_pages(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    assert afd.get_batch_import_jobs()["batchImports"] == []
    source = put_object(s3_root, "in/header.csv", csv_bytes([]))
    names = ["job-c", "job-a", "job-e", "job-b", "job-d"]
    for name in names:
        create_job(afd, name, source)
    for name in names:
        wait_job(afd, name)
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"maxResults": 2}
        if token:
            kwargs["nextToken"] = token
        answer = afd.get_batch_import_jobs(**kwargs)
        assert len(answer["batchImports"]) <= 2
        seen += [job["jobId"] for job in answer["batchImports"]]
        pages += 1
        token = answer.get("nextToken")
        if not token:
            break
        assert pages < 10
    assert sorted(seen) == sorted(names)
    assert len(seen) == len(names)
    assert pages == 3
    everything = afd.get_batch_import_jobs()["batchImports"]
    assert sorted(job["jobId"] for job in everything) == sorted(names)


def test_cancel_finished_or_unknown_job(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(1)]))
    assert_complete(run_job(afd, "done", source), 1, 0)
    with pytest.raises(afd.exceptions.ValidationException, match="done"):
        afd.cancel_batch_import_job(jobId="done")
    assert get_job(afd, "done")["status"] == "COMPLETE"
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="ghost"):
        afd.cancel_batch_import_job(jobId="ghost")


def test_delete_batch_import_job_removes_the_record_and_is_idempotent(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(1), row(2)]))
    assert_complete(run_job(afd, "job1", source), 2, 0)
    afd.delete_batch_import_job(jobId="job1")
    assert_no_job(afd, "job1")
    assert afd.get_batch_import_jobs()["batchImports"] == []
    afd.delete_batch_import_job(jobId="job1")
    afd.delete_batch_import_job(jobId="never-created")
    # The imported events stay; only the job's record goes, and its id can be used again.
    assert get_event(afd, "ev-00001")["eventId"] == "ev-00001"
    assert statistics(afd)["numberOfEvents"] == 2
    assert_complete(run_job(afd, "job1", source), 0, 2)


def test_job_arn_takes_tags(s3_afd: Any, s3_root: Path) -> None:
    afd = s3_afd
    source = put_object(s3_root, "in/events.csv", csv_bytes([row(1)]))
    create_job(afd, "tagged", source, tags=[{"key": "team", "value": "risk"}])
    arn = wait_job(afd, "tagged")["arn"]

    def tags() -> dict[str, str]:
        return {tag["key"]: tag["value"] for tag in afd.list_tags_for_resource(resourceARN=arn)["tags"]}

    assert tags() == {"team": "risk"}
    afd.tag_resource(resourceARN=arn, tags=[{"key": "env", "value": "test"}, {"key": "team", "value": "fraud"}])
    assert tags() == {"team": "fraud", "env": "test"}
    afd.untag_resource(resourceARN=arn, tagKeys=["env"])
    assert tags() == {"team": "fraud"}
    afd.delete_batch_import_job(jobId="tagged")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=arn)


# --- while an import runs --------------------------------------------------------------------------


def test_deletions_conflict_while_the_worker_is_busy_importing(s3_afd: Any, s3_root: Path) -> None:
    """The worker runs one job at a time, imports before deletions: while it imports a big file of
    one event type, a deletion of another type's events stays IN_PROGRESS, so asking again conflicts,
    and deleting the events of the type being imported conflicts as well."""
    afd = s3_afd
    setup_event_type(afd, name="other_type")
    send(afd, "e1", event_type="other_type")
    rows = [row(i, label=False) for i in range(400_000)]
    source = put_object(s3_root, "in/big.csv", csv_bytes(rows))
    create_job(afd, "big", source)
    deadline = time.monotonic() + JOB_TIMEOUT
    while get_job(afd, "big")["status"] != "IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    answer = afd.delete_events_by_event_type(eventTypeName="other_type")
    assert answer["eventsDeletionStatus"] == "IN_PROGRESS"
    second: Exception | None = None
    try:
        afd.delete_events_by_event_type(eventTypeName="other_type")
    except afd.exceptions.ConflictException as error:
        second = error
    importing: Exception | None = None
    try:
        afd.delete_events_by_event_type(eventTypeName=EVENT_TYPE)
    except afd.exceptions.ConflictException as error:
        importing = error
    # Only meaningful if the import was still running throughout: check that it was.
    still_running = get_job(afd, "big")["status"] == "IN_PROGRESS"
    afd.cancel_batch_import_job(jobId="big")
    finished = wait_job(afd, "big")
    assert still_running, "the import finished too soon for this test to mean anything"
    assert second is not None, "a second DeleteEventsByEventType while the first is pending did not conflict"
    assert importing is not None, "DeleteEventsByEventType while a batch import of the type runs did not conflict"
    assert finished["status"] == "CANCELED"
    assert finished["processedRecordsCount"] < len(rows)
    assert statistics(afd)["numberOfEvents"] == finished["processedRecordsCount"]
    deadline = time.monotonic() + JOB_TIMEOUT
    while afd.get_delete_events_by_event_type_status(eventTypeName="other_type")["eventsDeletionStatus"] != "COMPLETE":
        assert time.monotonic() < deadline, "the deletion did not complete"
        time.sleep(0.05)
    assert statistics(afd, "other_type")["numberOfEvents"] == 0
