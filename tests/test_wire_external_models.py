"""External models: PutExternalModel, GetExternalModels and DeleteExternalModel driven by boto3 against a
real server, and the invoker against a real local HTTP endpoint that speaks SageMaker runtime's
`POST /endpoints/{name}/invocations`."""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudhawk.catalog.external_config import ExternalModel, load_external_models
from fraudhawk.catalog.usage import event_type_users, variable_users
from fraudhawk.scoring.external import ExternalInvoker
from fraudhawk.settings import Settings
from fraudhawk.storage.database import Database
from tests.helpers import (
    SAGEMAKER_ROLE,
    FakeSageMaker,
    RunningServer,
    boto_client,
    csv_model,
    setup_txn_event_type,
    unchecked_client,
)

ARN_PREFIX = "arn:aws:frauddetector:us-east-1:123456789012:"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


# --- helpers ----------------------------------------------------------------------------------------


def json_model(endpoint: str = "fraud-json", **overrides: Any) -> dict[str, Any]:
    request = csv_model(endpoint)
    request["inputConfiguration"] = {
        "useEventVariables": True,
        "eventTypeName": "txn",
        "format": "APPLICATION_JSON",
        "jsonInputTemplate": '{"amount": "{{order_amt}}", "note": "{{note}}"}',
    }
    request["outputConfiguration"] = {
        "format": "APPLICATION_JSONLINES",
        "jsonKeyToVariableMap": {"score": "json_score", "label": "json_label"},
    }
    request.update(overrides)
    return request


def with_input(**members: Any) -> dict[str, Any]:
    return csv_model(inputConfiguration=members)


def with_output(**members: Any) -> dict[str, Any]:
    return csv_model(outputConfiguration=members)


def get_model(afd: Any, endpoint: str) -> dict[str, Any]:
    models = afd.get_external_models(modelEndpoint=endpoint)["externalModels"]
    assert len(models) == 1
    model: dict[str, Any] = models[0]
    return model


def variable(afd: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = afd.get_variables(name=name)["variables"][0]
    return found


def tags_of(afd: Any, arn: str) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in afd.list_tags_for_resource(resourceARN=arn)["tags"]}


def use_in_detector_version(afd: Any, endpoint: str, status: str, detector: str = "fraud_detector") -> None:
    """Version 1 of a detector for event type txn, using `endpoint` and one rule, brought to `status`."""
    afd.put_outcome(name="review")
    afd.put_detector(detectorId=detector, eventTypeName="txn")
    afd.create_rule(
        ruleId="always", detectorId=detector, expression="$order_amt >= 0", language="DETECTORPL", outcomes=["review"]
    )
    afd.create_detector_version(
        detectorId=detector,
        rules=[{"detectorId": detector, "ruleId": "always", "ruleVersion": "1"}],
        externalModelEndpoints=[endpoint],
    )
    for step in {"DRAFT": [], "ACTIVE": ["ACTIVE"], "INACTIVE": ["ACTIVE", "INACTIVE"]}[status]:
        set_detector_version_status(afd, step, detector)


def set_detector_version_status(afd: Any, status: str, detector: str = "fraud_detector") -> None:
    afd.update_detector_version_status(detectorId=detector, detectorVersionId="1", status=status)


# --- PutExternalModel / GetExternalModels -------------------------------------------------------------


def test_put_and_get_returns_every_member(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**csv_model())
    model = get_model(afd, "fraud-xgb")
    assert model["modelEndpoint"] == "fraud-xgb"
    assert model["modelSource"] == "SAGEMAKER"
    assert model["invokeModelEndpointRoleArn"] == SAGEMAKER_ROLE
    assert model["inputConfiguration"] == csv_model()["inputConfiguration"]
    assert model["outputConfiguration"] == csv_model()["outputConfiguration"]
    assert model["modelEndpointStatus"] == "ASSOCIATED"
    assert model["arn"] == ARN_PREFIX + "external-model/fraud-xgb"
    assert ISO_UTC.match(model["createdTime"])
    assert ISO_UTC.match(model["lastUpdatedTime"])


def test_put_creates_missing_output_variables(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**json_model())
    for name in ("json_score", "json_label"):
        created = variable(afd, name)
        assert created["dataSource"] == "EXTERNAL_MODEL_SCORE"
        assert created["dataType"] == "FLOAT"
        assert created["defaultValue"] == "0.0"
        assert "variableType" not in created
        assert created["arn"] == ARN_PREFIX + f"variable/{name}"


