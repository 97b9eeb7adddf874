"""The console's models pages in a real browser: create and train a model through the form on stored
events from the project's generator, watch the training end on the page, read a version (data checks,
AUC, the live threshold against AFD's metricDataPoints), deploy and undeploy, compare versions, an
Account Takeover Insights version, and refusals shown next to their fields with nothing saved.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from fraudhawk import datagen
from fraudhawk.settings import Settings
from tests.browser import NARROW, WIDE, ConsoleSession
from tests.test_wire_ati import LOGIN_VARIABLES, VARIABLES, hand_built, store_complete

TFI = "TRANSACTION_FRAUD_INSIGHTS"
ATI = "ACCOUNT_TAKEOVER_INSIGHTS"
ROLE = "arn:aws:iam::123456789012:role/afd"
SCALE = 100_000
TRAINING = 120_000  # ms the page may take to show a finished training
# the machine's two cores are shared: a page may take longer than Playwright's default 5 s to answer
expect.set_options(timeout=15_000)


def store_payments(afd: Any, settings: Settings) -> int:
    """A small month of card payments (datagen), stored for event type `payment` by a batch import."""
    files = settings.data_dir / "files"
    files.mkdir(parents=True, exist_ok=True)
    events = datagen.transactions(files / "payments.csv", cards=120, days=40, seed=3)
    datagen.declare_transactions(afd, "payment")
    afd.create_batch_import_job(
        jobId="payments",
        inputPath=str(files / "payments.csv"),
        outputPath=str(files),
        eventTypeName="payment",
        iamRoleArn=ROLE,
    )
    deadline = time.monotonic() + 60
    while (job := afd.get_batch_import_jobs(jobId="payments")["batchImports"][0])["status"].startswith("IN_PROGRESS"):
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.1)
    assert job["status"] == "COMPLETE", job
    return events


def whole(text: str) -> int:
    return int(text.replace(",", ""))


def matrix(page: Page) -> dict[str, int]:
    return {cell: whole(page.locator(f"#cm-{cell}").inner_text()) for cell in ("tp", "fn", "fp", "tn")}


def expected(points: list[dict[str, float]], threshold: int) -> dict[str, int]:
    """The confusion matrix at a threshold from DescribeModelVersions' metricDataPoints, scaled to
    100,000 events with the validation events' fraud share (the precision at threshold 0)."""
    by_threshold = {int(p["threshold"]): p for p in points}
    fraud = round(SCALE * by_threshold[0]["precision"])
    legit = SCALE - fraud
    point = by_threshold[threshold]
    tp, fp = round(point["tpr"] * fraud), round(point["fpr"] * legit)
    return {"tp": tp, "fn": fraud - tp, "fp": fp, "tn": legit - fp}


def test_train_read_deploy_and_compare_a_tfi_model(console: ConsoleSession, console_settings: Settings) -> None:
    store_payments(console.afd, console_settings)
    page = create_through_the_form(console)
    watch_the_training(console, page)
    read_the_version(console, page)
    deploy_and_undeploy(console, page)
    train_again_and_compare(console, page)


def create_through_the_form(console: ConsoleSession) -> Page:
    page = console.go("/models")
    expect(page.get_by_text("No models yet")).to_be_visible()
    console.shot("models-list-empty")

    page.get_by_role("link", name="Create and train a model").click()
    page.get_by_label("Model ID").fill("card_model")
    page.get_by_label("Description").fill("Card payments")
    page.get_by_label("Model type").select_option(TFI)
    page.get_by_label("Event type").select_option("payment")
    console.shot("models-new")
    page.get_by_role("button", name="Continue").click()
    # step 2: every variable preselected, labels mapped by their names, the stored events' range
    expect(page.get_by_role("heading", name="Create and train a model")).to_be_visible()
    for name in datagen.TRANSACTION_VARIABLES:
        expect(page.get_by_role("checkbox", name=re.compile(rf"^{name}\b"))).to_be_checked()
    expect(page.get_by_label("Label fraud means")).to_have_value("FRAUD")
    expect(page.get_by_label("Label legit means")).to_have_value("LEGIT")
    stats = console.afd.get_event_types(name="payment")["eventTypes"][0]["ingestedEventStatistics"]
    expect(page.get_by_label("From (date)")).to_have_value(stats["leastRecentEvent"][:10])
    expect(page.get_by_label("To (date, included)")).to_have_value(stats["mostRecentEvent"][:10])
    page.get_by_label("Events without a label").select_option("IGNORE")
    for left_out in ("merchant", "ip_address"):  # trained without them
        page.get_by_role("checkbox", name=re.compile(rf"^{left_out}\b")).uncheck()
    console.shot("models-new-training-data")
    page.get_by_role("button", name="Create model and train").click()
    return page


