"""The console's detector pages in a real browser, against a server with a trained, ACTIVE model:
creating a detector and its first version, the rule editor's live check, rule order, execution mode,
"Run test", publishing and retiring, and the refusals, each checked against what boto3 reads back."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from fraudhawk import datagen
from fraudhawk.settings import Settings
from tests.browser import NARROW, SCREENSHOTS, WIDE, ConsoleSession
from tests.helpers import OFI, RunningServer, boto_client, wait_status

MODEL = "signup_model"
SCORE = f"{MODEL}_insightscore"
ROLE = "arn:aws:iam::123456789012:role/afd"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server per module: sign-ups, and an ACTIVE Online Fraud Insights model trained on them."""
    base = tmp_path_factory.mktemp("detectors")
    settings = Settings.load(data_dir=base / "data", environ={})
    files = settings.data_dir / "files"
    files.mkdir(parents=True)
    datagen.registrations(files / "registrations.csv", events=3000, seed=1)
    with RunningServer(settings) as running:
        afd = boto_client(running.url)
        afd.put_entity_type(name="customer")
        for label in ("fraud", "legit"):
            afd.put_label(name=label)
        for name, (data_type, variable_type) in datagen.REGISTRATION_VARIABLES.items():
            afd.create_variable(
                name=name, dataType=data_type, dataSource="EVENT", defaultValue="unknown", variableType=variable_type
            )
        afd.put_event_type(
            name="signup",
            eventVariables=list(datagen.REGISTRATION_VARIABLES),
            labels=["fraud", "legit"],
            entityTypes=["customer"],
        )
        afd.create_model(modelId=MODEL, modelType=OFI, eventTypeName="signup")
        afd.create_model_version(
            modelId=MODEL,
            modelType=OFI,
            trainingDataSource="EXTERNAL_EVENTS",
            trainingDataSchema={
                "modelVariables": list(datagen.REGISTRATION_VARIABLES),
                "labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}},
            },
            externalEventsDetail={"dataLocation": str(files / "registrations.csv"), "dataAccessRoleArn": ROLE},
        )
        wait_status(afd, MODEL, OFI, "1.0", "TRAINING_COMPLETE")
        afd.update_model_version_status(modelId=MODEL, modelType=OFI, modelVersionNumber="1.0", status="ACTIVE")
        wait_status(afd, MODEL, OFI, "1.0", "ACTIVE")
        for outcome in ("approve", "review"):
            afd.put_outcome(name=outcome)
        yield running


@pytest.fixture
def session(browser: Browser, trained: RunningServer) -> Iterator[ConsoleSession]:
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(15_000)
    console = ConsoleSession(trained, context, context.new_page())
    try:
        yield console
        assert not console.errors, f"script errors on the page: {console.errors}"
    finally:
        context.close()


def create_detector(console: ConsoleSession, detector_id: str) -> Page:
    page = console.go("/detectors/new")
    page.get_by_label("Detector ID").fill(detector_id)
    page.get_by_label("Description").fill("sign-up fraud")
    page.get_by_label("Event type").select_option("signup")
    page.get_by_role("button", name="Next: first version").click()
    expect(page).to_have_url(re.compile(f"/detectors/{detector_id}/versions/new"))
    return page


def type_expression(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Expression", exact=True)
    box.fill("")
    box.press_sequentially(text, delay=5)


def first_version(console: ConsoleSession, detector_id: str) -> Page:
    """The detector with a DRAFT version 1: the model, and the walk-through's block rule."""
    page = create_detector(console, detector_id)
    page.get_by_label(re.compile(f"{MODEL} version 1.0")).check()
    page.get_by_label("Rule ID").fill("high_risk")
    type_expression(page, f"${SCORE} > 900")
    page.get_by_label("Create an outcome").fill("block")
    page.get_by_role("button", name="Create version").click()
    expect(page).to_have_url(re.compile(f"/detectors/{detector_id}/versions/1"))
    return page


def add_rule(page: Page, rule_id: str, expression: str, outcome: str) -> None:
    form = page.locator("#add-rule")
    form.get_by_label("Rule ID").fill(rule_id)
    type_expression(page, expression)
    expect(page.locator("[data-rule-check]")).to_contain_text("No problems")
    form.get_by_label(outcome, exact=True).check()
    form.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("status")).to_contain_text(f"Added rule {rule_id}")


