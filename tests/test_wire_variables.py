"""Variables over the wire: CreateVariable, BatchCreateVariable, GetVariables, BatchGetVariable,
UpdateVariable and DeleteVariable, driven by boto3 against a real server."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from tests.helpers import unchecked_client

ARN_PREFIX = "arn:aws:frauddetector:us-east-1:123456789012"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def create_variable(
    afd: Any,
    name: str,
    data_type: str = "STRING",
    default: str = "unknown",
    **extra: Any,
) -> None:
    afd.create_variable(name=name, dataType=data_type, dataSource="EVENT", defaultValue=default, **extra)


def entry(name: str, data_type: str = "STRING", default: str = "unknown", **extra: Any) -> dict[str, Any]:
    return {"name": name, "dataType": data_type, "dataSource": "EVENT", "defaultValue": default, **extra}


def get_variable(afd: Any, name: str) -> dict[str, Any]:
    variables = afd.get_variables(name=name)["variables"]
    assert len(variables) == 1
    variable: dict[str, Any] = variables[0]
    return variable


def setup_event_type(afd: Any, event_type: str, variables: list[str]) -> None:
    """An entity type and an event type that uses `variables` (which must already exist)."""
    afd.put_entity_type(name="customer")
    afd.put_event_type(name=event_type, eventVariables=variables, entityTypes=["customer"])


def batch_create(afd: Any, names: list[str]) -> None:
    """Create STRING variables in BatchCreateVariable calls of at most 25 entries."""
    for start in range(0, len(names), 25):
        result = afd.batch_create_variable(variableEntries=[entry(name) for name in names[start : start + 25]])
        assert result.get("errors", []) == []


# --- CreateVariable -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_type", "default"),
    [
        ("STRING", "unknown"),
        ("STRING", ""),
        ("INTEGER", "12"),
        ("INTEGER", "-7"),
        ("FLOAT", "0.5"),
        ("FLOAT", "0"),
        ("FLOAT", "-1.5e3"),
        ("FLOAT", ".5"),
        ("FLOAT", "5."),
        ("BOOLEAN", "true"),
        ("BOOLEAN", "False"),
        ("DATETIME", "2019-11-30T13:01:01Z"),
        ("DATETIME", ""),
    ],
)
def test_create_variable_accepts_valid_default(afd: Any, data_type: str, default: str) -> None:
    create_variable(afd, "field", data_type, default, description="a field")
    variable = get_variable(afd, "field")
    assert variable["name"] == "field"
    assert variable["dataType"] == data_type
    assert variable["dataSource"] == "EVENT"
    assert variable["defaultValue"] == default
    assert variable["description"] == "a field"
    assert variable["arn"] == f"{ARN_PREFIX}:variable/field"
    assert ISO_UTC.match(variable["createdTime"])
    assert ISO_UTC.match(variable["lastUpdatedTime"])


@pytest.mark.parametrize(
    ("data_type", "default"),
    [
        ("INTEGER", "x"),
        ("INTEGER", "1.5"),
        ("FLOAT", "nan"),
        ("FLOAT", "inf"),
        ("FLOAT", "abc"),
        # Python's float() reads these; imports and AFD do not
        ("FLOAT", "1_000"),
        ("FLOAT", "\u0661\u0662"),  # Arabic-Indic digits
        ("FLOAT", "\uff11\uff12"),  # full-width digits
        ("FLOAT", " 12 "),
        ("FLOAT", "0x10"),
        ("BOOLEAN", "maybe"),
        ("DATETIME", "yesterday"),
        ("DATETIME", "2019-11-30T13:01:01+02:00"),
    ],
)
def test_create_variable_rejects_invalid_default(afd: Any, data_type: str, default: str) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="defaultValue"):
        create_variable(afd, "field", data_type, default)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_variables(name="field")


@pytest.mark.parametrize(
    ("variable_type", "data_type"),
    [
        ("EMAIL_ADDRESS", "STRING"),
        ("IP_ADDRESS", "STRING"),
        ("PRICE", "FLOAT"),
        ("NUMERIC", "FLOAT"),
        ("NUMERIC", "INTEGER"),
        ("CARD_BIN", "INTEGER"),
        ("CATEGORICAL", "STRING"),
    ],
)
def test_create_variable_accepts_compatible_variable_type(afd: Any, variable_type: str, data_type: str) -> None:
    default = "0" if data_type in ("FLOAT", "INTEGER") else "unknown"
    create_variable(afd, "field", data_type, default, variableType=variable_type)
    variable = get_variable(afd, "field")
    assert variable["variableType"] == variable_type
    assert variable["dataType"] == data_type


@pytest.mark.parametrize(
    ("variable_type", "data_type", "default"),
    [
        ("EMAIL_ADDRESS", "FLOAT", "0.0"),
        ("IP_ADDRESS", "INTEGER", "0"),
        ("PRICE", "STRING", "x"),
        ("NUMERIC", "BOOLEAN", "false"),
    ],
)
def test_create_variable_rejects_incompatible_variable_type(
    afd: Any, variable_type: str, data_type: str, default: str
) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match=variable_type):
        create_variable(afd, "field", data_type, default, variableType=variable_type)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_variables(name="field")


def test_create_variable_rejects_unknown_variable_type(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="NOT_A_TYPE"):
        create_variable(afd, "field", variableType="NOT_A_TYPE")


def test_create_variable_without_variable_type_has_none(afd: Any) -> None:
    create_variable(afd, "field")
    assert "variableType" not in get_variable(afd, "field")


@pytest.mark.parametrize("name", ["Amount", "a b", "amount-usd", "x" * 65, "ünïcode"])
def test_create_variable_rejects_bad_name(afd: Any, name: str) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="name"):
        create_variable(afd, name)


def test_create_variable_accepts_64_character_name(afd: Any) -> None:
    name = "a" * 64
    create_variable(afd, name)
    assert get_variable(afd, name)["name"] == name


def test_create_variable_rejects_model_score_source(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="MODEL_SCORE"):
        afd.create_variable(name="score", dataType="FLOAT", dataSource="MODEL_SCORE", defaultValue="0.0")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_variables(name="score")


def test_create_variable_accepts_external_model_score_source(afd: Any) -> None:
    afd.create_variable(name="sm_score", dataType="FLOAT", dataSource="EXTERNAL_MODEL_SCORE", defaultValue="0.0")
    assert get_variable(afd, "sm_score")["dataSource"] == "EXTERNAL_MODEL_SCORE"


def test_create_variable_rejects_unknown_data_type(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="dataType"):
        afd.create_variable(name="field", dataType="DECIMAL", dataSource="EVENT", defaultValue="0")


def test_create_variable_rejects_existing_name(afd: Any) -> None:
    create_variable(afd, "email", description="first")
    with pytest.raises(afd.exceptions.ValidationException, match="email"):
        create_variable(afd, "email", description="second")
    assert get_variable(afd, "email")["description"] == "first"


def test_create_variable_rejects_too_long_description(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="description"):
        create_variable(afd, "field", description="d" * 129)


def test_create_variable_tags_are_listed_on_its_arn(afd: Any) -> None:
    create_variable(afd, "email", tags=[{"key": "team", "value": "risk"}, {"key": "env", "value": "test"}])
    tags = afd.list_tags_for_resource(resourceARN=f"{ARN_PREFIX}:variable/email")["tags"]
    assert sorted((tag["key"], tag["value"]) for tag in tags) == [("env", "test"), ("team", "risk")]


def test_variable_arn_accepts_tag_and_untag(afd: Any) -> None:
    create_variable(afd, "email")
    arn = f"{ARN_PREFIX}:variable/email"
    afd.tag_resource(resourceARN=arn, tags=[{"key": "team", "value": "risk"}])
    afd.untag_resource(resourceARN=arn, tagKeys=["team"])
    assert afd.list_tags_for_resource(resourceARN=arn)["tags"] == []


# --- BatchCreateVariable -----------------------------------------------------------------------


def test_batch_create_variable_creates_every_valid_entry(afd: Any) -> None:
    result = afd.batch_create_variable(
        variableEntries=[
            entry("email", variableType="EMAIL_ADDRESS"),
            entry("amount", "FLOAT", "0.0", variableType="PRICE"),
            entry("count", "INTEGER", "0", description="how many"),
        ]
    )
    assert result.get("errors", []) == []
    found = afd.batch_get_variable(names=["email", "amount", "count"])["variables"]
    by_name = {variable["name"]: variable for variable in found}
    assert set(by_name) == {"email", "amount", "count"}
    assert by_name["amount"]["variableType"] == "PRICE"
    assert by_name["count"]["description"] == "how many"


def test_batch_create_variable_reports_bad_entries_and_creates_good_ones(afd: Any) -> None:
    create_variable(afd, "existing")
    result = afd.batch_create_variable(
        variableEntries=[
            entry("good_one"),
            entry("bad_int", "INTEGER", "x"),
            entry("Bad_Name"),
            entry("existing"),
            entry("bad_type", variableType="NOT_A_TYPE"),
            entry("good_two", "BOOLEAN", "false"),
            entry("bad_source", "FLOAT", "0.0", dataSource="MODEL_SCORE"),
        ]
    )
    errors = {error["name"]: error for error in result["errors"]}
    assert set(errors) == {"bad_int", "Bad_Name", "existing", "bad_type", "bad_source"}
    for name, error in errors.items():
        assert isinstance(error["code"], int)
        assert error["code"] >= 400
        assert error["message"], name
    assert "defaultValue" in errors["bad_int"]["message"]
    assert "existing" in errors["existing"]["message"]
    assert "NOT_A_TYPE" in errors["bad_type"]["message"]
    assert "MODEL_SCORE" in errors["bad_source"]["message"]
    found = afd.batch_get_variable(names=["good_one", "good_two", "bad_int", "Bad_Name", "bad_type"])
    assert sorted(variable["name"] for variable in found["variables"]) == ["good_one", "good_two"]


def test_batch_create_variable_reports_an_existing_name_as_a_conflict(afd: Any) -> None:
    create_variable(afd, "existing")
    result = afd.batch_create_variable(variableEntries=[entry("existing"), entry("bad_int", "INTEGER", "x")])
    assert {error["name"]: error["code"] for error in result["errors"]} == {"existing": 409, "bad_int": 400}


def test_batch_create_variable_duplicate_within_batch(afd: Any) -> None:
    result = afd.batch_create_variable(variableEntries=[entry("email", default="a"), entry("email", default="b")])
    assert [error["name"] for error in result["errors"]] == ["email"]
    assert get_variable(afd, "email")["defaultValue"] == "a"


def test_batch_create_variable_applies_tags_to_each_variable(afd: Any) -> None:
    result = afd.batch_create_variable(
        variableEntries=[entry("email"), entry("phone")], tags=[{"key": "team", "value": "risk"}]
    )
    assert result.get("errors", []) == []
    for name in ("email", "phone"):
        tags = afd.list_tags_for_resource(resourceARN=f"{ARN_PREFIX}:variable/{name}")["tags"]
        assert tags == [{"key": "team", "value": "risk"}]


def test_batch_create_variable_rejects_more_than_25_entries(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="variableEntries"):
        afd.batch_create_variable(variableEntries=[entry(f"v{i:02d}") for i in range(26)])
    assert afd.get_variables().get("variables", []) == []


# --- GetVariables ------------------------------------------------------------------------------


def test_get_variables_by_name(afd: Any) -> None:
    create_variable(afd, "email", variableType="EMAIL_ADDRESS")
    create_variable(afd, "phone")
    variables = afd.get_variables(name="email")["variables"]
    assert [variable["name"] for variable in variables] == ["email"]
    assert "nextToken" not in afd.get_variables(name="email")


def test_get_variables_unknown_name_is_not_found(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="nope"):
        afd.get_variables(name="nope")


def test_get_variables_empty(afd: Any) -> None:
    result = afd.get_variables()
    assert result.get("variables", []) == []
    assert "nextToken" not in result


def test_get_variables_default_page_is_100(afd: Any) -> None:
    names = [f"var_{i:03d}" for i in range(120)]
    batch_create(afd, names)
    first = afd.get_variables()
    assert [variable["name"] for variable in first["variables"]] == names[:100]
    assert first["nextToken"]
    second = afd.get_variables(nextToken=first["nextToken"])
    assert [variable["name"] for variable in second["variables"]] == names[100:]
    assert "nextToken" not in second


def test_get_variables_pagination_sees_every_name_once_sorted(afd: Any) -> None:
    names = [f"var_{i:03d}" for i in range(120)]
    batch_create(afd, list(reversed(names)))
    seen: list[str] = []
    pages = 0
    kwargs: dict[str, Any] = {"maxResults": 50}
    while True:
        result = afd.get_variables(**kwargs)
        page = [variable["name"] for variable in result["variables"]]
        assert len(page) <= 50
        seen.extend(page)
        pages += 1
        token = result.get("nextToken")
        if not token:
            break
        kwargs = {"maxResults": 50, "nextToken": token}
        assert pages < 10, "pagination does not end"
    assert pages == 3
    assert seen == sorted(names)
    assert len(set(seen)) == len(seen) == 120


def test_get_variables_page_is_stable_under_inserts(afd: Any) -> None:
    batch_create(afd, [f"var_{i:03d}" for i in range(0, 120, 2)])
    first = afd.get_variables(maxResults=50)
    create_variable(afd, "var_001")  # sorts into the page already read
    create_variable(afd, "var_119")  # sorts into the page not yet read
    second = afd.get_variables(maxResults=50, nextToken=first["nextToken"])
    names = [variable["name"] for variable in first["variables"] + second["variables"]]
    assert len(names) == len(set(names))
    assert "var_119" in names


@pytest.mark.parametrize("max_results", [101, 1000])
def test_get_variables_rejects_max_results_above_100(afd: Any, max_results: int) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="maxResults"):
        afd.get_variables(maxResults=max_results)


@pytest.mark.parametrize("max_results", [0, 10, 49])
def test_get_variables_rejects_max_results_below_50_on_the_server(afd: Any, max_results: int) -> None:
    raw = unchecked_client(afd)
    with pytest.raises(raw.exceptions.ValidationException, match="maxResults"):
        raw.get_variables(maxResults=max_results)


@pytest.mark.parametrize("max_results", [50, 100])
def test_get_variables_accepts_max_results_bounds(afd: Any, max_results: int) -> None:
    create_variable(afd, "email")
    assert [v["name"] for v in afd.get_variables(maxResults=max_results)["variables"]] == ["email"]


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!not base64!!!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(json.dumps({"before": "x"}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"after": {"name": "x"}}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"after": [1, 2]}).encode()).decode(),
    ],
    ids=["word", "not-base64", "not-json", "no-after-key", "after-object", "after-list"],
)
def test_get_variables_rejects_garbage_next_token(afd: Any, token: str) -> None:
    create_variable(afd, "email")
    with pytest.raises(afd.exceptions.ValidationException, match="nextToken"):
        afd.get_variables(nextToken=token)


# --- BatchGetVariable --------------------------------------------------------------------------


def test_batch_get_variable_reports_found_and_missing(afd: Any) -> None:
    create_variable(afd, "email", variableType="EMAIL_ADDRESS")
    create_variable(afd, "amount", "FLOAT", "0.0")
    result = afd.batch_get_variable(names=["amount", "ghost", "email", "phantom"])
    assert [variable["name"] for variable in result["variables"]] == ["amount", "email"]
    assert result["variables"][1]["variableType"] == "EMAIL_ADDRESS"
    errors = {error["name"]: error for error in result["errors"]}
    assert set(errors) == {"ghost", "phantom"}
    for name, error in errors.items():
        assert error["code"] == 404
        assert name in error["message"]


def test_batch_get_variable_all_found_has_no_errors(afd: Any) -> None:
    create_variable(afd, "email")
    result = afd.batch_get_variable(names=["email"])
    assert [variable["name"] for variable in result["variables"]] == ["email"]
    assert result.get("errors", []) == []


def test_batch_get_variable_rejects_more_than_100_names(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="names"):
        afd.batch_get_variable(names=[f"v{i}" for i in range(101)])


# --- UpdateVariable ----------------------------------------------------------------------------


def test_update_variable_default_value_checked_against_data_type(afd: Any) -> None:
    create_variable(afd, "count", "INTEGER", "0")
    afd.update_variable(name="count", defaultValue="42")
    assert get_variable(afd, "count")["defaultValue"] == "42"
    with pytest.raises(afd.exceptions.ValidationException, match="defaultValue"):
        afd.update_variable(name="count", defaultValue="forty-two")
    assert get_variable(afd, "count")["defaultValue"] == "42"


@pytest.mark.parametrize(
    ("data_type", "default", "good", "bad"),
    [
        ("FLOAT", "0.0", "1.25", "nan"),
        ("BOOLEAN", "false", "TRUE", "maybe"),
        ("DATETIME", "", "2020-01-01T00:00:00Z", "yesterday"),
    ],
)
def test_update_variable_default_value_per_data_type(
    afd: Any, data_type: str, default: str, good: str, bad: str
) -> None:
    create_variable(afd, "field", data_type, default)
    afd.update_variable(name="field", defaultValue=good)
    assert get_variable(afd, "field")["defaultValue"] == good
    with pytest.raises(afd.exceptions.ValidationException, match="defaultValue"):
        afd.update_variable(name="field", defaultValue=bad)
    assert get_variable(afd, "field")["defaultValue"] == good


def test_update_variable_description(afd: Any) -> None:
    create_variable(afd, "email", description="old")
    afd.update_variable(name="email", description="new")
    variable = get_variable(afd, "email")
    assert variable["description"] == "new"
    assert variable["defaultValue"] == "unknown"


def test_update_variable_changes_last_updated_time_only(afd: Any) -> None:
    create_variable(afd, "email")
    before = get_variable(afd, "email")
    afd.update_variable(name="email", description="changed")
    after = get_variable(afd, "email")
    assert after["createdTime"] == before["createdTime"]
    assert after["lastUpdatedTime"] >= before["lastUpdatedTime"]


def test_update_variable_variable_type(afd: Any) -> None:
    create_variable(afd, "contact", variableType="EMAIL_ADDRESS")
    afd.update_variable(name="contact", variableType="PHONE_NUMBER")
    assert get_variable(afd, "contact")["variableType"] == "PHONE_NUMBER"


def test_update_variable_rejects_incompatible_or_unknown_variable_type(afd: Any) -> None:
    create_variable(afd, "amount", "FLOAT", "0.0", variableType="PRICE")
    with pytest.raises(afd.exceptions.ValidationException, match="EMAIL_ADDRESS"):
        afd.update_variable(name="amount", variableType="EMAIL_ADDRESS")
    with pytest.raises(afd.exceptions.ValidationException, match="NOT_A_TYPE"):
        afd.update_variable(name="amount", variableType="NOT_A_TYPE")
    assert get_variable(afd, "amount")["variableType"] == "PRICE"


def test_update_variable_unknown_name_is_not_found(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="ghost"):
        afd.update_variable(name="ghost", description="x")


# --- DeleteVariable ----------------------------------------------------------------------------


def test_delete_variable(afd: Any) -> None:
    create_variable(afd, "email")
    afd.delete_variable(name="email")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_variables(name="email")


def test_delete_variable_unknown_name_is_idempotent(afd: Any) -> None:
    afd.delete_variable(name="ghost")
    create_variable(afd, "email")
    afd.delete_variable(name="email")
    afd.delete_variable(name="email")


def test_delete_variable_allows_recreating_with_other_type(afd: Any) -> None:
    create_variable(afd, "field")
    afd.delete_variable(name="field")
    create_variable(afd, "field", "INTEGER", "3")
    assert get_variable(afd, "field")["dataType"] == "INTEGER"


def test_delete_variable_drops_its_tags(afd: Any) -> None:
    create_variable(afd, "email", tags=[{"key": "team", "value": "risk"}])
    afd.delete_variable(name="email")
    create_variable(afd, "email")
    assert afd.list_tags_for_resource(resourceARN=f"{ARN_PREFIX}:variable/email")["tags"] == []


def test_delete_variable_in_use_by_event_type_conflicts(afd: Any) -> None:
    create_variable(afd, "email")
    create_variable(afd, "amount", "FLOAT", "0.0")
    setup_event_type(afd, "sign_up", ["email", "amount"])
    with pytest.raises(afd.exceptions.ConflictException, match="sign_up"):
        afd.delete_variable(name="email")
    assert get_variable(afd, "email")["name"] == "email"
    afd.delete_event_type(name="sign_up")
    afd.delete_variable(name="email")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_variables(name="email")


def test_delete_variable_after_event_type_is_gone(afd: Any) -> None:
    create_variable(afd, "email")
    create_variable(afd, "amount", "FLOAT", "0.0")
    setup_event_type(afd, "sign_up", ["email", "amount"])
    setup_event_type(afd, "payment", ["amount"])
    afd.delete_event_type(name="sign_up")
    afd.delete_variable(name="email")
    with pytest.raises(afd.exceptions.ConflictException):
        afd.delete_variable(name="amount")
