"""The library client behaves like a boto3 client: same names, arguments, results and exceptions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import fraudhawk
from fraudhawk.service.contract import check_output


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_volatile(v)
            for k, v in value.items()
            if k not in ("ResponseMetadata", "createdTime", "lastUpdatedTime", "updatedTime")
        }
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def script(client: Any) -> list[Any]:
    """One workflow, written once for boto3, run against both clients."""
    results = []
    client.put_entity_type(name="customer", description="account holder")
    client.put_label(name="fraud")
    client.create_variable(
        name="ip", dataType="STRING", dataSource="EVENT", defaultValue="0.0.0.0", variableType="IP_ADDRESS"
    )
    client.put_event_type(name="signup", eventVariables=["ip"], labels=["fraud"], entityTypes=["customer"])
    client.create_list(name="bad_ips", elements=["10.0.0.1"], variableType="IP_ADDRESS")
    results.append(client.get_event_types(name="signup"))
    results.append(client.get_variables(name="ip"))
    results.append(client.batch_get_variable(names=["ip", "missing"]))
    results.append(client.get_lists_metadata())
    try:
        client.get_entity_types(name="merchant")
    except client.exceptions.ResourceNotFoundException as error:
        results.append(error.response["Error"]["Code"])
    try:
        client.delete_variable(name="ip")
    except client.exceptions.ConflictException as error:
        results.append(error.response["Error"]["Code"])
    return results


def test_same_script_same_results(afd: Any, tmp_path: Path) -> None:
    with fraudhawk.Client(data_dir=tmp_path / "lib") as library:
        assert _without_volatile(script(library)) == _without_volatile(script(afd))


def test_library_responses_fit_the_output_shapes(tmp_path: Path) -> None:
    with fraudhawk.Client(data_dir=tmp_path) as client:
        client.put_outcome(name="approve")
        response = client.get_outcomes()
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        response.pop("ResponseMetadata")
        assert check_output("GetOutcomes", response) == []


def test_errors_and_unknown_methods(tmp_path: Path) -> None:
    with fraudhawk.Client(data_dir=tmp_path) as client:
        with pytest.raises(client.exceptions.ValidationException, match="'name'"):
            client.put_label(name="Not Valid")
        with pytest.raises(client.exceptions.ValidationException, match="Unknown parameter 'nmae'"):
            client.put_label(nmae="typo")
        with pytest.raises(fraudhawk.FraudhawkError):
            client.get_labels(name="none")
        with pytest.raises(AttributeError):
            client.no_such_method()
        assert "get_event_prediction" in dir(client)
        assert client.can_paginate("get_variables") is False
        assert client.call("GetKMSEncryptionKey")["kmsKey"] == {"kmsEncryptionKeyArn": "DEFAULT"}


def test_data_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDHAWK_DATA_DIR", str(tmp_path / "env-dir"))
    with fraudhawk.Client() as client:
        client.put_label(name="legit")
    assert (tmp_path / "env-dir" / "fraudhawk.db").is_file()