def test_put_replaces_keeping_created_time(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**csv_model())
    first = get_model(afd, "fraud-xgb")
    time.sleep(0.01)
    replaced = csv_model(
        invokeModelEndpointRoleArn="arn:aws:iam::123456789012:role/other",
        outputConfiguration={"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "xgb_v2", "1": "xgb_v2_aux"}},
        modelEndpointStatus="DISSOCIATED",
    )
    afd.put_external_model(**replaced)
    second = get_model(afd, "fraud-xgb")
    assert second["createdTime"] == first["createdTime"]
    assert second["lastUpdatedTime"] > first["lastUpdatedTime"]
    assert second["invokeModelEndpointRoleArn"] == "arn:aws:iam::123456789012:role/other"
    assert second["outputConfiguration"] == replaced["outputConfiguration"]
    assert second["modelEndpointStatus"] == "DISSOCIATED"
    assert variable(afd, "xgb_v2")["dataSource"] == "EXTERNAL_MODEL_SCORE"
    assert variable(afd, "xgb_score")["dataSource"] == "EXTERNAL_MODEL_SCORE"  # ordinary variables outlive a mapping
    assert len(afd.get_external_models()["externalModels"]) == 1


def test_pass_through_input_needs_no_template_or_event_type(afd: Any) -> None:
    afd.put_external_model(**with_input(useEventVariables=False))
    assert get_model(afd, "fraud-xgb")["inputConfiguration"] == {"useEventVariables": False}


def test_pass_through_input_may_name_its_format(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**with_input(useEventVariables=False, format="APPLICATION_JSON", eventTypeName="txn"))
    assert get_model(afd, "fraud-xgb")["inputConfiguration"]["format"] == "APPLICATION_JSON"


def test_unknown_event_type_is_not_found(afd: Any) -> None:
    setup_txn_event_type(afd)
    request = csv_model()
    request["inputConfiguration"]["eventTypeName"] = "no_such_type"
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="no_such_type"):
        afd.put_external_model(**request)
    assert afd.get_external_models()["externalModels"] == []
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_variables(name="xgb_score")


@pytest.mark.parametrize(
    ("input_configuration", "named"),
    [
        ({"useEventVariables": True, "eventTypeName": "txn", "csvInputTemplate": "{{order_amt}}"}, "format"),
        ({"useEventVariables": True, "eventTypeName": "txn", "format": "TEXT_CSV"}, "csvInputTemplate"),
        ({"useEventVariables": True, "eventTypeName": "txn", "format": "APPLICATION_JSON"}, "jsonInputTemplate"),
        (
            {
                "useEventVariables": True,
                "eventTypeName": "txn",
                "format": "TEXT_CSV",
                "csvInputTemplate": "{{order_amt}}",
                "jsonInputTemplate": '{"a": "{{order_amt}}"}',
            },
            "jsonInputTemplate",
        ),
        ({"useEventVariables": True, "eventTypeName": "txn", "format": "TEXT_CSV", "csvInputTemplate": "1,2"}, "csv"),
        ({"useEventVariables": False, "csvInputTemplate": "{{order_amt}}"}, "csvInputTemplate"),
        (
            {
                "useEventVariables": True,
                "eventTypeName": "txn",
                "format": "APPLICATION_JSON",
                "jsonInputTemplate": '{"amount": "{{order_amt}}"',
            },
            "jsonInputTemplate",
        ),
    ],
)
def test_invalid_input_configuration_rejected(afd: Any, input_configuration: dict[str, Any], named: str) -> None:
    setup_txn_event_type(afd)
    with pytest.raises(afd.exceptions.ValidationException, match=named):
        afd.put_external_model(**with_input(**input_configuration))
    assert afd.get_external_models()["externalModels"] == []


