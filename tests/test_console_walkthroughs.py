"""Both AFD walk-throughs (../shared/reference/seeds), clicked through the console in a real browser as
an analyst would: account takeover (ATI) and credit-card transactions (TFI), from a CSV to a published
detector, a test, past predictions and a batch prediction. Screenshots of every step go to
test-artifacts/screenshots/walk-*.png."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from fraudhawk import datagen
from tests.browser import ConsoleSession

TRAINING_MS = 240_000  # a training on a loaded 2-core machine
IMPORT_MS = 120_000


def upload(console: ConsoleSession, source: Path, bucket: str, key: str) -> str:
    """The seeds' "upload your data to S3" step, on the Files page."""
    page = console.go("/files")
    page.get_by_role("textbox", name="Bucket").fill(bucket)
    page.get_by_label("Key or folder").fill(key)
    page.locator("input#f-file").set_input_files(str(source))
    page.get_by_role("button", name="Upload").click()
    uri = f"s3://{bucket}/{key}"
    expect(page.locator(".notice")).to_contain_text(f"Uploaded {uri}")
    return uri


def import_events(console: ConsoleSession, event_type: str, uri: str, job_id: str, name: str) -> Page:
    """Stored events: New import from the file, watched to completion."""
    page = console.go("/data")
    expect(page.get_by_role("row", name=event_type)).to_contain_text("enabled")
    console.shot(f"walk-{name}-stored-events-empty")
    page.get_by_role("link", name=f"Import events into {event_type}").click()
    page.get_by_label("Job ID").fill(job_id)
    page.get_by_label("File from the file area").select_option(uri)
    page.get_by_role("button", name="Start import").click()
    expect(page.get_by_role("heading", name="Rejected lines")).to_be_visible(timeout=IMPORT_MS)
    expect(page.get_by_text("No line was rejected.")).to_be_visible()
    console.shot(f"walk-{name}-import")
    return page


def train(console: ConsoleSession, model_id: str, model_type: str, event_type: str, name: str) -> Page:
    page = console.go("/models")
    page.get_by_role("link", name="Create and train a model").click()
    page.get_by_label("Model ID").fill(model_id)
    page.get_by_label("Model type").select_option(model_type)
    page.get_by_label("Event type").select_option(event_type)
    page.get_by_role("button", name="Continue").click()
    console.shot(f"walk-{name}-model-new")
    page.get_by_role("button", name="Create model and train").click()
    expect(page).to_have_url(re.compile(rf"/models/{model_type}/{model_id}\?done="))
    row = page.get_by_role("row", name=re.compile(r"^Compare version 1\.0"))
    expect(row).to_contain_text("training complete", timeout=TRAINING_MS)
    console.shot(f"walk-{name}-model")
    page.get_by_role("link", name="1.0", exact=True).click()
    expect(page.get_by_role("heading", name=f"{model_id} version 1.0")).to_be_visible()
    return page


def deploy(console: ConsoleSession, page: Page, model_id: str, model_type: str) -> None:
    """Actions: Deploy model version; the page follows the activation until the version is active."""
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator(".status").first).to_have_text("active", timeout=IMPORT_MS)
    version = console.afd.get_model_version(modelId=model_id, modelType=model_type, modelVersionNumber="1.0")
    assert version["status"] == "ACTIVE"


def detector(
    console: ConsoleSession,
    detector_id: str,
    event_type: str,
    model_id: str,
    rules: list[tuple[str, str, str]],
    name: str,
) -> Page:
    """Create detector -> add the model's active version -> rules with outcomes -> first matched."""
    page = console.go("/detectors/new")
    page.get_by_label("Detector ID").fill(detector_id)
    page.get_by_label("Event type").select_option(event_type)
    page.get_by_role("button", name="Next: first version").click()
    page.get_by_label(re.compile(f"{model_id} version 1.0")).check()
    first_id, first_expression, first_outcome = rules[0]
    page.get_by_label("Rule ID").fill(first_id)
    _type(page, first_expression)
    expect(page.locator("[data-rule-check]")).to_contain_text("No problems")
    page.get_by_label("Create an outcome").fill(first_outcome)
    page.get_by_role("button", name="Create version").click()
    expect(page).to_have_url(re.compile(f"/detectors/{detector_id}/versions/1"))
    for rule_id, expression, outcome in rules[1:]:
        form = page.locator("#add-rule")
        form.get_by_label("Rule ID").fill(rule_id)
        _type(page, expression)
        expect(page.locator("[data-rule-check]")).to_contain_text("No problems")
        form.get_by_label("Create an outcome").fill(outcome)
        form.get_by_role("button", name="Add rule").click()
        expect(page.get_by_role("status")).to_contain_text(f"Added rule {rule_id}")
    console.shot(f"walk-{name}-detector-version")
    stored = console.afd.get_detector_version(detectorId=detector_id, detectorVersionId="1")
    assert [rule["ruleId"] for rule in stored["rules"]] == [rule_id for rule_id, _, _ in rules]
    assert stored["ruleExecutionMode"] == "FIRST_MATCHED"
    return page