def stored_rules(console: ConsoleSession, detector_id: str, version: str = "1") -> list[str]:
    stored = console.afd.get_detector_version(detectorId=detector_id, detectorVersionId=version)
    return [r["ruleId"] for r in stored["rules"]]


def test_build_a_detector_test_publish_and_retire(session: ConsoleSession) -> None:
    console = session
    console.go("/detectors")
    console.shot("detectors-list-empty")
    page = create_detector(console, "signup_guard")
    console.shot("detectors-new-version")
    # the names beside the editor: the model's score and the event's variables, inserted on click
    page.get_by_role("button", name=f"${SCORE}").click()
    expect(page.get_by_role("textbox", name="Expression", exact=True)).to_have_value(f"${SCORE}")
    page.get_by_label(re.compile(f"{MODEL} version 1.0")).check()
    page.get_by_label("Rule ID").fill("high_risk")
    type_expression(page, f"${SCORE} > 900")
    expect(page.locator("[data-rule-check]")).to_contain_text("No problems")
    page.get_by_label("Create an outcome").fill("block")
    page.get_by_role("button", name="Create version").click()
    expect(page).to_have_url(re.compile("/detectors/signup_guard/versions/1"))
    stored = console.afd.get_detector_version(detectorId="signup_guard", detectorVersionId="1")
    assert stored["status"] == "DRAFT"
    assert [(m["modelId"], m["modelVersionNumber"]) for m in stored["modelVersions"]] == [(MODEL, "1.0")]
    assert stored["ruleExecutionMode"] == "FIRST_MATCHED"
    rule = console.afd.get_rules(detectorId="signup_guard", ruleId="high_risk")["ruleDetails"][0]
    assert (rule["expression"], rule["outcomes"]) == (f"${SCORE} > 900", ["block"])
    assert console.afd.get_detectors(detectorId="signup_guard")["detectors"][0]["description"] == "sign-up fraud"

    # more rules, as the walk-through: review the middle scores, approve the rest
    add_rule(page, "medium_risk", f"${SCORE} > 400", "review")
    add_rule(page, "low_risk", f"${SCORE} <= 900", "approve")
    assert stored_rules(console, "signup_guard") == ["high_risk", "medium_risk", "low_risk"]
    rows = page.locator("table.rules tbody tr")
    expect(rows.nth(0)).to_contain_text("high_risk")
    console.shot("detectors-version-draft")

    reorder_with_the_keyboard(console, page)
    run_a_test(console, page)
    publish_retire_and_copy(console, page)
    console.go("/detectors/signup_guard")
    expect(page.get_by_role("row", name=re.compile("Version 2"))).to_contain_text("draft")
    expect(page.get_by_role("row", name=re.compile("Version 1"))).to_contain_text("inactive")
    console.shot("detectors-detector")
    console.go("/detectors")
    expect(page.get_by_role("row", name=re.compile("signup_guard"))).to_contain_text("signup")
    console.shot("detectors-list")