def watch_the_training(console: ConsoleSession, page: Page) -> None:
    stats = console.afd.get_event_types(name="payment")["eventTypes"][0]["ingestedEventStatistics"]
    expect(page).to_have_url(re.compile(r"/models/TRANSACTION_FRAUD_INSIGHTS/card_model\?done="))
    expect(page.get_by_role("status").first).to_contain_text("training version 1.0")
    version = console.afd.describe_model_versions(modelId="card_model", modelType=TFI)["modelVersionDetails"][0]
    assert "merchant" not in version["trainingDataSchema"]["modelVariables"]
    assert version["trainingDataSchema"]["labelSchema"] == {
        "labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]},
        "unlabeledEventsTreatment": "IGNORE",
    }
    window = version["ingestedEventsDetail"]["ingestedEventsTimeWindow"]
    assert window["startTime"] == stats["leastRecentEvent"][:10] + "T00:00:00Z"
    last = date.fromisoformat(stats["mostRecentEvent"][:10])
    assert window["endTime"] == f"{last + timedelta(days=1)}T00:00:00Z"  # the end date is included
    console.shot("models-model-training")
    # the page follows the training and shows its end (it reloads with the AUC)
    row = page.get_by_role("row", name=re.compile(r"^Compare version 1\.0"))
    expect(row).to_contain_text("training complete", timeout=TRAINING)
    expect(row.get_by_role("cell").nth(3)).to_have_text(re.compile(r"^[01]\.\d{3} \(\d"))
    console.shot("models-model")


def read_the_version(console: ConsoleSession, page: Page) -> None:
    """The version page: AUC with its range, and the threshold (slider, keyboard, number box) moving
    the confusion matrix, rates and ROC point as DescribeModelVersions' metricDataPoints say."""
    page.get_by_role("link", name="1.0", exact=True).click()
    expect(page.get_by_role("heading", name="card_model version 1.0")).to_be_visible()
    detail = console.afd.describe_model_versions(modelId="card_model", modelType=TFI, modelVersionNumber="1.0")
    detail = detail["modelVersionDetails"][0]
    tfi = detail["trainingResultV2"]["trainingMetricsV2"]["tfi"]
    expect(page.locator("#auc")).to_have_text(f"{tfi['modelPerformance']['auc']:.3f}")
    low = tfi["modelPerformance"]["uncertaintyRange"]["lowerBoundValue"]
    expect(page.get_by_text(f"Range {low:.3f}")).to_be_visible()
    points = tfi["metricDataPoints"]
    slider = page.get_by_label("Threshold slider")
    number = page.get_by_role("spinbutton", name="Threshold")
    expect(number).to_have_value("500")
    page.wait_for_function("document.getElementById('roc-chart').dataset.drawn === '1'")
    assert matrix(page) == expected(points, 500)
    at_500 = matrix(page)
    assert sum(at_500.values()) == SCALE
    console.shot("models-version")

    # the slider: keyboard arrows step by 5, End goes to 1000
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(number).to_have_value("510")
    assert matrix(page) == expected(points, 510)
    page.keyboard.press("Home")
    expect(number).to_have_value("0")
    everything = matrix(page)
    assert everything == expected(points, 0)
    assert everything["fn"] == 0
    assert everything["tn"] == 0
    # the number box moves the slider and the matrix with it
    number.fill("800")
    number.press("Tab")
    expect(slider).to_have_value("800")
    at_800 = matrix(page)
    assert at_800 == expected(points, 800)
    # a higher threshold flags fewer events: fewer true and fewer false positives, same class totals
    assert at_800["tp"] <= at_500["tp"]
    assert at_800["fp"] <= at_500["fp"]
    assert at_800["tp"] + at_800["fn"] == at_500["tp"] + at_500["fn"]
    tpr = {int(p["threshold"]): p["tpr"] for p in points}[800]
    expect(page.locator("#rate-tpr")).to_have_text(f"{tpr * 100:.1f}%")
    # the slider dragged with the mouse (a programmatic input event, as a drag fires)
    slider.fill("300")
    expect(number).to_have_value("300")
    assert matrix(page) == expected(points, 300)
    # the ROC point follows the threshold
    roc = page.evaluate(
        "(() => { const d = document.getElementById('roc-chart').data[2]; return [d.x[0], d.y[0]]; })()"
    )
    point = {int(p["threshold"]): p for p in points}[300]
    assert roc == pytest.approx([point["fpr"], point["tpr"]])
    importance(page, detail)
    console.shot("models-version-threshold-300")
    on_a_phone(console, page, points)