def test_template_naming_unknown_variables_rejected_with_their_names(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.create_variable(name="elsewhere", dataType="STRING", dataSource="EVENT", defaultValue="x")
    template = "{{order_amt}},{{nope}},{{ elsewhere }},{{Bad-Name}}"
    request = with_input(useEventVariables=True, eventTypeName="txn", format="TEXT_CSV", csvInputTemplate=template)
    with pytest.raises(afd.exceptions.ValidationException) as raised:
        afd.put_external_model(**request)
    message = raised.value.response["Error"]["Message"]
    assert "csvInputTemplate" in message
    assert "nope, elsewhere, Bad-Name" in message
    assert "order_amt" not in message


def test_template_placeholders_may_have_spaces(afd: Any) -> None:
    setup_txn_event_type(afd)
    request = with_input(
        useEventVariables=True, eventTypeName="txn", format="TEXT_CSV", csvInputTemplate="{{ order_amt }},{{note}}"
    )
    afd.put_external_model(**request)


def test_template_without_event_type_reads_any_event_variable(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**with_input(useEventVariables=True, format="TEXT_CSV", csvInputTemplate="{{note}}"))
    afd.put_external_model(**json_model("score-as-input"))
    with pytest.raises(afd.exceptions.ValidationException, match="json_score"):
        # a model's output is not an event variable
        afd.put_external_model(
            **with_input(useEventVariables=True, format="TEXT_CSV", csvInputTemplate="{{json_score}}")
        )


def test_json_template_with_bare_placeholder_accepted(afd: Any) -> None:
    setup_txn_event_type(afd)
    template = '{"instances": [{"features": [{{order_amt}}, {{prev_amt}}]}]}'
    request = with_input(
        useEventVariables=True, eventTypeName="txn", format="APPLICATION_JSON", jsonInputTemplate=template
    )
    afd.put_external_model(**request)
    assert get_model(afd, "fraud-xgb")["inputConfiguration"]["jsonInputTemplate"] == template


@pytest.mark.parametrize(
    ("output_configuration", "named"),
    [
        ({"format": "TEXT_CSV"}, "csvIndexToVariableMap"),
        ({"format": "TEXT_CSV", "csvIndexToVariableMap": {}}, "csvIndexToVariableMap"),
        ({"format": "APPLICATION_JSONLINES"}, "jsonKeyToVariableMap"),
        ({"format": "TEXT_CSV", "csvIndexToVariableMap": {"-1": "s"}}, "-1"),
        ({"format": "TEXT_CSV", "csvIndexToVariableMap": {"first": "s"}}, "first"),
        ({"format": "TEXT_CSV", "csvIndexToVariableMap": {"01": "s"}}, "01"),
        ({"format": "TEXT_CSV", "csvIndexToVariableMap": {" 1": "s"}}, "csvIndexToVariableMap"),
        (
            {"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "s"}, "jsonKeyToVariableMap": {"k": "t"}},
            "jsonKeyToVariableMap",
        ),
        ({"format": "APPLICATION_JSONLINES", "csvIndexToVariableMap": {"0": "s"}}, "csvIndexToVariableMap"),
        ({"format": "APPLICATION_JSONLINES", "jsonKeyToVariableMap": {"": "s"}}, "empty key"),
        ({"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "Score"}}, "Score"),
        ({"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "s", "1": "s"}}, "more than one output to s"),
    ],
)
def test_invalid_output_configuration_rejected(afd: Any, output_configuration: dict[str, Any], named: str) -> None:
    setup_txn_event_type(afd)
    with pytest.raises(afd.exceptions.ValidationException, match=re.escape(named)):
        afd.put_external_model(**with_output(**output_configuration))
    assert afd.get_external_models()["externalModels"] == []


def test_output_to_an_event_variable_rejected_and_nothing_created(afd: Any) -> None:
    setup_txn_event_type(afd)
    request = with_output(format="TEXT_CSV", csvIndexToVariableMap={"0": "fresh_score", "1": "note"})
    with pytest.raises(afd.exceptions.ValidationException, match=r"note \(EVENT\)"):
        afd.put_external_model(**request)
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_variables(name="fresh_score")
    assert afd.get_external_models()["externalModels"] == []


def test_output_to_an_existing_external_score_variable_keeps_it(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.create_variable(
        name="risk_band", dataType="STRING", dataSource="EXTERNAL_MODEL_SCORE", defaultValue="low", description="band"
    )
    afd.put_external_model(**with_output(format="TEXT_CSV", csvIndexToVariableMap={"0": "risk_band"}))
    kept = variable(afd, "risk_band")
    assert (kept["dataType"], kept["defaultValue"], kept["description"]) == ("STRING", "low", "band")


def test_variable_filled_by_another_model_rejected(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**csv_model("first-endpoint"))
    with pytest.raises(afd.exceptions.ValidationException, match="first-endpoint already fills xgb_score"):
        afd.put_external_model(**csv_model("second-endpoint"))
    afd.put_external_model(**csv_model("first-endpoint"))  # the model itself may be put again


@pytest.mark.parametrize("role", ["not-an-arn", "arn:aws:iam::123:role/x", "arn:aws:s3:::bucket", ""])
def test_invalid_role_rejected(afd: Any, role: str) -> None:
    client = unchecked_client(afd)
    with pytest.raises(client.exceptions.ValidationException, match="invokeModelEndpointRoleArn"):
        client.put_external_model(**with_input(useEventVariables=False) | {"invokeModelEndpointRoleArn": role})


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"modelEndpoint": "has space"}, "modelEndpoint"),
        ({"modelEndpoint": "e" * 64}, "modelEndpoint"),
        ({"modelSource": "VERTEX"}, "modelSource"),
        ({"modelEndpointStatus": "ON"}, "modelEndpointStatus"),
    ],
)
def test_model_constraints_enforced(afd: Any, override: dict[str, str], named: str) -> None:
    client = unchecked_client(afd)
    with pytest.raises(client.exceptions.ValidationException, match=named):
        client.put_external_model(**with_input(useEventVariables=False) | override)


def test_get_unknown_model_not_found(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ResourceNotFoundException, match="nothing-here"):
        afd.get_external_models(modelEndpoint="nothing-here")


def test_get_without_models_is_empty(afd: Any) -> None:
    result = afd.get_external_models()
    assert result["externalModels"] == []
    assert "nextToken" not in result


def test_pages_in_endpoint_order(afd: Any) -> None:
    endpoints = [f"endpoint-{index:02d}" for index in range(12)]
    for endpoint in reversed(endpoints):
        afd.put_external_model(
            **csv_model(
                endpoint,
                inputConfiguration={"useEventVariables": False},
                outputConfiguration={"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": endpoint.replace("-", "_")}},
            )
        )
    seen: list[list[str]] = []
    request: dict[str, Any] = {"maxResults": 5}
    while True:
        result = afd.get_external_models(**request)
        seen.append([model["modelEndpoint"] for model in result["externalModels"]])
        if "nextToken" not in result:
            break
        request = {"maxResults": 5, "nextToken": result["nextToken"]}
    assert seen == [endpoints[:5], endpoints[5:10], endpoints[10:]]
    first = afd.get_external_models()
    assert [model["modelEndpoint"] for model in first["externalModels"]] == endpoints[:10]  # AFD's default page: 10
    rest = afd.get_external_models(nextToken=first["nextToken"])
    assert [model["modelEndpoint"] for model in rest["externalModels"]] == endpoints[10:]


@pytest.mark.parametrize("max_results", [4, 11])
def test_max_results_bounds(afd: Any, max_results: int) -> None:
    client = unchecked_client(afd)
    with pytest.raises(client.exceptions.ValidationException, match="maxResults"):
        client.get_external_models(maxResults=max_results)


def test_bad_next_token_rejected(afd: Any) -> None:
    with pytest.raises(afd.exceptions.ValidationException, match="nextToken"):
        afd.get_external_models(nextToken="garbage")


# --- tags ---------------------------------------------------------------------------------------------


def test_tags_at_put_and_by_arn(afd: Any) -> None:
    afd.put_external_model(**with_input(useEventVariables=False), tags=[{"key": "team", "value": "risk"}])
    arn = get_model(afd, "fraud-xgb")["arn"]
    assert tags_of(afd, arn) == {"team": "risk"}
    afd.tag_resource(resourceARN=arn, tags=[{"key": "env", "value": "prod"}])
    afd.untag_resource(resourceARN=arn, tagKeys=["team"])
    assert tags_of(afd, arn) == {"env": "prod"}


def test_delete_removes_tags(afd: Any) -> None:
    afd.put_external_model(**with_input(useEventVariables=False), tags=[{"key": "team", "value": "risk"}])
    arn = get_model(afd, "fraud-xgb")["arn"]
    afd.delete_external_model(modelEndpoint="fraud-xgb")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.list_tags_for_resource(resourceARN=arn)
    afd.put_external_model(**with_input(useEventVariables=False))
    assert tags_of(afd, arn) == {}


# --- DeleteExternalModel and what uses a model --------------------------------------------------------


def test_delete_is_idempotent_and_keeps_output_variables(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**csv_model())
    afd.delete_external_model(modelEndpoint="fraud-xgb")
    afd.delete_external_model(modelEndpoint="fraud-xgb")
    afd.delete_external_model(modelEndpoint="never-existed")
    with pytest.raises(afd.exceptions.ResourceNotFoundException):
        afd.get_external_models(modelEndpoint="fraud-xgb")
    assert variable(afd, "xgb_score")["dataSource"] == "EXTERNAL_MODEL_SCORE"


@pytest.mark.parametrize("status", ["DRAFT", "ACTIVE", "INACTIVE"])
def test_delete_refused_while_a_detector_version_uses_it(afd: Any, status: str) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**csv_model())
    use_in_detector_version(afd, "fraud-xgb", status)
    with pytest.raises(afd.exceptions.ConflictException, match=f"fraud_detector version 1 \\({status}\\)"):
        afd.delete_external_model(modelEndpoint="fraud-xgb")
    assert get_model(afd, "fraud-xgb")["modelEndpoint"] == "fraud-xgb"


def test_dissociating_refused_only_while_an_active_version_uses_it(afd: Any) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**csv_model())
    use_in_detector_version(afd, "fraud-xgb", "ACTIVE")
    with pytest.raises(afd.exceptions.ConflictException, match=r"fraud_detector version 1 \(ACTIVE\)"):
        afd.put_external_model(**csv_model(modelEndpointStatus="DISSOCIATED"))
    assert get_model(afd, "fraud-xgb")["modelEndpointStatus"] == "ASSOCIATED"
    # other changes to a model in use are allowed
    afd.put_external_model(**csv_model(invokeModelEndpointRoleArn="arn:aws:iam::123456789012:role/rotated"))
    assert get_model(afd, "fraud-xgb")["invokeModelEndpointRoleArn"] == "arn:aws:iam::123456789012:role/rotated"
    set_detector_version_status(afd, "INACTIVE")
    afd.put_external_model(**csv_model(modelEndpointStatus="DISSOCIATED"))
    assert get_model(afd, "fraud-xgb")["modelEndpointStatus"] == "DISSOCIATED"


