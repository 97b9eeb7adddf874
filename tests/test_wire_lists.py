"""Allow/deny lists over the wire: CreateList, UpdateList, GetListElements, GetListsMetadata, DeleteList."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers import unchecked_client

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
ARN_PREFIX = "arn:aws:frauddetector:us-east-1:123456789012:"


def all_elements(afd: Any, name: str, page_size: int = 5000) -> list[str]:
    """Every element of a list, following nextToken."""
    elements: list[str] = []
    request: dict[str, Any] = {"name": name, "maxResults": page_size}
    while True:
        result = afd.get_list_elements(**request)
        elements.extend(result["elements"])
        token = result.get("nextToken")
        if not token:
            return elements
        request = {"name": name, "maxResults": page_size, "nextToken": token}


def metadata(afd: Any, name: str) -> dict[str, Any]:
    lists = afd.get_lists_metadata(name=name)["lists"]
    assert len(lists) == 1
    result: dict[str, Any] = lists[0]
    return result


# --- CreateList -----------------------------------------------------------------------------------------


def test_create_list_with_elements(afd: Any) -> None:
    afd.create_list(name="bad_ips", elements=["10.0.0.1", "10.0.0.2"], variableType="IP_ADDRESS", description="deny")
    assert afd.get_list_elements(name="bad_ips")["elements"] == ["10.0.0.1", "10.0.0.2"]
    item = metadata(afd, "bad_ips")
    assert item["name"] == "bad_ips"
    assert item["variableType"] == "IP_ADDRESS"
    assert item["description"] == "deny"


def test_create_list_duplicates_collapse(afd: Any) -> None:
    afd.create_list(name="emails", elements=["b@x.com", "a@x.com", "b@x.com", "c@x.com", "a@x.com"])
    assert afd.get_list_elements(name="emails")["elements"] == ["b@x.com", "a@x.com", "c@x.com"]


def test_create_list_without_elements_is_empty(afd: Any) -> None:
    afd.create_list(name="empty")
    result = afd.get_list_elements(name="empty")
    assert result["elements"] == []
    assert "nextToken" not in result
    assert "variableType" not in metadata(afd, "empty")


@pytest.mark.parametrize("variable_type", ["IP_ADDRESS", "EMAIL_ADDRESS", "CATEGORICAL", "FREE_FORM_TEXT"])
def test_create_list_string_variable_type_accepted(afd: Any, variable_type: str) -> None:
    afd.create_list(name="typed", variableType=variable_type)
    assert metadata(afd, "typed")["variableType"] == variable_type


@pytest.mark.parametrize("variable_type", ["PRICE", "NUMERIC", "NOT_A_TYPE"])
def test_create_list_non_string_or_unknown_variable_type_rejected(afd: Any, variable_type: str) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="variableType"):
        afd.create_list(name="typed", variableType=variable_type, elements=["x"])
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_lists_metadata(name="typed")


def test_create_list_variable_type_pattern_rejected(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="'variableType'"):
        afd.create_list(name="typed", variableType="ip_address")


def test_create_existing_list_rejected(afd: Any) -> None:
    afd.create_list(name="dup", elements=["one"], description="first")
    with pytest.raises(afd.exceptions.ValidationException, match="dup"):
        afd.create_list(name="dup", elements=["two"], description="second")
    assert afd.get_list_elements(name="dup")["elements"] == ["one"]
    assert metadata(afd, "dup")["description"] == "first"


@pytest.mark.parametrize("name", ["with-dash", "Upper", "has space", "a" * 65])
def test_create_list_bad_name_rejected(afd: Any, name: str) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="'name'"):
        afd.create_list(name=name)
    assert afd.get_lists_metadata()["lists"] == []


def test_create_list_description_over_128_chars_rejected(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="'description'"):
        afd.create_list(name="long", description="d" * 129)


# --- element patterns and limits -----------------------------------------------------------------------


@pytest.mark.parametrize("element", [" leading", "trailing ", "tab\tinside", "new\nline", "x" * 321])
def test_create_list_bad_element_rejected(afd: Any, element: str) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="elements"):
        afd.create_list(name="bad", elements=["fine", element])
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_lists_metadata(name="bad")


@pytest.mark.parametrize("element", [" leading", "trailing ", "x" * 321])
def test_update_list_bad_element_rejected(afd: Any, element: str) -> None:
    afd.create_list(name="good", elements=["fine"])
    with pytest.raises(afd.exceptions.ValidationException, match="elements"):
        afd.update_list(name="good", elements=[element], updateMode="APPEND")
    assert afd.get_list_elements(name="good")["elements"] == ["fine"]


def test_empty_element_rejected_by_server(afd: Any) -> None:
    raw = unchecked_client(afd)
    with pytest.raises(raw.exceptions.ValidationException, match="elements"):
        raw.create_list(name="bad", elements=["fine", ""])
    afd.create_list(name="good", elements=["fine"])
    with pytest.raises(raw.exceptions.ValidationException, match="elements"):
        raw.update_list(name="good", elements=[""], updateMode="APPEND")
    assert afd.get_list_elements(name="good")["elements"] == ["fine"]


def test_element_edge_shapes_accepted(afd: Any) -> None:
    elements = ["a b", "a   b", "x" * 320, "ünïcödé", "1"]
    afd.create_list(name="edges", elements=elements)
    assert afd.get_list_elements(name="edges")["elements"] == elements


def test_more_than_100000_elements_rejected_on_create(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="elements"):
        afd.create_list(name="huge", elements=[f"e{index}" for index in range(100_001)])
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_lists_metadata(name="huge")


def test_append_beyond_100000_elements_rejected(afd: Any) -> None:
    afd.create_list(name="big", elements=[f"a{index}" for index in range(60_000)])
    afd.update_list(name="big", elements=[f"b{index}" for index in range(40_000)], updateMode="APPEND")
    with pytest.raises(afd.exceptions.ValidationException):
        afd.update_list(name="big", elements=["one_too_many"], updateMode="APPEND")
    elements = all_elements(afd, "big")
    assert len(elements) == 100_000
    assert "one_too_many" not in elements


# --- GetListElements -----------------------------------------------------------------------------------


def test_get_list_elements_unknown_list_not_found(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_list_elements(name="nope")


def test_get_list_elements_pagination_keeps_insertion_order(afd: Any) -> None:
    # 7919 is prime and coprime to 1200, so this is a permutation that is not sorted.
    elements = [f"el{(index * 7919) % 1200:05d}" for index in range(1200)]
    assert len(set(elements)) == 1200
    assert elements != sorted(elements)
    afd.create_list(name="many", elements=elements)
    pages: list[list[str]] = []
    request: dict[str, Any] = {"name": "many", "maxResults": 500}
    while True:
        result = afd.get_list_elements(**request)
        pages.append(result["elements"])
        token = result.get("nextToken")
        if not token:
            break
        request = {"name": "many", "maxResults": 500, "nextToken": token}
        assert len(pages) < 10
    assert [len(page) for page in pages] == [500, 500, 200]
    seen = [element for page in pages for element in page]
    assert seen == elements


def test_get_list_elements_max_results_below_range_rejected(afd: Any) -> None:
    afd.create_list(name="some", elements=["x"])
    raw = unchecked_client(afd)
    with pytest.raises(raw.exceptions.ValidationException, match="maxResults"):
        raw.get_list_elements(name="some", maxResults=100)


def test_get_list_elements_max_results_above_range_rejected(afd: Any) -> None:
    afd.create_list(name="some", elements=["x"])
    with pytest.raises(afd.exceptions.ValidationException, match="maxResults"):
        afd.get_list_elements(name="some", maxResults=5001)


# --- UpdateList ----------------------------------------------------------------------------------------


def test_update_list_append_adds_without_duplicates(afd: Any) -> None:
    afd.create_list(name="l", elements=["a", "b"])
    afd.update_list(name="l", elements=["b", "c", "c", "d"], updateMode="APPEND")
    assert afd.get_list_elements(name="l")["elements"] == ["a", "b", "c", "d"]


def test_update_list_remove(afd: Any) -> None:
    afd.create_list(name="l", elements=["a", "b", "c"])
    afd.update_list(name="l", elements=["b", "not_there"], updateMode="REMOVE")
    assert afd.get_list_elements(name="l")["elements"] == ["a", "c"]


def test_update_list_replace(afd: Any) -> None:
    afd.create_list(name="l", elements=["a", "b"])
    afd.update_list(name="l", elements=["y", "x", "y"], updateMode="REPLACE")
    assert afd.get_list_elements(name="l")["elements"] == ["y", "x"]


def test_update_list_replace_with_empty_list_empties(afd: Any) -> None:
    afd.create_list(name="l", elements=["a", "b"])
    afd.update_list(name="l", elements=[], updateMode="REPLACE")
    assert afd.get_list_elements(name="l")["elements"] == []
    assert metadata(afd, "l")["name"] == "l"


def test_update_list_description_only_keeps_elements(afd: Any) -> None:
    afd.create_list(name="l", elements=["a", "b"], description="old")
    afd.update_list(name="l", description="new")
    assert afd.get_list_elements(name="l")["elements"] == ["a", "b"]
    assert metadata(afd, "l")["description"] == "new"


def test_update_list_keeps_created_time(afd: Any) -> None:
    afd.create_list(name="l", elements=["a"])
    before = metadata(afd, "l")
    afd.update_list(name="l", elements=["b"], updateMode="APPEND")
    after = metadata(afd, "l")
    assert after["createdTime"] == before["createdTime"]
    assert after["updatedTime"] >= before["updatedTime"]


def test_variable_type_set_once(afd: Any) -> None:
    afd.create_list(name="l", elements=["1.2.3.4"])
    assert "variableType" not in metadata(afd, "l")
    afd.update_list(name="l", variableType="IP_ADDRESS")
    assert metadata(afd, "l")["variableType"] == "IP_ADDRESS"
    afd.update_list(name="l", variableType="IP_ADDRESS")
    with pytest.raises(afd.exceptions.ValidationException, match="variableType"):
        afd.update_list(name="l", variableType="EMAIL_ADDRESS")
    assert metadata(afd, "l")["variableType"] == "IP_ADDRESS"
    assert afd.get_list_elements(name="l")["elements"] == ["1.2.3.4"]


def test_variable_type_given_at_creation_cannot_change(afd: Any) -> None:
    afd.create_list(name="l", variableType="EMAIL_ADDRESS")
    afd.update_list(name="l", variableType="EMAIL_ADDRESS", description="same type")
    with pytest.raises(afd.exceptions.ValidationException, match="variableType"):
        afd.update_list(name="l", variableType="IP_ADDRESS", elements=["a"], updateMode="APPEND")
    assert metadata(afd, "l")["variableType"] == "EMAIL_ADDRESS"
    assert metadata(afd, "l")["description"] == "same type"
    assert afd.get_list_elements(name="l")["elements"] == []


def test_update_list_variable_type_must_be_string_type(afd: Any) -> None:
    afd.create_list(name="l")
    with pytest.raises(afd.exceptions.ValidationException, match="variableType"):
        afd.update_list(name="l", variableType="PRICE")
    assert "variableType" not in metadata(afd, "l")


def test_update_unknown_list_not_found(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.update_list(name="nope", elements=["a"], updateMode="APPEND")


def test_update_list_bad_mode_rejected(afd: Any) -> None:
    afd.create_list(name="l", elements=["a"])
    with pytest.raises(afd.exceptions.ValidationException, match="updateMode"):
        afd.update_list(name="l", elements=["b"], updateMode="MERGE")
    assert afd.get_list_elements(name="l")["elements"] == ["a"]


# --- GetListsMetadata ----------------------------------------------------------------------------------


def test_get_lists_metadata_by_name(afd: Any) -> None:
    afd.create_list(name="ips", variableType="IP_ADDRESS", description="blocked ips")
    afd.create_list(name="other")
    result = afd.get_lists_metadata(name="ips")
    assert "nextToken" not in result
    [item] = result["lists"]
    assert item["name"] == "ips"
    assert item["description"] == "blocked ips"
    assert item["variableType"] == "IP_ADDRESS"
    assert item["arn"] == f"{ARN_PREFIX}list/ips"
    for field in ("createdTime", "updatedTime"):
        assert ISO_UTC.match(item[field]), item[field]
    assert "lastUpdatedTime" not in item


def test_get_lists_metadata_unknown_not_found(afd: Any) -> None:
    afd.create_list(name="exists")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_lists_metadata(name="nope")


def test_get_lists_metadata_all(afd: Any) -> None:
    afd.create_list(name="zeta", variableType="EMAIL_ADDRESS")
    afd.create_list(name="alpha")
    result = afd.get_lists_metadata()
    assert [item["name"] for item in result["lists"]] == ["alpha", "zeta"]
    for item in result["lists"]:
        assert {"name", "arn", "createdTime", "updatedTime"} <= set(item)
        assert item["arn"] == f"{ARN_PREFIX}list/{item['name']}"
    by_name = {item["name"]: item for item in result["lists"]}
    assert by_name["zeta"]["variableType"] == "EMAIL_ADDRESS"
    assert "variableType" not in by_name["alpha"]


def test_get_lists_metadata_pagination(afd: Any) -> None:
    names = [f"list_{index:02d}" for index in range(12)]
    for name in reversed(names):
        afd.create_list(name=name)
    seen: list[str] = []
    sizes: list[int] = []
    request: dict[str, Any] = {"maxResults": 5}
    while True:
        result = afd.get_lists_metadata(**request)
        sizes.append(len(result["lists"]))
        seen.extend(item["name"] for item in result["lists"])
        token = result.get("nextToken")
        if not token:
            break
        request = {"maxResults": 5, "nextToken": token}
        assert len(sizes) < 10
    assert sizes == [5, 5, 2]
    assert seen == names


def test_get_lists_metadata_max_results_out_of_range(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="maxResults"):
        afd.get_lists_metadata(maxResults=51)
    raw = unchecked_client(afd)
    with pytest.raises(raw.exceptions.ValidationException, match="maxResults"):
        raw.get_lists_metadata(maxResults=4)


# --- DeleteList ----------------------------------------------------------------------------------------


def test_delete_list(afd: Any) -> None:
    afd.create_list(name="doomed", elements=["a", "b"])
    afd.create_list(name="kept", elements=["c"])
    afd.delete_list(name="doomed")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_lists_metadata(name="doomed")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_list_elements(name="doomed")
    assert [item["name"] for item in afd.get_lists_metadata()["lists"]] == ["kept"]
    assert afd.get_list_elements(name="kept")["elements"] == ["c"]


def test_delete_list_is_idempotent(afd: Any) -> None:
    afd.delete_list(name="never_existed")
    afd.create_list(name="once")
    afd.delete_list(name="once")
    afd.delete_list(name="once")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_lists_metadata(name="once")


def test_recreated_list_starts_empty(afd: Any) -> None:
    afd.create_list(name="again", elements=["a", "b"], variableType="IP_ADDRESS")
    afd.delete_list(name="again")
    afd.create_list(name="again")
    assert afd.get_list_elements(name="again")["elements"] == []
    assert "variableType" not in metadata(afd, "again")
