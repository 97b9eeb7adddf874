"""The console's past predictions in a real browser: the search with each filter (checked against what
boto3 recorded), paging, one prediction explained (checked against GetEventPredictionMetadata), the
event it was about, and refused filters."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Browser, Page, expect

from fraudhawk import datagen
from tests.browser import NARROW, SCREENSHOTS, ConsoleSession
from tests.helpers import OFI, rule, setup_catalog, wait_status

EVENT_TYPE_VARIABLES = ["email_address", "ip_address", "order_amount", "items", "is_member"]


def shop(afd: Any) -> None:
    """The checkout catalog (ingestion on, so predicted events are stored), a "shop" detector whose
    rules block big orders, review many items and approve the rest, and a "vip" detector that approves."""
    setup_catalog(afd)
    afd.put_entity_type(name="merchant")
    afd.put_event_type(
        name="checkout",
        eventVariables=EVENT_TYPE_VARIABLES,
        labels=["fraud", "legit"],
        entityTypes=["customer", "merchant"],
        eventIngestion="ENABLED",
    )
    rules = [
        rule(afd, "big_order", "$order_amount > 1000 and !$is_member", ["block"]),
        rule(afd, "many_items", "$items >= 50", ["review"]),
        rule(afd, "everyone", "$items >= 0", ["approve"]),
    ]
    afd.create_detector_version(detectorId="shop", rules=rules)
    afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")
    afd.put_detector(detectorId="vip", eventTypeName="checkout")
    afd.create_detector_version(detectorId="vip", rules=[rule(afd, "all_good", "$items >= 0", ["approve"], "vip")])
    afd.update_detector_version_status(detectorId="vip", detectorVersionId="1", status="ACTIVE")


def predict(afd: Any, event_id: str, variables: dict[str, str], detector: str = "shop", entity: str = "c1") -> Any:
    return afd.get_event_prediction(
        detectorId=detector,
        eventId=event_id,
        eventTypeName="checkout",
        eventTimestamp="2024-05-01T10:00:00Z",
        entities=[{"entityType": "customer", "entityId": entity}],
        eventVariables=variables,
    )


def recorded(afd: Any, **filters: Any) -> list[dict[str, Any]]:
    """Every recorded prediction (ListEventPredictions, all pages), newest first."""
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = afd.list_event_predictions(maxResults=100, **filters, **({"nextToken": token} if token else {}))
        found += page["eventPredictionSummaries"]
        token = page.get("nextToken")
        if not token:
            return found


def shown_ids(page: Page) -> list[str]:
    return page.locator("table.results tbody tr td:nth-child(2)").all_inner_texts()


def search(console: ConsoleSession, **filters: str) -> Page:
    return console.go("/predictions?" + urlencode(filters))


def _second(text: str, later: int = 0) -> str:
    """An ISO time cut to its second (and `later` seconds on), as a datetime-local field takes it."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    seconds = math.floor(moment.timestamp()) + later
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Recorded:
    """What the test recorded: each event's outcomes and entity, and the first batch's summaries."""

    outcomes: dict[str, list[str]] = field(default_factory=dict)
    entities: dict[str, str] = field(default_factory=dict)
    first_batch: list[dict[str, Any]] = field(default_factory=list)
    everything: list[str] = field(default_factory=list)


def record_two_batches(afd: Any) -> Recorded:
    """Blocked, reviewed and approved orders of two customers by "shop"; a second or more later, four
    approvals by "vip" (one of a merchant-like entity id)."""
    shop(afd)
    done = Recorded()
    for index in range(6):
        variables = {"order_amount": "1500" if index % 3 == 0 else "20", "items": "60" if index % 3 == 1 else "2"}
        entity = "c1" if index % 2 else "c2"
        result = predict(afd, f"a{index}", variables, entity=entity)
        done.outcomes[f"a{index}"] = [o for r in result["ruleResults"] for o in r["outcomes"]]
        done.entities[f"a{index}"] = entity
    done.first_batch = recorded(afd)
    time.sleep(1.2)  # the second batch is at least a second later: a time window can part them
    for index in range(4):
        entity = "m-entity" if index == 0 else "c3"
        predict(afd, f"v{index}", {"items": "1"}, detector="vip", entity=entity)
        done.entities[f"v{index}"] = entity
        done.outcomes[f"v{index}"] = ["approve"]
    done.everything = [s["eventId"] for s in recorded(afd)]
    return done


