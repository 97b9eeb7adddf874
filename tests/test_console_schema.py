"""The console's schema pages in a real browser: event types from a CSV header, entity types, labels,
outcomes, variables, lists and external models, each with a refusal, checked against the server with boto3."""

from __future__ import annotations

import asyncio
import csv
import gzip
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from starlette.requests import Request

from fraudhawk import datagen
from fraudhawk.console.pages.schema_event_new import Plan, Row, execute
from fraudhawk.console.web import Console, Form
from fraudhawk.events.columns import MAX_HEADER_BYTES, HeaderError, read_header
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings
from tests.browser import NARROW, ConsoleSession

ROLE = "arn:aws:iam::123456789012:role/fraud-endpoint"


def _variable_names(afd: Any) -> set[str]:
    return {v["name"] for v in afd.get_variables(maxResults=100)["variables"]}


def _first_labels(path: Path, rows: int) -> set[str]:
    """EVENT_LABEL values of the file's first rows, read independently of the console."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return {row["EVENT_LABEL"] for _, row in zip(range(rows), reader, strict=False)}


def _box(page: Page, name: str) -> Locator:
    """The text field with that accessible name (a required field's label also shows a hidden "*")."""
    return page.get_by_role("textbox", name=name, exact=True)


def _field_error(page: Page, control: Locator | str) -> Locator:
    """The error shown next to a control (the form macros tie it with aria-describedby)."""
    if isinstance(control, str):
        control = page.get_by_label(control, exact=True)
    described = control.get_attribute("aria-describedby") or ""
    error_id = next(part for part in described.split() if part.startswith("e-"))
    return page.locator(f"#{error_id}")


def test_event_type_from_an_uploaded_csv_header(console: ConsoleSession, tmp_path: Path) -> None:
    source = tmp_path / "payments.csv"
    datagen.transactions(source, cards=40, days=20, seed=5)
    upload = tmp_path / "payments.csv.gz"
    with source.open("rb") as plain, gzip.open(upload, "wb") as packed:
        shutil.copyfileobj(plain, packed)
    page = console.go("/event-types/new")
    console.shot("schema-event-type-new")
    _box(page, "Name").fill("payment")
    page.get_by_label("Upload a CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Read columns").click()
    expect(page.get_by_role("status")).to_contain_text("Read 5 columns")
    # AFD's reserved columns are recognised, not offered as variables
    expect(page.get_by_label("Variable name for column EVENT_ID")).to_have_count(0)
    expect(page.get_by_label("Variable type for column amt")).to_have_value("PRICE")
    expect(page.get_by_label("Variable type for column ip_address")).to_have_value("IP_ADDRESS")
    expect(page.get_by_label("Variable type for column merchant")).to_have_value("CATEGORICAL")
    expect(page.get_by_label("Or a new entity type")).to_have_value("card")  # from the ENTITY_TYPE column
    expected_labels = _first_labels(source, 5000)
    typed = {part.strip() for part in page.get_by_label("New labels").input_value().split(",")}
    assert typed == expected_labels
    # the user changes one suggestion and skips a column
    page.get_by_label("Variable type for column merchant").select_option("FREE_FORM_TEXT")
    page.get_by_label("Skip column category").check()
    page.get_by_label("Description").fill("Card payments")
    console.shot("schema-event-type-new-columns")
    page.get_by_role("button", name="Create event type").click()
    expect(page.get_by_role("heading", name="Event type payment")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Created event type payment")
    console.shot("schema-event-type-detail")

    event_type = console.afd.get_event_types(name="payment")["eventTypes"][0]
    assert event_type["eventVariables"] == ["amt", "merchant", "card_bin", "ip_address"]
    assert event_type["entityTypes"] == ["card"]
    assert set(event_type["labels"]) == expected_labels
    assert event_type["eventIngestion"] == "ENABLED"
    assert event_type["description"] == "Card payments"
    variables = {v["name"]: v for v in console.afd.get_variables(maxResults=100)["variables"]}
    assert set(variables) == {"amt", "merchant", "card_bin", "ip_address"}  # category was skipped
    assert (variables["merchant"]["dataType"], variables["merchant"]["variableType"]) == ("STRING", "FREE_FORM_TEXT")
    assert (variables["amt"]["dataType"], variables["amt"]["variableType"]) == ("FLOAT", "PRICE")
    assert variables["amt"]["defaultValue"] == "0.0"
    _list_toggle_and_refused_delete(console)


def _list_toggle_and_refused_delete(console: ConsoleSession) -> None:
    """The list shows the event type; ingestion can be turned off on its page; deleting it while a detector
    uses it is refused with the service's message."""
    page = console.go("/event-types")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="payment"))
    expect(row).to_contain_text("card")
    expect(row).to_contain_text("enabled")
    console.shot("schema-event-types")
    page.get_by_role("link", name="payment").click()
    # existing variables and labels can be added later
    console.afd.create_variable(name="currency", dataType="STRING", dataSource="EVENT", defaultValue="USD")
    page.reload()
    page.get_by_label("currency").check()
    page.get_by_role("button", name="Add to payment").click()
    expect(page.get_by_role("status")).to_contain_text("Saved event type payment")
    assert console.afd.get_event_types(name="payment")["eventTypes"][0]["eventVariables"][-1] == "currency"
    page.get_by_role("button", name="Turn ingestion off").click()
    expect(page.get_by_role("status")).to_contain_text("Event ingestion is off")
    assert console.afd.get_event_types(name="payment")["eventTypes"][0]["eventIngestion"] == "DISABLED"
    # in use by a detector: deleting is refused with the service's message, and nothing changes
    console.afd.put_detector(detectorId="payments_check", eventTypeName="payment")
    page.get_by_role("button", name="Delete event type").click()
    expect(page.get_by_role("alert")).to_contain_text("used by detector(s) payments_check")
    assert console.afd.get_event_types(name="payment")["eventTypes"]
    console.shot("schema-event-type-delete-refused")


