"""Tags (TagResource, UntagResource, ListTagsForResource) and the KMS key setting over the wire."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

ARN_PREFIX = "arn:aws:frauddetector:us-east-1:123456789012:"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ARN = "arn:aws:kms:eu-west-1:210987654321:key/abcd1234-ab12-cd34-ef56-abcdef123456"

Tags = list[dict[str, str]]


def tag_list(**pairs: str) -> Tags:
    return [{"key": key, "value": value} for key, value in pairs.items()]


def tags_of(afd: Any, arn: str) -> dict[str, str]:
    result = afd.list_tags_for_resource(resourceARN=arn)
    assert "nextToken" not in result
    return {tag["key"]: tag["value"] for tag in result["tags"]}


def _variable(afd: Any, tags: Tags | None) -> str:
    extra = {"tags": tags} if tags is not None else {}
    afd.create_variable(name="ip_address", dataType="STRING", dataSource="EVENT", defaultValue="unknown", **extra)
    arn: str = afd.get_variables(name="ip_address")["variables"][0]["arn"]
    return arn


def _event_type(afd: Any, tags: Tags | None) -> str:
    extra = {"tags": tags} if tags is not None else {}
    if not afd.get_variables()["variables"]:
        afd.create_variable(name="ip_address", dataType="STRING", dataSource="EVENT", defaultValue="unknown")
    afd.put_entity_type(name="customer")
    afd.put_event_type(name="signup", eventVariables=["ip_address"], entityTypes=["customer"], **extra)
    arn: str = afd.get_event_types(name="signup")["eventTypes"][0]["arn"]
    return arn


def _entity_type(afd: Any, tags: Tags | None) -> str:
    extra = {"tags": tags} if tags is not None else {}
    afd.put_entity_type(name="merchant", **extra)
    arn: str = afd.get_entity_types(name="merchant")["entityTypes"][0]["arn"]
    return arn


def _label(afd: Any, tags: Tags | None) -> str:
    extra = {"tags": tags} if tags is not None else {}
    afd.put_label(name="fraud", **extra)
    arn: str = afd.get_labels(name="fraud")["labels"][0]["arn"]
    return arn


def _outcome(afd: Any, tags: Tags | None) -> str:
    extra = {"tags": tags} if tags is not None else {}
    afd.put_outcome(name="review", **extra)
    arn: str = afd.get_outcomes(name="review")["outcomes"][0]["arn"]
    return arn


def _list(afd: Any, tags: Tags | None) -> str:
    extra = {"tags": tags} if tags is not None else {}
    afd.create_list(name="blocked_ips", elements=["10.0.0.1"], **extra)
    arn: str = afd.get_lists_metadata(name="blocked_ips")["lists"][0]["arn"]
    return arn


@dataclass(frozen=True)
class Resource:
    kind: str
    arn_path: str
    create: Callable[[Any, Tags | None], str]
    delete: Callable[[Any], object]


RESOURCES = [
    Resource("variable", "variable/ip_address", _variable, lambda afd: afd.delete_variable(name="ip_address")),
    Resource("event_type", "event-type/signup", _event_type, lambda afd: afd.delete_event_type(name="signup")),
    Resource("entity_type", "entity-type/merchant", _entity_type, lambda afd: afd.delete_entity_type(name="merchant")),
    Resource("label", "label/fraud", _label, lambda afd: afd.delete_label(name="fraud")),
    Resource("outcome", "outcome/review", _outcome, lambda afd: afd.delete_outcome(name="review")),
    Resource("list", "list/blocked_ips", _list, lambda afd: afd.delete_list(name="blocked_ips")),
]


@pytest.fixture(params=RESOURCES, ids=lambda resource: resource.kind)
def resource(request: pytest.FixtureRequest) -> Resource:
    result: Resource = request.param
    return result


# --- tagging each kind of resource ---------------------------------------------------------------------


def test_arn_from_get_response(afd: Any, resource: Resource) -> None:
    assert resource.create(afd, None) == ARN_PREFIX + resource.arn_path


def test_new_resource_has_no_tags(afd: Any, resource: Resource) -> None:
    arn = resource.create(afd, None)
    assert afd.list_tags_for_resource(resourceARN=arn)["tags"] == []


def test_tag_list_untag(afd: Any, resource: Resource) -> None:
    arn = resource.create(afd, None)
    afd.tag_resource(resourceARN=arn, tags=tag_list(env="prod", team="risk", cost_center="42"))
    assert tags_of(afd, arn) == {"env": "prod", "team": "risk", "cost_center": "42"}
    afd.untag_resource(resourceARN=arn, tagKeys=["env", "cost_center"])
    assert tags_of(afd, arn) == {"team": "risk"}


def test_tags_given_at_creation(afd: Any, resource: Resource) -> None:
    arn = resource.create(afd, tag_list(owner="fraud-team", stage="beta"))
    assert tags_of(afd, arn) == {"owner": "fraud-team", "stage": "beta"}


def test_put_entity_type_with_tags(afd: Any) -> None:
    afd.put_entity_type(name="customer", description="buyers", tags=tag_list(env="prod"))
    arn = afd.get_entity_types(name="customer")["entityTypes"][0]["arn"]
    assert tags_of(afd, arn) == {"env": "prod"}


def test_overwrite_tag_value(afd: Any, resource: Resource) -> None:
    arn = resource.create(afd, tag_list(env="prod", team="risk"))
    afd.tag_resource(resourceARN=arn, tags=tag_list(env="dev"))
    assert tags_of(afd, arn) == {"env": "dev", "team": "risk"}


def test_empty_tag_value_allowed(afd: Any) -> None:
    arn = _entity_type(afd, None)
    afd.tag_resource(resourceARN=arn, tags=tag_list(flag=""))
    assert tags_of(afd, arn) == {"flag": ""}


def test_untag_removes_only_named_keys(afd: Any) -> None:
    arn = _label(afd, tag_list(a="1", b="2", c="3"))
    afd.untag_resource(resourceARN=arn, tagKeys=["b", "not_a_tag"])
    assert tags_of(afd, arn) == {"a": "1", "c": "3"}
    afd.untag_resource(resourceARN=arn, tagKeys=[])
    assert tags_of(afd, arn) == {"a": "1", "c": "3"}


def test_tags_are_per_resource(afd: Any) -> None:
    label_arn = _label(afd, tag_list(env="prod"))
    outcome_arn = _outcome(afd, None)
    afd.tag_resource(resourceARN=outcome_arn, tags=tag_list(env="dev"))
    assert tags_of(afd, label_arn) == {"env": "prod"}
    assert tags_of(afd, outcome_arn) == {"env": "dev"}


def test_tags_gone_after_delete_and_recreate(afd: Any, resource: Resource) -> None:
    arn = resource.create(afd, tag_list(env="prod"))
    afd.tag_resource(resourceARN=arn, tags=tag_list(team="risk"))
    resource.delete(afd)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=arn)
    assert resource.create(afd, None) == arn
    assert afd.list_tags_for_resource(resourceARN=arn)["tags"] == []


# --- bad ARNs and bad tags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["variable/nope", "event-type/nope", "entity-type/nope", "label/nope", "outcome/nope", "list/nope"]
)
def test_unknown_resource_not_found(afd: Any, path: str) -> None:
    _entity_type(afd, None)
    arn = ARN_PREFIX + path
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=arn)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.tag_resource(resourceARN=arn, tags=tag_list(env="prod"))
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.untag_resource(resourceARN=arn, tagKeys=["env"])


def test_unknown_resource_type_not_found(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=ARN_PREFIX + "gadget/merchant")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:frauddetector:us-east-1:210987654321:entity-type/merchant",
        "arn:aws:frauddetector:us-west-2:123456789012:entity-type/merchant",
    ],
    ids=["other_account", "other_region"],
)
def test_arn_of_other_account_or_region_not_found(afd: Any, arn: str) -> None:
    _entity_type(afd, None)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=arn)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.tag_resource(resourceARN=arn, tags=tag_list(env="prod"))
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.untag_resource(resourceARN=arn, tagKeys=["env"])
    assert tags_of(afd, ARN_PREFIX + "entity-type/merchant") == {}


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:s3:::my-bucket",
        "arn:aws:frauddetector:us-east-1:1234:entity-type/merchant",
        "arn:aws:frauddetector:us-east-1:123456789012:entity type/merchant",
    ],
)
def test_malformed_arn_rejected(afd: Any, arn: str) -> None:
    _entity_type(afd, None)
    with pytest.raises(afd.exceptions.ValidationException, match="resourceARN"):
        afd.list_tags_for_resource(resourceARN=arn)
    with pytest.raises(afd.exceptions.ValidationException, match="resourceARN"):
        afd.tag_resource(resourceARN=arn, tags=tag_list(env="prod"))
    with pytest.raises(afd.exceptions.ValidationException, match="resourceARN"):
        afd.untag_resource(resourceARN=arn, tagKeys=["env"])


@pytest.mark.parametrize("key", ["aws:owner", "AWS:owner"])
def test_reserved_tag_key_rejected(afd: Any, key: str) -> None:
    arn = _entity_type(afd, tag_list(env="prod"))
    with pytest.raises(afd.exceptions.ValidationException, match="aws:"):
        afd.tag_resource(resourceARN=arn, tags=[{"key": "team", "value": "risk"}, {"key": key, "value": "x"}])
    assert tags_of(afd, arn) == {"env": "prod"}


def test_reserved_tag_key_at_creation_rejected(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="aws:"):
        afd.put_entity_type(name="merchant", tags=[{"key": "aws:owner", "value": "x"}])
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_entity_types(name="merchant")


def test_tag_key_pattern_rejected(afd: Any) -> None:
    arn = _entity_type(afd, None)
    with pytest.raises(afd.exceptions.ValidationException, match="key"):
        afd.tag_resource(resourceARN=arn, tags=[{"key": "bad*key", "value": "x"}])
    assert tags_of(afd, arn) == {}


def test_fifty_tags_allowed(afd: Any) -> None:
    arn = _entity_type(afd, [{"key": f"k{index:02d}", "value": str(index)} for index in range(10)])
    afd.tag_resource(resourceARN=arn, tags=[{"key": f"k{index:02d}", "value": str(index)} for index in range(10, 50)])
    assert len(tags_of(afd, arn)) == 50


def test_more_than_fifty_tags_rejected_atomically(afd: Any) -> None:
    initial = {f"k{index:02d}": str(index) for index in range(10)}
    arn = _entity_type(afd, [{"key": key, "value": value} for key, value in initial.items()])
    more = [{"key": "k00", "value": "changed"}] + [{"key": f"n{index:02d}", "value": "x"} for index in range(41)]
    with pytest.raises(afd.exceptions.ValidationException):
        afd.tag_resource(resourceARN=arn, tags=more)
    assert tags_of(afd, arn) == initial


def test_more_than_fifty_tags_at_creation_rejected(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException):
        afd.put_label(name="fraud", tags=[{"key": f"k{index:02d}", "value": "x"} for index in range(51)])
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_labels(name="fraud")


def test_tag_value_over_256_chars_rejected(afd: Any) -> None:
    arn = _entity_type(afd, tag_list(env="prod"))
    with pytest.raises(afd.exceptions.ValidationException, match="value"):
        afd.tag_resource(resourceARN=arn, tags=tag_list(env="v" * 257))
    assert tags_of(afd, arn) == {"env": "prod"}
    afd.tag_resource(resourceARN=arn, tags=tag_list(env="v" * 256))
    assert tags_of(afd, arn) == {"env": "v" * 256}


def test_tag_key_over_128_chars_rejected(afd: Any) -> None:
    arn = _entity_type(afd, None)
    with pytest.raises(afd.exceptions.ValidationException, match="key"):
        afd.tag_resource(resourceARN=arn, tags=[{"key": "k" * 129, "value": "x"}])
    assert tags_of(afd, arn) == {}


def test_untag_more_than_fifty_keys_rejected(afd: Any) -> None:
    arn = _entity_type(afd, tag_list(env="prod"))
    with pytest.raises(afd.exceptions.ValidationException, match="tagKeys"):
        afd.untag_resource(resourceARN=arn, tagKeys=["env"] + [f"k{index}" for index in range(50)])
    assert tags_of(afd, arn) == {"env": "prod"}


# --- KMS -----------------------------------------------------------------------------------------------


def test_kms_key_default_initially(afd: Any) -> None:
    assert afd.get_kms_encryption_key()["kmsKey"] == {"kmsEncryptionKeyArn": "DEFAULT"}


def test_put_kms_key_then_get(afd: Any) -> None:
    afd.put_kms_encryption_key(kmsEncryptionKeyArn=KEY_ARN)
    assert afd.get_kms_encryption_key()["kmsKey"] == {"kmsEncryptionKeyArn": KEY_ARN}
    afd.put_kms_encryption_key(kmsEncryptionKeyArn=OTHER_KEY_ARN)
    assert afd.get_kms_encryption_key()["kmsKey"] == {"kmsEncryptionKeyArn": OTHER_KEY_ARN}


@pytest.mark.parametrize(
    "key_arn",
    [
        "not-a-key-arn",
        "arn:aws:kms:us-east-1:123456789012:alias/my-key",
        "arn:aws:kms:us-east-1:1234:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        "arn:aws:s3:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "default",
    ],
)
def test_put_invalid_kms_key_rejected(afd: Any, key_arn: str) -> None:
    afd.put_kms_encryption_key(kmsEncryptionKeyArn=KEY_ARN)
    with pytest.raises(afd.exceptions.ValidationException, match="kmsEncryptionKeyArn"):
        afd.put_kms_encryption_key(kmsEncryptionKeyArn=key_arn)
    assert afd.get_kms_encryption_key()["kmsKey"] == {"kmsEncryptionKeyArn": KEY_ARN}


def test_kms_key_back_to_default(afd: Any) -> None:
    afd.put_kms_encryption_key(kmsEncryptionKeyArn=KEY_ARN)
    afd.put_kms_encryption_key(kmsEncryptionKeyArn="DEFAULT")
    assert afd.get_kms_encryption_key()["kmsKey"] == {"kmsEncryptionKeyArn": "DEFAULT"}