def test_search_by_detector_version_and_outcome(console: ConsoleSession) -> None:
    afd = console.afd
    page = console.go("/predictions")
    expect(page.get_by_text("No prediction is recorded yet")).to_be_visible()
    done = record_two_batches(afd)
    outcomes, everything = done.outcomes, done.everything
    page = console.go("/predictions")
    assert shown_ids(page) == everything
    console.shot("predictions-search")

    # detector, through the form
    page.get_by_label("Detector", exact=True).select_option("vip")
    page.get_by_role("button", name="Search").click()
    assert shown_ids(page) == [s["eventId"] for s in recorded(afd, detectorId={"value": "vip"})]
    assert shown_ids(page) == ["v3", "v2", "v1", "v0"]
    expect(page.get_by_label("Detector", exact=True)).to_have_value("vip")
    page.get_by_role("link", name="Clear filters").click()

    # detector version
    page = search(console, detector="shop", version="1")
    assert shown_ids(page) == [s["eventId"] for s in recorded(afd, detectorId={"value": "shop"})]

    # outcome
    page = console.go("/predictions")
    page.get_by_label("Outcome").select_option("block")
    page.get_by_role("button", name="Search").click()
    blocked = [event for event in everything if "block" in outcomes[event]]
    assert blocked
    assert shown_ids(page) == blocked
    console.shot("predictions-search-outcome")
    for row in page.locator("table.results tbody tr").all():
        expect(row.locator("td").nth(5)).to_contain_text("block")
    page = search(console, outcome="review", detector="shop")
    assert shown_ids(page) == [event for event in everything if "review" in outcomes[event]]


def test_search_by_entity_event_and_time(console: ConsoleSession) -> None:
    afd = console.afd
    done = record_two_batches(afd)
    entities, everything, first_batch = done.entities, done.everything, done.first_batch
    # entity
    page = console.go("/predictions")
    page.get_by_label("Entity type").select_option("customer")
    page.get_by_label("Entity ID").fill("c1")
    page.get_by_role("button", name="Search").click()
    assert shown_ids(page) == [event for event in everything if entities[event] == "c1"]
    page = search(console, entity_type="customer", entity_id="m-entity")
    assert shown_ids(page) == ["v0"]

    # event id (and event type)
    page = console.go("/predictions")
    page.get_by_label("Event ID").fill("a4")
    page.get_by_label("Event type").select_option("checkout")
    page.get_by_role("button", name="Search").click()
    assert shown_ids(page) == ["a4"]

    # time window: exactly the first batch ("to" a second includes the whole of that second)
    start = _second(first_batch[-1]["predictionTimestamp"])
    end = _second(first_batch[0]["predictionTimestamp"])
    page = console.go("/predictions")
    page.get_by_label("From (UTC)").fill(start)
    page.get_by_label("To (UTC)").fill(end)
    page.get_by_role("button", name="Search").click()
    assert shown_ids(page) == [s["eventId"] for s in first_batch]
    window = {"startTime": start + "Z", "endTime": end + ".999Z"}
    assert shown_ids(page) == [s["eventId"] for s in recorded(afd, predictionTimeRange=window)]
    # after the first batch: the second alone
    page = search(console, **{"from": _second(first_batch[0]["predictionTimestamp"], later=1)})
    assert shown_ids(page) == ["v3", "v2", "v1", "v0"]

    # no match
    page = search(console, event_id="a1", outcome="approve", entity_id="c2", entity_type="customer")
    expect(page.get_by_text("No recorded prediction matches these filters.")).to_be_visible()


def test_pages_follow_list_event_predictions(console: ConsoleSession) -> None:
    afd = console.afd
    shop(afd)
    for index in range(57):
        predict(afd, f"p{index:02d}", {"items": str(index)})
    expected = [s["eventId"] for s in recorded(afd)]
    page = console.go("/predictions")
    assert shown_ids(page) == expected[:50]
    expect(page.get_by_role("link", name="Previous page")).to_have_count(0)
    page.get_by_role("link", name="Next page").click()
    assert shown_ids(page) == expected[50:]
    expect(page.get_by_role("heading", name="Predictions (page 2)")).to_be_visible()
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.get_by_role("link", name="Previous page").click()
    assert shown_ids(page) == expected[:50]
    # paging keeps the filters
    page = search(console, outcome="review")
    assert shown_ids(page) == [event for event in expected if int(event[1:]) >= 50]


def test_bad_filters_are_refused_next_to_their_field(console: ConsoleSession) -> None:
    shop(console.afd)
    predict(console.afd, "e1", {"items": "1"})
    page = search(console, **{"from": "yesterday", "version": "first"})
    expect(page.locator("#e-from")).to_contain_text("From must be a date and time")
    expect(page.locator("#e-version")).to_contain_text("Detector version must be a version number")
    expect(page.get_by_role("alert")).to_contain_text("Not searched")
    expect(page.locator("table.results")).to_have_count(0)
    console.shot("predictions-search-refused")
    page = console.go("/predictions")
    page.get_by_label("From (UTC)").fill("2024-05-02T00:00:00")
    page.get_by_label("To (UTC)").fill("2024-05-01T00:00:00")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#e-to")).to_contain_text("To must not be before From")
    expect(page.get_by_label("To (UTC)")).to_have_attribute("aria-invalid", "true")
    page = search(console, entity_type="customer")
    expect(page.locator("#e-entity_id")).to_contain_text("entity's id")
    page = console.go("/predictions/detail?eventId=e1")
    expect(page.get_by_role("heading", name="Not possible")).to_be_visible()