def on_a_phone(console: ConsoleSession, page: Page, points: list[dict[str, float]]) -> None:
    """A phone-sized window: the page does not scroll sideways, and the threshold still works."""
    number = page.get_by_role("spinbutton", name="Threshold")
    page.set_viewport_size(NARROW)
    page.reload()
    page.wait_for_function("document.getElementById('roc-chart').dataset.drawn === '1'")
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    number.fill("650")
    number.press("Tab")
    assert matrix(page) == expected(points, 650)
    console.shot("models-version-narrow")
    page.set_viewport_size(WIDE)


def importance(page: Page, detail: dict[str, Any]) -> None:
    """The importance bars have a table beside them, largest first, as the training report says."""
    expect(page.get_by_role("heading", name="Variable importance")).to_be_visible()
    page.get_by_text("Variables (table)").click()
    top = detail["trainingResultV2"]["variableImportanceMetrics"]["logOddsMetrics"]
    best = max(top, key=lambda v: v["variableImportance"])
    expect(page.locator("#imp-raw-t tbody tr").first).to_contain_text(best["variableName"])
    bars = page.evaluate("document.getElementById('importance-raw').data[0].y")
    assert bars[-1] == best["variableName"]  # drawn bottom-up: the largest bar at the top


def deploy_and_undeploy(console: ConsoleSession, page: Page) -> None:
    """Deploy, then undeploy: the status follows on the page."""
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_role("status").first).to_contain_text("Deploying card_model 1.0")
    expect(page.locator(".facts .status").first).to_have_text("active", timeout=30_000)
    assert console.afd.get_model_version(modelId="card_model", modelType=TFI, modelVersionNumber="1.0")["status"] == (
        "ACTIVE"
    )
    console.shot("models-version-active")
    page.get_by_role("button", name="Undeploy").click()
    expect(page.locator(".facts .status").first).to_have_text("training complete", timeout=30_000)
    expect(page.get_by_role("button", name="Deploy")).to_be_visible()


def train_again_and_compare(console: ConsoleSession, page: Page) -> None:
    """A second version from the model page, starting from the first one's choices, and the comparison."""
    page.get_by_role("link", name="card_model").first.click()
    page.get_by_role("link", name="Train a new version").click()
    expect(page.get_by_role("checkbox", name=re.compile(r"^merchant\b"))).not_to_be_checked()
    page.get_by_role("checkbox", name=re.compile(r"^merchant\b")).check()
    console.shot("models-train-version")
    page.get_by_role("button", name="Train version").click()
    row = page.get_by_role("row", name=re.compile(r"^Compare version 2\.0"))
    expect(row).to_contain_text("training complete", timeout=TRAINING)
    page.get_by_role("checkbox", name="Compare version 1.0").check()
    page.get_by_role("checkbox", name="Compare version 2.0").check()
    page.get_by_role("button", name="Compare the chosen versions").click()
    expect(page.get_by_role("heading", name="Compare versions of card_model")).to_be_visible()
    table = page.locator("table.compare")
    expect(table.get_by_role("row", name=re.compile(r"^Variables"))).to_contain_text("merchant")
    expect(table.get_by_role("row", name=re.compile(r"^Score ≥ 700"))).to_contain_text("catches")
    console.shot("models-compare")
    page = console.go("/models/TRANSACTION_FRAUD_INSIGHTS/card_model/compare?versions=1.0,2.0")
    expect(page.locator("table.compare thead th")).to_have_count(3)
    page = console.go("/models")
    expect(page.get_by_role("row", name=re.compile(r"^card_model"))).to_contain_text("2.0")
    console.shot("models-list")


def declare_logins(afd: Any, event_type: str, variables: list[str]) -> None:
    """The login variables of test_wire_ati, the takeover and legit labels, and an event type."""
    afd.put_entity_type(name="user")
    for label in ("takeover", "legit"):
        afd.put_label(name=label)
    for name, (data_type, variable_type, default) in VARIABLES.items():
        afd.create_variable(
            name=name, dataType=data_type, dataSource="EVENT", defaultValue=default, variableType=variable_type
        )
    afd.put_event_type(name=event_type, eventVariables=variables, labels=["takeover", "legit"], entityTypes=["user"])


