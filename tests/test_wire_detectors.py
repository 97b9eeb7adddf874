"""Detectors, rules and detector versions over the wire (boto3 against a real server): PutDetector,
GetDetectors, DescribeDetector, DeleteDetector, CreateRule, GetRules, UpdateRuleMetadata,
UpdateRuleVersion, DeleteRule, CreateDetectorVersion, GetDetectorVersion, UpdateDetectorVersion,
UpdateDetectorVersionMetadata, UpdateDetectorVersionStatus and DeleteDetectorVersion, and the
resources they keep in use (outcomes, lists, event types).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import error_of, rule, setup_catalog

ACCOUNT = "arn:aws:frauddetector:us-east-1:123456789012"


@pytest.fixture
def shop(afd: Any) -> Any:
    setup_catalog(afd)
    return afd


# --- detectors -------------------------------------------------------------------------------------


def test_detector_lifecycle(shop: Any) -> None:
    afd = shop
    found = afd.get_detectors(detectorId="shop")["detectors"]
    assert len(found) == 1
    detector = found[0]
    assert detector["detectorId"] == "shop"
    assert detector["eventTypeName"] == "checkout"
    assert detector["description"] == "checkout risk"
    assert detector["arn"] == f"{ACCOUNT}:detector/shop"
    afd.put_detector(detectorId="shop", eventTypeName="checkout", description="renamed")
    assert afd.get_detectors(detectorId="shop")["detectors"][0]["description"] == "renamed"
    code, message = error_of(afd.put_detector, detectorId="shop", eventTypeName="other")
    assert code == "ResourceNotFoundException"
    assert "other" in message
    afd.put_event_type(name="other", eventVariables=["email_address"], entityTypes=["customer"])
    code, message = error_of(afd.put_detector, detectorId="shop", eventTypeName="other")
    assert code == "ValidationException"
    assert "eventTypeName" in message
    code, _ = error_of(afd.get_detectors, detectorId="missing")
    assert code == "ResourceNotFoundException"
    described = afd.describe_detector(detectorId="shop")
    assert described["detectorVersionSummaries"] == []
    assert described["arn"] == f"{ACCOUNT}:detector/shop"
    afd.delete_detector(detectorId="shop")
    afd.delete_detector(detectorId="shop")  # idempotent
    assert afd.get_detectors()["detectors"] == []


def test_detectors_page(shop: Any) -> None:
    afd = shop
    for i in range(7):
        afd.put_detector(detectorId=f"d{i}", eventTypeName="checkout")
    first = afd.get_detectors(maxResults=5)
    assert len(first["detectors"]) == 5
    second = afd.get_detectors(maxResults=5, nextToken=first["nextToken"])
    assert "nextToken" not in second
    ids = [d["detectorId"] for d in first["detectors"] + second["detectors"]]
    assert ids == sorted(ids)
    assert len(set(ids)) == 8
    code, _ = error_of(afd.get_detectors, nextToken="garbage")
    assert code == "ValidationException"


def test_event_type_in_use_by_a_detector(shop: Any) -> None:
    code, message = error_of(shop.delete_event_type, name="checkout")
    assert code == "ConflictException"
    assert "shop" in message


# --- rules -----------------------------------------------------------------------------------------


def test_rule_versions(shop: Any) -> None:
    afd = shop
    created = rule(afd, "big_order", "$order_amount > 500", ["review"])
    assert created == {"detectorId": "shop", "ruleId": "big_order", "ruleVersion": "1"}
    code, message = error_of(
        afd.create_rule,
        ruleId="big_order",
        detectorId="shop",
        expression="$order_amount > 1",
        language="DETECTORPL",
        outcomes=["review"],
    )
    assert code == "ValidationException"
    assert "UpdateRuleVersion" in message
    updated = afd.update_rule_version(
        rule=created, expression="$order_amount > 900", language="DETECTORPL", outcomes=["block", "review"]
    )["rule"]
    assert updated["ruleVersion"] == "2"
    # a new version counts from the latest, whichever version is named
    third = afd.update_rule_version(rule=created, expression="$items > 10", language="DETECTORPL", outcomes=["review"])
    assert third["rule"]["ruleVersion"] == "3"
    afd.update_rule_metadata(rule=updated, description="bigger orders")
    details = afd.get_rules(detectorId="shop", ruleId="big_order")["ruleDetails"]
    assert [(d["ruleVersion"], d["expression"]) for d in details] == [
        ("1", "$order_amount > 500"),
        ("2", "$order_amount > 900"),
        ("3", "$items > 10"),
    ]
    assert details[1]["outcomes"] == ["block", "review"]
    assert details[1]["description"] == "bigger orders"
    assert "description" not in details[0]
    assert details[1]["arn"] == f"{ACCOUNT}:rule/shop/big_order/2"
    assert details[0]["language"] == "DETECTORPL"
    one = afd.get_rules(detectorId="shop", ruleId="big_order", ruleVersion="2")["ruleDetails"]
    assert [d["ruleVersion"] for d in one] == ["2"]
    code, _ = error_of(afd.get_rules, detectorId="shop", ruleId="big_order", ruleVersion="9")
    assert code == "ResourceNotFoundException"
    code, _ = error_of(afd.get_rules, detectorId="nope")
    assert code == "ResourceNotFoundException"
    code, _ = error_of(afd.get_rules, detectorId="shop", ruleVersion="1")
    assert code == "ValidationException"
    afd.delete_rule(rule=third["rule"])
    afd.delete_rule(rule=third["rule"])  # idempotent
    assert len(afd.get_rules(detectorId="shop")["ruleDetails"]) == 2


def test_rules_page(shop: Any) -> None:
    afd = shop
    for i in range(60):
        rule(afd, f"r{i:02d}", f"$items > {i}", ["review"])
    first = afd.get_rules(detectorId="shop", maxResults=50)
    second = afd.get_rules(detectorId="shop", maxResults=50, nextToken=first["nextToken"])
    ids = [d["ruleId"] for d in first["ruleDetails"] + second["ruleDetails"]]
    assert ids == [f"r{i:02d}" for i in range(60)]
    assert "nextToken" not in second


@pytest.mark.parametrize(
    ("expression", "where", "problem"),
    [
        ("$order_amout > 5", "line 1, column 1", "order_amount"),
        ("$order_amount > ", "line 1", ""),
        ("$order_amount > 5 and\n  $email_address > 3", "line 2", ""),
        ("$order_amount + 5", "line 1", "condition"),
        ("$email_address in @no_such_list", "line 1", "no_such_list"),
        ('regex_match("(unclosed", $email_address)', "line 1", ""),
    ],
)
def test_bad_expressions_name_line_and_column(shop: Any, expression: str, where: str, problem: str) -> None:
    code, message = error_of(
        shop.create_rule,
        ruleId="bad",
        detectorId="shop",
        expression=expression,
        language="DETECTORPL",
        outcomes=["review"],
    )
    assert code == "ValidationException"
    assert where in message
    assert problem.lower() in message.lower()
    assert shop.get_rules(detectorId="shop")["ruleDetails"] == []


def test_rule_outcomes_and_detector_must_exist(shop: Any) -> None:
    code, message = error_of(
        shop.create_rule, ruleId="r", detectorId="shop", expression="$items > 1", language="DETECTORPL", outcomes=["x"]
    )
    assert code == "ResourceNotFoundException"
    assert "x" in message
    code, _ = error_of(
        shop.create_rule, ruleId="r", detectorId="nope", expression="$items > 1", language="DETECTORPL", outcomes=["x"]
    )
    assert code == "ResourceNotFoundException"
    code, _ = error_of(
        shop.update_rule_version,
        rule={"detectorId": "shop", "ruleId": "r", "ruleVersion": "1"},
        expression="$items > 1",
        language="DETECTORPL",
        outcomes=["review"],
    )
    assert code == "ResourceNotFoundException"


def test_outcomes_and_lists_in_use_by_rules(shop: Any) -> None:
    afd = shop
    afd.create_list(name="bad_ips", elements=["10.0.0.1"], variableType="IP_ADDRESS")
    afd.create_list(name="bad_ips_extra", elements=["10.0.0.2"], variableType="IP_ADDRESS")
    created = rule(afd, "listed", "$ip_address in @bad_ips", ["block"])
    code, message = error_of(afd.delete_outcome, name="block")
    assert code == "ConflictException"
    assert "listed" in message
    code, message = error_of(afd.delete_list, name="bad_ips")
    assert code == "ConflictException"
    assert "listed" in message
    afd.delete_list(name="bad_ips_extra")  # a list whose name merely starts the same is free
    afd.delete_rule(rule=created)
    afd.delete_outcome(name="block")
    afd.delete_list(name="bad_ips")


# --- detector versions -------------------------------------------------------------------------------


def version_request(rules: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"detectorId": "shop", "rules": rules, **extra}


def test_detector_version_lifecycle(shop: Any) -> None:
    afd = shop
    big = rule(afd, "big_order", "$order_amount > 500", ["review"])
    member = rule(afd, "member", "$is_member", ["approve"])
    created = afd.create_detector_version(**version_request([big, member], description="first"))
    assert created == {
        "detectorId": "shop",
        "detectorVersionId": "1",
        "status": "DRAFT",
        "ResponseMetadata": created["ResponseMetadata"],
    }
    version = afd.get_detector_version(detectorId="shop", detectorVersionId="1")
    assert version["rules"] == [big, member]
    assert version["ruleExecutionMode"] == "FIRST_MATCHED"
    assert version["modelVersions"] == []
    assert version["externalModelEndpoints"] == []
    assert version["status"] == "DRAFT"
    assert version["description"] == "first"
    assert version["arn"] == f"{ACCOUNT}:detector-version/shop/1"
    afd.update_detector_version(
        detectorId="shop",
        detectorVersionId="1",
        rules=[member, big],
        externalModelEndpoints=[],
        ruleExecutionMode="ALL_MATCHED",
    )
    version = afd.get_detector_version(detectorId="shop", detectorVersionId="1")
    assert version["rules"] == [member, big]
    assert version["ruleExecutionMode"] == "ALL_MATCHED"
    afd.update_detector_version_metadata(detectorId="shop", detectorVersionId="1", description="reordered")
    afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")
    code, message = error_of(
        afd.update_detector_version, detectorId="shop", detectorVersionId="1", rules=[big], externalModelEndpoints=[]
    )
    assert code == "ConflictException"
    assert "DRAFT" in message
    second = afd.create_detector_version(**version_request([big]))
    assert second["detectorVersionId"] == "2"
    afd.update_detector_version_status(detectorId="shop", detectorVersionId="2", status="ACTIVE")
    statuses = {
        s["detectorVersionId"]: s["status"]
        for s in afd.describe_detector(detectorId="shop")["detectorVersionSummaries"]
    }
    assert statuses == {"1": "INACTIVE", "2": "ACTIVE"}  # one ACTIVE version per detector
    code, _ = error_of(afd.update_detector_version_status, detectorId="shop", detectorVersionId="2", status="DRAFT")
    assert code == "ValidationException"
    code, message = error_of(afd.delete_detector_version, detectorId="shop", detectorVersionId="2")
    assert code == "ConflictException"
    assert "ACTIVE" in message
    code, message = error_of(afd.delete_rule, rule=big)
    assert code == "ConflictException"
    assert "shop version" in message
    code, message = error_of(afd.delete_detector, detectorId="shop")
    assert code == "ConflictException"
    afd.update_detector_version_status(detectorId="shop", detectorVersionId="2", status="INACTIVE")
    afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")
    afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="INACTIVE")
    for version_id in ("1", "2"):
        afd.delete_detector_version(detectorId="shop", detectorVersionId=version_id)
    afd.delete_detector_version(detectorId="shop", detectorVersionId="2")  # idempotent
    code, _ = error_of(afd.get_detector_version, detectorId="shop", detectorVersionId="2")
    assert code == "ResourceNotFoundException"
    afd.delete_rule(rule=big)
    afd.delete_rule(rule=member)
    afd.delete_detector(detectorId="shop")
    afd.delete_event_type(name="checkout")


def test_detector_version_checks_its_parts(shop: Any) -> None:
    afd = shop
    big = rule(afd, "big_order", "$order_amount > 500", ["review"])
    afd.put_detector(detectorId="other", eventTypeName="checkout")
    theirs = rule(afd, "theirs", "$items > 3", ["review"], detector="other")
    cases: list[tuple[dict[str, Any], str, str]] = [
        (version_request([]), "ValidationException", "at least one rule"),
        (version_request([theirs]), "ValidationException", "other"),
        (version_request([big, big]), "ValidationException", "twice"),
        (version_request([{**big, "ruleVersion": "7"}]), "ResourceNotFoundException", "version 7"),
        (
            version_request(
                [big],
                modelVersions=[{"modelId": "ghost", "modelType": "ONLINE_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}],
            ),
            "ResourceNotFoundException",
            "ghost",
        ),
        (version_request([big], externalModelEndpoints=["nowhere"]), "ResourceNotFoundException", "nowhere"),
    ]
    for request, code, text in cases:
        got_code, message = error_of(afd.create_detector_version, **request)
        assert (got_code, text in message) == (code, True), (request, message)
    assert afd.describe_detector(detectorId="shop")["detectorVersionSummaries"] == []
    code, _ = error_of(afd.create_detector_version, detectorId="nope", rules=[big])
    assert code == "ResourceNotFoundException"


def test_tags_on_detectors_rules_and_versions(shop: Any) -> None:
    afd = shop
    big = afd.create_rule(
        ruleId="big",
        detectorId="shop",
        expression="$items > 1",
        language="DETECTORPL",
        outcomes=["review"],
        tags=[{"key": "team", "value": "risk"}],
    )["rule"]
    afd.create_detector_version(detectorId="shop", rules=[big], tags=[{"key": "stage", "value": "test"}])
    afd.put_detector(detectorId="shop", eventTypeName="checkout", tags=[{"key": "owner", "value": "me"}])
    for arn, key in (
        (f"{ACCOUNT}:rule/shop/big/1", "team"),
        (f"{ACCOUNT}:detector-version/shop/1", "stage"),
        (f"{ACCOUNT}:detector/shop", "owner"),
    ):
        tags = afd.list_tags_for_resource(resourceARN=arn)["tags"]
        assert [t["key"] for t in tags] == [key]


def test_a_version_a_batch_job_waits_for_cannot_be_deleted(tmp_path: Any) -> None:
    """With no worker running, the job stays queued: its detector version must stay too."""
    from fraudhawk.errors import ConflictError
    from fraudhawk.service.dispatcher import Service
    from fraudhawk.settings import Settings

    s3_root = (tmp_path / "s3").resolve()
    (s3_root / "in").mkdir(parents=True)
    (s3_root / "in" / "events.csv").write_text(
        "EVENT_ID,EVENT_TIMESTAMP,ENTITY_ID,ENTITY_TYPE,items\ne1,2024-05-01T00:00:00Z,c1,customer,3\n",
        encoding="utf-8",
    )
    service = Service(Settings.load(data_dir=tmp_path / "data", s3_root=s3_root, environ={}), worker=False)

    class Calls:
        def __getattr__(self, name: str) -> Any:
            from botocore import xform_name

            from fraudhawk.service.contract import operation_names

            operation = {xform_name(op): op for op in operation_names()}[name]
            return lambda **params: service.call(operation, params)

    afd = Calls()
    setup_catalog(afd)
    first = rule(afd, "first", "$items > 1", ["review"])
    afd.create_detector_version(detectorId="shop", rules=[first])
    afd.create_batch_prediction_job(
        jobId="queued",
        inputPath="s3://in/events.csv",
        outputPath="s3://in/out",
        eventTypeName="checkout",
        detectorName="shop",
        detectorVersion="1",
        iamRoleArn="arn:aws:iam::123456789012:role/batch",
    )
    with pytest.raises(ConflictError, match="queued"):
        afd.delete_detector_version(detectorId="shop", detectorVersionId="1")
    afd.cancel_batch_prediction_job(jobId="queued")
    afd.delete_detector_version(detectorId="shop", detectorVersionId="1")
    service.close()
