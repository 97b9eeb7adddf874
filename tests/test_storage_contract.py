"""The storage contract: the same behaviour on SQLite and PostgreSQL, through the library client.

Every test runs once per backend (`store_client` is parametrized); the PostgreSQL run needs
FRAUDHAWK_TEST_POSTGRES_URL and skips with that reason otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from fraudhawk import Client
from fraudhawk.errors import ResourceNotFoundError, ValidationError
from fraudhawk.settings import Settings
from fraudhawk.storage.database import Database


def build_catalog(client: Client) -> None:
    client.put_entity_type(name="customer", tags=[{"key": "team", "value": "risk"}])
    client.put_label(name="fraud")
    client.put_label(name="legit")
    client.put_outcome(name="review")
    client.batch_create_variable(
        variableEntries=[
            {
                "name": "email",
                "dataType": "STRING",
                "dataSource": "EVENT",
                "defaultValue": "",
                "variableType": "EMAIL_ADDRESS",
            },
            {
                "name": "amount",
                "dataType": "FLOAT",
                "dataSource": "EVENT",
                "defaultValue": "0.0",
                "variableType": "PRICE",
            },
        ]
    )
    client.put_event_type(
        name="payment", eventVariables=["email", "amount"], labels=["fraud", "legit"], entityTypes=["customer"]
    )
    client.create_list(name="blocked_emails", elements=["a@x.com", "b@x.com"], variableType="EMAIL_ADDRESS")


def test_catalog_round_trip(store_client: Client) -> None:
    build_catalog(store_client)
    event_type = store_client.get_event_types(name="payment")["eventTypes"][0]
    assert event_type["eventVariables"] == ["email", "amount"]
    assert event_type["labels"] == ["fraud", "legit"]
    assert event_type["entityTypes"] == ["customer"]
    variables = {v["name"]: v for v in store_client.get_variables()["variables"]}
    assert (variables["amount"]["dataType"], variables["amount"]["variableType"]) == ("FLOAT", "PRICE")
    assert store_client.get_list_elements(name="blocked_emails")["elements"] == ["a@x.com", "b@x.com"]
    arn = store_client.get_entity_types(name="customer")["entityTypes"][0]["arn"]
    assert store_client.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "risk"}]


def test_in_use_resources_conflict_then_delete(store_client: Client) -> None:
    build_catalog(store_client)
    for operation in ("DeleteVariable", "DeleteLabel", "DeleteEntityType"):
        name = {"DeleteVariable": "email", "DeleteLabel": "fraud", "DeleteEntityType": "customer"}[operation]
        with pytest.raises(store_client.exceptions.ConflictException):
            store_client.call(operation, name=name)
    store_client.delete_event_type(name="payment")
    store_client.delete_variable(name="email")
    store_client.delete_label(name="fraud")
    store_client.delete_entity_type(name="customer")
    with pytest.raises(store_client.exceptions.ResourceNotFoundException):
        store_client.get_variables(name="email")


def test_failed_operations_leave_nothing_behind(store_client: Client) -> None:
    build_catalog(store_client)
    with pytest.raises(store_client.exceptions.ValidationException):
        store_client.put_event_type(name="login", eventVariables=["email", "ghost"], entityTypes=["customer"])
    with pytest.raises(store_client.exceptions.ResourceNotFoundException):
        store_client.get_event_types(name="login")
    arn = store_client.get_lists_metadata(name="blocked_emails")["lists"][0]["arn"]
    with pytest.raises(store_client.exceptions.ValidationException):
        store_client.tag_resource(resourceARN=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])
    assert store_client.list_tags_for_resource(resourceARN=arn)["tags"] == []
    with pytest.raises(store_client.exceptions.ValidationException):
        store_client.update_list(name="blocked_emails", elements=["c@x.com"], variableType="IP_ADDRESS")
    assert store_client.get_list_elements(name="blocked_emails")["elements"] == ["a@x.com", "b@x.com"]


def test_pagination_is_complete_and_stable(store_client: Client) -> None:
    for i in range(23):
        store_client.put_outcome(name=f"outcome_{i:02d}")
    seen: list[str] = []
    token: str | None = None
    while True:
        page = store_client.get_outcomes(maxResults=50, **({"nextToken": token} if token else {}))
        seen += [o["name"] for o in page["outcomes"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == sorted(f"outcome_{i:02d}" for i in range(23))
    elements = [f"e{i}" for i in range(1200)]
    store_client.create_list(name="big", elements=elements)
    first = store_client.get_list_elements(name="big", maxResults=500)
    store_client.update_list(name="big", elements=["late"], updateMode="APPEND")
    rest: list[str] = []
    token = first.get("nextToken")
    while token:
        page = store_client.get_list_elements(name="big", maxResults=500, nextToken=token)
        rest += page["elements"]
        token = page.get("nextToken")
    assert first["elements"] + rest == [*elements, "late"]


def test_concurrent_writers_and_readers(store_client: Client) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer(worker: int) -> None:
        barrier.wait()
        for i in range(15):
            store_client.create_variable(
                name=f"v_{worker}_{i}", dataType="INTEGER", dataSource="EVENT", defaultValue=str(i)
            )
            store_client.put_entity_type(name="shared")  # every worker upserts the same row
            store_client.get_variables(maxResults=100)

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(writer, w) for w in range(8)]:
            if future.exception():
                errors.append(future.exception())  # type: ignore[arg-type]
    assert errors == []
    names: list[str] = []
    token: str | None = None
    while True:
        page = store_client.get_variables(maxResults=100, **({"nextToken": token} if token else {}))
        names += [v["name"] for v in page["variables"]]
        token = page.get("nextToken")
        if not token:
            break
    assert len(names) == len(set(names)) == 120
    assert [e["name"] for e in store_client.get_entity_types()["entityTypes"]] == ["shared"]


def test_data_survives_reopening(backend_url: str, tmp_path: Any) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", database_url=backend_url, environ={})
    with Client(settings=settings) as client:
        build_catalog(client)
    with Client(settings=settings) as client:
        assert client.get_event_types(name="payment")["eventTypes"][0]["eventVariables"] == ["email", "amount"]
        assert Database(backend_url).current_revision() == Database.head_revision()


def test_migrations_match_the_schema_and_downgrade(backend_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    from fraudhawk.storage.database import MIGRATIONS
    from fraudhawk.storage.schema import metadata

    database = Database(backend_url)
    database.migrate()
    database.migrate()  # idempotent
    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    config = Config()  # as the alembic command would be configured for fraudhawk's migrations
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert database.current_revision() is None
    database.migrate()
    assert database.current_revision() == Database.head_revision()
    database.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Any) -> None:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    database.migrate()
    with database.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()
    raw = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with raw.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    raw.dispose()


def _race(*calls: Any) -> None:
    """Run the calls at the same moment; failures the race can cause are expected, others are not."""
    barrier = threading.Barrier(len(calls))

    def run(call: Any) -> None:
        barrier.wait()
        with contextlib.suppress(ValidationError, ResourceNotFoundError):
            call()

    with ThreadPoolExecutor(len(calls)) as pool:
        for future in [pool.submit(run, call) for call in calls]:
            future.result()


def _thirty(prefix: str) -> list[dict[str, str]]:
    return [{"key": f"{prefix}{i}", "value": "v"} for i in range(30)]


def test_concurrent_tagging_keeps_the_limit(store_client: Client) -> None:
    store_client.put_outcome(name="review")
    arn = store_client.get_outcomes(name="review")["outcomes"][0]["arn"]
    _race(*(functools.partial(store_client.tag_resource, resourceARN=arn, tags=_thirty(p)) for p in "abc"))
    assert 30 <= len(store_client.list_tags_for_resource(resourceARN=arn, maxResults=50)["tags"]) <= 50


def test_tags_never_outlive_their_resource(store_client: Client) -> None:
    for _ in range(3):
        store_client.put_outcome(name="review")
        arn = store_client.get_outcomes(name="review")["outcomes"][0]["arn"]
        _race(
            functools.partial(store_client.tag_resource, resourceARN=arn, tags=_thirty("a")),
            functools.partial(store_client.delete_outcome, name="review"),
        )
        store_client.put_outcome(name="review")  # the same name again: a new resource, with no tags
        assert store_client.list_tags_for_resource(resourceARN=arn, maxResults=50)["tags"] == []
        store_client.delete_outcome(name="review")


def _event_catalog(client: Client) -> None:
    build_catalog(client)
    client.put_event_type(
        name="payment",
        eventVariables=["email", "amount"],
        labels=["fraud", "legit"],
        entityTypes=["customer"],
        eventIngestion="ENABLED",
    )


def test_stored_events(store_client: Client) -> None:
    _event_catalog(store_client)
    for i in range(3):
        store_client.send_event(
            eventTypeName="payment",
            eventId=f"e{i}",
            eventTimestamp=f"2024-01-0{i + 1}T00:00:00Z",
            eventVariables={"email": f"u{i}@x.com", "amount": str(i)},
            entities=[{"entityType": "customer", "entityId": f"c{i}"}],
        )
    with pytest.raises(store_client.exceptions.ConflictException):
        store_client.send_event(
            eventTypeName="payment",
            eventId="e0",
            eventTimestamp="2024-01-01T00:00:00Z",
            eventVariables={"email": "z@x.com"},
            entities=[{"entityType": "customer", "entityId": "c9"}],
        )
    store_client.update_event_label(
        eventTypeName="payment", eventId="e1", assignedLabel="fraud", labelTimestamp="2024-02-01T00:00:00Z"
    )
    assert store_client.get_event(eventTypeName="payment", eventId="e1")["event"]["currentLabel"] == "fraud"
    store_client.delete_event(eventTypeName="payment", eventId="e2")
    stats = store_client.get_event_types(name="payment")["eventTypes"][0]["ingestedEventStatistics"]
    assert stats["numberOfEvents"] == 2
    assert stats["mostRecentEvent"].startswith("2024-01-02")


def test_batch_import(store_client: Client, tmp_path: Any) -> None:
    _event_catalog(store_client)
    folder = tmp_path / "data" / "files"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["EVENT_ID,EVENT_TIMESTAMP,ENTITY_ID,ENTITY_TYPE,EVENT_LABEL,LABEL_TIMESTAMP,email,amount"]
    lines += [f"i{n},2024-03-01T00:00:00Z,c{n},customer,legit,2024-03-02T00:00:00Z,a{n}@x.com,{n}" for n in range(500)]
    lines.append("bad,nope,c1,customer,,,x@x.com,1")
    (folder / "in.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store_client.create_batch_import_job(
        jobId="job",
        inputPath=str(folder / "in.csv"),
        outputPath=str(folder / "out") + "/",
        eventTypeName="payment",
        iamRoleArn="arn:aws:iam::123456789012:role/importer",
    )
    for _ in range(600):
        job = store_client.get_batch_import_jobs(jobId="job")["batchImports"][0]
        if job["status"] not in ("IN_PROGRESS", "IN_PROGRESS_INITIALIZING"):
            break
        time.sleep(0.05)
    assert (job["status"], job["processedRecordsCount"], job["failedRecordsCount"]) == ("COMPLETE", 500, 1)
    assert store_client.get_event(eventTypeName="payment", eventId="i499")["event"]["eventVariables"]["amount"] == "499"
    report = (folder / "out" / "job_failed_records.csv").read_text(encoding="utf-8")
    assert "502,EVENT_TIMESTAMP 'nope'" in report
    store_client.delete_events_by_event_type(eventTypeName="payment")
    for _ in range(600):
        status = store_client.get_delete_events_by_event_type_status(eventTypeName="payment")["eventsDeletionStatus"]
        if status == "COMPLETE":
            break
        time.sleep(0.05)
    assert status == "COMPLETE"
    store_client.delete_event_type(name="payment")


def test_time_range_stays_exact_when_imported_events_go(store_client: Client, tmp_path: Any) -> None:
    _event_catalog(store_client)
    folder = tmp_path / "data" / "files"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["EVENT_ID,EVENT_TIMESTAMP,ENTITY_ID,ENTITY_TYPE,email,amount"]
    lines += [f"t{d},2024-05-0{d}T00:00:00Z,c{d},customer,a@x.com,1" for d in range(1, 4)]
    (folder / "in.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store_client.create_batch_import_job(
        jobId="range",
        inputPath=str(folder / "in.csv"),
        outputPath=str(folder) + "/",
        eventTypeName="payment",
        iamRoleArn="arn:aws:iam::123456789012:role/importer",
    )
    for _ in range(600):
        if store_client.get_batch_import_jobs(jobId="range")["batchImports"][0]["status"] == "COMPLETE":
            break
        time.sleep(0.05)

    def bounds() -> tuple[str | None, str | None]:
        stats = store_client.get_event_types(name="payment")["eventTypes"][0]["ingestedEventStatistics"]
        return stats.get("leastRecentEvent"), stats.get("mostRecentEvent")

    assert bounds() == ("2024-05-01T00:00:00.000Z", "2024-05-03T00:00:00.000Z")
    store_client.delete_event(eventTypeName="payment", eventId="t3")
    assert bounds() == ("2024-05-01T00:00:00.000Z", "2024-05-02T00:00:00.000Z")
    store_client.delete_event(eventTypeName="payment", eventId="t1")
    assert bounds() == ("2024-05-02T00:00:00.000Z", "2024-05-02T00:00:00.000Z")
    store_client.delete_event(eventTypeName="payment", eventId="t2")
    assert bounds() == (None, None)
    assert (
        store_client.get_event_types(name="payment")["eventTypes"][0]["ingestedEventStatistics"]["numberOfEvents"] == 0
    )


def test_quotes_inside_unquoted_values_lose_no_line(store_client: Client, tmp_path: Any) -> None:
    _event_catalog(store_client)
    folder = tmp_path / "data" / "files"
    folder.mkdir(parents=True, exist_ok=True)
    text = (
        "EVENT_ID,EVENT_TIMESTAMP,ENTITY_ID,ENTITY_TYPE,email,amount\n"
        'q1,2024-05-01T00:00:00Z,c1,customer,5" screen,1\n'
        'q2,2024-05-01T00:00:00Z,c2,customer,"a\nb",2\n'
        "q3,2024-05-01T00:00:00Z,c3,customer,x@y.com,3,extra\n"
        "q4,2024-05-01T00:00:00Z,c4,customer,z@y.com,4\n"
    )
    (folder / "q.csv").write_text(text, encoding="utf-8")
    store_client.create_batch_import_job(
        jobId="quotes",
        inputPath=str(folder / "q.csv"),
        outputPath=str(folder) + "/",
        eventTypeName="payment",
        iamRoleArn="arn:aws:iam::123456789012:role/importer",
    )
    for _ in range(600):
        job = store_client.get_batch_import_jobs(jobId="quotes")["batchImports"][0]
        if job["status"] not in ("IN_PROGRESS", "IN_PROGRESS_INITIALIZING"):
            break
        time.sleep(0.05)
    assert (job["status"], job["processedRecordsCount"], job["failedRecordsCount"]) == ("COMPLETE", 3, 1)
    assert (
        store_client.get_event(eventTypeName="payment", eventId="q1")["event"]["eventVariables"]["email"] == '5" screen'
    )
    assert store_client.get_event(eventTypeName="payment", eventId="q2")["event"]["eventVariables"]["email"] == "a\nb"
    assert store_client.get_event(eventTypeName="payment", eventId="q4")["event"]["eventVariables"]["amount"] == "4"
    report = (folder / "quotes_failed_records.csv").read_text(encoding="utf-8")
    assert '\n5,"expected 6 fields, found 7"' in report  # q3 starts on line 5: q2's value spans lines 3-4


def test_training_and_entity_history(store_client: Client, store_database: Database, tmp_path: Any) -> None:
    """Model versions, the training job and TFI entity state behave the same on every backend."""
    from fraudhawk import datagen

    folder = tmp_path / "data" / "files"
    folder.mkdir(parents=True, exist_ok=True)
    datagen.transactions(folder / "txn.csv", cards=100, days=40, seed=4, fraud_share=0.3)
    datagen.declare_transactions(store_client)
    store_client.create_batch_import_job(
        jobId="txn",
        inputPath=str(folder / "txn.csv"),
        outputPath=str(folder),
        eventTypeName="txn",
        iamRoleArn="arn:aws:iam::123456789012:role/importer",
    )
    for _ in range(1200):
        if store_client.get_batch_import_jobs(jobId="txn")["batchImports"][0]["status"] == "COMPLETE":
            break
        time.sleep(0.05)
    kind = "TRANSACTION_FRAUD_INSIGHTS"
    store_client.create_model(modelId="cards", modelType=kind, eventTypeName="txn")
    store_client.create_model_version(
        modelId="cards",
        modelType=kind,
        trainingDataSource="INGESTED_EVENTS",
        trainingDataSchema={
            "modelVariables": list(datagen.TRANSACTION_VARIABLES),
            "labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}},
        },
        ingestedEventsDetail={
            "ingestedEventsTimeWindow": {"startTime": "2020-01-01T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}
        },
    )
    for _ in range(2400):
        version = store_client.get_model_version(modelId="cards", modelType=kind, modelVersionNumber="1.0")
        if version["status"] != "TRAINING_IN_PROGRESS":
            break
        time.sleep(0.05)
    assert version["status"] == "TRAINING_COMPLETE"
    detail = store_client.describe_model_versions(modelId="cards", modelType=kind)["modelVersionDetails"][0]
    assert 0.5 < detail["trainingResultV2"]["trainingMetricsV2"]["tfi"]["modelPerformance"]["auc"] <= 1.0
    with pytest.raises(store_client.exceptions.ConflictException):
        store_client.delete_model(modelId="cards", modelType=kind)

    from sqlalchemy import select

    from fraudhawk.features.history import EntityState
    from fraudhawk.storage import schema

    def state_of(entity: str) -> EntityState:
        with store_database.read() as conn:
            data = conn.execute(
                select(schema.entity_states.c.state).where(schema.entity_states.c.entity_id == entity)
            ).scalar_one()
        return EntityState.from_bytes(data)

    before = state_of("card_00001")
    store_client.send_event(
        eventId="live-1",
        eventTypeName="txn",
        eventTimestamp="2029-01-01T00:00:00Z",
        eventVariables={"amt": "12.50", "merchant": "merchant_001", "ip_address": "10.0.0.1"},
        entities=[{"entityType": "card", "entityId": "card_00001"}],
    )
    after = state_of("card_00001")
    assert after.n == before.n + 1
    assert after.last_ms == 1861920000000
    assert after.sums[0] == before.sums[0] + 12.5
    store_client.update_model_version_status(modelId="cards", modelType=kind, modelVersionNumber="1.0", status="ACTIVE")
    for _ in range(600):
        status = store_client.get_model_version(modelId="cards", modelType=kind, modelVersionNumber="1.0")["status"]
        if status == "ACTIVE":
            break
        time.sleep(0.05)
    assert status == "ACTIVE"
    with pytest.raises(store_client.exceptions.ConflictException):
        store_client.delete_model_version(modelId="cards", modelType=kind, modelVersionNumber="1.0")

    _live_predictions(store_client, store_database, state_of)


def _live_predictions(store_client: Client, store_database: Database, state_of: Any) -> None:
    """Real-time predictions with ingestion, four cards in parallel threads, each card's events in
    order: the stored histories equal replaying the same events on the states they started from."""
    from sqlalchemy import select

    from fraudhawk.features.history import HistorySpec
    from fraudhawk.features.single import history_inputs
    from fraudhawk.storage import schema

    kind = "TRANSACTION_FRAUD_INSIGHTS"

    store_client.put_outcome(name="seen")
    store_client.put_detector(detectorId="live", eventTypeName="txn")
    rule = store_client.create_rule(
        ruleId="all", detectorId="live", expression="$cards_insightscore >= 0", language="DETECTORPL", outcomes=["seen"]
    )["rule"]
    model = {"modelId": "cards", "modelType": kind, "modelVersionNumber": "1.0"}
    store_client.create_detector_version(detectorId="live", rules=[rule], modelVersions=[model])
    store_client.update_detector_version_status(detectorId="live", detectorVersionId="1", status="ACTIVE")
    cards = [f"card_{n:05d}" for n in range(10, 14)]
    starts = {card: state_of(card) for card in cards}
    with store_database.read() as conn:
        spec_text = conn.execute(select(schema.model_versions.c.history_spec)).scalar_one()
    spec = HistorySpec.from_json(json.loads(spec_text))

    def variables(card: str, i: int) -> dict[str, str]:
        return {"amt": f"{(i * 37) % 900 + 0.25}", "merchant": f"merchant_{i % 7:03d}", "ip_address": f"10.0.{i}.1"}

    def send(card: str) -> None:
        for i in range(25):
            store_client.get_event_prediction(
                detectorId="live",
                eventId=f"{card}-live-{i}",
                eventTypeName="txn",
                eventTimestamp=f"2029-02-{1 + i // 24:02d}T{i % 24:02d}:00:00Z",
                entities=[{"entityType": "card", "entityId": card}],
                eventVariables=variables(card, i),
            )

    _race(*[lambda card=card: send(card) for card in cards])
    for card in cards:
        expected = starts[card]
        for i in range(25):
            amounts, categories = history_inputs(spec, variables(card, i))
            stamp = 1864598400000 + (i // 24) * 86_400_000 + (i % 24) * 3_600_000
            expected.advance(stamp, amounts, categories, spec.group_index())
        assert state_of(card).to_bytes() == expected.to_bytes(), card
    recorded = store_client.list_event_predictions(detectorId={"value": "live"}, maxResults=100)
    assert len(recorded["eventPredictionSummaries"]) == 100