def test_refusals_are_shown_next_to_their_fields(console: ConsoleSession) -> None:
    afd = console.afd
    declare_logins(afd, "bare_login", ["ip", "plan_tier"])
    afd.create_model(modelId="taken", modelType=TFI, eventTypeName="bare_login")

    # an id AFD's pattern refuses: its message, next to the id
    page = console.go("/models/new")
    page.get_by_label("Model ID").fill("Bad Id")
    page.get_by_label("Event type").select_option("bare_login")
    page.get_by_role("button", name="Continue").click()
    field = page.locator(".field", has=page.get_by_label("Model ID"))
    expect(field.locator(".field-error")).to_contain_text("modelId")
    # a model id already taken: refused at step 1, next to the id
    page = console.go("/models/new")
    page.get_by_label("Model type").select_option(ATI)
    page.get_by_label("Event type").select_option("bare_login")
    page.get_by_label("Model ID").fill("taken")
    page.get_by_label("Model type").select_option(ATI)
    page.get_by_label("Event type").select_option("bare_login")
    page.get_by_role("button", name="Continue").click()
    field = page.locator(".field", has=page.get_by_label("Model ID"))
    expect(field.locator(".field-error")).to_contain_text("A model with id taken already exists")
    expect(page.get_by_label("Model ID")).to_have_attribute("aria-invalid", "true")
    console.shot("models-new-refused-id")
    # the taken model has no versions: its page offers to delete it
    page = console.go(f"/models/{TFI}/taken")
    expect(page.get_by_text("No versions yet")).to_be_visible()
    console.shot("models-model-empty")
    page.get_by_role("button", name="Delete model").click()
    expect(page.get_by_role("status").first).to_have_text("Deleted model taken.")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_models(modelId="taken")
    page = console.go("/models/new")
    page.get_by_label("Model type").select_option(ATI)
    page.get_by_label("Event type").select_option("bare_login")

    # ATI without a user agent and credentials variable: the service names the missing type, shown
    # beside the variables; the model the form created is gone again
    page.get_by_label("Model ID").fill("logins")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Create model and train").click()
    # no stored events: no default window, and the dates are asked for
    expect(page.locator(".field", has=page.get_by_label("From (date)")).locator(".field-error")).to_have_text(
        "Start date is required."
    )
    page.get_by_label("From (date)").fill("2024-01-01")
    page.get_by_label("To (date, included)").fill("2024-02-01")
    page.get_by_role("button", name="Create model and train").click()
    variables = page.get_by_role("group", name="Variables to train on")
    expect(variables.locator(".field-error")).to_contain_text("variable type USERAGENT")
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    expect(page.get_by_label("Model ID")).to_have_value("logins")
    console.shot("models-new-refused-ati")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_models(modelId="logins")


def test_label_and_file_refusals(console: ConsoleSession) -> None:
    afd = console.afd
    declare_logins(afd, "bare_login", ["ip", "plan_tier"])
    # every label mapped to legit: no fraud to learn from (a TFI model), said beside the labels
    page = console.go(
        "/models/new?step=train&model_id=no_fraud&model_type=TRANSACTION_FRAUD_INSIGHTS&event_type=bare_login"
    )
    page.get_by_label("Label takeover means").select_option("LEGIT")
    page.get_by_label("From (date)").fill("2024-01-01")
    page.get_by_label("To (date, included)").fill("2024-02-01")
    page.get_by_role("button", name="Create model and train").click()
    labels = page.get_by_role("group", name="Labels")
    expect(labels.locator(".field-error")).to_contain_text("at least one label to fraud")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_models(modelId="no_fraud")

    # OFI from a file that is not there: AFD's refusal names dataLocation, shown beside the file field
    page = console.go("/models/new?step=train&model_id=signups&model_type=ONLINE_FRAUD_INSIGHTS&event_type=bare_login")
    # no stored events: the file is the default source, and only its fields show
    expect(page.get_by_label("A CSV file (S3)")).to_be_checked()
    expect(page.get_by_label("From (date)")).to_be_hidden()
    page.get_by_label("Stored events of bare_login").check()
    expect(page.get_by_label("Data file")).to_be_hidden()
    page.get_by_label("A CSV file (S3)").check()
    page.get_by_label("Data file").fill("s3://nowhere/missing.csv")
    page.get_by_role("button", name="Create model and train").click()
    location = page.locator(".field", has=page.get_by_label("Data file"))
    expect(location.locator(".field-error")).to_contain_text("dataLocation")
    expect(page.get_by_label("Data file")).to_have_value("s3://nowhere/missing.csv")
    console.shot("models-new-refused-file")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_models(modelId="signups")


