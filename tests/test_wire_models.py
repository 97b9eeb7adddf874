"""Models and model versions over the wire: CreateModel, GetModels, UpdateModel, DeleteModel,
CreateModelVersion, UpdateModelVersion, GetModelVersion, DescribeModelVersions,
UpdateModelVersionStatus and DeleteModelVersion, driven by boto3 against a real server that trains
real models on synthetic data (`fraudhawk.datagen`).

Training runs one version at a time on the server's training worker, so trained versions that a test
only reads are shared through module-scoped fixtures on one module-scoped server (`lab`); tests of
the catalog alone use a fresh server each (`afd`).
"""

from __future__ import annotations

import csv
import itertools
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fraudhawk import datagen
from fraudhawk.settings import Settings
from tests.helpers import RunningServer, boto_client

ACCOUNT = "arn:aws:frauddetector:us-east-1:123456789012"
ROLE = "arn:aws:iam::123456789012:role/FraudDetectorTraining"
OFI = "ONLINE_FRAUD_INSIGHTS"
TFI = "TRANSACTION_FRAUD_INSIGHTS"
ATI = "ACCOUNT_TAKEOVER_INSIGHTS"
REGISTRATION = "registration"  # event type of the OFI models (datagen.registrations)
PAYMENT = "payment"  # event type of the TFI model (datagen.transactions), ingestion ENABLED
LABELS = ("fraud", "legit")
MAPPER = {"FRAUD": ["fraud"], "LEGIT": ["legit"]}
REG_VARIABLES = list(datagen.REGISTRATION_VARIABLES)
TX_VARIABLES = list(datagen.TRANSACTION_VARIABLES)
BUCKET = "training-data"
TRAINING = "TRAINING_IN_PROGRESS"
COMPLETE = "TRAINING_COMPLETE"
TRAIN_TIMEOUT = 120.0
STATUS_TIMEOUT = 60.0
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DEFAULTS = {"STRING": "unknown", "FLOAT": "0.0", "INTEGER": "0"}


# --- helpers ---------------------------------------------------------------------------------------


def setup_catalog(afd: Any) -> None:
    """Entity types, labels, the variables of both generators and the two event types."""
    afd.put_entity_type(name="customer")
    afd.put_entity_type(name="card")
    for label in LABELS:
        afd.put_label(name=label)
    variables = {**datagen.REGISTRATION_VARIABLES, **datagen.TRANSACTION_VARIABLES}
    for name, (data_type, variable_type) in variables.items():
        afd.create_variable(
            name=name,
            dataType=data_type,
            dataSource="EVENT",
            defaultValue=DEFAULTS[data_type],
            variableType=variable_type,
        )
    afd.put_event_type(name=REGISTRATION, eventVariables=REG_VARIABLES, labels=list(LABELS), entityTypes=["customer"])
    afd.put_event_type(
        name=PAYMENT, eventVariables=TX_VARIABLES, labels=list(LABELS), entityTypes=["card"], eventIngestion="ENABLED"
    )


def model_arn(model_type: str, model_id: str) -> str:
    return f"{ACCOUNT}:model/{model_type}/{model_id}"


def schema(variables: list[str] | None = None, treatment: str | None = None) -> dict[str, Any]:
    label_schema: dict[str, Any] = {"labelMapper": MAPPER}
    if treatment is not None:
        label_schema["unlabeledEventsTreatment"] = treatment
    return {"modelVariables": REG_VARIABLES if variables is None else variables, "labelSchema": label_schema}


def external(location: str | Path) -> dict[str, str]:
    return {"dataLocation": str(location), "dataAccessRoleArn": ROLE}


def create_version(
    afd: Any,
    model_id: str,
    location: str | Path,
    model_type: str = OFI,
    variables: list[str] | None = None,
    treatment: str | None = None,
) -> dict[str, Any]:
    """CreateModelVersion on EXTERNAL_EVENTS; returns the response."""
    answer: dict[str, Any] = afd.create_model_version(
        modelId=model_id,
        modelType=model_type,
        trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema=schema(variables, treatment),
        externalEventsDetail=external(location),
    )
    return answer


def get_version(afd: Any, model_id: str, version: str, model_type: str = OFI) -> dict[str, Any]:
    answer: dict[str, Any] = afd.get_model_version(modelId=model_id, modelType=model_type, modelVersionNumber=version)
    return answer


def wait_version(afd: Any, model_id: str, version: str, model_type: str = OFI) -> dict[str, Any]:
    """Poll GetModelVersion until the version leaves TRAINING_IN_PROGRESS."""
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while True:
        answer = get_version(afd, model_id, version, model_type)
        if answer["status"] != TRAINING:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{model_id} {version} still {TRAINING} after {TRAIN_TIMEOUT} s")
        time.sleep(0.1)


def wait_status(afd: Any, model_id: str, version: str, wanted: str, model_type: str = OFI) -> list[str]:
    """Poll GetModelVersion until the status is `wanted`; returns the statuses seen, in order."""
    deadline = time.monotonic() + STATUS_TIMEOUT
    seen: list[str] = []
    while True:
        status = get_version(afd, model_id, version, model_type)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == wanted:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"{model_id} {version} went through {seen}, never {wanted}")
        time.sleep(0.02)


def training_step(settings: Settings, model_id: str) -> tuple[str, str | None, str | None]:
    """(status, progress, owner) of `model_id` 1.0, read from the server's SQLite file: the wire does
    not say whether a worker has taken a training up or which step it is on."""
    database = settings.database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT status, progress, owner FROM model_versions WHERE model_id = ? AND major = 1 AND minor = 0",
            (model_id,),
        ).fetchone()
    assert row is not None, model_id
    return row[0], row[1], row[2]


def wait_step(settings: Settings, model_id: str, ready: Callable[[str | None, str | None], bool]) -> str:
    """Poll the store until `ready(progress, owner)` holds or the training ended; returns the status."""
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while True:
        status, progress, owner = training_step(settings, model_id)
        if status != TRAINING or ready(progress, owner):
            return status
        assert time.monotonic() < deadline, f"{model_id} 1.0 still at {progress!r} after {TRAIN_TIMEOUT} s"
        time.sleep(0.005)


def describe(afd: Any, model_id: str, version: str, model_type: str = OFI) -> dict[str, Any]:
    details = afd.describe_model_versions(modelId=model_id, modelVersionNumber=version, modelType=model_type)[
        "modelVersionDetails"
    ]
    assert len(details) == 1
    detail: dict[str, Any] = details[0]
    assert detail["modelVersionNumber"] == version
    return detail


