"""File-driven pipelines: the transaction walk-through's Glue/S3/Lambda flow with files only, against
real `fraudhawk serve` processes (killed with SIGKILL mid-run, and two replicas on one prefix)."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import CliRunner

from fraudhawk import datagen
from fraudhawk.cli.main import main
from fraudhawk.errors import ValidationError
from fraudhawk.pipelines import declared, guard, runs, sources
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings
from fraudhawk.storage.database import Database
from tests.helpers import boto_client, free_port, start_server_process

BUCKET = "fraud-sample"
EVENT_TYPE = "credit_card_transaction"
SCAN = "0.3"  # seconds between scans in these tests
# The Glue job's transform of Kaggle's raw layout, as a mapping; the columns left are the model's inputs
TRANSFORM = {
    "eventTime": "trans_date_trans_time",
    "timestampFormat": "%Y-%m-%d %H:%M:%S",
    "entityId": "cc_num",
    "eventId": "trans_num",
    "label": "is_fraud",
    "exclude": [
        "first", "last", "gender", "street", "city", "state", "zip", "lat", "long", "city_pop", "job", "dob",
        "unix_time", "merch_lat", "merch_long",
    ],
}  # fmt: skip


def fraudhawk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudhawk.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


class Server:
    """`fraudhawk serve` processes over one data directory and S3 root, started and killed at will."""

    def __init__(self, base: Path) -> None:
        self.data, self.s3 = base / "data", base / "s3"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.port = 0

    def start(self) -> Any:
        self.port = free_port()
        self.processes.append(start_server_process(self.data, self.s3, self.port))
        return boto_client(f"http://127.0.0.1:{self.port}")

    def kill(self) -> None:
        process = self.processes.pop(0)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes = []

    def settings(self) -> Settings:
        return Settings.load(data_dir=self.data, s3_root=self.s3, environ=dict(os.environ))

    def drop(self, source: Path, key: str) -> None:
        """Upload a file the way uploaders do: a hidden temporary name first, renamed when whole."""
        target = self.s3 / BUCKET / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name("." + target.name + ".uploading")
        shutil.copyfile(source, partial)
        partial.rename(target)

    def cli(self, *args: str) -> str:
        result = fraudhawk(*args, "--data-dir", str(self.data), "--s3-root", str(self.s3))
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("FRAUDHAWK_PIPELINE_SCAN_INTERVAL", SCAN)
    running = Server(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def wait_for(what: str, check: Callable[[], Any], db: Database, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; the runs: {runs.list_runs(db)}")


def ended_runs(db: Database, pipeline: str, count: int) -> list[dict[str, Any]]:
    """The pipeline's runs once `count` of them have ended (they must all succeed)."""

    def check() -> list[dict[str, Any]] | None:
        listed = runs.list_runs(db, pipeline)
        failed = [r for r in listed if r["status"] == runs.FAILED]
        assert not failed, failed
        done = [r for r in listed if r["status"] == runs.SUCCEEDED]
        return listed if len(done) >= count else None

    listed: list[dict[str, Any]] = wait_for(f"{count} run(s) of {pipeline}", check, db)
    return listed


def declare_stack(afd: Any) -> None:
    """What the walk-through's CloudFormation stack and console steps declare before any data."""
    afd.put_entity_type(name="customer")
    for label in ("fraud", "legit"):
        afd.put_label(name=label)
    for outcome in ("approve", "review", "block"):
        afd.put_outcome(name=outcome)
    afd.create_variable(name="amt", dataType="FLOAT", dataSource="EVENT", defaultValue="0.0", variableType="PRICE")
    afd.create_variable(
        name="category", dataType="STRING", dataSource="EVENT", defaultValue="", variableType="CATEGORICAL"
    )
    afd.put_event_type(
        name=EVENT_TYPE,
        eventVariables=["amt", "category"],
        labels=["fraud", "legit"],
        entityTypes=["customer"],
        eventIngestion="ENABLED",
    )
    afd.put_detector(detectorId="cc_detector", eventTypeName=EVENT_TYPE)