def reorder_with_the_keyboard(console: ConsoleSession, page: Page) -> None:
    """Focus "Move low_risk up" and press Enter, twice; then all matched."""
    rows = page.locator("table.rules tbody tr")
    page.get_by_role("button", name="Move low_risk up").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Moved low_risk to position 2")
    expect(page.get_by_role("button", name="Move low_risk up")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Moved low_risk to position 1")
    assert stored_rules(console, "signup_guard") == ["low_risk", "high_risk", "medium_risk"]
    expect(rows.nth(0)).to_contain_text("low_risk")
    page.get_by_role("button", name="Move low_risk down").click()
    assert stored_rules(console, "signup_guard") == ["high_risk", "low_risk", "medium_risk"]

    # all matched
    page.locator("#mode").get_by_label("All matched").check()
    page.get_by_role("button", name="Save rule execution").click()
    expect(page.get_by_role("status")).to_contain_text("all matched")
    stored = console.afd.get_detector_version(detectorId="signup_guard", detectorVersionId="1")
    assert stored["ruleExecutionMode"] == "ALL_MATCHED"


def run_a_test(console: ConsoleSession, page: Page) -> None:
    """Nothing is stored; the page shows the score, each rule with the values it read, the outcomes."""
    page.get_by_role("link", name="Run test").click()
    expect(page.get_by_label("billing_state")).to_have_value("unknown")
    console.shot("detectors-test-form")
    page.get_by_label("email_address").fill("someone@example.com")
    page.get_by_label("billing_state").fill("CA")
    page.get_by_label("Entity ID").fill("cust-42")
    page.get_by_role("button", name="Run test").click()
    score_text = page.locator("td.score").inner_text()
    score = float(score_text.replace(",", ""))
    assert 0 <= score <= 1000
    results = page.locator("table.rule-results tbody tr")
    expect(results).to_have_count(3)
    expected: list[str] = []
    for index, (rule_id, matched, outcome) in enumerate(
        [
            ("high_risk", score > 900, "block"),
            ("low_risk", score <= 900, "approve"),
            ("medium_risk", score > 400, "review"),
        ]
    ):
        row = results.nth(index)
        expect(row).to_contain_text(rule_id)
        expect(row).to_contain_text("matched" if matched else "not matched")
        shown = f"{score:g}" if score != int(score) else str(int(score))
        expect(row.locator("code.expr")).to_contain_text(shown)  # the expression with the score it read
        if matched:
            expected.append(outcome)
    outcomes = page.locator("li.outcome")
    expect(outcomes).to_have_text(expected)
    console.shot("detectors-test-result")
    assert console.afd.list_event_predictions(maxResults=50)["eventPredictionSummaries"] == []
    stats = console.afd.get_event_types(name="signup")["eventTypes"][0].get("ingestedEventStatistics", {})
    assert stats.get("numberOfEvents", 0) == 0  # the test event was not stored either


def publish_retire_and_copy(console: ConsoleSession, page: Page) -> None:
    page.get_by_role("link", name="Version 1").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Published version 1")
    assert console.afd.describe_detector(detectorId="signup_guard")["detectorVersionSummaries"][0]["status"] == "ACTIVE"
    expect(page.get_by_role("button", name="Add rule")).to_have_count(0)  # an ACTIVE version does not change
    console.shot("detectors-version-active")
    page.get_by_role("button", name="Retire").click()
    expect(page.get_by_role("status")).to_contain_text("Retired version 1")
    summaries = console.afd.describe_detector(detectorId="signup_guard")["detectorVersionSummaries"]
    assert [(s["detectorVersionId"], s["status"]) for s in summaries] == [("1", "INACTIVE")]

    # a new version from this one copies its rules and models
    page.get_by_role("button", name="New version from this").click()
    expect(page).to_have_url(re.compile("/detectors/signup_guard/versions/2"))
    copy = console.afd.get_detector_version(detectorId="signup_guard", detectorVersionId="2")
    assert copy["status"] == "DRAFT"
    assert [r["ruleId"] for r in copy["rules"]] == ["high_risk", "low_risk", "medium_risk"]
    assert copy["ruleExecutionMode"] == "ALL_MATCHED"
    assert [m["modelId"] for m in copy["modelVersions"]] == [MODEL]


def test_live_check_points_at_line_and_column(session: ConsoleSession) -> None:
    console = session
    page = first_version(console, "live_check")
    box = page.get_by_role("textbox", name="Expression", exact=True)
    check = page.locator("[data-rule-check]")
    # a syntax error on the second line
    type_expression(page, f"${SCORE} > 900 and\n$billing_state ==")
    expect(check).to_contain_text("Line 2, column 18")
    expect(check.locator(".rule-snippet mark")).to_be_visible()
    expect(page.locator("[data-gutter] .error-line")).to_have_text("2")
    # "Go to the error" puts the caret there
    check.get_by_role("button", name="Go to the error").click()
    expect(box).to_be_focused()
    caret = box.evaluate("(el) => el.selectionStart")
    assert caret == len(f"${SCORE} > 900 and\n$billing_state ==")
    console.shot("detectors-editor-syntax-error")
    # a type error: a STRING compared with a number, pointed at its operator
    type_expression(page, "$billing_state > 5")
    expect(check).to_contain_text("Line 1, column 16")
    expect(check).to_contain_text("a STRING cannot be compared with an INTEGER")
    console.shot("detectors-editor-type-error")
    # an unknown name, with the closest one suggested
    type_expression(page, '$biling_state == "CA"')
    expect(check).to_contain_text("did you mean $billing_state?")
    type_expression(page, '$billing_state == "CA"')
    expect(check).to_contain_text("No problems")
    expect(page.locator("[data-gutter] .error-line")).to_have_count(0)


def test_refusals_are_shown_next_to_the_field_and_nothing_is_saved(session: ConsoleSession) -> None:
    console = session
    page = first_version(console, "refusals")
    form = page.locator("#add-rule")
    # a duplicate rule id
    form.get_by_label("Rule ID").fill("high_risk")
    type_expression(page, f"${SCORE} > 100")
    form.get_by_label("review", exact=True).check()
    form.get_by_role("button", name="Add rule").click()
    expect(form.locator("#e-rule_id")).to_contain_text("already exists")
    expect(form.get_by_role("textbox", name="Expression", exact=True)).to_have_value(f"${SCORE} > 100")  # values kept
    console.shot("detectors-refused-duplicate")
    # a bad expression, saved without waiting for the live check (or without JavaScript)
    form.get_by_label("Rule ID").fill("broken")
    form.get_by_role("textbox", name="Expression", exact=True).fill("$billing_state > 5")
    form.get_by_label("Create an outcome").fill("never_created")
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#e-expression")).to_contain_text("Line 1, column 16")
    expect(page.locator("#f-expression")).to_have_attribute("aria-invalid", "true")
    assert stored_rules(console, "refusals") == ["high_risk"]
    assert {r["ruleId"] for r in console.afd.get_rules(detectorId="refusals")["ruleDetails"]} == {"high_risk"}
    assert "never_created" not in {o["name"] for o in console.afd.get_outcomes()["outcomes"]}
    # no outcome chosen
    form.get_by_role("textbox", name="Expression", exact=True).fill(f"${SCORE} > 100")
    form.get_by_label("Create an outcome").fill("")
    form.get_by_label("review", exact=True).uncheck()
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator("#e-outcomes")).to_contain_text("Choose at least one outcome")
    # a detector id that exists, and one that is not valid
    page = console.go("/detectors/new")
    page.get_by_label("Detector ID").fill("refusals")
    page.get_by_label("Event type").select_option("signup")
    page.get_by_role("button", name="Next: first version").click()
    expect(page.locator("#e-detector_id")).to_contain_text("already exists")
    page.get_by_label("Detector ID").fill("Bad Name")
    page.get_by_role("button", name="Next: first version").click()
    expect(page.locator("#e-detector_id")).to_contain_text("not valid")
    console.shot("detectors-new-refused")
    assert "bad name" not in {d["detectorId"] for d in console.afd.get_detectors()["detectors"]}
    # a test event with a timestamp that is none
    page = console.go("/detectors/refusals/versions/1/test")
    page.get_by_label("Event timestamp").fill("yesterday")
    page.get_by_role("button", name="Run test").click()
    expect(page.locator("#e-event_timestamp")).to_be_visible()
    expect(page.get_by_label("Event timestamp")).to_have_value("yesterday")
    console.shot("detectors-test-refused")