def train(afd: Any, model_id: str, location: str | Path, **extra: Any) -> dict[str, Any]:
    """A new OFI model on the registration event type with one version trained on `location`; returns
    the version's final DescribeModelVersions detail."""
    afd.create_model(modelId=model_id, modelType=OFI, eventTypeName=REGISTRATION)
    assert create_version(afd, model_id, location, **extra)["modelVersionNumber"] == "1.0"
    wait_version(afd, model_id, "1.0")
    return describe(afd, model_id, "1.0")


def file_messages(detail: dict[str, Any], kind: str) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = detail["trainingResult"]["dataValidationMetrics"]["fileLevelMessages"]
    return [m for m in messages if m["type"] == kind]


def field_messages(detail: dict[str, Any], kind: str) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = detail["trainingResult"]["dataValidationMetrics"]["fieldLevelMessages"]
    return [m for m in messages if m["type"] == kind]


def instant(text: str) -> datetime:
    assert ISO_UTC.match(text), text
    return datetime.fromisoformat(text).astimezone(UTC)


def rewrite(source: Path, target: Path, change: Callable[[int, dict[str, str]], None]) -> Path:
    """Copy a CSV, letting `change(index, row)` edit each data row in place."""
    with source.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    for index, row in enumerate(rows):
        change(index, row)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return target


def few_fraud_csv(target: Path) -> Path:
    """600 registrations of which only 5 are fraud."""
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = target.with_suffix(".raw.csv")
    datagen.registrations(raw, events=600, seed=11, fraud_rate=0.0)

    def change(index: int, row: dict[str, str]) -> None:
        row["EVENT_LABEL"] = "fraud" if index % 120 == 50 else "legit"

    return rewrite(raw, target, change)


def version_numbers(details: list[dict[str, Any]]) -> list[str]:
    return [detail["modelVersionNumber"] for detail in details]


# --- the module's server and its trained versions ---------------------------------------------------


@dataclass
class Lab:
    """A server for the whole module, with the catalog set up and training files in place."""

    afd: Any
    settings: Settings
    files: Path  # data_dir/files: plain paths here are allowed
    s3_root: Path
    registrations: str  # s3:// URL of 3000 labelled registrations
    registrations_again: str  # s3:// URL of another 3000 (for UpdateModelVersion)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("models")
    s3_root = (base / "s3").resolve()
    (s3_root / BUCKET).mkdir(parents=True)
    settings = Settings.load(data_dir=base / "data", s3_root=s3_root, environ={})
    files = settings.data_dir / "files"
    files.mkdir(parents=True)
    datagen.registrations(s3_root / BUCKET / "registrations.csv", events=3000, seed=1)
    datagen.registrations(s3_root / BUCKET / "registrations-2.csv", events=3000, seed=2)
    with RunningServer(settings) as running:
        afd = boto_client(running.url)
        setup_catalog(afd)
        yield Lab(
            afd,
            settings,
            files,
            s3_root,
            f"s3://{BUCKET}/registrations.csv",
            f"s3://{BUCKET}/registrations-2.csv",
        )


@pytest.fixture(scope="module")
def big_csv(lab: Lab) -> Path:
    """About 54,000 card transactions: long enough to train that a test can act while it trains."""
    path = lab.files / "big-transactions.csv"
    datagen.transactions(path, cards=400, days=60, seed=5)
    return path


@dataclass
class Trained:
    """The shared OFI model: 1.0 and 2.0 from CreateModelVersion, 1.01 from UpdateModelVersion."""

    model_id: str
    first: dict[str, Any]  # CreateModelVersion's response for 1.0
    second: dict[str, Any]  # ... for 2.0
    update: dict[str, Any]  # UpdateModelVersion's response for 1.01
    finals: dict[str, dict[str, Any]]  # version -> GetModelVersion once training ended


@pytest.fixture(scope="module")
def trained(lab: Lab) -> Trained:
    afd = lab.afd
    model_id = "signup_model"
    afd.create_model(modelId=model_id, modelType=OFI, eventTypeName=REGISTRATION, description="sign-ups")
    first = create_version(afd, model_id, lab.registrations)
    finals = {"1.0": wait_version(afd, model_id, "1.0")}
    second = create_version(afd, model_id, lab.registrations)
    finals["2.0"] = wait_version(afd, model_id, "2.0")
    update: dict[str, Any] = afd.update_model_version(
        modelId=model_id,
        modelType=OFI,
        majorVersionNumber="1",
        externalEventsDetail=external(lab.registrations_again),
    )
    finals["1.01"] = wait_version(afd, model_id, "1.01")
    return Trained(model_id, first, second, update, finals)


@pytest.fixture(scope="module")
def failed(lab: Lab) -> str:
    """A model whose 1.0 has too little fraud and whose 2.0 has fraud only early on: both ERROR."""
    afd = lab.afd
    model_id = "failing_model"
    few = few_fraud_csv(lab.files / "few-fraud.csv")
    raw = lab.files / "unstable.raw.csv"
    datagen.registrations(raw, events=3000, seed=3, fraud_rate=0.1)

    def change(index: int, row: dict[str, str]) -> None:
        if index >= 1500 and row["EVENT_LABEL"] == "fraud":
            row["EVENT_LABEL"] = "legit"  # rows are in time order: no fraud in the second half

    unstable = rewrite(raw, lab.files / "unstable.csv", change)
    afd.create_model(modelId=model_id, modelType=OFI, eventTypeName=REGISTRATION)
    create_version(afd, model_id, few)
    create_version(afd, model_id, unstable)
    wait_version(afd, model_id, "1.0")
    wait_version(afd, model_id, "2.0")
    return model_id


# --- CreateModel -------------------------------------------------------------------------------------


def test_create_model_creates_its_score_variable(afd: Any) -> None:
    setup_catalog(afd)
    answer = afd.create_model(modelId="fraud_model", modelType=OFI, eventTypeName=REGISTRATION, description="d")
    assert set(answer) == {"ResponseMetadata"}
    model = afd.get_models(modelId="fraud_model")["models"][0]
    assert model["modelId"] == "fraud_model"
    assert model["modelType"] == OFI
    assert model["eventTypeName"] == REGISTRATION
    assert model["description"] == "d"
    assert model["arn"] == model_arn(OFI, "fraud_model")
    assert instant(model["createdTime"]) == instant(model["lastUpdatedTime"])
    variables = afd.get_variables(name="fraud_model_insightscore")["variables"]
    assert len(variables) == 1
    variable = variables[0]
    assert variable["name"] == "fraud_model_insightscore"
    assert variable["dataSource"] == "MODEL_SCORE"
    assert variable["dataType"] == "FLOAT"
    assert variable["arn"] == f"{ACCOUNT}:variable/fraud_model_insightscore"