# --- the invoker against a real HTTP endpoint ------------------------------------------------------------


@pytest.fixture
def invoker(sagemaker: FakeSageMaker) -> Iterator[ExternalInvoker]:
    with ExternalInvoker(sagemaker.url_template, timeout_s=2.0) as running:
        yield running


def model(
    endpoint: str = "xgb",
    *,
    input_format: str | None = "TEXT_CSV",
    template: str | None = "{{order_amt}},{{prev_amt}}",
    output_format: str = "TEXT_CSV",
    mapping: dict[str, str] | None = None,
) -> ExternalModel:
    return ExternalModel(
        endpoint=endpoint,
        source="SAGEMAKER",
        status="ASSOCIATED",
        input_format=input_format,
        use_event_variables=template is not None,
        template=template,
        output_format=output_format,
        mapping={"0": "xgb_score"} if mapping is None else mapping,
    )


EVENT = {"order_amt": "120.5", "prev_amt": "80", "note": "hello"}


def test_csv_template_filled_and_raw_score_passed_through(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("xgb", "0.07167139649391174\n")
    result = invoker.invoke(model(), EVENT, None)
    assert result.error is None
    assert result.outputs == {"xgb_score": "0.07167139649391174\n"}  # AFD passes the raw text, newline included
    assert result.input_variables == {"order_amt": "120.5", "prev_amt": "80"}
    (call,) = sagemaker.calls
    assert call.endpoint == "xgb"
    assert call.body == b"120.5,80"
    assert call.headers["Content-Type"] == "text/csv"
    assert call.headers["Accept"] == "text/csv"


def test_csv_output_fields_by_index(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("xgb", "0.1,0.9,extra\n")
    result = invoker.invoke(model(mapping={"1": "fraud_p", "0": "legit_p"}), EVENT, None)
    assert result.error is None
    assert result.outputs == {"fraud_p": "0.9", "legit_p": "0.1"}


def test_csv_output_with_too_few_fields_keeps_what_it_has(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("xgb", "0.3\n")
    result = invoker.invoke(model(mapping={"0": "first", "2": "third"}), EVENT, None)
    assert result.outputs == {"first": "0.3\n"}
    assert result.error == "the answer has 1 field(s); none at index 2"


def test_json_template_escapes_values(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("js", '{"score": 0.25, "label": "fraud", "flagged": true, "extra": [1, 2]}\n')
    template = '{"amount": "{{order_amt}}", "note": "{{note}}", "raw": {{prev_amt}}}'
    tricky = 'he said "hi" \\ back\nslash\t{{order_amt}} ü'
    mapping = {"score": "js_score", "label": "js_label", "flagged": "js_flag", "extra": "js_extra"}
    js = model(
        "js", input_format="APPLICATION_JSON", template=template, output_format="APPLICATION_JSONLINES", mapping=mapping
    )
    result = invoker.invoke(js, {**EVENT, "note": tricky}, None)
    assert result.error is None
    (call,) = sagemaker.calls
    assert json.loads(call.body) == {"amount": "120.5", "note": tricky, "raw": 80}
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["Accept"] == "application/jsonlines"
    assert result.outputs == {"js_score": "0.25", "js_label": "fraud", "js_flag": "true", "js_extra": "[1, 2]"}
    assert result.input_variables == {"order_amt": "120.5", "note": tricky, "prev_amt": "80"}


def test_json_template_that_a_value_breaks_is_not_sent(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("js", '{"score": 1}')
    js = model(
        "js", input_format="APPLICATION_JSON", template='{"raw": {{note}}}', output_format="APPLICATION_JSONLINES"
    )
    result = invoker.invoke(js, EVENT, None)  # note is "hello": bare, not JSON
    assert result.error == "the filled JSON input template is not valid JSON"
    assert sagemaker.calls == []


def test_jsonlines_first_line_is_the_answer(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    js = model("js", output_format="APPLICATION_JSONLINES", mapping={"score": "s", "reason": "r"})
    sagemaker.answer("js", '\n{"score": 0.5}\n{"score": 0.9, "reason": "x"}\n')
    result = invoker.invoke(js, EVENT, None)
    assert result.outputs == {"s": "0.5"}
    assert result.error == "the answer has no key reason"


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        ("<html>oops</html>", "the answer is not JSON Lines"),
        ("[0.5]", "the answer's first line is not a JSON object"),
        ("   \n", "the endpoint answered with an empty body"),
        (b"\xff\xfe0.5", "the answer is not UTF-8 text"),
    ],
)
def test_garbage_answer_is_an_error(
    sagemaker: FakeSageMaker, invoker: ExternalInvoker, garbage: str | bytes, reason: str
) -> None:
    js = model("js", output_format="APPLICATION_JSONLINES", mapping={"score": "s"})
    sagemaker.answer("js", garbage)
    result = invoker.invoke(js, EVENT, None)
    assert (result.outputs, result.error) == ({}, reason)


def test_http_error_becomes_an_error_and_the_connection_stays_usable(
    sagemaker: FakeSageMaker, invoker: ExternalInvoker
) -> None:
    sagemaker.answer("xgb", '{"ErrorCode": "ModelError"}', status=500, content_type="application/json")
    result = invoker.invoke(model(), EVENT, None)
    assert (result.outputs, result.error) == ({}, "the endpoint answered HTTP 500")
    sagemaker.answer("xgb", "0.5")
    assert invoker.invoke(model(), EVENT, None).outputs == {"xgb_score": "0.5"}
    assert sagemaker.calls[0].client_port == sagemaker.calls[1].client_port  # one keep-alive connection


def test_dropped_connection_tried_once_more(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("xgb", "0.5", drop=1)
    result = invoker.invoke(model(), EVENT, None)
    assert (result.outputs, result.error) == ({"xgb_score": "0.5"}, None)
    assert len(sagemaker.calls) == 2
    sagemaker.answer("xgb", "0.5", drop=5)
    result = invoker.invoke(model(), EVENT, None)
    assert (result.outputs, result.error) == ({}, "the endpoint dropped the connection (RemoteDisconnected)")
    assert len(sagemaker.calls) == 4


def test_unknown_endpoint_is_an_http_error(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    result = invoker.invoke(model("not-deployed"), EVENT, None)
    assert result.error == "the endpoint answered HTTP 404"


def test_connections_are_reused(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("xgb", "0.5")
    for _ in range(5):
        assert invoker.invoke(model(), EVENT, None).error is None
    assert len({call.client_port for call in sagemaker.calls}) == 1


def test_slow_endpoint_times_out(sagemaker: FakeSageMaker) -> None:
    sagemaker.answer("xgb", "0.5", delay=1.5)
    with ExternalInvoker(sagemaker.url_template, timeout_s=0.2) as invoker:
        started = time.monotonic()
        result = invoker.invoke(model(), EVENT, None)
        elapsed = time.monotonic() - started
    assert (result.outputs, result.error) == ({}, "no answer within 0.2s")
    assert elapsed < 1.0


def test_trickling_answer_bounded_by_the_timeout(sagemaker: FakeSageMaker) -> None:
    sagemaker.answer("xgb", "0.123456789", trickle=0.1)  # each byte well within the socket timeout
    with ExternalInvoker(sagemaker.url_template, timeout_s=0.35) as invoker:
        started = time.monotonic()
        result = invoker.invoke(model(), EVENT, None)
        elapsed = time.monotonic() - started
        assert result.error == "no complete answer within 0.35s"
        assert elapsed < 0.9
        sagemaker.answer("xgb", "0.5")
        assert invoker.invoke(model(), EVENT, None).outputs == {"xgb_score": "0.5"}  # not the leftover bytes


def test_oversized_answer_refused(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("xgb", b"1" * (6 * 1024 * 1024 + 10))
    result = invoker.invoke(model(), EVENT, None)
    assert (result.outputs, result.error) == ({}, f"the answer is larger than {6 * 1024 * 1024} bytes")
    sagemaker.answer("xgb", "0.5")
    assert invoker.invoke(model(), EVENT, None).outputs == {"xgb_score": "0.5"}


def test_unreachable_endpoint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ExternalInvoker(f"http://127.0.0.1:{port}/endpoints/{{endpoint}}/invocations", 1.0) as invoker:
        result = invoker.invoke(model(), EVENT, None)
    assert result.error == "could not reach the endpoint (connection refused)"


def test_missing_variable_value_is_not_sent(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("xgb", "0.5")
    result = invoker.invoke(model(), {"order_amt": "1"}, None)
    assert result.error == "no value for variable(s) prev_amt"
    assert result.input_variables == {"order_amt": "1"}
    assert sagemaker.calls == []


def test_pass_through_blob_sent_as_is(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("blob", '{"score": 0.75}', content_type="application/jsonlines")
    passthrough = model(
        "blob", input_format=None, template=None, output_format="APPLICATION_JSONLINES", mapping={"score": "blob_score"}
    )
    payload = b'{"features": [1, 2, 3]}'
    result = invoker.invoke(passthrough, EVENT, {"byteBuffer": payload, "contentType": "application/x-custom"})
    assert (result.outputs, result.error, result.input_variables) == ({"blob_score": "0.75"}, None, {})
    encoded = {"byteBuffer": base64.b64encode(payload).decode(), "contentType": "application/json"}
    assert invoker.invoke(passthrough, EVENT, encoded).error is None  # as the wire carries it: base64 text
    first, second = sagemaker.calls
    assert (first.body, first.headers["Content-Type"]) == (payload, "application/x-custom")
    assert (second.body, second.headers["Content-Type"]) == (payload, "application/json")
    assert first.headers["Accept"] == "application/jsonlines"


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (None, "no data blob for endpoint"),
        ({"contentType": "text/csv"}, "no data blob for endpoint"),
        ({"byteBuffer": b"1,2"}, "the data blob has no usable contentType"),
        ({"byteBuffer": b"1,2", "contentType": "text/csv\r\nX-Injected: 1"}, "the data blob has no usable contentType"),
        ({"byteBuffer": "not base64!", "contentType": "text/csv"}, "the data blob's byteBuffer is not base64"),
    ],
)
def test_unusable_blob_is_an_error(
    sagemaker: FakeSageMaker, invoker: ExternalInvoker, blob: dict[str, Any] | None, reason: str
) -> None:
    sagemaker.answer("blob", "0.5")
    result = invoker.invoke(model("blob", input_format=None, template=None), EVENT, blob)
    assert (result.outputs, result.error) == ({}, reason)
    assert sagemaker.calls == []


def test_template_values_are_not_substituted_twice(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    sagemaker.answer("xgb", "0.5")
    invoker.invoke(model(template="{{note}}|{{order_amt}}"), {"note": "{{order_amt}}", "order_amt": "7"}, None)
    assert sagemaker.calls[0].body == b"{{order_amt}}|7"


def test_invoke_many_calls_models_at_once(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    for name in ("one", "two", "three"):
        sagemaker.answer(name, f"0.{len(name)}", delay=0.4)
    models = [model(name, mapping={"0": f"{name}_score"}) for name in ("one", "two", "three")]
    started = time.monotonic()
    results = invoker.invoke_many(models, EVENT, None)
    elapsed = time.monotonic() - started
    assert [result.outputs for result in results] == [
        {"one_score": "0.3"},
        {"two_score": "0.3"},
        {"three_score": "0.5"},
    ]
    assert elapsed < 1.0  # not 3 x 0.4s


def test_endpoint_name_cannot_leave_the_configured_path(sagemaker: FakeSageMaker, invoker: ExternalInvoker) -> None:
    base = sagemaker.url_template.split("/endpoints/")[0]
    assert invoker.url("../../admin?x=1#") == f"{base}/endpoints/..%2F..%2Fadmin%3Fx%3D1%23/invocations"


def test_models_put_over_the_wire_are_invoked(
    afd: Any, server: RunningServer, sagemaker: FakeSageMaker, invoker: ExternalInvoker
) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**csv_model())
    afd.put_external_model(**json_model())
    dissociated_output = {"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "d"}}
    afd.put_external_model(
        **csv_model("dissociated", modelEndpointStatus="DISSOCIATED", outputConfiguration=dissociated_output)
    )
    db = Database(server.settings.database_url)
    try:
        with db.read() as conn:
            models = load_external_models(conn, ["fraud-xgb", "fraud-json", "dissociated", "not-there"])
    finally:
        db.dispose()
    assert sorted(models) == ["dissociated", "fraud-json", "fraud-xgb"]
    assert models["dissociated"].status == "DISSOCIATED"
    csv, js = models["fraud-xgb"], models["fraud-json"]
    assert (csv.input_variables, csv.output_variables, csv.event_type) == (
        ["order_amt", "prev_amt"],
        ["xgb_score"],
        "txn",
    )
    assert (js.input_variables, js.output_variables) == (["order_amt", "note"], ["json_score", "json_label"])
    sagemaker.answer("fraud-xgb", "0.07167139649391174\n")
    sagemaker.answer("fraud-json", '{"score": 0.9, "label": "bad"}\n')
    results = invoker.invoke_many([csv, js], EVENT, None)
    assert [(result.outputs, result.error) for result in results] == [
        ({"xgb_score": "0.07167139649391174\n"}, None),
        ({"json_score": "0.9", "json_label": "bad"}, None),
    ]
    bodies = {call.endpoint: call.body for call in sagemaker.calls}
    assert bodies["fraud-xgb"] == b"120.5, 80"  # the sample's template, its space kept
    assert json.loads(bodies["fraud-json"]) == {"amount": "120.5", "note": "hello"}


def test_in_use_checks_for_event_types_and_variables(afd: Any, server: RunningServer) -> None:
    setup_txn_event_type(afd)
    afd.put_external_model(**csv_model())
    afd.put_external_model(**json_model(inputConfiguration={"useEventVariables": False}))
    db = Database(server.settings.database_url)
    try:
        with db.read() as conn:
            assert event_type_users(conn, "txn") == "it is used by external model(s) fraud-xgb"
            assert event_type_users(conn, "other") is None
            assert variable_users(conn, "prev_amt") == "it is used by external model(s) fraud-xgb"
            assert variable_users(conn, "json_label") == "it is used by external model(s) fraud-json"
            assert variable_users(conn, "note") is None
    finally:
        db.dispose()


def test_get_event_prediction_passes_the_raw_output_through(sagemaker: FakeSageMaker, tmp_path: Path) -> None:
    """AWS's SageMaker sample end to end: the endpoint's text reaches rules and the response unchanged."""
    settings = Settings.load(
        data_dir=tmp_path / "data", environ={"FRAUDHAWK_EXTERNAL_MODEL_URL": sagemaker.url_template}
    )
    with RunningServer(settings) as server:
        afd = boto_client(server.url)
        setup_txn_event_type(afd)
        afd.put_external_model(**csv_model())
        afd.put_outcome(name="approve")
        afd.put_outcome(name="review")
        afd.put_detector(detectorId="fraud_detector", eventTypeName="txn")
        rules = []
        for rule_id, expression, outcome in [
            ("risky", "$xgb_score > 0.5", "review"),
            ("rest", "$order_amt >= 0", "approve"),
        ]:
            afd.create_rule(
                ruleId=rule_id,
                detectorId="fraud_detector",
                expression=expression,
                language="DETECTORPL",
                outcomes=[outcome],
            )
            rules.append({"detectorId": "fraud_detector", "ruleId": rule_id, "ruleVersion": "1"})
        afd.create_detector_version(detectorId="fraud_detector", rules=rules, externalModelEndpoints=["fraud-xgb"])
        set_detector_version_status(afd, "ACTIVE")
        request = {
            "detectorId": "fraud_detector",
            "eventTypeName": "txn",
            "eventTimestamp": "2024-05-01T10:00:00Z",
            "entities": [{"entityType": "customer", "entityId": "c1"}],
            "eventVariables": {"order_amt": "120.5", "prev_amt": "80"},
        }
        sagemaker.answer("fraud-xgb", "0.07167139649391174\n")
        result = afd.get_event_prediction(eventId="e1", **request)
        assert result["externalModelOutputs"] == [
            {
                "externalModel": {"modelEndpoint": "fraud-xgb", "modelSource": "SAGEMAKER"},
                "outputs": {"xgb_score": "0.07167139649391174\n"},
            }
        ]
        assert result["ruleResults"] == [{"ruleId": "rest", "outcomes": ["approve"]}]
        assert sagemaker.calls[0].body == b"120.5, 80"
        sagemaker.answer("fraud-xgb", "0.93\n")
        result = afd.get_event_prediction(eventId="e2", **request)
        assert result["ruleResults"] == [{"ruleId": "risky", "outcomes": ["review"]}]
        sagemaker.answer("fraud-xgb", "down", status=503)
        result = afd.get_event_prediction(eventId="e3", **request)  # the prediction goes on without the score
        assert result["ruleResults"] == [{"ruleId": "rest", "outcomes": ["approve"]}]