def signup_detector(afd: Any, files: Path) -> None:
    """An OFI model trained on generated sign-ups, and a detector that reviews high scores."""
    datagen.registrations(files / "registrations.csv", events=800, seed=1)
    afd.put_entity_type(name="customer")
    afd.put_label(name="fraud")
    afd.put_label(name="legit")
    for name, (data_type, variable_type) in datagen.REGISTRATION_VARIABLES.items():
        afd.create_variable(
            name=name, dataType=data_type, dataSource="EVENT", defaultValue="unknown", variableType=variable_type
        )
    afd.put_event_type(
        name="signup",
        eventVariables=list(datagen.REGISTRATION_VARIABLES),
        labels=["fraud", "legit"],
        entityTypes=["customer"],
        eventIngestion="ENABLED",
    )
    afd.create_model(modelId="signup_model", modelType=OFI, eventTypeName="signup")
    afd.create_model_version(
        modelId="signup_model",
        modelType=OFI,
        trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema={
            "modelVariables": list(datagen.REGISTRATION_VARIABLES),
            "labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}},
        },
        externalEventsDetail={
            "dataLocation": str(files / "registrations.csv"),
            "dataAccessRoleArn": "arn:aws:iam::123456789012:role/afd",
        },
    )
    wait_status(afd, "signup_model", OFI, "1.0", "TRAINING_COMPLETE")
    model = {"modelId": "signup_model", "modelType": OFI, "modelVersionNumber": "1.0"}
    afd.update_model_version_status(**model, status="ACTIVE")
    wait_status(afd, "signup_model", OFI, "1.0", "ACTIVE")
    for outcome in ("review", "approve"):
        afd.put_outcome(name=outcome)
    afd.put_detector(detectorId="signups", eventTypeName="signup")
    rules = [
        rule(afd, "throwaway", 'regex_match(".*@mailinator\\.com", $email_address)', ["review"], "signups"),
        rule(afd, "risky", "$signup_model_insightscore > 900", ["review"], "signups"),
        rule(afd, "rest", "$signup_model_insightscore >= 0", ["approve"], "signups"),
    ]
    afd.create_detector_version(detectorId="signups", rules=rules, modelVersions=[model])
    afd.update_detector_version_status(detectorId="signups", detectorVersionId="1", status="ACTIVE")


def check_rules_and_variables(page: Page, metadata: dict[str, Any]) -> None:
    """The detail page's rules and variables are GetEventPredictionMetadata's."""
    # rules: expression, the values each read, matched or not, in order
    rows = page.locator("table.rules tbody tr")
    expect(rows).to_have_count(len(metadata["rules"]))
    for index, expected in enumerate(metadata["rules"]):
        cells = rows.nth(index).locator("td")
        expect(cells.nth(0)).to_contain_text(expected["ruleId"])
        expect(cells.nth(1)).to_have_text(expected["expression"])
        if expected["evaluated"]:
            expect(cells.nth(2)).to_have_text(expected["expressionWithValues"])
        word = "not evaluated" if not expected["evaluated"] else ("matched" if expected["matched"] else "not matched")
        expect(cells.nth(3)).to_have_text(word)
        expect(cells.nth(4)).to_have_text(", ".join(expected["outcomes"]))
    # the variables as the detector saw them, with where each came from
    values = page.locator("table.variables tbody tr")
    expect(values).to_have_count(len(metadata["eventVariables"]))
    for index, expected in enumerate(metadata["eventVariables"]):
        expect(values.nth(index).locator("td").nth(0)).to_have_text(expected["name"])
        expect(values.nth(index).locator("td").nth(1)).to_have_text(expected["value"])
    expect(values.filter(has_text="phone_number")).to_contain_text("default")