def test_event_type_from_a_server_file_refuses_bad_rows_and_saves_nothing(
    console: ConsoleSession, tmp_path: Path
) -> None:
    folder = console.server.settings.s3_root
    assert folder is not None
    (folder / "events").mkdir(parents=True)
    datagen.registrations(folder / "events" / "signups.csv", events=300, seed=2)
    console.afd.put_entity_type(name="customer")
    before = _variable_names(console.afd)
    page = console.go("/event-types/new")
    _box(page, "Name").fill("signup")
    page.get_by_label("Or a file in the server's S3 folder").select_option("s3://events/signups.csv")
    page.get_by_role("button", name="Read columns").click()
    expect(page.get_by_label("Variable type for column email_address")).to_have_value("EMAIL_ADDRESS")
    expect(page.get_by_label("Variable type for column user_agent")).to_have_value("USERAGENT")
    page.get_by_label("Entity type", exact=True).select_option("customer")
    # two mistakes: a name AFD refuses, and a variable type that cannot hold text
    page.get_by_label("Variable name for column phone_number").fill("Phone Number")
    page.get_by_label("Variable type for column billing_state").select_option("NUMERIC")
    page.get_by_role("button", name="Create event type").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    expect(_field_error(page, "Variable name for column phone_number")).to_contain_text("lowercase letters")
    expect(_field_error(page, "Variable type for column billing_state")).to_contain_text("NUMERIC variable holds")
    expect(page.get_by_label("Variable name for column phone_number")).to_have_value("Phone Number")  # kept
    console.shot("schema-event-type-new-refused")
    assert console.afd.get_event_types()["eventTypes"] == []
    assert _variable_names(console.afd) == before
    assert {label["name"] for label in console.afd.get_labels()["labels"]} == set()

    page.get_by_label("Variable name for column phone_number").fill("phone_number")
    page.get_by_label("Variable type for column billing_state").select_option("BILLING_STATE")
    page.get_by_role("button", name="Create event type").click()
    expect(page.get_by_role("heading", name="Event type signup")).to_be_visible()
    created = console.afd.get_event_types(name="signup")["eventTypes"][0]
    assert created["entityTypes"] == ["customer"]
    assert "phone_number" in created["eventVariables"]

    # a second event type of that name is refused next to the name
    page = console.go("/event-types/new")
    _box(page, "Name").fill("signup")
    page.get_by_label("Entity type", exact=True).select_option("customer")
    page.get_by_label("email_address").check()
    page.get_by_role("button", name="Create event type").click()
    expect(_field_error(page, _box(page, "Name"))).to_contain_text("already exists")