def test_create_model_for_an_unknown_event_type_is_refused(afd: Any) -> None:
    setup_catalog(afd)
    with pytest.raises(afd.exceptions.ValidationException, match="no_such_type"):
        afd.create_model(modelId="orphan_model", modelType=OFI, eventTypeName="no_such_type")
    assert afd.get_models()["models"] == []
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_variables(name="orphan_model_insightscore")


def test_create_model_with_a_used_id_is_refused(afd: Any) -> None:
    setup_catalog(afd)
    afd.create_model(modelId="fraud_model", modelType=OFI, eventTypeName=REGISTRATION, description="first")
    with pytest.raises(afd.exceptions.ValidationException, match="fraud_model"):
        afd.create_model(modelId="fraud_model", modelType=OFI, eventTypeName=REGISTRATION, description="second")
    with pytest.raises(afd.exceptions.ValidationException, match="fraud_model"):
        afd.create_model(modelId="fraud_model", modelType=TFI, eventTypeName=PAYMENT)
    models = afd.get_models()["models"]
    assert [(m["modelId"], m["modelType"], m["description"]) for m in models] == [("fraud_model", OFI, "first")]


def test_model_tags_are_on_the_model_arn(afd: Any) -> None:
    setup_catalog(afd)
    afd.create_model(
        modelId="tagged_model",
        modelType=TFI,
        eventTypeName=PAYMENT,
        tags=[{"key": "team", "value": "risk"}, {"key": "env", "value": "test"}],
    )
    arn = model_arn(TFI, "tagged_model")
    assert afd.get_models(modelId="tagged_model")["models"][0]["arn"] == arn

    def tags() -> dict[str, str]:
        return {tag["key"]: tag["value"] for tag in afd.list_tags_for_resource(resourceARN=arn)["tags"]}

    assert tags() == {"team": "risk", "env": "test"}
    afd.tag_resource(resourceARN=arn, tags=[{"key": "team", "value": "fraud"}])
    afd.untag_resource(resourceARN=arn, tagKeys=["env"])
    assert tags() == {"team": "fraud"}
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=model_arn(OFI, "tagged_model"))
    afd.delete_model(modelId="tagged_model", modelType=TFI)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=arn)


# --- GetModels, UpdateModel, DeleteModel -------------------------------------------------------------


def test_get_models_by_id_and_by_type(afd: Any) -> None:
    setup_catalog(afd)
    afd.create_model(modelId="ofi_one", modelType=OFI, eventTypeName=REGISTRATION)
    afd.create_model(modelId="ofi_two", modelType=OFI, eventTypeName=REGISTRATION)
    afd.create_model(modelId="tfi_one", modelType=TFI, eventTypeName=PAYMENT)
    one = afd.get_models(modelId="tfi_one")["models"]
    assert [(m["modelId"], m["modelType"], m["eventTypeName"]) for m in one] == [("tfi_one", TFI, PAYMENT)]
    assert "nextToken" not in afd.get_models(modelId="tfi_one")
    by_type = afd.get_models(modelType=OFI)["models"]
    assert sorted(m["modelId"] for m in by_type) == ["ofi_one", "ofi_two"]
    assert all(m["modelType"] == OFI for m in by_type)
    assert [m["modelId"] for m in afd.get_models(modelType=TFI)["models"]] == ["tfi_one"]
    assert afd.get_models(modelType=ATI)["models"] == []
    assert sorted(m["modelId"] for m in afd.get_models()["models"]) == ["ofi_one", "ofi_two", "tfi_one"]


def test_get_models_pages_cover_every_model_once(afd: Any) -> None:
    setup_catalog(afd)
    names = [f"model_{i:02d}" for i in (7, 3, 11, 0, 5, 9, 1, 12, 4, 8, 2, 10, 6)]
    for index, name in enumerate(names):
        model_type, event_type = (OFI, REGISTRATION) if index % 3 else (TFI, PAYMENT)
        afd.create_model(modelId=name, modelType=model_type, eventTypeName=event_type)
    for size in range(1, 11):
        seen: list[str] = []
        token: str | None = None
        pages = 0
        while True:
            kwargs: dict[str, Any] = {"maxResults": size}
            if token:
                kwargs["nextToken"] = token
            answer = afd.get_models(**kwargs)
            assert len(answer["models"]) <= size
            seen += [m["modelId"] for m in answer["models"]]
            pages += 1
            token = answer.get("nextToken")
            if not token:
                break
            assert pages <= len(names)
        assert sorted(seen) == sorted(names), f"maxResults {size}"
        assert len(seen) == len(names), f"maxResults {size} repeats a model"
        assert pages == -(-len(names) // size), f"maxResults {size}"
    assert len(afd.get_models()["models"]) == 10  # the default page


def test_get_models_of_an_unknown_id_is_not_found(afd: Any) -> None:
    setup_catalog(afd)
    afd.create_model(modelId="real_model", modelType=OFI, eventTypeName=REGISTRATION)
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="ghost_model"):
        afd.get_models(modelId="ghost_model")


def test_update_model_changes_the_description(afd: Any) -> None:
    setup_catalog(afd)
    afd.create_model(modelId="fraud_model", modelType=OFI, eventTypeName=REGISTRATION, description="before")
    before = afd.get_models(modelId="fraud_model")["models"][0]
    time.sleep(0.01)
    assert set(afd.update_model(modelId="fraud_model", modelType=OFI, description="after")) == {"ResponseMetadata"}
    after = afd.get_models(modelId="fraud_model")["models"][0]
    assert after["description"] == "after"
    assert after["createdTime"] == before["createdTime"]
    assert instant(after["lastUpdatedTime"]) > instant(before["lastUpdatedTime"])
    assert {k: v for k, v in after.items() if k not in ("description", "lastUpdatedTime")} == {
        k: v for k, v in before.items() if k not in ("description", "lastUpdatedTime")
    }


def test_update_model_of_an_unknown_model_or_another_type_is_not_found(afd: Any) -> None:
    setup_catalog(afd)
    afd.create_model(modelId="fraud_model", modelType=OFI, eventTypeName=REGISTRATION, description="kept")
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="ghost_model"):
        afd.update_model(modelId="ghost_model", modelType=OFI, description="x")
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="fraud_model"):
        afd.update_model(modelId="fraud_model", modelType=TFI, description="x")
    assert afd.get_models(modelId="fraud_model")["models"][0]["description"] == "kept"


def test_delete_model_is_idempotent(afd: Any) -> None:
    setup_catalog(afd)
    afd.create_model(modelId="fraud_model", modelType=OFI, eventTypeName=REGISTRATION)
    afd.delete_model(modelId="never_created", modelType=OFI)
    afd.delete_model(modelId="fraud_model", modelType=OFI)
    afd.delete_model(modelId="fraud_model", modelType=OFI)
    assert afd.get_models()["models"] == []
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_variables(name="fraud_model_insightscore")
    # the id and its score variable can be used again
    afd.create_model(modelId="fraud_model", modelType=TFI, eventTypeName=PAYMENT)
    assert afd.get_models(modelId="fraud_model")["models"][0]["modelType"] == TFI


