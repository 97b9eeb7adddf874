"""The credit-card transaction walk-through AFD users follow (seeds/000), end to end over boto3, in its
order: data uploaded to "S3", resources created, events imported, a model trained (with a minor
version and the "simultaneous training" refusal), its performance read, the model deployed, a
detector with rules activated, real-time predictions, past predictions searched with their
explanations, and a batch prediction of the test file.

S3 is a local folder (`s3_root`): `s3://bucket/key` maps to `<s3_root>/bucket/key`.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fraudhawk import datagen
from fraudhawk.settings import Settings
from tests.helpers import RunningServer, boto_client

BUCKET = "fraud-sample-data"
ROLE = "arn:aws:iam::123456789012:role/FraudDetectorRole"
TFI = "TRANSACTION_FRAUD_INSIGHTS"
MODEL = "cc_fraud_model"
DETECTOR = "cc_detector"
EVENT_TYPE = "credit_card_transaction"


def wait_for(what: str, probe: Callable[[], str], done: set[str], timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = probe()
        if status in done:
            return status
        time.sleep(0.25)
    raise AssertionError(f"{what} did not finish")


class Walkthrough:
    """The walk-through's steps, each as its user runs it against the server."""

    def __init__(self, afd: Any, s3_root: Path) -> None:
        self.afd = afd
        self.s3_root = s3_root
        self.test_file = s3_root / BUCKET / "batch_predict" / "fraudTest.csv"
        self.labels = {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}}
        self.window = {"startTime": "2023-12-01T00:00:00Z", "endTime": "2024-12-31T00:00:00Z"}
        self.expected: dict[str, tuple[float, str]] = {}

    def status_of(self, version: str) -> Callable[[], str]:
        afd = self.afd
        return lambda: str(afd.get_model_version(modelId=MODEL, modelType=TFI, modelVersionNumber=version)["status"])

    def create_resources(self) -> None:
        """The walk-through's CloudFormation stack: variables, labels, entity and event types, outcomes, detector."""
        datagen.declare_transactions(self.afd, EVENT_TYPE)
        for outcome in ("approve", "review", "block"):
            self.afd.put_outcome(name=outcome)
        self.afd.put_detector(detectorId=DETECTOR, eventTypeName=EVENT_TYPE, description="card transactions")

    def import_events(self) -> None:
        afd = self.afd
        afd.create_batch_import_job(
            jobId="import_train",
            inputPath=f"s3://{BUCKET}/input/fraudTrain.csv",
            outputPath=f"s3://{BUCKET}/import_report",
            eventTypeName=EVENT_TYPE,
            iamRoleArn=ROLE,
        )
        wait_for(
            "import",
            lambda: afd.get_batch_import_jobs(jobId="import_train")["batchImports"][0]["status"],
            {"COMPLETE"},
        )

    def train(self) -> None:
        """A major version, then a minor one; a second minor version while one trains is refused."""
        afd = self.afd
        afd.create_model(modelId=MODEL, modelType=TFI, eventTypeName=EVENT_TYPE)
        created = afd.create_model_version(
            modelId=MODEL,
            modelType=TFI,
            trainingDataSource="INGESTED_EVENTS",
            trainingDataSchema={"modelVariables": list(datagen.TRANSACTION_VARIABLES), "labelSchema": self.labels},
            ingestedEventsDetail={"ingestedEventsTimeWindow": self.window},
        )
        assert created["modelVersionNumber"] == "1.0"
        assert wait_for("training", self.status_of("1.0"), {"TRAINING_COMPLETE", "ERROR"}) == "TRAINING_COMPLETE"
        request = {
            "modelId": MODEL,
            "modelType": TFI,
            "majorVersionNumber": "1",
            "ingestedEventsDetail": {"ingestedEventsTimeWindow": self.window},
        }
        assert afd.update_model_version(**request)["modelVersionNumber"] == "1.01"
        try:
            afd.update_model_version(**request)
            refused = ""
        except afd.exceptions.ValidationException as error:  # the walk-through's script catches this type
            refused = str(error)
        if refused:  # unless 1.01 already finished, which a fast machine may manage
            assert "Simultaneous training for the same major version not allowed" in refused
        assert wait_for("training", self.status_of("1.01"), {"TRAINING_COMPLETE", "ERROR"}) == "TRAINING_COMPLETE"

    def read_performance(self) -> None:
        details = self.afd.describe_model_versions(modelId=MODEL, modelType=TFI)["modelVersionDetails"]
        result = {d["modelVersionNumber"]: d for d in details}["1.0"]["trainingResult"]
        assert result["trainingMetrics"]["auc"] > 0.8
        assert result["trainingMetrics"]["metricDataPoints"]
        importance = result["variableImportanceMetrics"]["logOddsMetrics"]
        assert {m["variableName"] for m in importance} <= set(datagen.TRANSACTION_VARIABLES)

    def deploy(self) -> None:
        """The model activated, then a detector version whose rules read its score."""
        afd = self.afd
        afd.update_model_version_status(modelId=MODEL, modelType=TFI, modelVersionNumber="1.0", status="ACTIVE")
        assert wait_for("activation", self.status_of("1.0"), {"ACTIVE"}) == "ACTIVE"
        score = f"${MODEL}_insightscore"
        rules = [
            afd.create_rule(
                ruleId=rule_id, detectorId=DETECTOR, expression=expression, language="DETECTORPL", outcomes=[outcome]
            )["rule"]
            for rule_id, expression, outcome in (
                ("high_risk", f"{score} > 900", "block"),
                ("medium_risk", f"{score} > 600", "review"),
                ("low_risk", f"{score} <= 600", "approve"),
            )
        ]
        version = afd.create_detector_version(
            detectorId=DETECTOR,
            rules=rules,
            modelVersions=[{"modelId": MODEL, "modelType": TFI, "modelVersionNumber": "1.0"}],
            ruleExecutionMode="FIRST_MATCHED",
        )
        assert version["status"] == "DRAFT"
        afd.update_detector_version_status(detectorId=DETECTOR, detectorVersionId="1", status="ACTIVE")

    def predict_in_real_time(self) -> None:
        with self.test_file.open(newline="") as handle:
            rows = list(csv.DictReader(handle))[:25]
        for row in rows:
            answer = self.afd.get_event_prediction(
                detectorId=DETECTOR,
                eventId=row["EVENT_ID"],
                eventTypeName=EVENT_TYPE,
                eventTimestamp=row["EVENT_TIMESTAMP"],
                entities=[{"entityType": "card", "entityId": row["ENTITY_ID"]}],
                eventVariables={name: row[name] for name in datagen.TRANSACTION_VARIABLES if row[name]},
            )
            value = answer["modelScores"][0]["scores"][f"{MODEL}_insightscore"]
            outcome = answer["ruleResults"][0]["outcomes"][0]
            assert outcome == ("block" if value > 900 else "review" if value > 600 else "approve")
            self.expected[row["EVENT_ID"]] = (value, outcome)

    def search_past_predictions(self) -> None:
        afd = self.afd
        found = afd.list_event_predictions(detectorId={"value": DETECTOR}, maxResults=50)["eventPredictionSummaries"]
        assert {s["eventId"] for s in found} == set(self.expected)
        riskiest = max(self.expected, key=lambda event_id: self.expected[event_id][0])
        summary = next(s for s in found if s["eventId"] == riskiest)
        metadata = afd.get_event_prediction_metadata(
            eventId=riskiest,
            eventTypeName=EVENT_TYPE,
            detectorId=DETECTOR,
            detectorVersionId="1",
            predictionTimestamp=summary["predictionTimestamp"],
        )
        assert metadata["outcomes"] == [self.expected[riskiest][1]]
        evaluation = metadata["evaluatedModelVersions"][0]["evaluations"][0]
        assert float(evaluation["evaluationScore"]) == self.expected[riskiest][0]
        explanation = evaluation["predictionExplanations"]
        assert explanation["variableImpactExplanations"] or explanation["aggregatedVariablesImpactExplanations"]

    def predict_in_batch(self) -> None:
        afd = self.afd
        afd.create_batch_prediction_job(
            jobId="batch_test",
            inputPath=f"s3://{BUCKET}/batch_predict/fraudTest.csv",
            outputPath=f"s3://{BUCKET}/batch_output",
            eventTypeName=EVENT_TYPE,
            detectorName=DETECTOR,
            detectorVersion="1",
            iamRoleArn=ROLE,
        )
        wait_for(
            "batch prediction",
            lambda: afd.get_batch_prediction_jobs(jobId="batch_test")["batchPredictions"][0]["status"],
            {"COMPLETE", "FAILED"},
        )
        job = afd.get_batch_prediction_jobs(jobId="batch_test")["batchPredictions"][0]
        with self.test_file.open(newline="") as handle:
            total = sum(1 for _ in csv.DictReader(handle))
        assert job["status"] == "COMPLETE", job
        assert job["processedRecordsCount"] == job["totalRecordsCount"] == total
        outputs = list((self.s3_root / BUCKET / "batch_output").glob("batch_test_*_output.csv"))
        assert len(outputs) == 1
        with outputs[0].open(newline="") as handle:
            scored = list(csv.DictReader(handle))
        assert len(scored) == total
        assert all(row["STATUS"] == "Success" for row in scored)
        assert all(row["OUTCOMES"] in ("block", "review", "approve") for row in scored)
        assert all(MODEL in row["MODEL_SCORES"] for row in scored)


def test_transaction_walkthrough(tmp_path: Path) -> None:
    s3_root = (tmp_path / "s3").resolve()
    (s3_root / BUCKET / "input").mkdir(parents=True)
    (s3_root / BUCKET / "batch_predict").mkdir(parents=True)
    datagen.transactions(s3_root / BUCKET / "input" / "fraudTrain.csv", cards=150, days=90, seed=21, start="2024-01-01")
    datagen.transactions(
        s3_root / BUCKET / "batch_predict" / "fraudTest.csv", cards=150, days=10, seed=22, start="2024-04-01"
    )
    settings = Settings.load(data_dir=tmp_path / "data", s3_root=s3_root, environ={})
    with RunningServer(settings) as server:
        walk = Walkthrough(boto_client(server.url), s3_root)
        walk.create_resources()
        walk.import_events()
        walk.train()
        walk.read_performance()
        walk.deploy()
        walk.predict_in_real_time()
        walk.search_past_predictions()
        walk.predict_in_batch()
