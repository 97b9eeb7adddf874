"""The console's batch predictions in a real browser: a job from an uploaded file, watched to its end,
its output downloaded and checked row by row against GetEventPrediction; a job from a file already in
the S3 folder; cancel and delete; and refused forms that save nothing."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser import NARROW, SCREENSHOTS, ConsoleSession
from tests.helpers import rule, setup_catalog

HEADER = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "order_amount", "email_address", "items"]


def shop(afd: Any) -> None:
    """Detector "shop" (checkout events): block big orders of non-members, review throwaway emails,
    approve the rest."""
    setup_catalog(afd)
    rules = [
        rule(afd, "big_order", "$order_amount > 1000 and !$is_member", ["block"]),
        rule(afd, "throwaway", 'regex_match(".*@mailinator\\.com", lowercase($email_address))', ["review"]),
        rule(afd, "everyone", "$items >= 0", ["approve"]),
    ]
    afd.create_detector_version(detectorId="shop", rules=rules)
    afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")


def orders(count: int) -> list[list[str]]:
    rows = []
    for index in range(count):
        amount = "2500" if index % 4 == 0 else "30"
        email = "x@MAILINATOR.com" if index % 4 == 1 else f"buyer{index}@example.com"
        rows.append(
            [f"o{index}", f"2024-05-01T10:{index % 60:02d}:00Z", f"c{index % 5}", "customer", amount, email, "2"]
        )
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def expected_outcomes(afd: Any, row: list[str]) -> tuple[str, str]:
    """What GetEventPrediction decides for the row's event: (outcomes, rule ids), `;`-joined."""
    values = dict(zip(HEADER, row, strict=True))
    result = afd.get_event_prediction(
        detectorId="shop",
        eventId="check-" + values["EVENT_ID"],
        eventTypeName="checkout",
        eventTimestamp=values["EVENT_TIMESTAMP"],
        entities=[{"entityType": values["ENTITY_TYPE"], "entityId": values["ENTITY_ID"]}],
        eventVariables={name: values[name] for name in ("order_amount", "email_address", "items")},
    )
    outcomes = [o for r in result["ruleResults"] for o in r["outcomes"]]
    return ";".join(outcomes), ";".join(r["ruleId"] for r in result["ruleResults"])


def check_output(afd: Any, path: Path, rows: list[list[str]], bad: list[list[str]]) -> None:
    """The output has every input row in order: the good ones scored as GetEventPrediction scores
    them, the bad ones marked INVALID_EVENT."""
    with path.open(newline="") as handle:
        output = list(csv.DictReader(handle))
    assert [row["EVENT_ID"] for row in output] == [row[0] for row in rows + bad]
    assert [row["STATUS"] for row in output[len(rows) :]] == ["INVALID_EVENT"] * len(bad)
    for row, written in zip(rows, output[: len(rows)], strict=True):
        assert written["STATUS"] == "Success", written
        assert (written["OUTCOMES"], written["RULE_RESULTS"]) == expected_outcomes(afd, row), written
    assert {row["OUTCOMES"] for row in output[: len(rows)]} == {"block", "review", "approve"}


def fill_new(page: Page, job_id: str, detector: str = "shop") -> None:
    page.get_by_label("Job ID").fill(job_id)
    page.get_by_role("combobox", name="Detector", exact=True).select_option(detector)


