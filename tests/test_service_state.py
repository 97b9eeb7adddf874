"""What a service keeps between requests (loaded models, detector plans, entity histories) is its
own: two services in one process, on two data directories holding models and detectors of the same
names, each answer as their own store says."""

from __future__ import annotations

import csv
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import fraudhawk
from fraudhawk import datagen
from fraudhawk.settings import Settings

TFI = "TRANSACTION_FRAUD_INSIGHTS"
MODEL = {"modelId": "card_model", "modelType": TFI, "modelVersionNumber": "1.0"}


def _wait(client: Any, wanted: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = client.get_model_version(**MODEL)["status"]
        if status == wanted:
            return
        assert status not in ("ERROR", "TRAINING_CANCELLED"), status
        time.sleep(0.1)
    raise AssertionError(f"card_model never reached {wanted}")


def _prepare(data_dir: Path, fraud: str, legit: str) -> None:
    """A store with card payments, an ACTIVE TFI model `card_model` trained on them with `fraud` as the
    fraud label, and an ACTIVE detector `cards` using it."""
    files = data_dir / "files"
    files.mkdir(parents=True)
    datagen.transactions(files / "txn.csv", cards=60, days=40, seed=4, fraud_share=0.3)
    with fraudhawk.Client(settings=Settings.load(data_dir=data_dir, environ={})) as client:
        datagen.declare_transactions(client, "payment")
        client.create_batch_import_job(
            jobId="payments",
            inputPath=str(files / "txn.csv"),
            outputPath=str(files),
            eventTypeName="payment",
            iamRoleArn="arn:aws:iam::123456789012:role/afd",
        )
        deadline = time.monotonic() + 120
        while client.get_batch_import_jobs(jobId="payments")["batchImports"][0]["status"] != "COMPLETE":
            assert time.monotonic() < deadline, "the import did not finish"
            time.sleep(0.05)
        client.create_model(modelId="card_model", modelType=TFI, eventTypeName="payment")
        client.create_model_version(
            modelId="card_model",
            modelType=TFI,
            trainingDataSource="INGESTED_EVENTS",
            trainingDataSchema={
                "modelVariables": list(datagen.TRANSACTION_VARIABLES),
                "labelSchema": {"labelMapper": {"FRAUD": [fraud], "LEGIT": [legit]}},
            },
            ingestedEventsDetail={
                "ingestedEventsTimeWindow": {"startTime": "2020-01-01T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}
            },
        )
        _wait(client, "TRAINING_COMPLETE")
        client.update_model_version_status(**MODEL, status="ACTIVE")
        _wait(client, "ACTIVE")
        client.put_outcome(name="review")
        client.put_detector(detectorId="cards", eventTypeName="payment")
        rule = client.create_rule(
            ruleId="risky",
            detectorId="cards",
            expression="$card_model_insightscore > 500",
            language="DETECTORPL",
            outcomes=["review"],
        )["rule"]
        client.create_detector_version(detectorId="cards", rules=[rule], modelVersions=[MODEL])
        client.update_detector_version_status(detectorId="cards", detectorVersionId="1", status="ACTIVE")


def _generation(data_dir: Path) -> int:
    with closing(sqlite3.connect(data_dir / "fraudhawk.db")) as db:
        return int(db.execute("SELECT value FROM catalog_generation").fetchone()[0])


def _same_generation(first: Path, second: Path) -> None:
    """Bring both stores to the same catalog generation, which a plan is checked against: the worst
    case for a plan held on behalf of the wrong store. Each change of a variable raises it by one."""
    behind, gap = (first, _generation(second) - _generation(first))
    if gap < 0:
        behind, gap = second, -gap
    with fraudhawk.Client(settings=Settings.load(data_dir=behind, environ={})) as client:
        for change in range(gap):
            client.update_variable(name="amt", description=f"change {change}")
    assert _generation(first) == _generation(second)


def _card_events(data_dir: Path) -> list[dict[str, str]]:
    """After every stored event, on the card of the last one: its usual purchase, a burst of large
    night-time purchases from a new address (as its fraud looks), then its usual purchase again."""
    with (data_dir / "files" / "txn.csv").open(newline="") as source:
        last = list(csv.DictReader(source))[-1]
    day = datetime.fromisoformat(last["EVENT_TIMESTAMP"].replace("Z", "+00:00")).replace(hour=0, minute=0, second=0)
    usual = {name: last[name] for name in datagen.TRANSACTION_VARIABLES}
    stolen = {**usual, "amt": "900.00", "category": "shopping_net", "ip_address": "33.44.55.66"}
    plan = [(36, usual), (50, {**stolen, "merchant": "merchant_140"}), (51, {**stolen, "merchant": "merchant_141"})]
    plan += [(52, {**stolen, "merchant": "merchant_142"}), (60, usual)]
    return [
        {**values, "EVENT_ID": f"t{index}", "ENTITY_ID": last["ENTITY_ID"], "EVENT_TIMESTAMP": _iso(day, hours)}
        for index, (hours, values) in enumerate(plan)
    ]


def _iso(day: datetime, hours: int) -> str:
    return (day + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _predict(client: Any, row: dict[str, str]) -> tuple[float, list[str]]:
    """The event's prediction: with ingestion, the event also advances the card's stored history."""
    result = client.get_event_prediction(
        detectorId="cards",
        eventId=row["EVENT_ID"],
        eventTypeName="payment",
        eventTimestamp=row["EVENT_TIMESTAMP"],
        entities=[{"entityType": "card", "entityId": row["ENTITY_ID"]}],
        eventVariables={name: row[name] for name in datagen.TRANSACTION_VARIABLES},
    )
    score = result["modelScores"][0]["scores"]["card_model_insightscore"]
    return score, [rule["ruleId"] for rule in result["ruleResults"] if rule["outcomes"]]


def _answers(
    data_dir: Path, rows: list[dict[str, str]], alongside: Callable[[int], None] = lambda _: None
) -> list[Any]:
    with fraudhawk.Client(settings=Settings.load(data_dir=data_dir, environ={})) as client:
        found = []
        for index, row in enumerate(rows):
            found.append(_predict(client, row))
            alongside(index)
        return found


def test_two_services_in_one_process_keep_their_own_models_plans_and_histories(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _prepare(first, fraud="fraud", legit="legit")
    _prepare(second, fraud="legit", legit="fraud")  # the same names and events, the opposite model
    _same_generation(first, second)
    # what each store answers with no other service in the process, on copies taken before any prediction
    shutil.copytree(first, tmp_path / "first_alone")
    shutil.copytree(second, tmp_path / "second_alone")
    rows = _card_events(first)
    first_alone = _answers(tmp_path / "first_alone", rows)
    second_alone = _answers(tmp_path / "second_alone", rows)
    assert len({score for score, _ in first_alone}) > 1  # the burst stands out from the card's history
    assert [score for score, _ in first_alone] != [score for score, _ in second_alone]

    # both services at once, each event sent to one then the other: the same answers, to the bit
    with fraudhawk.Client(settings=Settings.load(data_dir=second, environ={})) as other:
        second_together: list[Any] = []
        first_together = _answers(first, rows, lambda index: second_together.append(_predict(other, rows[index])))
    assert first_together == first_alone
    assert second_together == second_alone
