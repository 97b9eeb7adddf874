"""Event types over the wire: PutEventType (create and update), GetEventTypes, DeleteEventType and
their tags, driven by boto3 against a real server."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from tests.helpers import unchecked_client

ARN_PREFIX = "arn:aws:frauddetector:us-east-1:123456789012"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
VARIABLES = ("email", "ip", "amount")
LABELS = ("fraud", "legit")
ENTITY_TYPES = ("customer", "merchant")


def setup_catalog(
    afd: Any,
    variables: tuple[str, ...] = VARIABLES,
    labels: tuple[str, ...] = LABELS,
    entity_types: tuple[str, ...] = ENTITY_TYPES,
) -> None:
    """The STRING variables, labels and entity types an event type can refer to."""
    for name in variables:
        afd.create_variable(name=name, dataType="STRING", dataSource="EVENT", defaultValue="unknown")
    for name in labels:
        afd.put_label(name=name)
    for name in entity_types:
        afd.put_entity_type(name=name)


def put_event_type(
    afd: Any,
    name: str = "sign_up",
    variables: tuple[str, ...] = VARIABLES,
    labels: tuple[str, ...] | None = LABELS,
    entity_types: tuple[str, ...] = ENTITY_TYPES,
    **extra: Any,
) -> None:
    kwargs: dict[str, Any] = {"eventVariables": list(variables), "entityTypes": list(entity_types), **extra}
    if labels is not None:
        kwargs["labels"] = list(labels)
    afd.put_event_type(name=name, **kwargs)


def get_event_type(afd: Any, name: str = "sign_up") -> dict[str, Any]:
    event_types = afd.get_event_types(name=name)["eventTypes"]
    assert len(event_types) == 1
    event_type: dict[str, Any] = event_types[0]
    return event_type


def tags_of(afd: Any, arn: str) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in afd.list_tags_for_resource(resourceARN=arn)["tags"]}


# --- PutEventType: create ----------------------------------------------------------------------


def test_put_event_type_creates_with_lists_in_given_order(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(
        afd,
        variables=("ip", "amount", "email"),
        labels=("legit", "fraud"),
        entity_types=("merchant", "customer"),
        description="sign ups",
    )
    event_type = get_event_type(afd)
    assert event_type["name"] == "sign_up"
    assert event_type["description"] == "sign ups"
    assert event_type["eventVariables"] == ["ip", "amount", "email"]
    assert event_type["labels"] == ["legit", "fraud"]
    assert event_type["entityTypes"] == ["merchant", "customer"]


def test_put_event_type_defaults(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, labels=None)
    event_type = get_event_type(afd)
    assert event_type["eventIngestion"] == "DISABLED"
    assert event_type.get("labels", []) == []
    assert "description" not in event_type
    assert event_type.get("eventOrchestration", {"eventBridgeEnabled": False}) == {"eventBridgeEnabled": False}


def test_get_event_type_metadata(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd)
    event_type = get_event_type(afd)
    assert event_type["arn"] == f"{ARN_PREFIX}:event-type/sign_up"
    for field in ("createdTime", "lastUpdatedTime"):
        assert ISO_UTC.match(event_type[field]), event_type[field]
        datetime.fromisoformat(event_type[field].replace("Z", "+00:00"))
    assert event_type["lastUpdatedTime"] >= event_type["createdTime"]
    statistics = event_type["ingestedEventStatistics"]
    assert statistics["numberOfEvents"] == 0
    assert statistics.get("eventDataSizeInBytes", 0) == 0


@pytest.mark.parametrize("ingestion", ["ENABLED", "DISABLED"])
def test_put_event_type_event_ingestion(afd: Any, ingestion: str) -> None:
    setup_catalog(afd)
    put_event_type(afd, eventIngestion=ingestion)
    assert get_event_type(afd)["eventIngestion"] == ingestion


@pytest.mark.parametrize("enabled", [True, False])
def test_put_event_type_event_orchestration_round_trips(afd: Any, enabled: bool) -> None:
    setup_catalog(afd)
    put_event_type(afd, eventOrchestration={"eventBridgeEnabled": enabled})
    assert get_event_type(afd)["eventOrchestration"] == {"eventBridgeEnabled": enabled}


# --- PutEventType: update ----------------------------------------------------------------------


def test_put_event_type_update_replaces_lists_in_order(afd: Any) -> None:
    setup_catalog(afd, variables=("email", "ip", "amount", "phone"))
    put_event_type(afd, variables=("email", "ip"), labels=("fraud",), entity_types=("customer",))
    put_event_type(
        afd,
        variables=("phone", "ip", "amount", "email"),
        labels=("legit", "fraud"),
        entity_types=("merchant",),
    )
    event_type = get_event_type(afd)
    assert event_type["eventVariables"] == ["phone", "ip", "amount", "email"]
    assert event_type["labels"] == ["legit", "fraud"]
    assert event_type["entityTypes"] == ["merchant"]


@pytest.mark.parametrize(
    ("change", "member", "dropped"),
    [
        ({"variables": ("email",)}, "eventVariables", "ip"),
        ({"variables": ("amount",)}, "eventVariables", "email, ip"),
        ({"labels": ("fraud",)}, "labels", "legit"),
        ({"labels": None}, "labels", "fraud, legit"),
    ],
)
def test_variables_and_labels_once_added_stay(afd: Any, change: dict[str, Any], member: str, dropped: str) -> None:
    """As in AFD: models were trained on them, rules read them and stored events carry them."""
    setup_catalog(afd, labels=("fraud", "legit"))
    put_event_type(afd, variables=("email", "ip"), labels=("fraud", "legit"))
    with pytest.raises(afd.exceptions.ValidationException) as caught:
        put_event_type(afd, **change)
    message = caught.value.response["Error"]["Message"]
    assert message.startswith(f"{member}: ")
    assert message.endswith(f"the event type sign_up has {dropped}")
    event_type = get_event_type(afd)
    assert (event_type["eventVariables"], event_type["labels"]) == (["email", "ip"], ["fraud", "legit"])


def test_put_event_type_update_keeps_event_ingestion_when_omitted(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, variables=("email",), eventIngestion="ENABLED")
    put_event_type(afd, variables=("email", "ip"))
    event_type = get_event_type(afd)
    assert event_type["eventIngestion"] == "ENABLED"
    assert event_type["eventVariables"] == ["email", "ip"]


def test_put_event_type_update_changes_event_ingestion(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, eventIngestion="ENABLED")
    put_event_type(afd, eventIngestion="DISABLED")
    assert get_event_type(afd)["eventIngestion"] == "DISABLED"


def test_put_event_type_update_event_orchestration(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, eventOrchestration={"eventBridgeEnabled": True})
    put_event_type(afd)
    assert get_event_type(afd)["eventOrchestration"] == {"eventBridgeEnabled": True}
    put_event_type(afd, eventOrchestration={"eventBridgeEnabled": False})
    assert get_event_type(afd)["eventOrchestration"] == {"eventBridgeEnabled": False}


def test_put_event_type_update_description(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, description="old")
    put_event_type(afd, description="new")
    assert get_event_type(afd)["description"] == "new"


def test_put_event_type_update_keeps_created_time(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd)
    before = get_event_type(afd)
    put_event_type(afd, description="changed")
    after = get_event_type(afd)
    assert after["createdTime"] == before["createdTime"]
    assert after["lastUpdatedTime"] >= before["lastUpdatedTime"]
    assert after["arn"] == before["arn"]


def test_failed_update_leaves_event_type_unchanged(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, description="kept")
    with pytest.raises(afd.exceptions.ValidationException):
        put_event_type(afd, variables=("email", "ghost"), description="lost")
    event_type = get_event_type(afd)
    assert event_type["eventVariables"] == list(VARIABLES)
    assert event_type["description"] == "kept"


# --- PutEventType: validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "missing"),
    [
        ({"variables": ("email", "ghost_var")}, "ghost_var"),
        ({"labels": ("fraud", "ghost_label")}, "ghost_label"),
        ({"entity_types": ("customer", "ghost_entity")}, "ghost_entity"),
    ],
    ids=["eventVariables", "labels", "entityTypes"],
)
def test_put_event_type_rejects_missing_reference(afd: Any, override: dict[str, Any], missing: str) -> None:
    setup_catalog(afd)
    with pytest.raises(afd.exceptions.ValidationException, match=missing):
        put_event_type(afd, **override)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_event_types(name="sign_up")


def test_put_event_type_names_every_missing_variable(afd: Any) -> None:
    setup_catalog(afd)
    with pytest.raises(afd.exceptions.ValidationException) as caught:
        put_event_type(afd, variables=("ghost_one", "email", "ghost_two"))
    message = caught.value.response["Error"]["Message"]
    assert "ghost_one" in message
    assert "ghost_two" in message


@pytest.mark.parametrize(
    "override",
    [
        {"variables": ("email", "ip", "email")},
        {"labels": ("fraud", "fraud")},
        {"entity_types": ("customer", "merchant", "customer")},
    ],
)
def test_put_event_type_rejects_duplicates(afd: Any, override: dict[str, Any]) -> None:
    setup_catalog(afd)
    duplicate = next(iter(override.values()))[0]
    with pytest.raises(afd.exceptions.ValidationException, match=duplicate):
        put_event_type(afd, **override)


@pytest.mark.parametrize("member", ["eventVariables", "entityTypes"])
def test_put_event_type_rejects_empty_required_list(afd: Any, member: str) -> None:
    setup_catalog(afd)
    raw = unchecked_client(afd)
    request: dict[str, Any] = {"name": "sign_up", "eventVariables": ["email"], "entityTypes": ["customer"]}
    request[member] = []
    with pytest.raises(raw.exceptions.ValidationException, match=member):
        raw.put_event_type(**request)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_event_types(name="sign_up")


@pytest.mark.parametrize("member", ["eventVariables", "entityTypes"])
def test_put_event_type_rejects_missing_required_list(afd: Any, member: str) -> None:
    setup_catalog(afd)
    raw = unchecked_client(afd)
    request: dict[str, Any] = {"name": "sign_up", "eventVariables": ["email"], "entityTypes": ["customer"]}
    del request[member]
    with pytest.raises(raw.exceptions.ValidationException, match=member):
        raw.put_event_type(**request)


def test_put_event_type_empty_labels_is_allowed(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, labels=())
    assert get_event_type(afd).get("labels", []) == []


@pytest.mark.parametrize("value", ["enabled", "ON", "TRUE"])
def test_put_event_type_rejects_bad_event_ingestion(afd: Any, value: str) -> None:
    setup_catalog(afd)
    with pytest.raises(afd.exceptions.ValidationException, match="eventIngestion"):
        put_event_type(afd, eventIngestion=value)


@pytest.mark.parametrize("name", ["Sign_Up", "sign up", "sign.up", "x" * 65])
def test_put_event_type_rejects_bad_name(afd: Any, name: str) -> None:
    setup_catalog(afd)
    with pytest.raises(afd.exceptions.ValidationException, match="name"):
        put_event_type(afd, name=name)


def test_put_event_type_accepts_dash_in_name(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, name="sign-up")
    assert get_event_type(afd, "sign-up")["name"] == "sign-up"


def test_put_event_type_rejects_too_long_description(afd: Any) -> None:
    setup_catalog(afd)
    with pytest.raises(afd.exceptions.ValidationException, match="description"):
        put_event_type(afd, description="d" * 129)


# --- GetEventTypes -----------------------------------------------------------------------------


def test_get_event_types_by_name(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, name="sign_up")
    put_event_type(afd, name="login", variables=("ip",))
    result = afd.get_event_types(name="login")
    assert [event_type["name"] for event_type in result["eventTypes"]] == ["login"]
    assert result["eventTypes"][0]["eventVariables"] == ["ip"]
    assert "nextToken" not in result


def test_get_event_types_unknown_name_is_not_found(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="ghost"):
        afd.get_event_types(name="ghost")


def test_get_event_types_empty(afd: Any) -> None:
    result = afd.get_event_types()
    assert result.get("eventTypes", []) == []
    assert "nextToken" not in result


def test_get_event_types_lists_links_of_each(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, name="a_event", variables=("amount",), labels=("fraud",), entity_types=("merchant",))
    put_event_type(afd, name="b_event", variables=("ip", "email"), labels=None, entity_types=("customer",))
    by_name = {event_type["name"]: event_type for event_type in afd.get_event_types()["eventTypes"]}
    assert by_name["a_event"]["eventVariables"] == ["amount"]
    assert by_name["a_event"]["labels"] == ["fraud"]
    assert by_name["a_event"]["entityTypes"] == ["merchant"]
    assert by_name["b_event"]["eventVariables"] == ["ip", "email"]
    assert by_name["b_event"].get("labels", []) == []
    assert by_name["b_event"]["entityTypes"] == ["customer"]
    for event_type in by_name.values():
        assert event_type["ingestedEventStatistics"]["numberOfEvents"] == 0


def test_get_event_types_pagination(afd: Any) -> None:
    setup_catalog(afd)
    names = [f"event_{i:02d}" for i in range(12)]
    for name in reversed(names):
        put_event_type(afd, name=name)
    seen: list[str] = []
    page_sizes: list[int] = []
    kwargs: dict[str, Any] = {"maxResults": 5}
    while True:
        result = afd.get_event_types(**kwargs)
        page = [event_type["name"] for event_type in result["eventTypes"]]
        page_sizes.append(len(page))
        seen.extend(page)
        token = result.get("nextToken")
        if not token:
            break
        kwargs = {"maxResults": 5, "nextToken": token}
        assert len(page_sizes) < 10, "pagination does not end"
    assert page_sizes == [5, 5, 2]
    assert seen == names


def test_get_event_types_default_page_is_10(afd: Any) -> None:
    setup_catalog(afd)
    names = [f"event_{i:02d}" for i in range(12)]
    for name in names:
        put_event_type(afd, name=name)
    first = afd.get_event_types()
    assert [event_type["name"] for event_type in first["eventTypes"]] == names[:10]
    second = afd.get_event_types(nextToken=first["nextToken"])
    assert [event_type["name"] for event_type in second["eventTypes"]] == names[10:]
    assert "nextToken" not in second


@pytest.mark.parametrize("max_results", [11, 100])
def test_get_event_types_rejects_max_results_above_10(afd: Any, max_results: int) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="maxResults"):
        afd.get_event_types(maxResults=max_results)


@pytest.mark.parametrize("max_results", [0, 4])
def test_get_event_types_rejects_max_results_below_5_on_the_server(afd: Any, max_results: int) -> None:
    raw = unchecked_client(afd)
    with pytest.raises(raw.exceptions.ValidationException, match="maxResults"):
        raw.get_event_types(maxResults=max_results)


def test_get_event_types_rejects_garbage_next_token(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="nextToken"):
        afd.get_event_types(nextToken="garbage")


def test_get_event_types_rejects_bad_name(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="name"):
        afd.get_event_types(name="Sign_Up")


# --- DeleteEventType ---------------------------------------------------------------------------


def test_delete_event_type(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd)
    afd.delete_event_type(name="sign_up")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_event_types(name="sign_up")
    assert afd.get_event_types().get("eventTypes", []) == []


def test_delete_event_type_unknown_name_is_idempotent(afd: Any) -> None:
    afd.delete_event_type(name="ghost")
    setup_catalog(afd)
    put_event_type(afd)
    afd.delete_event_type(name="sign_up")
    afd.delete_event_type(name="sign_up")


def test_event_type_blocks_deleting_what_it_uses(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd)
    with pytest.raises(afd.exceptions.ConflictException, match="sign_up"):
        afd.delete_variable(name="email")
    with pytest.raises(afd.exceptions.ConflictException, match="sign_up"):
        afd.delete_label(name="fraud")
    with pytest.raises(afd.exceptions.ConflictException, match="sign_up"):
        afd.delete_entity_type(name="customer")


def test_delete_event_type_frees_its_variables_labels_and_entity_types(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd)
    afd.delete_event_type(name="sign_up")
    for name in VARIABLES:
        afd.delete_variable(name=name)
    for name in LABELS:
        afd.delete_label(name=name)
    for name in ENTITY_TYPES:
        afd.delete_entity_type(name=name)
    assert afd.get_variables().get("variables", []) == []
    assert afd.get_labels().get("labels", []) == []
    assert afd.get_entity_types().get("entityTypes", []) == []


def test_delete_one_event_type_keeps_shared_resources_in_use(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, name="sign_up")
    put_event_type(afd, name="login", variables=("email",), labels=("fraud",), entity_types=("customer",))
    afd.delete_event_type(name="sign_up")
    with pytest.raises(afd.exceptions.ConflictException, match="login"):
        afd.delete_variable(name="email")
    afd.delete_variable(name="ip")
    afd.delete_label(name="legit")
    afd.delete_entity_type(name="merchant")


def test_recreated_event_type_starts_fresh(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, description="first", eventIngestion="ENABLED")
    afd.delete_event_type(name="sign_up")
    put_event_type(afd, variables=("ip",), labels=None)
    event_type = get_event_type(afd)
    assert "description" not in event_type
    assert event_type["eventIngestion"] == "DISABLED"
    assert event_type["eventVariables"] == ["ip"]
    assert event_type.get("labels", []) == []


# --- Tags --------------------------------------------------------------------------------------


def test_put_event_type_tags_are_listed_on_its_arn(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, tags=[{"key": "team", "value": "risk"}, {"key": "env", "value": "test"}])
    assert tags_of(afd, f"{ARN_PREFIX}:event-type/sign_up") == {"team": "risk", "env": "test"}


def test_put_event_type_update_adds_and_overwrites_tags(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, tags=[{"key": "team", "value": "risk"}, {"key": "env", "value": "test"}])
    put_event_type(afd, tags=[{"key": "env", "value": "prod"}, {"key": "owner", "value": "ana"}])
    assert tags_of(afd, f"{ARN_PREFIX}:event-type/sign_up") == {"team": "risk", "env": "prod", "owner": "ana"}


def test_event_type_tag_and_untag_resource(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd)
    arn = f"{ARN_PREFIX}:event-type/sign_up"
    assert tags_of(afd, arn) == {}
    afd.tag_resource(resourceARN=arn, tags=[{"key": "team", "value": "risk"}, {"key": "env", "value": "dev"}])
    afd.untag_resource(resourceARN=arn, tagKeys=["env"])
    assert tags_of(afd, arn) == {"team": "risk"}


def test_put_event_type_rejects_reserved_tag_key(afd: Any) -> None:
    setup_catalog(afd)
    with pytest.raises(afd.exceptions.ValidationException, match="aws:"):
        put_event_type(afd, tags=[{"key": "aws:team", "value": "risk"}])
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_event_types(name="sign_up")


def test_deleted_event_type_has_no_taggable_arn(afd: Any) -> None:
    setup_catalog(afd)
    put_event_type(afd, tags=[{"key": "team", "value": "risk"}])
    afd.delete_event_type(name="sign_up")
    arn = f"{ARN_PREFIX}:event-type/sign_up"
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=arn)
    put_event_type(afd)
    assert tags_of(afd, arn) == {}


def test_tags_of_unknown_event_type_not_found(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.tag_resource(resourceARN=f"{ARN_PREFIX}:event-type/ghost", tags=[{"key": "k", "value": "v"}])