def test_delete_model_conflicts_while_it_has_versions(afd: Any, settings: Settings) -> None:
    setup_catalog(afd)
    afd.create_model(modelId="fraud_model", modelType=OFI, eventTypeName=REGISTRATION)
    location = few_fraud_csv(settings.data_dir / "files" / "few.csv")
    create_version(afd, "fraud_model", location)
    with pytest.raises(afd.exceptions.ConflictException, match="fraud_model"):
        afd.delete_model(modelId="fraud_model", modelType=OFI)
    assert wait_version(afd, "fraud_model", "1.0")["status"] == "ERROR"
    with pytest.raises(afd.exceptions.ConflictException, match="fraud_model"):
        afd.delete_model(modelId="fraud_model", modelType=OFI)
    assert afd.get_models(modelId="fraud_model")["models"][0]["modelId"] == "fraud_model"
    assert afd.get_variables(name="fraud_model_insightscore")["variables"][0]["dataSource"] == "MODEL_SCORE"
    afd.delete_model_version(modelId="fraud_model", modelType=OFI, modelVersionNumber="1.0")
    afd.delete_model(modelId="fraud_model", modelType=OFI)
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="fraud_model"):
        afd.get_models(modelId="fraud_model")
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="fraud_model_insightscore"):
        afd.get_variables(name="fraud_model_insightscore")


def test_delete_event_type_conflicts_while_a_model_uses_it(afd: Any) -> None:
    setup_catalog(afd)
    afd.create_model(modelId="fraud_model", modelType=OFI, eventTypeName=REGISTRATION)
    with pytest.raises(afd.exceptions.ConflictException, match="fraud_model"):
        afd.delete_event_type(name=REGISTRATION)
    assert afd.get_event_types(name=REGISTRATION)["eventTypes"][0]["name"] == REGISTRATION
    afd.delete_model(modelId="fraud_model", modelType=OFI)
    afd.delete_event_type(name=REGISTRATION)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_event_types(name=REGISTRATION)


# --- CreateModelVersion and UpdateModelVersion: training -------------------------------------------


def test_create_model_version_trains_an_ofi_model(lab: Lab, trained: Trained) -> None:
    afd = lab.afd
    model_id = trained.model_id
    answer = trained.first
    assert {k: v for k, v in answer.items() if k != "ResponseMetadata"} == {
        "modelId": model_id,
        "modelType": OFI,
        "modelVersionNumber": "1.0",
        "status": TRAINING,
    }
    final = trained.finals["1.0"]
    assert final["status"] == COMPLETE
    version = get_version(afd, model_id, "1.0")
    assert {k: v for k, v in version.items() if k != "ResponseMetadata"} == {
        "modelId": model_id,
        "modelType": OFI,
        "modelVersionNumber": "1.0",
        "trainingDataSource": "EXTERNAL_EVENTS",
        "trainingDataSchema": schema(),
        "externalEventsDetail": external(lab.registrations),
        "status": COMPLETE,
        "arn": f"{ACCOUNT}:model-version/{OFI}/{model_id}/1.0",
    }
    detail = describe(afd, model_id, "1.0")
    assert detail["status"] == COMPLETE
    assert instant(detail["createdTime"]) < instant(detail["lastUpdatedTime"])
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match=model_id):
        get_version(afd, model_id, "9.0")


def test_training_metrics_cover_every_threshold(lab: Lab, trained: Trained) -> None:
    metrics = describe(lab.afd, trained.model_id, "1.0")["trainingResult"]["trainingMetrics"]
    assert 0.5 <= metrics["auc"] <= 1.0
    points = sorted(metrics["metricDataPoints"], key=lambda p: p["threshold"])
    assert len(points) >= 100
    for point in points:
        assert set(point) == {"fpr", "tpr", "precision", "threshold"}
        assert all(0.0 <= point[key] <= 1.0 for key in ("fpr", "tpr", "precision"))
    thresholds = [p["threshold"] for p in points]
    assert thresholds[0] == 0.0
    assert thresholds[-1] == 1000.0
    assert len(set(thresholds)) == len(thresholds)
    for lower, higher in itertools.pairwise(points):
        assert higher["tpr"] <= lower["tpr"], (lower, higher)
        assert higher["fpr"] <= lower["fpr"], (lower, higher)
    assert points[0]["tpr"] == 1.0
    assert points[0]["fpr"] == 1.0


def test_variable_importance_names_the_model_variables(lab: Lab, trained: Trained) -> None:
    detail = describe(lab.afd, trained.model_id, "1.0")
    importance = detail["trainingResult"]["variableImportanceMetrics"]["logOddsMetrics"]
    assert sorted(item["variableName"] for item in importance) == sorted(REG_VARIABLES)
    for item in importance:
        assert item["variableType"] == datagen.REGISTRATION_VARIABLES[item["variableName"]][1]
        assert item["variableImportance"] >= 0.0
    assert max(item["variableImportance"] for item in importance) > 0.0
    assert detail["trainingResultV2"]["variableImportanceMetrics"]["logOddsMetrics"] == importance


def test_training_result_v2_has_ofi_performance_and_validation(lab: Lab, trained: Trained) -> None:
    detail = describe(lab.afd, trained.model_id, "1.0")
    v1, v2 = detail["trainingResult"], detail["trainingResultV2"]
    assert set(v2["trainingMetricsV2"]) == {"ofi"}
    ofi = v2["trainingMetricsV2"]["ofi"]
    performance = ofi["modelPerformance"]
    assert performance["auc"] == v1["trainingMetrics"]["auc"]
    uncertainty = performance["uncertaintyRange"]
    assert 0.0 <= uncertainty["lowerBoundValue"] <= performance["auc"] <= uncertainty["upperBoundValue"] <= 1.0
    assert ofi["metricDataPoints"] == v1["trainingMetrics"]["metricDataPoints"]
    validation = v1["dataValidationMetrics"]
    assert set(validation) == {"fileLevelMessages", "fieldLevelMessages"}
    assert v2["dataValidationMetrics"] == validation
    assert not [m for m in validation["fileLevelMessages"] if m["type"] == "ERROR"]
    for message in validation["fieldLevelMessages"]:
        assert message["fieldName"] in REG_VARIABLES
        assert message["type"] in ("INFO", "WARNING")