def test_upload_run_watch_and_download(console: ConsoleSession, tmp_path: Path) -> None:
    afd = console.afd
    shop(afd)
    rows = orders(40)
    bad = [
        ["bad_time", "yesterday", "c1", "customer", "20", "a@example.com", "2"],
        ["bad_items", "2024-05-01T10:00:00Z", "c1", "customer", "20", "a@example.com", "many"],
    ]
    source = write_csv(tmp_path / "orders may.csv", rows + bad)
    page = console.go("/batch-predictions")
    expect(page.get_by_text("No batch prediction yet.")).to_be_visible()
    console.shot("batch-jobs-empty")
    page.get_by_role("link", name="New batch prediction").click()
    expect(page.get_by_label("Output folder")).to_have_value("s3://batch/output/")
    console.shot("batch-new")
    fill_new(page, "may_orders")
    page.get_by_label("Upload a CSV file").set_input_files(str(source))
    page.get_by_role("button", name="Start batch prediction").click()
    expect(page.get_by_role("heading", name="Batch prediction may_orders")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("Started batch prediction may_orders")

    # the upload landed whole in the server's S3 folder, and the job reads it from there
    job = afd.get_batch_prediction_jobs(jobId="may_orders")["batchPredictions"][0]
    assert job["inputPath"] == "s3://batch/input/may_orders/orders_may.csv"
    stored = console.server.settings.data_dir / "s3" / "batch" / "input" / "may_orders" / "orders_may.csv"
    assert stored.read_bytes() == source.read_bytes()

    # the page follows the job live and offers the results once it is complete
    download_link = page.get_by_role("link", name="Download may_orders_")
    expect(download_link).to_be_visible(timeout=30_000)
    expect(page.locator(".job-progress")).to_contain_text("42 of 42 records processed")
    expect(page.locator(".job-progress")).to_contain_text("2 could not be evaluated")
    job = afd.get_batch_prediction_jobs(jobId="may_orders")["batchPredictions"][0]
    assert job["status"] == "COMPLETE"
    console.shot("batch-job-complete")
    with page.expect_download() as caught:
        download_link.click()
    download = caught.value
    assert download.suggested_filename.startswith("may_orders_")
    assert download.suggested_filename.endswith(".csv")
    check_output(afd, download.path(), rows, bad)
    # the Files page's download link names the same file
    files_link = page.get_by_role("link", name="download through the Files page")
    assert files_link.get_attribute("href") == "/files/download?uri=" + _quoted(console, "may_orders")

    page.get_by_role("link", name="All batch predictions").click()
    job_row = page.locator("tr", has=page.get_by_role("link", name="may_orders"))
    expect(job_row).to_contain_text("complete")
    expect(job_row).to_contain_text("42 / 42")
    console.shot("batch-jobs")

    # delete: the job goes, its output file stays
    page.get_by_role("link", name="may_orders").click()
    page.get_by_role("button", name="Delete job").click()
    expect(page.get_by_role("status").first).to_contain_text("Deleted batch prediction may_orders")
    assert afd.get_batch_prediction_jobs()["batchPredictions"] == []
    assert list((console.server.settings.data_dir / "s3" / "batch" / "output").glob("may_orders_*_output.csv"))


def _quoted(console: ConsoleSession, job_id: str) -> str:
    from urllib.parse import quote_plus

    folder = console.server.settings.data_dir / "s3" / "batch" / "output"
    name = next(folder.glob(f"{job_id}_*_output.csv")).name
    return quote_plus(f"s3://batch/output/{name}")


def test_job_from_a_file_on_the_server_and_cancel(console: ConsoleSession) -> None:
    afd = console.afd
    shop(afd)
    folder = console.server.settings.data_dir / "s3" / "batch" / "input"
    folder.mkdir(parents=True)
    write_csv(folder / "small.csv", orders(5))
    # a long job first: a second job waits for it, and can be cancelled while it waits
    write_csv(folder / "big.csv", orders(200_000))
    afd.create_batch_prediction_job(
        jobId="big",
        inputPath="s3://batch/input/big.csv",
        outputPath="s3://batch/output/",
        eventTypeName="checkout",
        detectorName="shop",
        iamRoleArn="arn:aws:iam::123456789012:role/FraudDetectorBatch",
    )
    page = console.go("/batch-predictions/new")
    fill_new(page, "waiting")
    page.get_by_label("Or a file already on the server").fill("s3://batch/input/small.csv")
    page.get_by_label("Detector version").fill("1")
    page.get_by_role("button", name="Start batch prediction").click()
    expect(page.get_by_role("heading", name="Batch prediction waiting")).to_be_visible()
    expect(page.locator(".job-progress")).to_contain_text("in progress")
    console.shot("batch-job-running")
    page.get_by_role("button", name="Cancel job").click()
    expect(page.get_by_role("status").first).to_contain_text("Asked batch prediction waiting to stop")
    expect(page.locator(".job-progress")).to_contain_text("canceled", timeout=30_000)
    assert afd.get_batch_prediction_jobs(jobId="waiting")["batchPredictions"][0]["status"] == "CANCELED"
    expect(page.get_by_role("link", name="Download")).to_have_count(0)
    afd.cancel_batch_prediction_job(jobId="big")


def test_bad_forms_are_refused_and_save_nothing(console: ConsoleSession, tmp_path: Path) -> None:
    afd = console.afd
    shop(afd)
    source = write_csv(tmp_path / "orders.csv", orders(3))
    inputs = console.server.settings.data_dir / "s3" / "batch" / "input"

    # no file at all
    page = console.go("/batch-predictions/new")
    fill_new(page, "no_file")
    page.get_by_role("button", name="Start batch prediction").click()
    expect(page.locator("#e-file")).to_contain_text("Choose a CSV file to upload")
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    expect(page.get_by_label("Job ID")).to_have_value("no_file")
    console.shot("batch-new-refused")

    # an unknown detector version: refused next to the version, and the upload is not kept
    fill_new(page, "bad_version")
    page.get_by_label("Detector version").fill("7")
    page.get_by_label("Upload a CSV file").set_input_files(str(source))
    page.get_by_role("button", name="Start batch prediction").click()
    expect(page.locator("#e-detector_version")).to_contain_text("7")
    expect(page.get_by_label("Detector version")).to_have_attribute("aria-invalid", "true")

    # a file that is not on the server
    page = console.go("/batch-predictions/new")
    fill_new(page, "missing")
    page.get_by_label("Or a file already on the server").fill("s3://batch/input/nothing-here.csv")
    page.get_by_role("button", name="Start batch prediction").click()
    expect(page.locator("#e-input_uri")).to_contain_text("does not exist")

    # not a CSV file
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    page = console.go("/batch-predictions/new")
    fill_new(page, "not_csv")
    page.get_by_label("Upload a CSV file").set_input_files(str(other))
    page.get_by_role("button", name="Start batch prediction").click()
    expect(page.locator("#e-file")).to_contain_text("must be a CSV file")

    assert afd.get_batch_prediction_jobs()["batchPredictions"] == []
    assert not inputs.exists() or not [path for path in inputs.rglob("*") if path.is_file()]
    page = console.go("/batch-predictions/nope")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page = console.go("/batch-predictions/nope/output")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_phone_sized_window(browser: Browser, console: ConsoleSession) -> None:
    shop(console.afd)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=NARROW)
    try:
        page = context.new_page()
        for path, name in (("/batch-predictions/new", "batch-new-narrow"), ("/batch-predictions", "batch-jobs-narrow")):
            page.goto(console.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
