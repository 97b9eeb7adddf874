"""The console's data pages in a real browser: the file area, imports, stored events and the raw-file mapping."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from fraudhawk import datagen
from fraudhawk.events import files
from fraudhawk.settings import Settings
from tests.browser import WIDE, ConsoleSession
from tests.helpers import RunningServer
from tests.test_raw_import import _raw_file as sparkov_file

FINAL = ("COMPLETE", "FAILED", "CANCELED")


def _payments(path: Path) -> int:
    """A small card-payments file in AFD's layout, from the project's generator."""
    return datagen.transactions(path, cards=12, days=8, seed=5)


def _s3_root(console: ConsoleSession) -> Path:
    root = console.server.settings.s3_root
    assert root is not None
    return root


def _wait_job(console: ConsoleSession, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = console.afd.get_batch_import_jobs(jobId=job_id)["batchImports"][0]
        if job["status"] in FINAL:
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {job_id} did not end")


def _upload(page: Page, file: Path, bucket: str = "uploads", key: str = "", overwrite: bool = False) -> None:
    page.get_by_label(re.compile(r"^File")).set_input_files(str(file))
    page.get_by_role("textbox", name="Bucket").fill(bucket)
    page.get_by_label("Key or folder").fill(key)
    if overwrite:
        page.get_by_label("Replace a file of the same name").check()
    page.get_by_role("button", name="Upload", exact=True).click()


def _error_of(page: Page, field_id: str) -> Any:
    return page.locator(f"#e-{field_id}")


def test_upload_import_and_see_the_stored_events(console: ConsoleSession, tmp_path: Path) -> None:
    source = tmp_path / "payments.csv"
    rows = _payments(source)
    datagen.declare_transactions(console.afd, "payment")

    page = console.go("/files")
    expect(page.get_by_text("Nothing here yet")).to_be_visible()
    _upload(page, source, key="cards/")
    expect(page.locator(".notice")).to_contain_text("Uploaded s3://uploads/cards/payments.csv")
    expect(page.get_by_role("link", name="payments.csv", exact=True)).to_be_visible()
    expect(page.get_by_text("s3://uploads/cards/payments.csv", exact=True)).to_be_visible()
    stored = _s3_root(console) / "uploads" / "cards" / "payments.csv"
    assert stored.read_bytes() == source.read_bytes()
    # breadcrumbs lead back up; the bucket list shows the bucket
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="uploads").click()
    expect(page.get_by_role("link", name="cards/")).to_be_visible()
    console.shot("data-files")
    # the download is the file, byte for byte
    answer = page.request.get(console.url + "/files/download?uri=s3://uploads/cards/payments.csv")
    assert answer.status == 200
    assert answer.body() == source.read_bytes()
    assert "attachment" in answer.headers["content-disposition"]

    page = console.go("/data")
    page.get_by_role("link", name="Import events into payment").click()
    expect(page.get_by_label("Event type")).to_have_value("payment")
    page.get_by_label("Job ID").fill("first-import")
    page.get_by_label("File from the file area").select_option("s3://uploads/cards/payments.csv")
    console.shot("data-import-new")
    page.get_by_role("button", name="Start import").click()
    expect(page).to_have_url(console.url + "/imports/first-import?done=Started+import+first-import.")
    # the page follows the job and reloads at its end, showing the report section
    expect(page.get_by_role("heading", name="Rejected lines")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-count=processed]")).to_have_text(f"{rows:,}")
    expect(page.get_by_text("No line was rejected.")).to_be_visible()
    console.shot("data-import")
    job = console.afd.get_batch_import_jobs(jobId="first-import")["batchImports"][0]
    assert (job["status"], job["processedRecordsCount"]) == ("COMPLETE", rows)

    page = console.go("/imports")
    expect(page.get_by_role("row", name="first-import")).to_contain_text("complete")
    console.shot("data-imports")

    page = console.go("/data")
    row = page.get_by_role("row", name="payment")
    expect(row.locator("[data-label=events]")).to_have_text(f"{rows:,}")
    statistics = console.afd.get_event_types(name="payment")["eventTypes"][0]["ingestedEventStatistics"]
    expect(row).to_contain_text(statistics["leastRecentEvent"][:10])
    console.shot("data-events")


def test_rejected_lines_are_shown_with_their_line_numbers(console: ConsoleSession, tmp_path: Path) -> None:
    source = tmp_path / "payments.csv"
    _payments(source)
    lines = source.read_text().splitlines()
    header = lines[0].split(",")
    broken = {3: "not-a-time", 6: "2024-13-45T99:00:00Z"}  # file line numbers (the header is line 1)
    for number, value in broken.items():
        cells = next(csv.reader([lines[number - 1]]))
        cells[header.index("EVENT_TIMESTAMP")] = value
        lines[number - 1] = ",".join(cells)
    bucket = _s3_root(console) / "uploads"
    bucket.mkdir(parents=True)
    (bucket / "bad.csv").write_text("\n".join(lines) + "\n")
    datagen.declare_transactions(console.afd, "payment")

    page = console.go("/imports/new")
    page.get_by_label("Job ID").fill("with-bad-rows")
    page.get_by_label("Event type").select_option("payment")
    page.get_by_label("Or its location").fill("s3://uploads/bad.csv")
    page.get_by_role("button", name="Start import").click()
    expect(page.get_by_role("heading", name="Rejected lines")).to_be_visible(timeout=60_000)
    table = page.get_by_role("table").last
    expect(table.get_by_role("row")).to_have_count(1 + len(broken))
    for position, (number, value) in enumerate(broken.items()):
        row = table.locator("tbody tr").nth(position)
        expect(row.locator("td").first).to_have_text(str(number))
        expect(row).to_contain_text(value)
    expect(page.locator("[data-count=failed]")).to_have_text("2")
    console.shot("data-import-rejected")
    link = page.get_by_role("link", name="Download the report")
    report = page.request.get(console.url + str(link.get_attribute("href")))
    assert [row[0] for row in csv.reader(report.text().splitlines())][1:] == ["3", "6"]

    # the job can go; its events stay
    page.get_by_role("button", name="Delete job").click()
    expect(page.locator(".notice")).to_contain_text("Deleted import job with-bad-rows")
    assert not console.afd.get_batch_import_jobs()["batchImports"]


def test_a_file_in_another_layout_fails_with_its_reason(console: ConsoleSession) -> None:
    bucket = _s3_root(console) / "uploads"
    bucket.mkdir(parents=True)
    (bucket / "raw.csv").write_text("when,who,amt\n2024-01-01T00:00:00Z,a,1\n")
    datagen.declare_transactions(console.afd, "payment")
    page = console.go("/imports/new?event_type=payment&uri=s3://uploads/raw.csv")
    page.get_by_label("Job ID").fill("wrong-layout")
    page.get_by_role("button", name="Start import").click()
    expect(page.locator(".progress-box .status")).to_have_text("failed", timeout=60_000)
    expect(page.locator(".progress-box")).to_contain_text("EVENT_TIMESTAMP")


def test_mapping_form_imports_a_kaggle_layout_file(console: ConsoleSession, tmp_path: Path) -> None:
    source = tmp_path / "fraudTrain.csv.xz"
    sparkov_file(source, 300)
    page = console.go("/imports/map")
    console.shot("data-map-pick")
    page.get_by_label("Or upload one").set_input_files(str(source))
    page.get_by_role("button", name="Upload and map").click()
    expect(page).to_have_url(re.compile(r"/imports/map\?file=s3%3A%2F%2Fuploads%2FfraudTrain.csv.xz"))
    # the raw rows, and first choices read from the column names
    expect(page.get_by_role("columnheader", name="trans_date_trans_time")).to_be_visible()
    second = page.get_by_role("row").filter(has_text="2019-01-01 00:17:00").get_by_role("cell")
    expect(second.nth(0)).to_have_text("3")  # the file's line number
    expect(second.nth(1)).to_have_text("1")  # the unnamed first column is shown too
    expect(page.get_by_label("Timestamp column")).to_have_value("trans_date_trans_time")
    expect(page.get_by_label("Its format")).to_have_value("%Y-%m-%d %H:%M:%S")
    expect(page.get_by_label("Label column")).to_have_value("is_fraud")
    expect(page.get_by_label("Entity id column")).to_have_value("cc_num")
    expect(page.get_by_label("Event id column")).to_have_value("trans_num")
    page.get_by_label(re.compile(r"^Event type")).fill("cc_txn")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#transformed")
    expect(preview.get_by_role("cell", name="2019-01-01T00:17:00.000Z").first).to_be_visible()
    expect(preview.get_by_role("columnheader", name="EVENT_LABEL")).to_be_visible()
    expect(preview.get_by_role("row", name="amt amt FLOAT PRICE")).to_be_visible()
    # the preview follows a change without pressing Preview
    page.get_by_label("Label column").select_option("")
    expect(preview.get_by_role("columnheader", name="EVENT_LABEL")).to_have_count(0)
    page.get_by_label("Label column").select_option("is_fraud")
    expect(preview.get_by_role("columnheader", name="EVENT_LABEL")).to_be_visible()
    page.get_by_label("Entity id column").select_option("")  # no entity column: AFD's "unknown" entity
    expect(preview.get_by_role("cell", name="unknown", exact=True)).to_have_count(10)
    page.get_by_label("Entity id column").select_option("cc_num")
    expect(preview.get_by_role("cell", name="unknown", exact=True)).to_have_count(0)
    console.shot("data-map")
    assert not console.afd.get_event_types()["eventTypes"]  # a preview saves nothing

    page.get_by_role("button", name="Import").click()
    expect(page.locator(".notice")).to_contain_text("Converted s3://uploads/fraudTrain.csv.xz")
    expect(page.get_by_role("heading", name="Rejected lines")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-count=processed]")).to_have_text("300")
    # the converted copy the job read is gone once the job ended; the raw file stays
    assert not list((console.server.settings.data_dir / "files" / "imports").glob("*.csv.gz"))
    assert (_s3_root(console) / "uploads" / "fraudTrain.csv.xz").is_file()
    event_type = console.afd.get_event_types(name="cc_txn")["eventTypes"][0]
    assert event_type["ingestedEventStatistics"]["numberOfEvents"] == 300
    event = console.afd.get_event(eventTypeName="cc_txn", eventId=f"{40:032x}")["event"]
    assert event["currentLabel"] == "fraud"
    assert event["eventTimestamp"] == "2019-01-01T11:20:00.000Z"
    assert event["entities"] == [{"entityType": "customer", "entityId": str(4000000000000000 + 40)}]
    assert "cc_num" not in event_type["eventVariables"]


def test_mapping_refuses_bad_choices_next_to_the_field(console: ConsoleSession, tmp_path: Path) -> None:
    bucket = _s3_root(console) / "uploads"
    bucket.mkdir(parents=True)
    sparkov_file(bucket / "raw.csv.xz", 30)
    page = console.go("/imports/map?file=s3://uploads/raw.csv.xz")
    page.get_by_label(re.compile(r"^Event type")).fill("Bad Name")
    page.locator("#mapping").evaluate("form => { form.noValidate = true; }")  # the server's checks, not the browser's
    page.get_by_label("Timestamp column").select_option("")
    # a column the file does not have (as a stale or forged form would send)
    page.get_by_label("Event id column").evaluate("s => { s.add(new Option('nope', 'nope')); s.value = 'nope'; }")
    page.get_by_role("button", name="Import").click()
    expect(_error_of(page, "event_type")).to_contain_text("lowercase letters")
    expect(_error_of(page, "event_time")).to_have_text("The timestamp column is required.")
    expect(_error_of(page, "event_id")).to_have_text("The file has no column 'nope'.")
    console.shot("data-map-refused")
    # a format that reads none of the times
    page.get_by_label(re.compile(r"^Event type")).fill("cc_txn")
    page.get_by_label("Timestamp column").select_option("trans_date_trans_time")
    page.get_by_label("Event id column").select_option("trans_num")
    page.get_by_label("Its format").select_option("unix_ms")
    page.get_by_label("Its format").select_option("%m/%d/%Y %H:%M")
    page.get_by_role("button", name="Import").click()
    expect(_error_of(page, "time_format")).to_contain_text("could be read with this format")
    assert not console.afd.get_event_types()["eventTypes"]
    assert not console.afd.get_batch_import_jobs()["batchImports"]
    # a file outside the area
    page = console.go("/imports/map?file=s3://uploads/../../fraudhawk.db")
    expect(_error_of(page, "file")).to_contain_text("'..'")


def test_file_area_refuses_bad_names_and_paths(console: ConsoleSession, tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_text("x\n1\n")
    page = console.go("/files")
    _upload(page, source, key="../../escape.csv")
    expect(_error_of(page, "key")).to_contain_text("'..'")
    expect(page.get_by_label("Key or folder")).to_have_value("../../escape.csv")  # kept to correct
    _upload(page, source, bucket="Bad_Bucket")
    expect(_error_of(page, "bucket")).to_contain_text("not a valid bucket name")
    assert not list(_s3_root(console).rglob("*.csv"))
    assert not (console.server.settings.data_dir / "escape.csv").exists()
    console.shot("data-files-refused")
    # a second upload of the same name is refused unless replacing is ticked
    _upload(page, source)
    expect(page.locator(".notice")).to_contain_text("Uploaded s3://uploads/a.csv")
    source.write_text("x\n2\n")
    _upload(page, source)
    expect(_error_of(page, "key")).to_contain_text("already exists")
    assert (_s3_root(console) / "uploads" / "a.csv").read_text() == "x\n1\n"
    _upload(page, source, overwrite=True)
    expect(page.locator(".notice")).to_contain_text("Uploaded")
    assert (_s3_root(console) / "uploads" / "a.csv").read_text() == "x\n2\n"
    assert not [p for p in (_s3_root(console) / "uploads").iterdir() if p.name.startswith(".")]  # no half file
    # downloads stay inside the area
    for uri in ("s3://uploads/../../fraudhawk.db", "s3://uploads/nothing.csv", "/etc/passwd"):
        answer = page.request.get(console.url + "/files/download", params={"uri": uri})
        assert answer.status == 404, uri
        assert "SQLite" not in answer.text()
    # an import's input outside the area is refused next to its field, and nothing starts
    datagen.declare_transactions(console.afd, "payment")
    page = console.go("/imports/new?event_type=payment")
    page.get_by_label("Job ID").fill("escape")
    page.get_by_label("Or its location").fill("s3://uploads/../../fraudhawk.db")
    page.get_by_role("button", name="Start import").click()
    expect(_error_of(page, "input_uri")).to_contain_text("'..'")
    page.get_by_label("Or its location").fill("/etc/passwd")
    page.get_by_role("button", name="Start import").click()
    expect(_error_of(page, "input_uri")).to_contain_text("outside the directories")
    console.shot("data-import-new-refused")
    assert not console.afd.get_batch_import_jobs()["batchImports"]
    # deleting a file
    page = console.go("/files?bucket=uploads")
    page.get_by_role("button", name="Delete a.csv").click()
    expect(page.locator(".notice")).to_contain_text("Deleted s3://uploads/a.csv")
    assert not (_s3_root(console) / "uploads" / "a.csv").exists()


def test_ingestion_toggle_and_deleting_all_events(console: ConsoleSession, tmp_path: Path) -> None:
    bucket = _s3_root(console) / "uploads"
    bucket.mkdir(parents=True)
    rows = _payments(bucket / "p.csv")
    datagen.declare_transactions(console.afd, "payment")
    console.afd.create_batch_import_job(
        jobId="setup",
        inputPath="s3://uploads/p.csv",
        outputPath="s3://imports/reports/",
        eventTypeName="payment",
        iamRoleArn="arn:aws:iam::000000000000:role/importer",
    )
    assert _wait_job(console, "setup")["processedRecordsCount"] == rows

    page = console.go("/data")
    page.get_by_role("button", name="Turn ingestion off for payment").click()
    expect(page.locator(".notice")).to_contain_text("Event ingestion for payment is disabled")
    assert console.afd.get_event_types(name="payment")["eventTypes"][0]["eventIngestion"] == "DISABLED"
    labels = console.afd.get_event_types(name="payment")["eventTypes"][0]["labels"]
    assert sorted(labels) == ["fraud", "legit"]  # the rest of the type is kept
    page.get_by_role("button", name="Turn ingestion on for payment").click()
    assert console.afd.get_event_types(name="payment")["eventTypes"][0]["eventIngestion"] == "ENABLED"

    page.get_by_role("button", name="Delete all events of payment").click()
    expect(page.locator(".notice")).to_contain_text("Deleting all stored events of payment")
    row = page.get_by_role("row", name="payment")
    expect(row.locator("[data-label=events]")).to_have_text("0", timeout=30_000)
    expect(row).to_contain_text("Deletion complete")
    status = console.afd.get_delete_events_by_event_type_status(eventTypeName="payment")
    assert status["eventsDeletionStatus"] == "COMPLETE"
    console.shot("data-events-deleted")


def test_remote_s3_has_no_file_area(browser: Browser, tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", environ={}, s3_root="remote")
    assert settings.s3_root is None
    with RunningServer(settings) as server:
        context = browser.new_context(viewport=WIDE)
        try:
            page = context.new_page()
            page.goto(server.url + "/files")
            expect(page.get_by_text("reads s3:// URIs from a real S3 store")).to_be_visible()
            expect(page.get_by_role("button", name="Upload")).to_have_count(0)
        finally:
            context.close()


def test_pages_fit_a_phone(browser: Browser, console: ConsoleSession) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        for path in ("/files", "/data", "/imports", "/imports/new", "/imports/map"):
            page.goto(console.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    finally:
        context.close()


def _big_file(path: Path, rows: int) -> None:
    """Many simple events in AFD's layout, written fast (an import that runs long enough to cancel)."""
    with path.open("w") as out:
        out.write("EVENT_ID,EVENT_TIMESTAMP,ENTITY_ID,ENTITY_TYPE,EVENT_LABEL,LABEL_TIMESTAMP,amt,category,merchant\n")
        out.writelines(
            f"e{i},2024-01-01T00:00:00Z,card_{i % 997},card,legit,2024-01-01T00:00:00Z,{i % 500}.5,travel,m{i % 37}\n"
            for i in range(rows)
        )