def test_entity_types_labels_and_outcomes(console: ConsoleSession) -> None:
    page = console.go("/entity-types")
    _box(page, "Name").fill("Customer Account")
    page.get_by_role("button", name="Create entity type").click()
    expect(_field_error(page, _box(page, "Name"))).to_contain_text("regular expression pattern")
    assert console.afd.get_entity_types()["entityTypes"] == []
    _box(page, "Name").fill("customer")
    page.get_by_label("Description").fill("A signed-up customer")
    page.get_by_role("button", name="Create entity type").click()
    expect(page.get_by_role("status")).to_contain_text("Created entity type customer")
    assert console.afd.get_entity_types(name="customer")["entityTypes"][0]["description"] == "A signed-up customer"
    # in use by an event type: AFD's refusal, shown on the page
    console.afd.create_variable(name="email", dataType="STRING", dataSource="EVENT", defaultValue="")
    console.afd.put_event_type(name="signup", eventVariables=["email"], entityTypes=["customer"])
    page = console.go("/entity-types")
    page.get_by_role("button", name="Delete entity type customer").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be deleted")
    assert console.afd.get_entity_types(name="customer")["entityTypes"]
    console.shot("schema-entity-types")

    for path, noun, name in (("/labels", "label", "fraud"), ("/outcomes", "outcome", "review")):
        page = console.go(path)
        _box(page, "Name").fill(name)
        page.get_by_role("button", name=f"Create {noun}").click()
        expect(page.get_by_role("status")).to_contain_text(f"Created {noun} {name}")
        _box(page, "Name").fill(name)
        page.get_by_role("button", name=f"Create {noun}").click()
        expect(_field_error(page, _box(page, "Name"))).to_contain_text("already exists")
        console.shot(f"schema-{noun}s")
        page.get_by_role("button", name=f"Delete {noun} {name}").click()
        expect(page.get_by_role("status")).to_contain_text(f"Deleted {noun} {name}")
    assert console.afd.get_labels()["labels"] == []
    assert console.afd.get_outcomes()["outcomes"] == []


def test_variables_create_filter_edit_and_refuse_deleting_one_in_use(console: ConsoleSession) -> None:
    page = console.go("/variables/new")
    _box(page, "Name").fill("order_total")
    page.get_by_label("Data type").select_option("FLOAT")
    page.get_by_label("Variable type").select_option("PRICE")
    page.get_by_label("Default value").fill("none")
    page.get_by_role("button", name="Create variable").click()
    expect(_field_error(page, "Default value")).to_contain_text("not a FLOAT")
    console.shot("schema-variable-new-refused")
    assert _variable_names(console.afd) == set()
    page.get_by_label("Default value").fill("0.0")
    page.get_by_label("Description").fill("Order total")
    page.get_by_role("button", name="Create variable").click()
    expect(page.get_by_role("heading", name="Variable order_total")).to_be_visible()
    created = console.afd.get_variables(name="order_total")["variables"][0]
    assert (created["dataType"], created["variableType"], created["defaultValue"]) == ("FLOAT", "PRICE", "0.0")

    # edit: default value, variable type and description (UpdateVariable)
    page.get_by_label("Default value").fill("1.5")
    page.get_by_label("Variable type").select_option("NUMERIC")
    page.get_by_label("Description").fill("The order's total")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved variable order_total")
    console.shot("schema-variable")
    updated = console.afd.get_variables(name="order_total")["variables"][0]
    assert (updated["defaultValue"], updated["variableType"], updated["description"]) == (
        "1.5",
        "NUMERIC",
        "The order's total",
    )

    console.afd.create_variable(name="email", dataType="STRING", dataSource="EVENT", defaultValue="")
    page = console.go("/variables?q=total")
    expect(page.get_by_role("link", name="order_total")).to_be_visible()
    expect(page.get_by_role("link", name="email")).to_have_count(0)
    page.get_by_label("Variable type").select_option("PRICE")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No variable matches the filter.")).to_be_visible()
    page = console.go("/variables")
    console.shot("schema-variables")

    # a variable in an event type cannot be deleted: the service's message, and it stays
    console.afd.put_entity_type(name="customer")
    console.afd.put_event_type(name="order", eventVariables=["order_total"], entityTypes=["customer"])
    page = console.go("/variables/order_total")
    page.get_by_role("button", name="Delete variable").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be deleted")
    console.shot("schema-variable-delete-refused")
    assert console.afd.get_variables(name="order_total")["variables"]
    page = console.go("/variables/email")
    page.get_by_role("button", name="Delete variable").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted variable email")
    assert _variable_names(console.afd) == {"order_total"}


def _elements(afd: Any, name: str) -> set[str]:
    return set(afd.get_list_elements(name=name, maxResults=500)["elements"])