def test_second_create_model_version_makes_the_next_major_version(lab: Lab, trained: Trained) -> None:
    assert trained.second["modelVersionNumber"] == "2.0"
    assert trained.second["status"] == TRAINING
    assert trained.finals["2.0"]["status"] == COMPLETE
    assert describe(lab.afd, trained.model_id, "2.0")["trainingResult"]["trainingMetrics"]["auc"] >= 0.5


def test_update_model_version_makes_a_minor_version(lab: Lab, trained: Trained) -> None:
    afd = lab.afd
    assert {k: v for k, v in trained.update.items() if k != "ResponseMetadata"} == {
        "modelId": trained.model_id,
        "modelType": OFI,
        "modelVersionNumber": "1.01",
        "status": TRAINING,
    }
    final = trained.finals["1.01"]
    assert final["status"] == COMPLETE
    assert final["trainingDataSchema"] == get_version(afd, trained.model_id, "1.0")["trainingDataSchema"]
    assert final["trainingDataSource"] == "EXTERNAL_EVENTS"
    assert final["externalEventsDetail"] == external(lab.registrations_again)
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match=trained.model_id):
        afd.update_model_version(
            modelId=trained.model_id,
            modelType=OFI,
            majorVersionNumber="7",
            externalEventsDetail=external(lab.registrations),
        )


# --- CreateModelVersion: refused requests ------------------------------------------------------------


@dataclass
class Case:
    change: Callable[[dict[str, Any], Lab], None]  # edits the CreateModelVersion request
    error: str
    words: tuple[str, ...]  # each must appear in the message


def _drop(body: dict[str, Any], key: str) -> None:
    del body[key]


def _ingested(body: dict[str, Any], start: str, end: str) -> None:
    body["trainingDataSource"] = "INGESTED_EVENTS"
    del body["externalEventsDetail"]
    body["ingestedEventsDetail"] = {"ingestedEventsTimeWindow": {"startTime": start, "endTime": end}}


def _variables(body: dict[str, Any], names: list[str]) -> None:
    body["trainingDataSchema"]["modelVariables"] = names


def _mapper(body: dict[str, Any], mapper: dict[str, list[str]]) -> None:
    body["trainingDataSchema"]["labelSchema"]["labelMapper"] = mapper


REQUEST_ERRORS = {
    "unknown model": Case(lambda b, _: b.update(modelId="ghost_model"), "ResourceNotFoundException", ("ghost_model",)),
    "model of another type": Case(
        lambda b, _: b.update(modelType=TFI), "ResourceNotFoundException", ("checked_model",)
    ),
    "external without detail": Case(
        lambda b, _: _drop(b, "externalEventsDetail"), "ValidationException", ("externalEventsDetail",)
    ),
    "ingested without detail": Case(
        lambda b, _: b.update(trainingDataSource="INGESTED_EVENTS"), "ValidationException", ("ingestedEventsDetail",)
    ),
    "variable of another event type": Case(
        lambda b, _: _variables(b, [*REG_VARIABLES, "amt"]), "ValidationException", ("amt", "modelVariables")
    ),
    "unknown variable": Case(
        lambda b, _: _variables(b, ["email_address", "no_such_variable"]),
        "ValidationException",
        ("no_such_variable",),
    ),
    "mapper without FRAUD": Case(
        lambda b, _: _mapper(b, {"LEGIT": ["legit", "fraud"]}), "ValidationException", ("labelMapper", "FRAUD")
    ),
    "mapper without LEGIT": Case(
        lambda b, _: _mapper(b, {"FRAUD": ["legit", "fraud"]}), "ValidationException", ("labelMapper", "LEGIT")
    ),
    "mapper with another key": Case(
        lambda b, _: _mapper(b, {**MAPPER, "SUSPICIOUS": ["review"]}),
        "ValidationException",
        ("labelMapper", "SUSPICIOUS"),
    ),
    "location outside the roots": Case(
        lambda b, _: b.update(externalEventsDetail=external("/etc/passwd")), "ValidationException", ("dataLocation",)
    ),
    "location escaping the s3 root": Case(
        lambda b, _: b.update(externalEventsDetail=external(f"s3://{BUCKET}/../../../etc/passwd")),
        "ValidationException",
        ("dataLocation",),
    ),
    "missing file": Case(
        lambda b, lab: b.update(externalEventsDetail=external(lab.files / "nothing-here.csv")),
        "ValidationException",
        ("dataLocation", "nothing-here.csv"),
    ),
    "missing s3 object": Case(
        lambda b, _: b.update(externalEventsDetail=external(f"s3://{BUCKET}/nothing-here.csv")),
        "ValidationException",
        ("dataLocation",),
    ),
    "window ends before it starts": Case(
        lambda b, _: _ingested(b, "2024-03-01T00:00:00Z", "2024-02-01T00:00:00Z"),
        "ValidationException",
        ("startTime", "endTime"),
    ),
    "account takeover model on a CSV": Case(
        lambda b, _: b.update(modelId="takeover_model", modelType=ATI),
        "ValidationException",
        (ATI, "INGESTED_EVENTS", "stored events"),
    ),
}


@pytest.fixture(scope="module")
def checked_models(lab: Lab) -> Lab:
    lab.afd.create_model(modelId="checked_model", modelType=OFI, eventTypeName=REGISTRATION)
    lab.afd.create_model(modelId="takeover_model", modelType=ATI, eventTypeName=REGISTRATION)
    return lab


@pytest.mark.parametrize("case", list(REQUEST_ERRORS.values()), ids=list(REQUEST_ERRORS))
def test_create_model_version_refuses_bad_requests(checked_models: Lab, case: Case) -> None:
    lab = checked_models
    afd = lab.afd
    body: dict[str, Any] = {
        "modelId": "checked_model",
        "modelType": OFI,
        "trainingDataSource": "EXTERNAL_EVENTS",
        "trainingDataSchema": schema(),
        "externalEventsDetail": external(lab.registrations),
    }
    case.change(body, lab)
    with pytest.raises(getattr(afd.exceptions, case.error)) as caught:
        afd.create_model_version(**body)
    message = caught.value.response["Error"]["Message"]
    for word in case.words:
        assert word in message, f"{word!r} not in {message!r}"
    for model_id, model_type in (("checked_model", OFI), ("takeover_model", ATI)):
        assert afd.describe_model_versions(modelId=model_id, modelType=model_type)["modelVersionDetails"] == []