def _type(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Expression", exact=True)
    box.fill("")
    box.press_sequentially(text, delay=2)


def run_test_and_publish(console: ConsoleSession, page: Page, values: dict[str, str], entity: str, name: str) -> str:
    """Run test (provide the variable values, see the score and outcome), then Actions: Publish."""
    page.get_by_role("link", name="Run test").click()
    for variable, value in values.items():
        page.get_by_label(variable, exact=True).fill(value)
    page.get_by_label("Entity ID").fill(entity)
    page.get_by_role("button", name="Run test").click()
    expect(page.locator("li.outcome").first).to_be_visible()
    outcome = page.locator("li.outcome").first.inner_text()
    console.shot(f"walk-{name}-run-test")
    page.get_by_role("link", name="Version 1").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Published version 1")
    return outcome


def past_prediction(console: ConsoleSession, detector_id: str, event_id: str, name: str) -> Page:
    """Search past predictions, open one, and follow it to its event."""
    page = console.go("/predictions")
    page.get_by_label("Detector", exact=True).select_option(detector_id)
    page.get_by_role("button", name="Search").click()
    console.shot(f"walk-{name}-past-predictions")
    page.get_by_role("link", name=f"Prediction of event {event_id}").click()
    expect(page.get_by_role("heading", name=re.compile(event_id))).to_be_visible()
    console.shot(f"walk-{name}-prediction")
    return page


def test_account_takeover_walkthrough(console: ConsoleSession, tmp_path: Path) -> None:
    source = tmp_path / "logins.csv"
    datagen.logins(source, users=1_600, days=32, seed=19)

    # Define the entity
    page = console.go("/entity-types")
    page.get_by_role("textbox", name="Name", exact=True).fill("customer")
    page.get_by_role("button", name="Create entity type").click()
    expect(page.get_by_role("status")).to_contain_text("Created entity type customer")

    # Upload the data, then define the event type and its variables from the file's header
    uri = upload(console, source, "ato-walkthrough", "logins.csv")
    page = console.go("/event-types/new")
    page.get_by_role("textbox", name="Name", exact=True).fill("login")
    page.get_by_label("Entity type", exact=True).select_option("customer")
    page.get_by_label("Or a file in the server's S3 folder").select_option(uri)
    page.get_by_role("button", name="Read columns").click()
    expect(page.get_by_label("Variable type for column ip_address")).to_have_value("IP_ADDRESS")
    expect(page.get_by_label("Variable type for column user_agent")).to_have_value("USERAGENT")
    page.get_by_label("Variable type for column credentials_valid").select_option("ARE_CREDENTIALS_VALID")
    page.get_by_label("Variable type for column fingerprint").select_option("FINGERPRINT")
    page.get_by_label("Variable type for column session_id").select_option("SESSION_ID")
    page.get_by_label("New labels").fill("fraud, legit")
    console.shot("walk-ati-event-type-new")
    page.get_by_role("button", name="Create event type").click()
    expect(page.get_by_role("heading", name="Event type login")).to_be_visible()
    console.shot("walk-ati-event-type")

    # Upload event data: Stored events -> New import
    import_events(console, "login", uri, "logins-history", "ati")
    statistics = console.afd.get_event_types(name="login")["eventTypes"][0]["ingestedEventStatistics"]
    with source.open() as handle:
        assert statistics["numberOfEvents"] == sum(1 for _ in handle) - 1

    # Initiate model training; evaluate (ASI, challenge rate table); deploy
    page = train(console, "ato_model", "ACCOUNT_TAKEOVER_INSIGHTS", "login", "ati")
    expect(page.get_by_text("Anomaly Separation Index (ASI)")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Challenge rate").first).to_be_visible()
    console.shot("walk-ati-model-version")
    deploy(console, page, "ato_model", "ACCOUNT_TAKEOVER_INSIGHTS")

    # Create a detector endpoint and define business rules (the walk-through's three)
    score = "$ato_model_insightscore"
    page = detector(
        console,
        "ato_detector",
        "login",
        "ato_model",
        [
            ("decline_rule", f"{score} >= 950", "deny_login"),
            ("friction_rule", f"{score} >= 855 and {score} < 950", "challenge_login"),
            ("approve_rule", f"{score} < 855", "approve_login"),
        ],
        "ati",
    )
    values = {"ip_address": "1.2.3.4", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "credentials_valid": "true"}
    outcome = run_test_and_publish(console, page, values, "customer_000001", "ati")
    assert outcome in {"deny_login", "challenge_login", "approve_login"}

    # Get real-time predictions, then search past predictions
    answer = console.afd.get_event_prediction(
        detectorId="ato_detector",
        eventId="walk-login-1",
        eventTypeName="login",
        eventTimestamp="2024-02-03T10:00:00Z",
        entities=[{"entityType": "customer", "entityId": "customer_000001"}],
        eventVariables={"ip_address": "1.2.3.4", "user_agent": values["user_agent"], "credentials_valid": "true"},
    )
    page = past_prediction(console, "ato_detector", "walk-login-1", "ati")
    for rule in answer["ruleResults"]:
        for shown in rule["outcomes"]:
            expect(page.get_by_text(shown).first).to_be_visible()


def test_credit_card_transactions_walkthrough(console: ConsoleSession, tmp_path: Path) -> None:
    raw = tmp_path / "fraudTrain.csv"
    datagen.kaggle_transactions(raw, cards=100, days=90, seed=23)
    uri = upload(console, raw, "fraud-detector", "raw/fraudTrain.csv")

    # The Glue job's transform (raw Kaggle layout -> AFD's), as a form with a preview
    page = console.go("/imports/map?file=" + uri)
    expect(page.get_by_label("Timestamp column")).to_have_value("trans_date_trans_time")
    expect(page.get_by_label("Label column")).to_have_value("is_fraud")
    page.locator("#f-event_type").fill("credit_card_transaction")
    console.shot("walk-tfi-mapping")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="Rejected lines")).to_be_visible(timeout=IMPORT_MS)
    console.shot("walk-tfi-import")

    # Train, read the performance (score distributions, threshold, ROC, importance), deploy
    page = train(console, "cc_model", "TRANSACTION_FRAUD_INSIGHTS", "credit_card_transaction", "tfi")
    number = page.get_by_role("spinbutton", name="Threshold")
    number.fill("305")
    number.press("Tab")
    expect(page.get_by_text("At score 305 or more")).to_be_visible()
    console.shot("walk-tfi-model-version-305")
    deploy(console, page, "cc_model", "TRANSACTION_FRAUD_INSIGHTS")

    score = "$cc_model_insightscore"
    page = detector(
        console,
        "cc_detector",
        "credit_card_transaction",
        "cc_model",
        [("block_rule", f"{score} > 900", "block"), ("approve_rule", f"{score} <= 900", "approve")],
        "tfi",
    )
    run_test_and_publish(console, page, {"amt": "29.39", "category": "misc_pos"}, "4000000000000001", "tfi")

    # Batch prediction: upload the file to score, watch it, download the output
    batch = tmp_path / "to_score.csv"
    with raw.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[-50:]
    event_type = console.afd.get_event_types(name="credit_card_transaction")["eventTypes"][0]
    with batch.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", *event_type["eventVariables"]])
        for row in rows:
            when = row["trans_date_trans_time"].replace(" ", "T") + "Z"
            variables = [row.get(name, "") for name in event_type["eventVariables"]]
            writer.writerow([row["trans_num"], when, row["cc_num"], event_type["entityTypes"][0], *variables])
    page = console.go("/batch-predictions/new")
    page.get_by_label("Job ID").fill("score_batch")
    page.get_by_role("combobox", name="Detector", exact=True).select_option("cc_detector")
    page.get_by_label("Upload a CSV file").set_input_files(str(batch))
    page.get_by_role("button", name="Start batch prediction").click()
    link = page.get_by_role("link", name=re.compile("^Download score_batch"))
    expect(link).to_be_visible(timeout=IMPORT_MS)
    console.shot("walk-tfi-batch")
    with page.expect_download() as download:
        link.click()
    output = Path(download.value.path()).read_text()
    assert len(output.strip().splitlines()) == 1 + len(rows)

    # Real-time prediction, past predictions and the prediction's page
    console.afd.get_event_prediction(
        detectorId="cc_detector",
        eventId="walk-txn-1",
        eventTypeName="credit_card_transaction",
        eventTimestamp="2024-06-01T10:00:00Z",
        entities=[{"entityType": event_type["entityTypes"][0], "entityId": rows[0]["cc_num"]}],
        eventVariables={"amt": "29.39", "category": "misc_pos"},
    )
    page = past_prediction(console, "cc_detector", "walk-txn-1", "tfi")
    page.get_by_role("link", name="See the event").click()
    expect(page.get_by_text("walk-txn-1").first).to_be_visible()
    console.shot("walk-tfi-event")