def test_change_a_rule_delete_versions_and_the_detector(session: ConsoleSession) -> None:
    console = session
    page = first_version(console, "short_lived")
    page.get_by_role("link", name="Change rule high_risk").click()
    expect(page.get_by_role("textbox", name="Expression", exact=True)).to_have_value(f"${SCORE} > 900")
    console.shot("detectors-rule-edit")
    type_expression(page, f"${SCORE} > 950")
    expect(page.locator("[data-rule-check]")).to_contain_text("No problems")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("status")).to_contain_text("Saved rule high_risk as its version 2")
    stored = console.afd.get_detector_version(detectorId="short_lived", detectorVersionId="1")
    assert stored["rules"] == [{"detectorId": "short_lived", "ruleId": "high_risk", "ruleVersion": "2"}]
    expect(page.locator("table.rules")).to_contain_text(f"${SCORE} > 950")
    # a model removed while a rule reads its score: refused, the version unchanged
    page.get_by_label(re.compile(f"{MODEL} version 1.0")).uncheck()
    page.get_by_role("button", name="Save model versions").click()
    expect(page.locator("#e-model_versions")).to_contain_text(f"has no version of model {MODEL}")
    stored = console.afd.get_detector_version(detectorId="short_lived", detectorVersionId="1")
    assert [m["modelId"] for m in stored["modelVersions"]] == [MODEL]
    # delete the draft, then the detector (its rules go with it)
    page.get_by_role("button", name="Delete version").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted version 1")
    page.get_by_role("button", name="Delete detector").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted detector short_lived")
    assert "short_lived" not in {d["detectorId"] for d in console.afd.get_detectors()["detectors"]}