def test_update_model_version_is_refused_while_the_major_version_trains(lab: Lab, big_csv: Path) -> None:
    afd = lab.afd
    afd.create_model(modelId="busy_model", modelType=OFI, eventTypeName=PAYMENT)
    answer = create_version(afd, "busy_model", big_csv, variables=TX_VARIABLES)
    assert answer["status"] == TRAINING
    error: Exception | None = None
    try:
        afd.update_model_version(
            modelId="busy_model", modelType=OFI, majorVersionNumber="1", externalEventsDetail=external(big_csv)
        )
    except afd.exceptions.ValidationException as refused:  # AFD's type, as the walk-through shows
        error = refused
    still_training = get_version(afd, "busy_model", "1.0")["status"] == TRAINING
    afd.update_model_version_status(
        modelId="busy_model", modelType=OFI, modelVersionNumber="1.0", status="TRAINING_CANCELLED"
    )
    wait_version(afd, "busy_model", "1.0")
    assert still_training, "the training finished too soon for this test to mean anything"
    assert error is not None, "UpdateModelVersion while its major version trains was not refused"
    assert "Simultaneous training for the same major version not allowed" in str(error)
    versions = afd.describe_model_versions(modelId="busy_model")["modelVersionDetails"]
    assert version_numbers(versions) == ["1.0"]


# --- UpdateModelVersionStatus ------------------------------------------------------------------------


def test_activate_then_deactivate_a_version(lab: Lab) -> None:
    afd = lab.afd
    assert train(afd, "deployed_model", lab.registrations)["status"] == COMPLETE
    afd.update_model_version_status(modelId="deployed_model", modelType=OFI, modelVersionNumber="1.0", status="ACTIVE")
    seen = wait_status(afd, "deployed_model", "1.0", "ACTIVE")
    order = ["ACTIVATE_REQUESTED", "ACTIVATE_IN_PROGRESS", "ACTIVE"]
    assert set(seen) <= set(order), seen
    assert seen == sorted(seen, key=order.index), seen
    assert describe(afd, "deployed_model", "1.0")["status"] == "ACTIVE"
    # asking again changes nothing
    afd.update_model_version_status(modelId="deployed_model", modelType=OFI, modelVersionNumber="1.0", status="ACTIVE")
    assert get_version(afd, "deployed_model", "1.0")["status"] == "ACTIVE"

    afd.update_model_version_status(
        modelId="deployed_model", modelType=OFI, modelVersionNumber="1.0", status="INACTIVE"
    )
    seen = wait_status(afd, "deployed_model", "1.0", COMPLETE)
    order = ["INACTIVATE_REQUESTED", "INACTIVATE_IN_PROGRESS", COMPLETE]
    assert set(seen) <= set(order), seen
    assert seen == sorted(seen, key=order.index), seen
    # and it can be activated again
    afd.update_model_version_status(modelId="deployed_model", modelType=OFI, modelVersionNumber="1.0", status="ACTIVE")
    wait_status(afd, "deployed_model", "1.0", "ACTIVE")


def test_activating_a_failed_version_is_refused(lab: Lab, failed: str) -> None:
    afd = lab.afd
    assert get_version(afd, failed, "1.0")["status"] == "ERROR"
    with pytest.raises(afd.exceptions.ValidationException, match=r"1\.0.*ERROR"):
        afd.update_model_version_status(modelId=failed, modelType=OFI, modelVersionNumber="1.0", status="ACTIVE")
    with pytest.raises(afd.exceptions.ValidationException, match=r"1\.0.*ERROR"):
        afd.update_model_version_status(modelId=failed, modelType=OFI, modelVersionNumber="1.0", status="INACTIVE")
    assert get_version(afd, failed, "1.0")["status"] == "ERROR"


def test_cancelling_a_training_ends_it_cancelled(lab: Lab, big_csv: Path) -> None:
    afd = lab.afd
    afd.create_model(modelId="cancelled_model", modelType=OFI, eventTypeName=PAYMENT)
    create_version(afd, "cancelled_model", big_csv, variables=TX_VARIABLES)
    # cancel once the worker has taken the training up (it is then reading the file)
    assert wait_step(lab.settings, "cancelled_model", lambda _progress, owner: owner is not None) == TRAINING
    afd.update_model_version_status(
        modelId="cancelled_model", modelType=OFI, modelVersionNumber="1.0", status="TRAINING_CANCELLED"
    )
    assert wait_version(afd, "cancelled_model", "1.0")["status"] == "TRAINING_CANCELLED"
    detail = describe(afd, "cancelled_model", "1.0")
    assert detail["status"] == "TRAINING_CANCELLED"
    assert "trainingResult" not in detail
    assert not (lab.settings.data_dir / "models" / "cancelled_model" / "1.0").exists()
    # cancelling again changes nothing
    afd.update_model_version_status(
        modelId="cancelled_model", modelType=OFI, modelVersionNumber="1.0", status="TRAINING_CANCELLED"
    )
    assert get_version(afd, "cancelled_model", "1.0")["status"] == "TRAINING_CANCELLED"
    with pytest.raises(afd.exceptions.ValidationException, match="TRAINING_CANCELLED"):
        afd.update_model_version_status(
            modelId="cancelled_model", modelType=OFI, modelVersionNumber="1.0", status="ACTIVE"
        )


def test_cancelling_a_queued_training_ends_it_cancelled(lab: Lab, big_csv: Path) -> None:
    """A version waiting behind another training is cancelled at once, without a worker."""
    afd = lab.afd
    afd.create_model(modelId="queue_head_model", modelType=OFI, eventTypeName=PAYMENT)
    afd.create_model(modelId="queued_model", modelType=OFI, eventTypeName=PAYMENT)
    create_version(afd, "queue_head_model", big_csv, variables=TX_VARIABLES)
    create_version(afd, "queued_model", big_csv, variables=TX_VARIABLES)
    afd.update_model_version_status(
        modelId="queued_model", modelType=OFI, modelVersionNumber="1.0", status="TRAINING_CANCELLED"
    )
    queued = get_version(afd, "queued_model", "1.0")["status"]
    afd.update_model_version_status(
        modelId="queue_head_model", modelType=OFI, modelVersionNumber="1.0", status="TRAINING_CANCELLED"
    )
    wait_version(afd, "queue_head_model", "1.0")
    assert queued == "TRAINING_CANCELLED"
    assert wait_version(afd, "queued_model", "1.0")["status"] == "TRAINING_CANCELLED"


