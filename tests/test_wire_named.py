"""Entity types, labels and outcomes over the wire: Put / Get / Delete as AFD does them, driven by boto3."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import unchecked_client

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
ARN_PREFIX = "arn:aws:frauddetector:us-east-1:123456789012:"


@dataclass(frozen=True)
class Kind:
    """One of the three name/description/tags resources and how boto3 reaches it."""

    noun: str
    put: str
    get: str
    delete: str
    key: str
    min_results: int
    max_results: int
    arn_type: str

    def put_(self, afd: Any, **kwargs: Any) -> Any:
        return getattr(afd, self.put)(**kwargs)

    def get_(self, afd: Any, **kwargs: Any) -> Any:
        return getattr(afd, self.get)(**kwargs)

    def delete_(self, afd: Any, **kwargs: Any) -> Any:
        return getattr(afd, self.delete)(**kwargs)


ENTITY_TYPE = Kind(
    "entity_type", "put_entity_type", "get_entity_types", "delete_entity_type", "entityTypes", 5, 10, "entity-type"
)
LABEL = Kind("label", "put_label", "get_labels", "delete_label", "labels", 10, 50, "label")
OUTCOME = Kind("outcome", "put_outcome", "get_outcomes", "delete_outcome", "outcomes", 50, 100, "outcome")
KINDS = [ENTITY_TYPE, LABEL, OUTCOME]


@pytest.fixture(params=KINDS, ids=lambda kind: kind.noun)
def kind(request: pytest.FixtureRequest) -> Kind:
    result: Kind = request.param
    return result


def make_event_type(afd: Any) -> None:
    """An event type that uses entity type `customer` and label `fraud`."""
    afd.create_variable(
        name="ip_address", dataType="STRING", dataSource="EVENT", defaultValue="unknown", variableType="IP_ADDRESS"
    )
    afd.put_entity_type(name="customer")
    afd.put_label(name="fraud")
    afd.put_event_type(name="signup", eventVariables=["ip_address"], entityTypes=["customer"], labels=["fraud"])


def test_put_creates(afd: Any, kind: Kind) -> None:
    assert kind.put_(afd, name="alpha", description="the first one")["ResponseMetadata"]["HTTPStatusCode"] == 200
    items = kind.get_(afd, name="alpha")[kind.key]
    assert len(items) == 1
    item = items[0]
    assert item["name"] == "alpha"
    assert item["description"] == "the first one"
    assert {"arn", "createdTime", "lastUpdatedTime"} <= set(item)


def test_put_without_description(afd: Any, kind: Kind) -> None:
    kind.put_(afd, name="bare")
    item = kind.get_(afd, name="bare")[kind.key][0]
    assert item["name"] == "bare"
    assert "description" not in item


def test_put_again_updates_description_keeps_created_time(afd: Any, kind: Kind) -> None:
    kind.put_(afd, name="alpha", description="before")
    before = kind.get_(afd, name="alpha")[kind.key][0]
    time.sleep(0.05)
    kind.put_(afd, name="alpha", description="after")
    after = kind.get_(afd, name="alpha")[kind.key]
    assert len(after) == 1
    assert after[0]["description"] == "after"
    assert after[0]["createdTime"] == before["createdTime"]
    assert after[0]["arn"] == before["arn"]
    assert after[0]["lastUpdatedTime"] > before["lastUpdatedTime"]
    assert [item["name"] for item in kind.get_(afd)[kind.key]] == ["alpha"]


def test_get_by_name_returns_only_that_one(afd: Any, kind: Kind) -> None:
    for name in ("one", "two", "three"):
        kind.put_(afd, name=name, description=f"desc {name}")
    result = kind.get_(afd, name="two")
    assert [item["name"] for item in result[kind.key]] == ["two"]
    assert result[kind.key][0]["description"] == "desc two"
    assert "nextToken" not in result


def test_get_unknown_name_is_not_found(afd: Any, kind: Kind) -> None:
    kind.put_(afd, name="known")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        kind.get_(afd, name="unknown")


def test_get_unknown_name_on_empty_server_is_not_found(afd: Any, kind: Kind) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        kind.get_(afd, name="nothing_here")


def test_get_empty_list(afd: Any, kind: Kind) -> None:
    result = kind.get_(afd)
    assert result[kind.key] == []
    assert "nextToken" not in result


def test_list_sorted_by_name(afd: Any, kind: Kind) -> None:
    names = ["zeta", "alpha", "mid-dle", "beta_2", "0first"]
    for name in names:
        kind.put_(afd, name=name)
    result = kind.get_(afd)
    assert [item["name"] for item in result[kind.key]] == sorted(names)
    assert "nextToken" not in result


def test_pagination_with_minimum_page_size(afd: Any, kind: Kind) -> None:
    size = kind.min_results
    names = [f"item_{index:04d}" for index in range(2 * size + 3)]
    for name in reversed(names):
        kind.put_(afd, name=name)
    seen: list[str] = []
    pages = 0
    request: dict[str, Any] = {"maxResults": size}
    while True:
        result = kind.get_(afd, **request)
        pages += 1
        batch = [item["name"] for item in result[kind.key]]
        assert 0 < len(batch) <= size
        seen.extend(batch)
        token = result.get("nextToken")
        if not token:
            break
        request = {"maxResults": size, "nextToken": token}
        assert pages < 10
    assert pages == 3
    assert seen == names
    assert len(set(seen)) == len(seen)


def test_max_results_at_bounds_accepted(afd: Any, kind: Kind) -> None:
    kind.put_(afd, name="only")
    for value in (kind.min_results, kind.max_results):
        assert [item["name"] for item in kind.get_(afd, maxResults=value)[kind.key]] == ["only"]


def test_max_results_above_range_rejected(afd: Any, kind: Kind) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="maxResults"):
        kind.get_(afd, maxResults=kind.max_results + 1)


def test_max_results_below_range_rejected(afd: Any, kind: Kind) -> None:
    raw = unchecked_client(afd)
    with pytest.raises(raw.exceptions.ValidationException, match="maxResults"):
        kind.get_(raw, maxResults=kind.min_results - 1)


@pytest.mark.parametrize("name", ["Customer", "UPPER", "has space", "a" * 65, "dot.ted", "slash/ed"])
def test_bad_name_rejected(afd: Any, kind: Kind, name: str) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="'name'"):
        kind.put_(afd, name=name)
    assert kind.get_(afd)[kind.key] == []


def test_name_of_64_chars_accepted(afd: Any, kind: Kind) -> None:
    name = "a" * 64
    kind.put_(afd, name=name)
    assert kind.get_(afd, name=name)[kind.key][0]["name"] == name


def test_bad_name_rejected_on_get(afd: Any, kind: Kind) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="'name'"):
        kind.get_(afd, name="Not Valid")


def test_description_over_128_chars_rejected(afd: Any, kind: Kind) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="'description'"):
        kind.put_(afd, name="long", description="x" * 129)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        kind.get_(afd, name="long")


def test_description_update_over_128_chars_leaves_old_description(afd: Any, kind: Kind) -> None:
    kind.put_(afd, name="long", description="x" * 128)
    with pytest.raises(afd.exceptions.ValidationException, match="'description'"):
        kind.put_(afd, name="long", description="y" * 129)
    assert kind.get_(afd, name="long")[kind.key][0]["description"] == "x" * 128


def test_delete(afd: Any, kind: Kind) -> None:
    kind.put_(afd, name="gone")
    kind.put_(afd, name="kept")
    kind.delete_(afd, name="gone")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        kind.get_(afd, name="gone")
    assert [item["name"] for item in kind.get_(afd)[kind.key]] == ["kept"]


def test_delete_is_idempotent(afd: Any, kind: Kind) -> None:
    kind.delete_(afd, name="never_existed")
    kind.put_(afd, name="once")
    kind.delete_(afd, name="once")
    kind.delete_(afd, name="once")
    assert kind.get_(afd)[kind.key] == []


def test_delete_then_put_creates_anew(afd: Any, kind: Kind) -> None:
    kind.put_(afd, name="again", description="old")
    kind.delete_(afd, name="again")
    kind.put_(afd, name="again")
    item = kind.get_(afd, name="again")[kind.key][0]
    assert "description" not in item


@pytest.mark.parametrize(("used", "name"), [(ENTITY_TYPE, "customer"), (LABEL, "fraud")], ids=["entity_type", "label"])
def test_delete_in_use_by_event_type_conflicts(afd: Any, used: Kind, name: str) -> None:
    make_event_type(afd)
    with pytest.raises(afd.exceptions.ConflictException):
        used.delete_(afd, name=name)
    assert [item["name"] for item in used.get_(afd, name=name)[used.key]] == [name]
    afd.delete_event_type(name="signup")
    used.delete_(afd, name=name)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        used.get_(afd, name=name)


def test_delete_after_event_type_is_gone(afd: Any) -> None:
    make_event_type(afd)
    afd.put_label(name="legit")
    afd.put_event_type(name="other", eventVariables=["ip_address"], entityTypes=["customer"], labels=["legit"])
    afd.delete_event_type(name="signup")
    afd.delete_label(name="fraud")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_labels(name="fraud")
    with pytest.raises(afd.exceptions.ConflictException):
        afd.delete_label(name="legit")


def test_arn_format(afd: Any, kind: Kind) -> None:
    kind.put_(afd, name="my_thing-1")
    by_name = kind.get_(afd, name="my_thing-1")[kind.key][0]
    assert by_name["arn"] == f"{ARN_PREFIX}{kind.arn_type}/my_thing-1"
    listed = kind.get_(afd)[kind.key][0]
    assert listed["arn"] == by_name["arn"]


def test_times_are_iso8601_utc(afd: Any, kind: Kind) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    kind.put_(afd, name="timed")
    item = kind.get_(afd, name="timed")[kind.key][0]
    end = datetime.now(UTC) + timedelta(seconds=5)
    for field in ("createdTime", "lastUpdatedTime"):
        value = item[field]
        assert isinstance(value, str)
        assert ISO_UTC.match(value), value
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        assert start <= moment <= end
    assert item["createdTime"] <= item["lastUpdatedTime"]