def test_pages_fit_a_phone(browser: Browser, session: ConsoleSession) -> None:
    first_version(session, "phone")
    context = browser.new_context(viewport=NARROW)
    try:
        page = context.new_page()
        for path, name in (
            ("/detectors", "detectors-list-narrow"),
            ("/detectors/phone/versions/1", "detectors-version-narrow"),
            ("/detectors/phone/versions/1/test", "detectors-test-narrow"),
        ):
            page.goto(session.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"], path
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        context.close()


def test_rules_reorder_and_refusals_work_without_javascript(browser: Browser, trained: RunningServer) -> None:
    afd = boto_client(trained.url)
    afd.put_detector(detectorId="no_script", eventTypeName="signup")
    for rule_id, expression in (("first", '$billing_state == "CA"'), ("second", '$billing_state == "NY"')):
        afd.create_rule(
            ruleId=rule_id, detectorId="no_script", expression=expression, language="DETECTORPL", outcomes=["review"]
        )
    rules = [{"detectorId": "no_script", "ruleId": r, "ruleVersion": "1"} for r in ("first", "second")]
    afd.create_detector_version(detectorId="no_script", rules=rules)
    context = browser.new_context(viewport=WIDE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(trained.url + "/detectors/no_script/versions/1")
        page.get_by_role("button", name="Move second up").click()
        expect(page.get_by_role("status")).to_contain_text("Moved second to position 1")
        stored = afd.get_detector_version(detectorId="no_script", detectorVersionId="1")
        assert [r["ruleId"] for r in stored["rules"]] == ["second", "first"]
        # without the live check, the server's check places the error on save
        form = page.locator("#add-rule")
        form.get_by_label("Rule ID").fill("third")
        form.get_by_role("textbox", name="Expression", exact=True).fill('$billing_state == "CA" and')
        form.get_by_label("approve", exact=True).check()
        form.get_by_role("button", name="Add rule").click()
        expect(page.locator("#e-expression")).to_contain_text("Line 1, column")
        assert {r["ruleId"] for r in afd.get_rules(detectorId="no_script")["ruleDetails"]} == {"first", "second"}
    finally:
        context.close()