def test_a_cancel_accepted_late_in_training_is_not_lost(lab: Lab) -> None:
    """UpdateModelVersionStatus(TRAINING_CANCELLED) answers 200 while the version is TRAINING_IN_PROGRESS:
    the training must then end TRAINING_CANCELLED, however close to its end the request came. Small,
    quick trainings are cancelled just after the worker's first look for a cancellation, three times."""
    afd = lab.afd
    path = lab.files / "small-registrations.csv"
    datagen.registrations(path, events=600, seed=9, fraud_rate=0.1)
    cancelled = 0
    for attempt in range(10):
        model_id = f"late_cancel_{attempt}"
        afd.create_model(modelId=model_id, modelType=OFI, eventTypeName=REGISTRATION)
        create_version(afd, model_id, path, variables=["email_address", "billing_state"])
        # "engineering features" is recorded after the worker's first look for a cancellation
        wait_step(lab.settings, model_id, lambda progress, _owner: progress == "engineering features")
        try:
            afd.update_model_version_status(
                modelId=model_id, modelType=OFI, modelVersionNumber="1.0", status="TRAINING_CANCELLED"
            )
        except afd.exceptions.ValidationException:
            wait_version(afd, model_id, "1.0")
            continue  # the training ended before the request came: try again
        status = wait_version(afd, model_id, "1.0")["status"]
        assert status == "TRAINING_CANCELLED", f"the cancellation was accepted, yet {model_id} 1.0 ended {status}"
        cancelled += 1
        if cancelled == 3:
            return
    pytest.fail(f"only {cancelled} of 10 cancellations reached a training in progress")


def test_cancelling_a_complete_version_is_refused(lab: Lab, trained: Trained) -> None:
    afd = lab.afd
    with pytest.raises(afd.exceptions.ValidationException, match=r"2\.0.*TRAINING_COMPLETE"):
        afd.update_model_version_status(
            modelId=trained.model_id, modelType=OFI, modelVersionNumber="2.0", status="TRAINING_CANCELLED"
        )
    assert get_version(afd, trained.model_id, "2.0")["status"] == COMPLETE


def test_status_of_an_unknown_version_is_not_found(lab: Lab, trained: Trained) -> None:
    afd = lab.afd
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match=trained.model_id):
        afd.update_model_version_status(
            modelId=trained.model_id, modelType=OFI, modelVersionNumber="5.0", status="ACTIVE"
        )
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="ghost_model"):
        afd.update_model_version_status(modelId="ghost_model", modelType=OFI, modelVersionNumber="1.0", status="ACTIVE")


# --- data validation -----------------------------------------------------------------------------------


def test_too_little_fraud_ends_in_error(lab: Lab, failed: str) -> None:
    detail = describe(lab.afd, failed, "1.0")
    assert detail["status"] == "ERROR"
    errors = file_messages(detail, "ERROR")
    assert [m["title"] for m in errors] == ["Insufficient data"]
    assert "5 fraud" in errors[0]["content"]
    assert "trainingMetrics" not in detail["trainingResult"]
    assert detail["trainingResultV2"]["dataValidationMetrics"] == detail["trainingResult"]["dataValidationMetrics"]
    assert "trainingMetricsV2" not in detail["trainingResultV2"]


def test_fraud_only_early_in_the_data_ends_in_error(lab: Lab, failed: str) -> None:
    detail = describe(lab.afd, failed, "2.0")
    assert detail["status"] == "ERROR"
    errors = file_messages(detail, "ERROR")
    assert len(errors) == 1
    assert errors[0]["title"].startswith("Unstable fraud rate")
    assert "trainingMetrics" not in detail["trainingResult"]


def test_a_constant_variable_is_left_out_with_a_warning(lab: Lab) -> None:
    source = lab.s3_root / BUCKET / "registrations.csv"

    def change(_index: int, row: dict[str, str]) -> None:
        row["billing_state"] = "CA"

    constant = rewrite(source, lab.files / "constant-state.csv", change)
    detail = train(lab.afd, "constant_model", constant)
    assert detail["status"] == COMPLETE
    warnings = [m for m in field_messages(detail, "WARNING") if m["fieldName"] == "billing_state"]
    assert len(warnings) == 1
    assert "billing_state" in warnings[0]["content"]
    importance = detail["trainingResult"]["variableImportanceMetrics"]["logOddsMetrics"]
    assert sorted(item["variableName"] for item in importance) == sorted(set(REG_VARIABLES) - {"billing_state"})


@pytest.mark.parametrize(("treatment", "use"), [("IGNORE", "left out"), ("LEGIT", "legit"), ("AUTO", "legit")])
def test_unlabeled_events_are_treated_as_asked(lab: Lab, treatment: str, use: str) -> None:
    path = lab.files / "unlabeled.csv"
    if not path.exists():
        datagen.registrations(path, events=3000, seed=4, unlabeled_share=0.3)
    with path.open(newline="") as handle:
        unlabeled = sum(1 for row in csv.DictReader(handle) if not row["EVENT_LABEL"])
    assert 600 < unlabeled < 1200
    model_id = f"unlabeled_{treatment.lower()}"
    detail = train(lab.afd, model_id, path, treatment=treatment)
    assert detail["status"] == COMPLETE
    assert detail["trainingDataSchema"]["labelSchema"]["unlabeledEventsTreatment"] == treatment
    infos = [m for m in file_messages(detail, "INFO") if "unlabeled" in m["title"].lower()]
    assert len(infos) == 1, file_messages(detail, "INFO")
    assert str(unlabeled) in infos[0]["content"]
    assert use in infos[0]["content"]
    assert 0.5 <= detail["trainingResult"]["trainingMetrics"]["auc"] <= 1.0


# --- Transaction Fraud Insights on ingested events -------------------------------------------------


def test_tfi_trains_on_ingested_events(lab: Lab) -> None:
    afd = lab.afd
    path = lab.files / "transactions.csv"
    count = datagen.transactions(path, cards=120, days=60, seed=6)
    afd.create_batch_import_job(
        jobId="payments",
        inputPath=str(path),
        outputPath=str(lab.files / "reports"),
        eventTypeName=PAYMENT,
        iamRoleArn=ROLE,
    )
    deadline = time.monotonic() + 60
    while (job := afd.get_batch_import_jobs(jobId="payments")["batchImports"][0])["status"].startswith("IN_PROGRESS"):
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.05)
    assert job["status"] == "COMPLETE"
    assert job["processedRecordsCount"] == count
    stats = afd.get_event_types(name=PAYMENT)["eventTypes"][0]["ingestedEventStatistics"]
    assert stats["numberOfEvents"] == count
    window = {"startTime": stats["leastRecentEvent"], "endTime": stats["mostRecentEvent"]}

    afd.create_model(modelId="payment_model", modelType=TFI, eventTypeName=PAYMENT)
    answer = afd.create_model_version(
        modelId="payment_model",
        modelType=TFI,
        trainingDataSource="INGESTED_EVENTS",
        trainingDataSchema={"modelVariables": TX_VARIABLES, "labelSchema": {"labelMapper": MAPPER}},
        ingestedEventsDetail={"ingestedEventsTimeWindow": window},
    )
    assert answer["modelVersionNumber"] == "1.0"
    assert answer["status"] == TRAINING
    assert wait_version(afd, "payment_model", "1.0", TFI)["status"] == COMPLETE
    detail = describe(afd, "payment_model", "1.0", TFI)
    assert detail["trainingDataSource"] == "INGESTED_EVENTS"
    assert detail["ingestedEventsDetail"] == {"ingestedEventsTimeWindow": window}
    assert "externalEventsDetail" not in detail
    v2 = detail["trainingResultV2"]
    assert set(v2["trainingMetricsV2"]) == {"tfi"}
    performance = v2["trainingMetricsV2"]["tfi"]["modelPerformance"]
    assert 0.5 <= performance["auc"] <= 1.0
    uncertainty = performance["uncertaintyRange"]
    assert uncertainty["lowerBoundValue"] <= performance["auc"] <= uncertainty["upperBoundValue"]
    assert len(v2["trainingMetricsV2"]["tfi"]["metricDataPoints"]) >= 100
    groups = v2["aggregatedVariablesImportanceMetrics"]["logOddsMetrics"]
    assert groups
    for group in groups:
        assert group["variableNames"]
        assert group["aggregatedVariablesImportance"] >= 0.0
    importance = v2["variableImportanceMetrics"]["logOddsMetrics"]
    for item in importance:
        assert item["variableType"] == datagen.TRANSACTION_VARIABLES[item["variableName"]][1]