def test_an_ati_version_shows_asi_and_challenge_rates(
    console: ConsoleSession, console_settings: Settings, tmp_path: Path
) -> None:
    afd = console.afd
    afd.put_entity_type(name="user")
    for label in ("takeover", "legit"):
        afd.put_label(name=label)
    for name, (data_type, variable_type, default) in VARIABLES.items():
        afd.create_variable(
            name=name, dataType=data_type, dataSource="EVENT", defaultValue=default, variableType=variable_type
        )
    afd.put_event_type(name="login", eventVariables=LOGIN_VARIABLES, labels=["takeover", "legit"], entityTypes=["user"])
    afd.create_model(modelId="takeover", modelType=ATI, eventTypeName="login")
    version = store_complete(console_settings, "takeover", hand_built(ato_entities=60))
    detail = afd.describe_model_versions(modelId="takeover", modelType=ATI, modelVersionNumber=version)
    ati = detail["modelVersionDetails"][0]["trainingResultV2"]["trainingMetricsV2"]["ati"]
    asi = ati["modelPerformance"]["asi"]

    page = console.go(f"/models/{ATI}/takeover/{version}")
    expect(page.locator("#asi")).to_have_text(f"{asi:.3f}")
    reading = "high" if asi >= 0.9 else "good" if asi >= 0.75 else "poor"
    expect(page.locator("#asi-reading")).to_have_text(reading)
    table = page.locator("#cr-table")
    expect(table.get_by_role("columnheader", name="ATO discovery rate")).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(6)  # one row per challenge rate from 1% to 6%
    by_threshold = {int(p["threshold"]): p for p in ati["metricDataPoints"]}
    first = rows.first.locator("td")
    threshold = whole(first.nth(0).inner_text())
    assert first.nth(1).inner_text() == f"{by_threshold[threshold]['cr'] * 100:.2f}%"
    assert first.nth(2).inner_text() == f"{by_threshold[threshold]['adr'] * 100:.1f}%"
    assert 0 < by_threshold[threshold]["cr"] <= 0.01
    page.wait_for_function("document.getElementById('cr-chart').data !== undefined")
    curves = page.evaluate("document.getElementById('cr-chart').data.map(trace => trace.name)")
    assert curves == ["Anomaly discovery rate (ADR)", "ATO discovery rate (ATODR)", "Threshold"]
    # the threshold: keyboard on the slider, the summary and the curve's marker follow the report
    page.get_by_label("Threshold slider").focus()
    page.keyboard.press("PageDown")  # a tenth of the range down: 500 -> 400
    threshold = int(page.get_by_role("spinbutton", name="Threshold").input_value())
    assert threshold < 500
    point = by_threshold[threshold]
    expect(page.locator("#threshold-summary")).to_have_text(
        f"At score {threshold} or more: challenges {point['cr'] * 100:.2f}% of logins, finds "
        f"{point['adr'] * 100:.1f}% of anomalous logins and {point['atodr'] * 100:.1f}% of labelled takeovers."
    )
    marker = page.evaluate(
        "(() => { const d = document.getElementById('cr-chart').data[2]; return [d.x[0], d.y[0]]; })()"
    )
    assert marker == pytest.approx([point["cr"], point["adr"]])
    expect(page.get_by_role("heading", name="Engineered groups")).to_be_visible()
    console.shot("models-version-ati")
    # a phone-sized window: nothing wider than the screen but the tables' own boxes
    page.set_viewport_size(NARROW)
    page.reload()
    page.wait_for_function("document.getElementById('cr-chart').data !== undefined")
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    console.shot("models-version-ati-narrow")
    page.set_viewport_size(WIDE)
    page = console.go(f"/models/{ATI}/takeover/compare")
    expect(page.locator("table.compare").get_by_role("row", name=re.compile(r"^Score ≥ 500"))).to_contain_text(
        "challenges"
    )
    expect(page.locator("table.compare").get_by_role("row", name=re.compile(r"^ASI"))).to_contain_text(f"{asi:.3f}")
    # addresses of nothing: a clear page, no trace
    for path in (f"/models/{ATI}/takeover/9.0", f"/models/{ATI}/nobody", "/models/NOT_A_TYPE/takeover"):
        page = console.go(path)
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