def test_cancel_a_running_import(console: ConsoleSession) -> None:
    bucket = _s3_root(console) / "uploads"
    bucket.mkdir(parents=True)
    _big_file(bucket / "big.csv", 400_000)
    datagen.declare_transactions(console.afd, "payment")
    page = console.go("/imports/new?event_type=payment&uri=s3://uploads/big.csv")
    page.get_by_label("Job ID").fill("long-one")
    page.get_by_role("button", name="Start import").click()
    page.get_by_role("button", name="Cancel import").click()
    expect(page.locator(".notice")).to_contain_text("Cancelling import long-one")
    job = _wait_job(console, "long-one")
    assert job["status"] == "CANCELED"
    assert job["processedRecordsCount"] < 400_000
    expect(page.locator(".progress-box .status")).to_have_text("canceled", timeout=30_000)
    console.shot("data-import-cancelled")


class _Breaks(io.RawIOBase):
    """A stream that fails after some bytes, as an upload cut off half-way does."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            raise ConnectionResetError("the client went away")
        count = min(len(buffer), self.left)
        buffer[:count] = b"x" * count
        self.left -= count
        return count


def test_a_cut_off_upload_leaves_no_file(tmp_path: Path) -> None:
    root = tmp_path / "s3"
    with pytest.raises(ConnectionResetError):
        files.save(root, "uploads", "half.csv", io.BufferedReader(_Breaks(3 * files.CHUNK)), overwrite=False)
    assert not [p for p in root.rglob("*") if p.is_file()]  # neither the file nor its temporary copy
    assert files.save(root, "uploads", "whole.csv", io.BytesIO(b"a\n1\n"), overwrite=False) == 4
    with pytest.raises(files.BadName, match="already exists"):
        files.save(root, "uploads", "whole.csv", io.BytesIO(b"other"), overwrite=False)
    assert (root / "uploads" / "whole.csv").read_bytes() == b"a\n1\n"