def test_list_elements_added_removed_and_replaced(console: ConsoleSession, tmp_path: Path) -> None:
    page = console.go("/lists")
    _box(page, "Name").fill("blocked_ips")
    page.get_by_label("Elements").fill("10.0.0.1\n10.0.0.2\n\n10.0.0.3\n")
    page.get_by_role("button", name="Create list").click()
    expect(page.get_by_role("heading", name="List blocked_ips")).to_be_visible()
    assert _elements(console.afd, "blocked_ips") == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}

    page.get_by_label("Elements to add").fill("10.0.0.4\nbad\telement")
    page.get_by_role("button", name="Add elements").click()
    expect(_field_error(page, "Elements to add")).to_contain_text("Element 2")
    assert _elements(console.afd, "blocked_ips") == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}  # nothing added
    page.get_by_label("Elements to add").fill("10.0.0.4\n10.0.0.5")
    page.get_by_role("button", name="Add elements").click()
    expect(page.get_by_role("status")).to_contain_text("Added 2 element(s)")
    page.get_by_label("10.0.0.1").check()
    page.get_by_label("10.0.0.3").check()
    page.get_by_role("button", name="Remove elements").click()
    expect(page.get_by_role("status")).to_contain_text("Removed 2 element(s)")
    assert _elements(console.afd, "blocked_ips") == {"10.0.0.2", "10.0.0.4", "10.0.0.5"}

    replacement = tmp_path / "ips.txt"
    replacement.write_text("192.168.1.1\n192.168.1.2\n192.168.1.1\n")
    page.get_by_label("Text file").set_input_files(str(replacement))
    page.get_by_role("button", name="Replace elements").click()
    expect(page.get_by_role("status")).to_contain_text("holds 2 now")
    assert _elements(console.afd, "blocked_ips") == {"192.168.1.1", "192.168.1.2"}

    page.get_by_label("Variable type").select_option("IP_ADDRESS")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved list blocked_ips")
    assert console.afd.get_lists_metadata(name="blocked_ips")["lists"][0]["variableType"] == "IP_ADDRESS"
    console.shot("schema-list")
    page = console.go("/lists")
    console.shot("schema-lists")
    page = console.go("/lists/blocked_ips")
    page.get_by_role("button", name="Delete list").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted list blocked_ips")
    assert console.afd.get_lists_metadata()["lists"] == []


def test_list_pages_through_many_elements(console: ConsoleSession) -> None:
    console.afd.create_list(name="many", elements=[f"user{i:04d}@example.com" for i in range(1200)])
    page = console.go("/lists/many")
    expect(page.get_by_text("500 elements on this page")).to_be_visible()
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_label("user0500@example.com")).to_be_visible()
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_text("200 elements on this page")).to_be_visible()
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)