# --- DeleteModelVersion ------------------------------------------------------------------------------


def test_delete_model_version_conflicts_while_active_or_training(lab: Lab, big_csv: Path) -> None:
    afd = lab.afd
    assert train(afd, "live_model", lab.registrations)["status"] == COMPLETE
    afd.update_model_version_status(modelId="live_model", modelType=OFI, modelVersionNumber="1.0", status="ACTIVE")
    wait_status(afd, "live_model", "1.0", "ACTIVE")
    with pytest.raises(afd.exceptions.ConflictException, match=r"1\.0.*ACTIVE"):
        afd.delete_model_version(modelId="live_model", modelType=OFI, modelVersionNumber="1.0")
    assert get_version(afd, "live_model", "1.0")["status"] == "ACTIVE"

    afd.create_model(modelId="training_model", modelType=OFI, eventTypeName=PAYMENT)
    create_version(afd, "training_model", big_csv, variables=TX_VARIABLES)
    error: Exception | None = None
    try:
        afd.delete_model_version(modelId="training_model", modelType=OFI, modelVersionNumber="1.0")
    except afd.exceptions.ConflictException as conflict:
        error = conflict
    still_training = get_version(afd, "training_model", "1.0")["status"] == TRAINING
    afd.update_model_version_status(
        modelId="training_model", modelType=OFI, modelVersionNumber="1.0", status="TRAINING_CANCELLED"
    )
    assert still_training, "the training finished too soon for this test to mean anything"
    assert error is not None, "DeleteModelVersion of a training version did not conflict"
    assert TRAINING in str(error)
    # TRAINING_COMPLETE as well: see test_a_cancel_accepted_late_in_training_is_not_lost
    assert wait_version(afd, "training_model", "1.0")["status"] in ("TRAINING_CANCELLED", COMPLETE)
    afd.delete_model_version(modelId="training_model", modelType=OFI, modelVersionNumber="1.0")


def test_delete_model_version_of_complete_and_failed_versions(lab: Lab) -> None:
    afd = lab.afd
    assert train(afd, "retired_model", lab.registrations)["status"] == COMPLETE
    create_version(afd, "retired_model", few_fraud_csv(lab.files / "few-again.csv"))
    assert wait_version(afd, "retired_model", "2.0")["status"] == "ERROR"
    arn = f"{ACCOUNT}:model-version/{OFI}/retired_model/1.0"
    afd.tag_resource(resourceARN=arn, tags=[{"key": "team", "value": "risk"}])
    artifact = lab.settings.data_dir / "models" / "retired_model" / "1.0"
    assert artifact.is_dir()
    for version in ("1.0", "2.0"):
        assert set(afd.delete_model_version(modelId="retired_model", modelType=OFI, modelVersionNumber=version)) == {
            "ResponseMetadata"
        }
        with pytest.raises(afd.exceptions.ResourceNotFoundException, match="retired_model"):
            get_version(afd, "retired_model", version)
    assert afd.describe_model_versions(modelId="retired_model")["modelVersionDetails"] == []
    assert not artifact.exists()
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=arn)
    # the model can go now
    afd.delete_model(modelId="retired_model", modelType=OFI)


def test_delete_model_version_is_idempotent_for_unknown_versions(lab: Lab, trained: Trained) -> None:
    afd = lab.afd
    afd.delete_model_version(modelId=trained.model_id, modelType=OFI, modelVersionNumber="8.0")
    afd.delete_model_version(modelId="ghost_model", modelType=OFI, modelVersionNumber="1.0")
    assert version_numbers(afd.describe_model_versions(modelId=trained.model_id)["modelVersionDetails"]) == [
        "1.0",
        "1.01",
        "2.0",
    ]


# --- DescribeModelVersions ---------------------------------------------------------------------------


def test_describe_model_versions_pages_return_each_version_once(lab: Lab, trained: Trained) -> None:
    afd = lab.afd
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"modelId": trained.model_id, "modelType": OFI, "maxResults": 1}
        if token:
            kwargs["nextToken"] = token
        answer = afd.describe_model_versions(**kwargs)
        assert len(answer["modelVersionDetails"]) <= 1
        seen += version_numbers(answer["modelVersionDetails"])
        pages += 1
        token = answer.get("nextToken")
        if not token:
            break
        assert pages < 10
    assert seen == ["1.0", "1.01", "2.0"]
    # across models, every version of the shared model still comes once
    everything: list[tuple[str, str]] = []
    token = None
    while True:
        kwargs = {"maxResults": 2}
        if token:
            kwargs["nextToken"] = token
        answer = afd.describe_model_versions(**kwargs)
        everything += [(d["modelId"], d["modelVersionNumber"]) for d in answer["modelVersionDetails"]]
        token = answer.get("nextToken")
        if not token:
            break
    assert len(everything) == len(set(everything))
    assert [v for m, v in everything if m == trained.model_id] == ["1.0", "1.01", "2.0"]


def test_describe_model_versions_needs_model_id_with_a_version_number(lab: Lab, trained: Trained) -> None:
    afd = lab.afd
    with pytest.raises(afd.exceptions.ValidationException, match="modelId"):
        afd.describe_model_versions(modelVersionNumber="1.0")
    with pytest.raises(afd.exceptions.ValidationException, match="modelId"):
        afd.describe_model_versions(modelVersionNumber="1.0", modelType=OFI)
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="ghost_model"):
        afd.describe_model_versions(modelId="ghost_model")
    assert describe(afd, trained.model_id, "1.01")["status"] == COMPLETE
