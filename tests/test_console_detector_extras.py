"""The detector pages' extras in a real browser, each checked against what boto3 reads back: changing a
version's and a rule version's description (UpdateDetectorVersionMetadata, UpdateRuleMetadata), a DRAFT
version's external models (UpdateDetectorVersion's externalModelEndpoints), and deleting a rule
(DeleteRule) from the detector page, with the refusals next to the field or over the page."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from fraudhawk import datagen
from tests.browser import NARROW, WIDE, ConsoleSession
from tests.helpers import csv_model

DETECTOR = "signup_check"
TOO_LONG = "x" * 129


def signup_detector(afd: Any, rules: dict[str, str], description: str = "first cut") -> None:
    """The sign-up event type, a detector on it, and its DRAFT version 1 using `rules` (id -> expression)."""
    for name, (data_type, variable_type) in datagen.REGISTRATION_VARIABLES.items():
        afd.create_variable(
            name=name, dataType=data_type, dataSource="EVENT", defaultValue="unknown", variableType=variable_type
        )
    afd.put_entity_type(name="customer")
    afd.put_event_type(name="signup", eventVariables=list(datagen.REGISTRATION_VARIABLES), entityTypes=["customer"])
    for outcome in ("approve", "review"):
        afd.put_outcome(name=outcome)
    afd.put_detector(detectorId=DETECTOR, eventTypeName="signup")
    for rule_id, expression in rules.items():
        afd.create_rule(
            ruleId=rule_id, detectorId=DETECTOR, expression=expression, language="DETECTORPL", outcomes=["review"]
        )
    afd.create_detector_version(
        detectorId=DETECTOR,
        description=description,
        rules=[{"detectorId": DETECTOR, "ruleId": r, "ruleVersion": "1"} for r in rules],
        ruleExecutionMode="ALL_MATCHED",
    )


def stored_version(console: ConsoleSession) -> dict[str, Any]:
    found: dict[str, Any] = console.afd.get_detector_version(detectorId=DETECTOR, detectorVersionId="1")
    return found


def test_change_a_version_description_whatever_its_status(console: ConsoleSession) -> None:
    signup_detector(console.afd, {"west": '$billing_state == "CA"'})
    page = console.go(f"/detectors/{DETECTOR}/versions/1")
    box = page.get_by_label("Version description")
    expect(box).to_have_value("first cut")
    # too long: the message next to the field, the text kept, nothing saved
    box.fill(TOO_LONG)
    page.get_by_role("button", name="Save description").click()
    expect(page.locator("#e-version_description")).to_contain_text("at most 128 characters")
    expect(page.get_by_label("Version description")).to_have_value(TOO_LONG)
    console.shot("detectors-version-description-refused")
    assert stored_version(console)["description"] == "first cut"
    # empty: AFD's description cannot be empty
    page.get_by_label("Version description").fill("  ")
    page.get_by_role("button", name="Save description").click()
    expect(page.locator("#e-version_description")).to_contain_text("required")
    assert stored_version(console)["description"] == "first cut"
    page.get_by_label("Version description").fill("West coast sign-ups")
    page.get_by_role("button", name="Save description").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the description of version 1")
    expect(page.locator("dl.facts")).to_contain_text("West coast sign-ups")
    stored = stored_version(console)
    assert stored["description"] == "West coast sign-ups"
    # the rest of the version is as it was
    assert stored["status"] == "DRAFT"
    assert stored["ruleExecutionMode"] == "ALL_MATCHED"
    assert [r["ruleId"] for r in stored["rules"]] == ["west"]
    # an ACTIVE version's description changes too (its rules and models cannot)
    console.afd.update_detector_version_status(detectorId=DETECTOR, detectorVersionId="1", status="ACTIVE")
    page = console.go(f"/detectors/{DETECTOR}/versions/1")
    page.get_by_label("Version description").fill("Published west coast rules")
    page.get_by_role("button", name="Save description").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the description of version 1")
    assert stored_version(console)["description"] == "Published west coast rules"
    assert stored_version(console)["status"] == "ACTIVE"
    console.shot("detectors-version-description")


def test_change_a_rule_description_in_place(console: ConsoleSession) -> None:
    signup_detector(console.afd, {"west": '$billing_state == "CA"'})
    page = console.go(f"/detectors/{DETECTOR}/versions/1/rules/west/edit")
    box = page.get_by_label("Rule version description")
    expect(box).to_have_value("")
    box.fill(TOO_LONG)
    page.get_by_role("button", name="Save description").click()
    expect(page.locator("#e-rule_description")).to_contain_text("at most 128 characters")
    expect(page.get_by_label("Rule version description")).to_have_value(TOO_LONG)
    # the rule form below is still the rule as it is
    expect(page.get_by_role("textbox", name="Expression", exact=True)).to_have_value('$billing_state == "CA"')
    console.shot("detectors-rule-description-refused")
    rules = console.afd.get_rules(detectorId=DETECTOR, ruleId="west")["ruleDetails"]
    assert [r.get("description") for r in rules] == [None]
    page.get_by_label("Rule version description").fill("Orders billed to California")
    page.get_by_role("button", name="Save description").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the description of rule west version 1")
    expect(page.get_by_label("Rule version description")).to_have_value("Orders billed to California")
    console.shot("detectors-rule-description")
    # changed in place: still one rule version, its expression and outcomes as they were, still used
    rules = console.afd.get_rules(detectorId=DETECTOR, ruleId="west")["ruleDetails"]
    assert [(r["ruleVersion"], r["description"], r["expression"], r["outcomes"]) for r in rules] == [
        ("1", "Orders billed to California", '$billing_state == "CA"', ["review"])
    ]
    assert stored_version(console)["rules"] == [{"detectorId": DETECTOR, "ruleId": "west", "ruleVersion": "1"}]
    # the version page shows it under the rule
    page = console.go(f"/detectors/{DETECTOR}/versions/1")
    expect(page.locator("table.rules")).to_contain_text("Orders billed to California")


def test_add_and_remove_external_models_of_a_draft(console: ConsoleSession) -> None:
    afd = console.afd
    signup_detector(afd, {"west": '$billing_state == "CA"'})
    template = {"useEventVariables": True, "eventTypeName": "signup", "format": "TEXT_CSV"}
    afd.put_external_model(
        **csv_model(
            "signup-xgb",
            inputConfiguration={**template, "csvInputTemplate": "{{billing_state}}, {{ip_address}}"},
            outputConfiguration={"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "xgb_score"}},
        )
    )
    afd.put_external_model(
        **csv_model(
            "old-model",
            inputConfiguration={**template, "csvInputTemplate": "{{billing_state}}"},
            outputConfiguration={"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "old_score"}},
            modelEndpointStatus="DISSOCIATED",
        )
    )
    page = console.go(f"/detectors/{DETECTOR}/versions/1")
    section = page.locator("#external")
    # only ASSOCIATED ones can be added
    expect(section.get_by_role("checkbox")).to_have_count(1)
    choice = section.get_by_role("checkbox", name=re.compile("^signup-xgb"))
    expect(choice).not_to_be_checked()
    expect(section).to_contain_text("$xgb_score")
    console.shot("detectors-version-external")
    choice.check()
    section.get_by_role("button", name="Save external models").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the external models")
    stored = stored_version(console)
    assert stored["externalModelEndpoints"] == ["signup-xgb"]
    assert stored["description"] == "first cut"
    assert stored["ruleExecutionMode"] == "ALL_MATCHED"
    assert [r["ruleId"] for r in stored["rules"]] == ["west"]
    expect(page.locator("#external").get_by_role("checkbox", name=re.compile("^signup-xgb"))).to_be_checked()
    # a rule reads the external model's output: removing the model is refused next to the field
    rule = afd.create_rule(
        ruleId="risky", detectorId=DETECTOR, expression="$xgb_score > 0.9", language="DETECTORPL", outcomes=["review"]
    )["rule"]
    afd.update_detector_version(
        detectorId=DETECTOR,
        detectorVersionId="1",
        description="first cut",
        rules=[*stored["rules"], rule],
        modelVersions=[],
        externalModelEndpoints=["signup-xgb"],
        ruleExecutionMode="ALL_MATCHED",
    )
    page = console.go(f"/detectors/{DETECTOR}/versions/1")
    page.locator("#external").get_by_role("checkbox", name=re.compile("^signup-xgb")).uncheck()
    page.locator("#external").get_by_role("button", name="Save external models").click()
    expect(page.locator("#e-external_models")).to_contain_text("xgb_score")
    expect(page.locator("#external").get_by_role("checkbox", name=re.compile("^signup-xgb"))).not_to_be_checked()
    console.shot("detectors-version-external-refused")
    assert stored_version(console)["externalModelEndpoints"] == ["signup-xgb"]
    # published: shown, not changeable
    afd.update_detector_version_status(detectorId=DETECTOR, detectorVersionId="1", status="ACTIVE")
    page = console.go(f"/detectors/{DETECTOR}/versions/1")
    section = page.locator("#external")
    expect(section).to_contain_text("signup-xgb")
    expect(section.get_by_role("checkbox")).to_have_count(0)
    expect(section.get_by_role("button")).to_have_count(0)
    # a new version from it keeps the external model, and there it can be removed
    page.get_by_role("button", name="New version from this").click()
    expect(page).to_have_url(re.compile(f"/detectors/{DETECTOR}/versions/2"))
    page.get_by_role("button", name="Remove risky from this version").click()
    expect(page.get_by_role("status")).to_contain_text("Removed rule risky")
    page.locator("#external").get_by_role("checkbox", name=re.compile("^signup-xgb")).uncheck()
    page.locator("#external").get_by_role("button", name="Save external models").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the external models")
    second = afd.get_detector_version(detectorId=DETECTOR, detectorVersionId="2")
    assert second["externalModelEndpoints"] == []
    assert stored_version(console)["externalModelEndpoints"] == ["signup-xgb"]


def test_delete_a_rule_no_version_uses(console: ConsoleSession) -> None:
    afd = console.afd
    signup_detector(afd, {"in_use": '$billing_state == "CA"'})
    afd.create_rule(
        ruleId="spare",
        detectorId=DETECTOR,
        expression='$billing_state == "NY"',
        language="DETECTORPL",
        outcomes=["review"],
    )
    afd.update_rule_version(
        rule={"detectorId": DETECTOR, "ruleId": "spare", "ruleVersion": "1"},
        expression='$billing_state == "NJ"',
        language="DETECTORPL",
        outcomes=["approve"],
    )
    page = console.go(f"/detectors/{DETECTOR}")
    rules = page.locator("#rules")
    expect(rules.get_by_role("row", name=re.compile("^in_use"))).to_contain_text("version 1")
    console.shot("detectors-detector-rules")
    # the pages with the new parts fit a phone (their tables scroll inside their boxes)
    page.set_viewport_size(NARROW)
    for path, name in (
        (f"/detectors/{DETECTOR}", "detectors-detector-narrow"),
        (f"/detectors/{DETECTOR}/versions/1", "detectors-version-extras-narrow"),
        (f"/detectors/{DETECTOR}/versions/1/rules/in_use/edit", "detectors-rule-edit-narrow"),
    ):
        page = console.go(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"], path
        console.shot(name)
    page.set_viewport_size(WIDE)
    page = console.go(f"/detectors/{DETECTOR}")
    # in use: AFD's refusal over the page, nothing deleted
    rules.get_by_role("button", name="Delete rule in_use").click()
    expect(page.get_by_role("alert")).to_contain_text("is used by detector version")
    console.shot("detectors-rule-delete-refused")
    assert [r["ruleId"] for r in afd.get_rules(detectorId=DETECTOR, ruleId="in_use")["ruleDetails"]] == ["in_use"]
    # not used: both its versions go
    page.locator("#rules").get_by_role("button", name="Delete rule spare").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted rule spare (its 2 versions)")
    remaining = afd.get_rules(detectorId=DETECTOR)["ruleDetails"]
    assert [(r["ruleId"], r["ruleVersion"]) for r in remaining] == [("in_use", "1")]
    expect(page.locator("#rules")).not_to_contain_text("spare")
    # removed from its only version, the rule can go too
    afd.delete_detector_version(detectorId=DETECTOR, detectorVersionId="1")
    page = console.go(f"/detectors/{DETECTOR}")
    page.locator("#rules").get_by_role("button", name="Delete rule in_use").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted rule in_use (its only version)")
    assert afd.get_rules(detectorId=DETECTOR)["ruleDetails"] == []