PIPELINES: list[dict[str, Any]] = [
    {
        "name": "train-major",
        "source": f"s3://{BUCKET}/glue_transformed/",
        "transform": TRANSFORM,
        "action": {
            "train": {
                "modelId": "cc_model",
                "modelType": "ONLINE_FRAUD_INSIGHTS",
                "eventType": EVENT_TYPE,
                "mode": "create",
                "activate": {"detectorId": "cc_detector", "maxAucDrop": 0.002},
            }
        },
    },
    {
        "name": "train-minor",
        "source": f"s3://{BUCKET}/glue_transformed_update/",
        "transform": TRANSFORM,
        "action": {
            "train": {
                "modelId": "cc_model",
                "modelType": "ONLINE_FRAUD_INSIGHTS",
                "eventType": EVENT_TYPE,
                "mode": "update",
                "activate": {"detectorId": "cc_detector", "maxAucDrop": 1.0},
            }
        },
    },
    {
        "name": "score",
        "source": f"s3://{BUCKET}/batch_predict/",
        "transform": TRANSFORM,
        "action": {"batchPredict": {"detectorId": "cc_detector", "output": f"s3://{BUCKET}/batch_output/"}},
    },
]


def declare_detector_version(afd: Any) -> None:
    """The detector's first version, as the user declares it once a model exists."""
    score = "$cc_model_insightscore"
    for rule_id, expression, outcome in (
        ("block_rule", f"{score} > 900", "block"),
        ("approve_rule", f"{score} <= 900", "approve"),
    ):
        afd.create_rule(
            ruleId=rule_id, detectorId="cc_detector", expression=expression, language="DETECTORPL", outcomes=[outcome]
        )
    afd.create_detector_version(
        detectorId="cc_detector",
        rules=[{"detectorId": "cc_detector", "ruleId": r, "ruleVersion": "1"} for r in ("block_rule", "approve_rule")],
        modelVersions=[{"modelId": "cc_model", "modelType": "ONLINE_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}],
    )
    afd.update_detector_version_status(detectorId="cc_detector", detectorVersionId="1", status="ACTIVE")


def score_files(server: Server, db: Database, tmp_path: Path) -> None:
    """A file to score lands under batch_predict/: its output appears under the output prefix; the same
    content again (a new modification time) is no new run, new content under the same key is."""
    batch = tmp_path / "fraudTest.csv"
    datagen.kaggle_transactions(batch, cards=5, days=5, seed=11)
    server.drop(batch, "batch_predict/fraudTest.csv")
    (scored,) = ended_runs(db, "score", 1)
    output = Path(server.s3, scored["result"]["output"].removeprefix("s3://"))
    assert output.parent == server.s3 / BUCKET / "batch_output"
    lines = output.read_text().strip().splitlines()
    assert len(lines) == 1 + scored["result"]["transformed"]["rows"] == scored["result"]["scored"] + 1

    time.sleep(3 * float(SCAN))
    server.drop(batch, "batch_predict/fraudTest.csv")
    time.sleep(6 * float(SCAN))
    assert len(runs.list_runs(db, "score")) == 1
    datagen.kaggle_transactions(batch, cards=5, days=5, seed=12)
    server.drop(batch, "batch_predict/fraudTest.csv")
    rescored = ended_runs(db, "score", 2)
    assert len({r["checksum"] for r in rescored}) == 2
    assert len(list((server.s3 / BUCKET / "batch_output").iterdir())) == 2


# The walk-through's CloudFormation stack and its S3 -> SQS -> Lambda plumbing, as one workspace file
WORKSPACE: dict[str, Any] = {
    "version": 1,
    "entityTypes": [{"name": "customer"}],
    "labels": [{"name": "fraud"}, {"name": "legit"}],
    "outcomes": [{"name": "approve"}, {"name": "block"}, {"name": "review"}],
    "variables": [{"name": "amt", "variableType": "PRICE"}, {"name": "category", "variableType": "CATEGORICAL"}],
    "eventTypes": [
        {
            "name": EVENT_TYPE,
            "entityTypes": ["customer"],
            "variables": ["amt", "category"],
            "labels": ["fraud", "legit"],
        }
    ],
    "detectors": [{"id": "cc_detector", "eventType": EVENT_TYPE}],
    "pipelines": PIPELINES,
}


def apply_workspace(server: Server, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(yaml.safe_dump(WORKSPACE, sort_keys=False))
    assert "create        pipeline train-major" in server.cli("apply", str(workspace), "--plan")
    assert "create        pipeline score" in server.cli("apply", str(workspace))
    assert "nothing to do" in server.cli("apply", str(workspace))  # applying again changes nothing
    assert "train-major  [enabled]  s3://fraud-sample/glue_transformed/*.csv" in server.cli("pipelines")


def test_walkthrough_flow_with_files_only(server: Server, tmp_path: Path) -> None:
    afd = server.start()
    apply_workspace(server, tmp_path)
    db = Database(server.settings().database_url)

    # A raw Kaggle-layout file lands: transformed, a major version trained, activated (none was active)
    first = tmp_path / "fraudTrain.csv"
    datagen.kaggle_transactions(first, cards=60, days=60, seed=3)
    server.drop(first, "glue_transformed/fraudTrain.csv")
    (run,) = ended_runs(db, "train-major", 1)
    assert run["size"] == first.stat().st_size
    assert run["result"]["modelVersion"] == "1.0"
    assert run["result"]["activation"]["activate"] is True
    assert run["result"]["detectorNote"] == "detector cc_detector has no version to copy"
    version = afd.describe_model_versions(modelId="cc_model", modelType="ONLINE_FRAUD_INSIGHTS")
    assert [(v["modelVersionNumber"], v["status"]) for v in version["modelVersionDetails"]] == [("1.0", "ACTIVE")]
    assert run["result"]["auc"] == version["modelVersionDetails"][0]["trainingResult"]["trainingMetrics"]["auc"]

    declare_detector_version(afd)

    # Two more files for the update-mode pipeline at once: the second waits while the first trains
    # ("Simultaneous training for the same major version not allowed"), and says so
    # (large enough that a training outlasts the next file's transform)
    more = [tmp_path / f"more{index}.csv" for index in range(2)]
    for index, path in enumerate(more):
        datagen.kaggle_transactions(path, cards=200, days=60, seed=5 + index)
    for index, path in enumerate(more):
        server.drop(path, f"glue_transformed_update/part-{index}.csv")
    wait_for(
        "a run waiting for the major version's training",
        lambda: any(
            r["status"] == runs.WAITING and r["detail"].startswith("waiting: version 1.")
            for r in runs.list_runs(db, "train-minor")
        ),
        db,
        timeout=60,
    )
    minors = ended_runs(db, "train-minor", 2)
    assert sorted(r["result"]["modelVersion"] for r in minors) == ["1.01", "1.02"]
    versions = afd.describe_model_versions(modelId="cc_model", modelType="ONLINE_FRAUD_INSIGHTS")
    assert [v["modelVersionNumber"] for v in versions["modelVersionDetails"]] == ["1.0", "1.01", "1.02"]
    # every decision is recorded with its figures; a detector version per activated model version
    published = []
    for run in sorted(minors, key=lambda r: r["result"]["modelVersion"]):
        decision = run["result"]["activation"]
        assert decision["maxAucDrop"] == 1.0
        assert decision["activate"] is True
        assert decision["auc"] == run["result"]["auc"]
        published.append(run["result"]["detectorVersion"]["version"])
    assert published == ["2", "3"]
    detector = afd.describe_detector(detectorId="cc_detector")["detectorVersionSummaries"]
    assert {s["detectorVersionId"]: s["status"] for s in detector} == {"1": "INACTIVE", "2": "INACTIVE", "3": "ACTIVE"}
    newest = afd.get_detector_version(detectorId="cc_detector", detectorVersionId="3")
    assert [m["modelVersionNumber"] for m in newest["modelVersions"]] == ["1.02"]
    assert [r["ruleId"] for r in newest["rules"]] == ["block_rule", "approve_rule"]

    score_files(server, db, tmp_path)

    # Runs are listed by the CLI, with what each made; work files are gone
    listed = server.cli("runs")
    assert listed.count("SUCCEEDED") == 5  # a major, two minors, two files scored
    for said in ("version 1.0 (AUC", "detector version 3", "output s3://"):
        assert said in listed
    assert "last run: SUCCEEDED" in server.cli("pipelines")
    as_json = json.loads(server.cli("runs", "--pipeline", "train-minor", "--json"))
    assert {r["file"] for r in as_json} == {"part-0.csv", "part-1.csv"}
    assert not [p for p in (server.data / "files" / "pipelines").iterdir() if p.name != "reports"]
    db.dispose()


def test_kill_mid_run_processes_every_file_once(server: Server, tmp_path: Path) -> None:
    afd = server.start()
    declare_stack(afd)
    settings = server.settings()
    db = Database(settings.database_url)
    declared.put_pipeline(db, settings, PIPELINES[0])
    imports = {"name": "store", "source": f"s3://{BUCKET}/raw/", "transform": TRANSFORM}
    declared.put_pipeline(db, settings, {**imports, "action": {"import": {"eventType": EVENT_TYPE}}})
    train, stored = tmp_path / "train.csv", tmp_path / "stored.csv"
    datagen.kaggle_transactions(train, cards=60, days=60, seed=3)
    datagen.kaggle_transactions(stored, cards=200, days=60, seed=4)
    server.drop(train, "glue_transformed/fraudTrain.csv")
    server.drop(stored, "raw/fraudTrain.csv")

    # SIGKILL while the model version trains
    wait_for(
        "training to start",
        lambda: any(r["stage"] == "train-wait" for r in runs.list_runs(db, "train-major")),
        db,
    )
    server.kill()
    afd = server.start()

    (trained,) = ended_runs(db, "train-major", 1)
    (imported,) = ended_runs(db, "store", 1)
    versions = afd.describe_model_versions(modelId="cc_model", modelType="ONLINE_FRAUD_INSIGHTS")
    statuses = [v["status"] for v in versions["modelVersionDetails"]]
    # the version being trained was interrupted (AFD's training cannot resume): the run trained once more
    if trained["result"].get("trainingRetried"):
        assert statuses == ["ERROR", "ACTIVE"]
        assert trained["attempts"] == 2
    else:
        assert statuses == ["ACTIVE"]
    # the import ran once: one job, every event stored once
    jobs = afd.get_batch_import_jobs()["batchImports"]
    assert [j["jobId"] for j in jobs] == [imported["result"]["importJob"]]
    assert jobs[0]["processedRecordsCount"] == imported["result"]["transformed"]["rows"]
    assert jobs[0]["failedRecordsCount"] == 0
    time.sleep(6 * float(SCAN))
    assert len(runs.list_runs(db)) == 2
    db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_replicas_process_each_file_once(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        monkeypatch.setenv("FRAUDHAWK_DATABASE_URL", request.getfixturevalue("pg_url"))
    afd = server.start()
    server.start()
    declare_stack(afd)
    settings = server.settings()
    db = Database(settings.database_url)
    declared.put_pipeline(
        db,
        settings,
        {
            "name": "store",
            "source": f"s3://{BUCKET}/raw/",
            # the generator numbers transactions from 0 in every file: event ids made per file and line
            "transform": {k: v for k, v in TRANSFORM.items() if k != "eventId"},
            "action": {"import": {"eventType": EVENT_TYPE}},
        },
    )
    files = []
    for seed in range(6):
        path = tmp_path / f"day{seed}.csv"
        datagen.kaggle_transactions(path, cards=10, days=3, seed=seed)
        files.append(path)
        server.drop(path, f"raw/day{seed}.csv")
    done = ended_runs(db, "store", len(files))
    assert sorted(r["file"] for r in done) == [f"day{seed}.csv" for seed in range(6)]
    jobs = afd.get_batch_import_jobs()["batchImports"]
    assert sorted(j["jobId"] for j in jobs) == sorted(r["result"]["importJob"] for r in done)
    assert sum(j["processedRecordsCount"] for j in jobs) == sum(r["result"]["transformed"]["rows"] for r in done)
    time.sleep(6 * float(SCAN))
    assert len(runs.list_runs(db)) == len(files)
    db.dispose()


# --- declarations ----------------------------------------------------------------------------------


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[tuple[Database, Settings]]:
    settings = Settings.load(data_dir=tmp_path / "data", environ={})
    db = Database(settings.database_url)
    db.migrate()
    yield db, settings
    db.dispose()


def test_declarations_are_checked_and_listed(plain: tuple[Database, Settings]) -> None:
    db, settings = plain
    entry = {
        "name": "score",
        "source": f"s3://{BUCKET}/in",
        "action": {"batchPredict": {"detectorId": "d", "output": f"s3://{BUCKET}/out"}},
    }
    assert declared.put_pipeline(db, settings, entry) == "created"
    assert declared.put_pipeline(db, settings, entry) == "unchanged"
    (listed,) = declared.list_pipelines(db)
    assert listed == {
        "name": "score",
        "source": f"s3://{BUCKET}/in/",
        "pattern": "*.csv",
        "action": {"batchPredict": {"detectorId": "d", "output": f"s3://{BUCKET}/out/"}},
        "enabled": True,
    }
    assert declared.change(listed, declared.normalize(settings, {**entry, "enabled": False})) == "updated"
    assert declared.change(None, listed) == "created"
    assert declared.put_pipeline(db, settings, {**entry, "pattern": "*.txt"}) == "updated"
    declared.set_enabled(db, "score", False)
    assert declared.list_pipelines(db)[0]["enabled"] is False

    refused = {
        "name": ({**entry, "name": "Bad Name"}, "name: 'Bad Name' must match"),
        "source": ({**entry, "source": "/etc/"}, "source '/etc/' is outside the directories"),
        "output": (
            {**entry, "action": {"batchPredict": {"detectorId": "d", "output": f"s3://{BUCKET}/in/out/"}}},
            "action.batchPredict.output",
        ),
        "mode": (
            {
                **entry,
                "action": {
                    "train": {"modelId": "m", "modelType": "ONLINE_FRAUD_INSIGHTS", "eventType": "e", "mode": "x"}
                },
            },
            "action.train.mode: must be one of create, update",
        ),
        "major": (
            {
                **entry,
                "action": {
                    "train": {"modelId": "m", "modelType": "ONLINE_FRAUD_INSIGHTS", "eventType": "e", "majorVersion": 2}
                },
            },
            "action.train.majorVersion: is for mode update",
        ),
        "drop": (
            {
                **entry,
                "action": {
                    "train": {
                        "modelId": "m",
                        "modelType": "ONLINE_FRAUD_INSIGHTS",
                        "eventType": "e",
                        "activate": {"maxAucDrop": "a lot"},
                    }
                },
            },
            "action.train.activate.maxAucDrop",
        ),
        "two actions": (
            {**entry, "action": {"import": {"eventType": "e"}, "batchPredict": {}}},
            "action: must name exactly one",
        ),
        "transform": ({**entry, "transform": {"eventTime": "t"}}, "transform.entityId: is required"),
        "unknown": ({**entry, "schedule": "daily"}, "pipeline.schedule: is not a field here"),
    }
    for case, (bad, message) in refused.items():
        with pytest.raises(ValidationError) as caught:
            declared.put_pipeline(db, settings, bad)
        assert message in caught.value.message, case
    assert len(declared.list_pipelines(db)) == 1
    declared.delete_pipeline(db, "score")
    assert declared.list_pipelines(db) == []
    assert set(declared.SCHEMA["properties"]["action"]["properties"]) == set(declared.ACTIONS)


def test_which_files_a_pipeline_takes() -> None:
    assert sources.matches("fraudTrain.csv", "*.csv")
    assert sources.matches("fraudTrain.csv.gz", "*.csv")
    assert sources.matches("part/2024/x.csv.xz", "*.csv")
    assert not sources.matches(".fraudTrain.csv.uploading", "*.csv")
    assert not sources.matches("_temporary/part-0.csv", "*.csv")
    assert not sources.matches("fraudTrain.csv.part", "*.csv")
    assert not sources.matches("notes.txt", "*.csv")
    assert sources.matches("major/a.csv", "major/*.csv")
    assert not sources.matches("minor/a.csv", "major/*.csv")
    # a file is taken only once two scans saw it unchanged
    sightings = sources.Sightings()
    growing = sources.Seen("a.csv", "s3://b/a.csv", 10, 1)
    assert sightings.settled("p", [growing]) == []
    grown = sources.Seen("a.csv", "s3://b/a.csv", 20, 2)
    assert sightings.settled("p", [grown]) == []
    assert sightings.settled("p", [grown]) == [grown]


# --- other sources and data -------------------------------------------------------------------------


def wait_run(db: Database, pipeline: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = wait_for(
        f"a run of {pipeline}",
        lambda: [r for r in runs.list_runs(db, pipeline) if r["status"] in (runs.SUCCEEDED, runs.FAILED)],
        db,
    )
    (run,) = found
    assert run["status"] == runs.SUCCEEDED, run
    return run


def test_training_on_stored_events(tmp_path: Path) -> None:
    """data: stored: the file is imported, then the model trains on every stored event (TFI)."""
    settings = Settings.load(data_dir=tmp_path / "data", environ={"FRAUDHAWK_PIPELINE_SCAN_INTERVAL": SCAN})
    service = Service(settings)
    try:
        entry = {
            "name": "tfi",
            "source": f"s3://{BUCKET}/stored/",
            "transform": TRANSFORM,
            "action": {
                "train": {
                    "modelId": "tfi_model",
                    "modelType": "TRANSACTION_FRAUD_INSIGHTS",
                    "eventType": EVENT_TYPE,
                    "data": "stored",
                }
            },
        }
        declared.put_pipeline(service.db, settings, entry)
        raw = tmp_path / "raw.csv"
        datagen.kaggle_transactions(raw, cards=60, days=60, seed=3)
        assert settings.s3_root is not None
        (settings.s3_root / BUCKET / "stored").mkdir(parents=True)
        shutil.copyfile(raw, settings.s3_root / BUCKET / "stored" / "fraudTrain.csv")
        run = wait_run(service.db, "tfi")
        assert run["result"]["imported"] == {"stored": run["result"]["transformed"]["rows"], "rejected": 0}
        version = service.call(
            "DescribeModelVersions", {"modelId": "tfi_model", "modelType": "TRANSACTION_FRAUD_INSIGHTS"}
        )["modelVersionDetails"]
        assert [(v["modelVersionNumber"], v["trainingDataSource"], v["status"]) for v in version] == [
            ("1.0", "INGESTED_EVENTS", "TRAINING_COMPLETE")
        ]
    finally:
        service.close()


@pytest.fixture
def s3_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real S3-compatible server (moto's, over HTTP on a loopback port) that boto3 is pointed at."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    store = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    store.start()
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        yield boto3.client("s3")
    finally:
        store.stop()


def test_a_real_s3_prefix_is_watched(tmp_path: Path, s3_store: Any) -> None:
    settings = Settings.load(
        data_dir=tmp_path / "data", s3_root="remote", environ={"FRAUDHAWK_PIPELINE_SCAN_INTERVAL": SCAN}
    )
    s3_store.create_bucket(Bucket=BUCKET)
    service = Service(settings)
    try:
        entry = {
            "name": "store",
            "source": f"s3://{BUCKET}/landing/",
            "transform": TRANSFORM,
            "action": {"import": {"eventType": EVENT_TYPE}},
        }
        declared.put_pipeline(service.db, settings, entry)
        raw = tmp_path / "raw.csv"
        datagen.kaggle_transactions(raw, cards=10, days=5, seed=1)
        s3_store.upload_file(str(raw), BUCKET, "landing/2024/day1.csv")
        s3_store.put_object(Bucket=BUCKET, Key="landing/notes.txt", Body=b"not a CSV")
        run = wait_run(service.db, "store")
        assert (run["file"], run["size"]) == ("2024/day1.csv", raw.stat().st_size)
        assert run["checksum"] == hashlib.sha256(raw.read_bytes()).hexdigest()
        job = service.call("GetBatchImportJobs", {"jobId": run["result"]["importJob"]})["batchImports"][0]
        assert job["processedRecordsCount"] == run["result"]["transformed"]["rows"] > 0
        time.sleep(6 * float(SCAN))
        assert len(runs.list_runs(service.db)) == 1
    finally:
        service.close()


def test_the_command_line_manages_pipelines(tmp_path: Path) -> None:
    data, s3 = str(tmp_path / "data"), str(tmp_path / "s3")

    def cli(*args: str, ok: bool = True) -> str:
        # in this process (the other tests run `fraudhawk` as a process of its own)
        result = CliRunner().invoke(main, [*args, "--data-dir", data, "--s3-root", s3])
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    said = cli(
        "pipelines", "create", "score", "--source", f"s3://{BUCKET}/batch_predict", "--action", "batch-predict",
        "--detector-id", "cc_detector", "--output", f"s3://{BUCKET}/out/",
    )  # fmt: skip
    assert said == "created: score\n"
    shown = yaml.safe_load(cli("pipelines", "show", "score"))
    assert shown["action"] == {"batchPredict": {"detectorId": "cc_detector", "output": f"s3://{BUCKET}/out/"}}
    assert shown["source"] == f"s3://{BUCKET}/batch_predict/"
    assert "[enabled]" in cli("pipelines")
    assert cli("pipelines", "disable", "score") == "disabled: score\n"
    assert "[disabled]" in cli("pipelines")
    cli("pipelines", "enable", "score")

    # a declaration file is checked whole before anything is written; the error names the field
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            [
                {"name": "ok", "source": f"s3://{BUCKET}/a/", "action": {"import": {"eventType": "t"}}},
                {"name": "wrong", "source": f"s3://{BUCKET}/b/", "action": {"train": {"modelId": "m"}}},
            ]
        )
    )
    assert "pipelines[1].action.train.modelType: is required" in cli("pipelines", "put", str(bad), ok=False)
    assert [p["name"] for p in yaml.safe_load_all(cli("pipelines", "show", "score"))] == ["score"]
    assert "ok" not in cli("pipelines")
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps({"name": "other", "source": f"s3://{BUCKET}/a/", "action": {"import": {"eventType": "t"}}})
    )
    assert cli("pipelines", "put", str(good), "--dry-run") == "would be created: other\nnot in good.json, kept: score\n"
    assert "other" not in cli("pipelines")

    # a failed run is retried from the command line
    settings = Settings.load(data_dir=data, s3_root=s3, environ={})
    db = Database(settings.database_url)
    run_id = runs.record(db, "score", "x.csv", 3, "0" * 64, 1, "batchPredict")
    assert run_id is not None
    assert runs.record(db, "score", "x.csv", 3, "0" * 64, 2, "batchPredict") is None  # the same content: once
    assert "only a FAILED or CANCELLED run can be retried" in cli("runs", "retry", run_id, ok=False)
    assert cli("runs", "cancel", run_id) == f"cancelled: {run_id}\n"  # no worker had it: at once
    assert "it has ended" in cli("runs", "cancel", run_id, ok=False)
    assert cli("runs", "retry", run_id) == f"queued again: {run_id}\n"
    assert runs.get_run(db, run_id)["attempts"] == 2
    cli("pipelines", "delete", "score")
    assert "no pipelines" in cli("pipelines")
    assert run_id in cli("runs", "--status", "QUEUED")
    db.dispose()


def test_the_activation_guard() -> None:
    def version(number: str, status: str, auc: float) -> dict[str, Any]:
        return {"modelVersionNumber": number, "status": status, "trainingResult": {"trainingMetrics": {"auc": auc}}}

    active = [version("1.0", "ACTIVE", 0.950), version("2.0", "ACTIVE", 0.930), version("1.01", "ERROR", 0.99)]
    within = guard.decide("1.02", [*active, version("1.02", "TRAINING_COMPLETE", 0.9485)], 0.002)
    assert within["activate"] is True
    assert (within["activeVersion"], within["activeAuc"], within["auc"]) == ("1.0", 0.950, 0.9485)
    below = guard.decide("1.02", [*active, version("1.02", "TRAINING_COMPLETE", 0.9475)], 0.002)
    assert below["activate"] is False
    assert below["why"] == "AUC 0.9475 is more than 0.002 below the active version's 0.9500"
    assert guard.decide("1.0", [version("1.0", "TRAINING_COMPLETE", 0.6)], 0.0)["why"] == "no version was active"
    # the detector's next version: the base's rules and mode, this model's version replaced
    base = {
        "detectorId": "d",
        "detectorVersionId": "4",
        "rules": [{"detectorId": "d", "ruleId": "r", "ruleVersion": "2"}],
        "modelVersions": [
            {"modelId": "m", "modelType": "ONLINE_FRAUD_INSIGHTS", "modelVersionNumber": "1.0", "arn": "a"},
            {"modelId": "other", "modelType": "TRANSACTION_FRAUD_INSIGHTS", "modelVersionNumber": "3.0", "arn": "b"},
        ],
        "externalModelEndpoints": ["sagemaker-endpoint"],
        "ruleExecutionMode": "ALL_MATCHED",
    }
    request = guard.next_version(base, "m", "ONLINE_FRAUD_INSIGHTS", "1.02")
    assert request["rules"] == base["rules"]
    assert request["ruleExecutionMode"] == "ALL_MATCHED"
    assert request["externalModelEndpoints"] == ["sagemaker-endpoint"]
    assert [(m["modelId"], m["modelVersionNumber"]) for m in request["modelVersions"]] == [
        ("other", "3.0"),
        ("m", "1.02"),
    ]


def test_a_local_folder_with_compressed_files(tmp_path: Path) -> None:
    """A folder inside an allowed root; gzip and xz files are read as they are."""
    settings = Settings.load(data_dir=tmp_path / "data", environ={"FRAUDHAWK_PIPELINE_SCAN_INTERVAL": SCAN})
    inbox = settings.data_dir / "files" / "inbox"
    inbox.mkdir(parents=True)
    service = Service(settings)
    try:
        no_ids = {k: v for k, v in TRANSFORM.items() if k != "eventId"}
        entry = {"name": "inbox", "source": str(inbox), "transform": no_ids, "action": {"import": {"eventType": "t"}}}
        declared.put_pipeline(service.db, settings, entry)
        raw = tmp_path / "raw.csv"
        datagen.kaggle_transactions(raw, cards=10, days=3, seed=1)
        (tmp_path / "a.csv.gz").write_bytes(gzip.compress(raw.read_bytes()))
        (tmp_path / "b.csv.xz").write_bytes(lzma.compress(raw.read_bytes()))
        for name in ("a.csv.gz", "b.csv.xz"):
            shutil.copyfile(tmp_path / name, inbox / f".{name}.part")
            (inbox / f".{name}.part").rename(inbox / name)
        done = ended_runs(service.db, "inbox", 2)
        assert sorted(r["file"] for r in done) == ["a.csv.gz", "b.csv.xz"]
        rows = {r["result"]["transformed"]["rows"] for r in done}
        assert rows == {sum(1 for _ in raw.open()) - 1}
        assert all(r["result"]["imported"]["stored"] == r["result"]["transformed"]["rows"] for r in done)
    finally:
        service.close()


def test_cancelling_a_run_cancels_its_training(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", environ={"FRAUDHAWK_PIPELINE_SCAN_INTERVAL": SCAN})
    service = Service(settings)
    try:
        declared.put_pipeline(service.db, settings, PIPELINES[0])
        raw = tmp_path / "raw.csv"
        datagen.kaggle_transactions(raw, cards=1000, days=60, seed=3)  # trains for long enough to be stopped
        assert settings.s3_root is not None
        (settings.s3_root / BUCKET / "glue_transformed").mkdir(parents=True)
        shutil.copyfile(raw, settings.s3_root / BUCKET / "glue_transformed" / "fraudTrain.csv")
        (run,) = wait_for(
            "training to start",
            lambda: [r for r in runs.list_runs(service.db) if r["stage"] == "train-wait"],
            service.db,
        )
        assert runs.cancel(service.db, run["runId"]) in (runs.RUNNING, runs.WAITING)
        (ended,) = wait_for(
            "the run to end",
            lambda: [r for r in runs.list_runs(service.db) if r["status"] not in runs.ACTIVE],
            service.db,
        )
        assert (ended["status"], ended["detail"]) == (runs.CANCELLED, None)
        # the training it started was asked to stop: it does at its next beat
        query = {"modelId": "cc_model", "modelType": "ONLINE_FRAUD_INSIGHTS"}
        versions = wait_for(
            "the training to stop",
            lambda: [
                (v["modelVersionNumber"], v["status"])
                for v in service.call("DescribeModelVersions", query)["modelVersionDetails"]
                if v["status"] != "TRAINING_IN_PROGRESS"
            ],
            service.db,
        )
        assert versions == [("1.0", "TRAINING_CANCELLED")]
        assert not (settings.data_dir / "files" / "pipelines" / run["runId"]).exists()
    finally:
        service.close()