def check_explanation(page: Page, evaluation: dict[str, Any]) -> None:
    """The score, its chart, and the chart's table holding GetEventPredictionMetadata's numbers."""
    main = page.locator("main")
    # the score and its explanation: the chart is drawn, and its table holds the same numbers
    expect(main).to_contain_text(evaluation["evaluationScore"])
    impacts = evaluation["predictionExplanations"]["variableImpactExplanations"]
    assert impacts
    expect(page.locator(".impact-chart .main-svg").first).to_be_visible(timeout=15_000)  # Plotly is large
    # the variables' table, then the groups' (shown apart: the two are views of one push, never added)
    table = page.locator("table.impacts").first.locator("tbody tr")
    expect(table).to_have_count(len(impacts))
    groups = evaluation["predictionExplanations"]["aggregatedVariablesImpactExplanations"]
    if groups:
        expect(page.locator("table.impacts").nth(1).locator("tbody tr")).to_have_count(len(groups))
    for impact in impacts:
        row = table.filter(has=page.get_by_text(impact["eventVariableName"], exact=True)).first
        expect(row.locator("td").nth(1)).to_have_text(impact["relativeImpact"])
        expect(row.locator("td").nth(2)).to_have_text(f"{impact['logOddsImpact']:.4f}")
        direction = "raises risk" if impact["logOddsImpact"] > 0 else "lowers risk"
        if impact["logOddsImpact"] != 0:
            expect(row.locator("td").nth(3)).to_contain_text(direction)


SIGNUPS = {
    "s1": {"email_address": "mary.smith@gmail.com", "ip_address": "64.12.9.80", "billing_state": "CA"},
    "s2": {"email_address": "xq7zk2v9r1@mailinator.com", "ip_address": "185.105.3.4", "billing_state": "CA"},
}


def test_detail_explains_a_prediction_and_links_to_its_event(console: ConsoleSession) -> None:
    afd = console.afd
    files = console.server.settings.data_dir / "files"  # a folder the server may read
    files.mkdir(parents=True, exist_ok=True)
    signup_detector(afd, files)
    for event_id, variables in SIGNUPS.items():
        afd.get_event_prediction(
            detectorId="signups",
            eventId=event_id,
            eventTypeName="signup",
            eventTimestamp="2024-07-01T12:00:00Z",
            entities=[{"entityType": "customer", "entityId": f"user-{event_id}"}],
            eventVariables=variables,
        )
    for summary in recorded(afd):
        event_id = summary["eventId"]
        metadata = afd.get_event_prediction_metadata(
            eventId=event_id,
            eventTypeName="signup",
            detectorId="signups",
            detectorVersionId="1",
            predictionTimestamp=summary["predictionTimestamp"],
        )
        page = console.go("/predictions")
        page.get_by_role("link", name=f"Prediction of event {event_id}").click()
        expect(page.get_by_role("heading", name=f"Prediction of event {event_id}")).to_be_visible()
        main = page.locator("main")
        for outcome in metadata["outcomes"]:
            expect(main.locator(".lede")).to_contain_text(outcome)
        expect(main.locator("dl.facts")).to_contain_text(f"customer user-{event_id}")
        expect(main.locator("dl.facts")).to_contain_text("signups version 1")
        check_rules_and_variables(page, metadata)
        check_explanation(page, metadata["evaluatedModelVersions"][0]["evaluations"][0])
        console.shot(f"predictions-detail-{event_id}")

    # the event (the last one opened), as GetEvent has it, and back
    page.get_by_role("link", name="See the event").click()
    event = afd.get_event(eventId=event_id, eventTypeName="signup")["event"]
    expect(page.get_by_role("heading", name=f"Event {event_id}")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text(f"customer user-{event_id}")
    for name, value in event["eventVariables"].items():
        row = page.locator("tr", has=page.get_by_text(name, exact=True))
        expect(row.locator("td").nth(1)).to_have_text(value)
    expect(page.locator("dl.facts")).to_contain_text("not labelled")
    console.shot("predictions-event")
    page.get_by_role("link", name="Predictions of this event").click()
    assert shown_ids(page) == [event_id]
    # an event not stored says so
    page = console.go("/events/signup/never-sent")
    expect(page.get_by_role("heading", name="Event never-sent is not stored")).to_be_visible()
    console.shot("predictions-event-missing")


def test_phone_sized_window(browser: Browser, console: ConsoleSession) -> None:
    shop(console.afd)
    for index in range(3):
        predict(console.afd, f"n{index}", {"order_amount": "1500", "items": str(index)})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=NARROW)
    try:
        page = context.new_page()
        page.goto(console.url + "/predictions")
        expect(page.get_by_role("link", name="Prediction of event n2")).to_be_attached()
        # nothing wider than the window: the results table scrolls inside its box
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
        page.screenshot(path=str(SCREENSHOTS / "predictions-search-narrow.png"), full_page=True)
        page.get_by_role("link", name="Prediction of event n2").click()
        expect(page.get_by_role("heading", name="Prediction of event n2")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
        page.screenshot(path=str(SCREENSHOTS / "predictions-detail-narrow.png"), full_page=True)
    finally:
        context.close()