def test_external_models(console: ConsoleSession) -> None:
    console.afd.put_entity_type(name="card")
    console.afd.create_variable(name="amt", dataType="FLOAT", dataSource="EVENT", defaultValue="0.0")
    console.afd.put_event_type(name="payment", eventVariables=["amt"], entityTypes=["card"])
    page = console.go("/external-models/new")
    _box(page, "Endpoint name").fill("fraud-xgb")
    _box(page, "Role ARN").fill("not-an-arn")
    page.get_by_label("Event type").select_option("payment")
    page.get_by_label("Input template").fill("{{amt}}")
    _box(page, "Outputs to variables").fill("0 = xgb_score")
    page.get_by_role("button", name="Create external model").click()
    expect(_field_error(page, _box(page, "Role ARN"))).to_contain_text("IAM role ARN")
    console.shot("schema-external-model-new-refused")
    assert console.afd.get_external_models()["externalModels"] == []
    _box(page, "Role ARN").fill(ROLE)
    page.get_by_role("button", name="Create external model").click()
    expect(page.get_by_role("status")).to_contain_text("Created external model fraud-xgb")
    model = console.afd.get_external_models(modelEndpoint="fraud-xgb")["externalModels"][0]
    assert model["inputConfiguration"] == {
        "eventTypeName": "payment",
        "format": "TEXT_CSV",
        "useEventVariables": True,
        "csvInputTemplate": "{{amt}}",
    }
    assert model["outputConfiguration"] == {"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "xgb_score"}}
    assert model["modelEndpointStatus"] == "ASSOCIATED"
    console.shot("schema-external-models")
    page.get_by_role("button", name="Dissociate fraud-xgb").click()
    expect(page.get_by_role("status")).to_contain_text("dissociated")
    assert console.afd.get_external_models()["externalModels"][0]["modelEndpointStatus"] == "DISSOCIATED"
    page.get_by_role("button", name="Delete fraud-xgb").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted external model fraud-xgb")
    assert console.afd.get_external_models()["externalModels"] == []


def test_schema_pages_fit_a_phone(console: ConsoleSession) -> None:
    console.afd.put_entity_type(name="customer")
    console.afd.create_variable(name="email", dataType="STRING", dataSource="EVENT", defaultValue="")
    console.afd.put_event_type(name="signup", eventVariables=["email"], entityTypes=["customer"])
    console.page.set_viewport_size(NARROW)
    for path in ("/event-types", "/event-types/signup", "/event-types/new", "/variables", "/lists", "/external-models"):
        page = console.go(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"], path
        console.shot(f"schema-narrow-{path.strip('/')}")


def test_read_header_refuses_what_is_not_a_csv_header(tmp_path: Path) -> None:
    cases = {
        "empty.csv": b"",
        "twice.csv": b"amt,amt,ip\n1,2,3\n",
        "one-line.csv": b"a" * (MAX_HEADER_BYTES + 10),
    }
    messages = {}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with (tmp_path / name).open("rb") as stream, pytest.raises(HeaderError) as refused:
            read_header(stream)
        messages[name] = str(refused.value)
    assert "empty" in messages["empty.csv"]
    assert "more than once: amt" in messages["twice.csv"]
    assert "longer than" in messages["one-line.csv"]
    # reserved columns in any case, and a header with no rows yet
    (tmp_path / "header.csv").write_bytes(b"event_id,EVENT_TIMESTAMP,email\n")
    with (tmp_path / "header.csv").open("rb") as stream:
        header = read_header(stream)
    assert header.reserved == ["event_id", "EVENT_TIMESTAMP"]
    assert [c.variable for c in header.columns] == ["email"]
    assert header.rows == 0


def test_an_upload_that_is_not_csv_is_refused_next_to_the_field(console: ConsoleSession, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a csv")
    page = console.go("/event-types/new")
    page.get_by_label("Upload a CSV file").set_input_files(str(notes))
    page.get_by_role("button", name="Read columns").click()
    expect(_field_error(page, "Upload a CSV file")).to_contain_text("Choose a .csv or .csv.gz file")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    page.get_by_label("Upload a CSV file").set_input_files(str(empty))
    page.get_by_role("button", name="Read columns").click()
    expect(_field_error(page, "Upload a CSV file")).to_contain_text("The file is empty")
    page.get_by_label("Or its S3 URI").fill("s3://events/missing.csv")
    page.get_by_role("button", name="Read columns").click()
    expect(_field_error(page, "Or its S3 URI")).to_contain_text("does not exist or cannot be read")
    assert console.afd.get_event_types()["eventTypes"] == []


def test_a_late_refusal_undoes_what_the_submit_created(tmp_path: Path) -> None:
    """If the event type itself is refused after its entity type, labels and variables were made (another
    user's change in between, say), those are deleted again and the refusal is shown next to its field."""
    settings = Settings.load(data_dir=tmp_path / "data", environ={})
    service = Service(settings, worker=False)
    try:
        console = Console(settings, lambda: service)
        request = Request({"type": "http", "app": SimpleNamespace(state=SimpleNamespace(console=console))})
        form = Form(values={"name": "Not A Name", "event_ingestion": "ENABLED"})
        rows = [Row(0, "amt", "1.0", "amt", "FLOAT", "PRICE"), Row(1, "ip", "1.2.3.4", "ip", "STRING", "IP_ADDRESS")]
        plan = Plan(
            entity_type="card",
            new_entity_type=True,
            labels=["fraud"],
            new_labels=["fraud"],
            variables=["amt", "ip"],
            new_variables=[
                (row, {"name": row.name, "dataType": row.data_type, "dataSource": "EVENT", "defaultValue": ""})
                for row in rows
            ],
        )
        plan.new_variables[0][1]["defaultValue"] = "0.0"
        # on a thread of its own: Playwright's sync API keeps an event loop running on this one
        with ThreadPoolExecutor(1) as pool:
            assert not pool.submit(asyncio.run, execute(request, form, plan)).result()
        assert "regular expression pattern" in form.errors["name"]
        assert service.call("GetVariables", {})["variables"] == []
        assert service.call("GetLabels", {})["labels"] == []
        assert service.call("GetEntityTypes", {})["entityTypes"] == []
    finally:
        service.close()
