"""The console's pipelines in a real browser: a pipeline's runs appear live as files land, each linked
to what it made; a failed run says why and is retried from its page; a pipeline is disabled."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from fraudhawk import datagen
from fraudhawk.pipelines import declared, runs
from fraudhawk.settings import Settings
from fraudhawk.storage.database import Database
from tests.browser import ConsoleSession

TRANSFORM = {
    "eventTime": "trans_date_trans_time",
    "timestampFormat": "%Y-%m-%d %H:%M:%S",
    "entityId": "cc_num",
    "label": "is_fraud",
    "exclude": ["first", "last", "street", "dob", "unix_time"],
}


@pytest.fixture
def console_settings(tmp_path: Path) -> Settings:
    return Settings.load(data_dir=tmp_path / "data", environ={"FRAUDHAWK_PIPELINE_SCAN_INTERVAL": "0.3"})


@pytest.fixture
def db(console_settings: Settings) -> Iterator[Database]:
    database = Database(console_settings.database_url)
    yield database
    database.dispose()


def drop(settings: Settings, source: Path, key: str) -> None:
    assert settings.s3_root is not None
    target = settings.s3_root / "landing" / key
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target.with_name(".partial"))
    target.with_name(".partial").rename(target)


def test_pipeline_runs_are_shown_live(
    console: ConsoleSession, console_settings: Settings, db: Database, tmp_path: Path
) -> None:
    entry = {
        "name": "store-transactions",
        "source": "s3://landing/raw/",
        "transform": TRANSFORM,
        "action": {"import": {"eventType": "cc_txn"}},
    }
    declared.put_pipeline(db, console_settings, entry)
    page = console.go("/pipelines")
    row = page.get_by_role("row", name=re.compile("store-transactions"))
    expect(row).to_contain_text("import into cc_txn")
    expect(row).to_contain_text("no runs yet")
    page.get_by_role("link", name="store-transactions").click()
    expect(page.get_by_text("No file processed yet")).to_be_visible()

    # a file lands while the page is open: its run appears, and ends with its import linked
    raw = tmp_path / "day1.csv"
    datagen.kaggle_transactions(raw, cards=10, days=3, seed=1)
    drop(console_settings, raw, "raw/day1.csv")
    runs_table = page.get_by_role("table", name="Runs of store-transactions, newest first")
    expect(runs_table).to_contain_text("day1.csv", timeout=30_000)
    expect(runs_table.get_by_text("succeeded")).to_be_visible(timeout=60_000)
    expect(runs_table).to_contain_text(f"{raw.stat().st_size:,} B")
    console.shot("pipeline-runs")
    (run,) = runs.list_runs(db, "store-transactions")
    assert run["status"] == runs.SUCCEEDED
    runs_table.get_by_role("link", name=f"import {run['result']['importJob']}").click()
    expect(page.get_by_role("heading", name=re.compile(run["result"]["importJob"]))).to_be_visible()
    job = console.afd.get_batch_import_jobs(jobId=run["result"]["importJob"])["batchImports"][0]
    assert job["processedRecordsCount"] == run["result"]["transformed"]["rows"]

    # a file without the mapped columns fails, says why, and can be retried
    bad = tmp_path / "notes.csv"
    bad.write_text("a,b\n1,2\n")
    drop(console_settings, bad, "raw/notes.csv")
    page = console.go("/pipelines/store-transactions")
    runs_table = page.get_by_role("table", name="Runs of store-transactions, newest first")
    expect(runs_table).to_contain_text("trans_date_trans_time", timeout=30_000)
    expect(runs_table).to_contain_text("are not in the file")
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_text("queued again")).to_be_visible()
    failed = [r for r in runs.list_runs(db, "store-transactions") if r["file"] == "notes.csv"]
    assert len(failed) == 1
    assert failed[0]["attempts"] == 2

    # disabled, the pipeline leaves new files alone
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("no longer watches its source")).to_be_visible()
    assert declared.get_pipeline(db, "store-transactions")["enabled"] is False
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Pipelines")).to_have_attribute(
        "aria-current", "page"
    )
