"""The REST prediction API over plain HTTP (urllib; boto3 only sets up the catalog and reads back what
was stored, and botocore's signer signs one request): defaults, the answer against its OpenAPI
schema, the record and ingestion GetEventPrediction makes, every kind of bad input in the one error
shape, the access rules, the OpenAPI document and its page."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from openapi_spec_validator import validate

from fraudhawk import datagen
from fraudhawk.api import rest_shapes
from fraudhawk.settings import Settings
from tests.browser import ConsoleSession
from tests.helpers import OFI, Lab, RunningServer, boto_client, error_of, rule, setup_catalog, wait_status

PREDICT = "/v1/detectors/shop/predictions"
KEYS = {"AKIDREST": "rest/secret+chars:x", "AKIDOTHER": "other"}


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    url: str,
    path: str,
    body: Any = None,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> Answer:
    """One plain HTTP request; a dict body is sent as JSON."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    payload = data if data is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url + path, data=payload, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, got, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, got, raw = error.code, dict(error.headers), error.read()
    lowered = {str(name).lower(): str(value) for name, value in got.items()}
    kind = lowered.get("content-type", "")
    return Answer(status, lowered, json.loads(raw) if "json" in kind else raw.decode())


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server whose detector `shop` (event type checkout, ingestion ENABLED) has an ACTIVE version 1
    with three rules (ALL_MATCHED) and a DRAFT version 2 with one."""
    settings = Settings.load(data_dir=tmp_path_factory.mktemp("rest") / "data", environ={})
    with RunningServer(settings) as server:
        afd = boto_client(server.url)
        setup_catalog(afd)
        afd.put_event_type(
            name="checkout",
            eventVariables=["email_address", "ip_address", "order_amount", "items", "is_member"],
            labels=["fraud", "legit"],
            entityTypes=["customer"],
            eventIngestion="ENABLED",
        )
        rules = [
            rule(afd, "big_order", "$order_amount > 1000 and !$is_member", ["block"]),
            rule(afd, "bulk", "$items >= 50", ["review", "block"]),
            rule(afd, "everyone", "$items >= 0", ["approve"]),
        ]
        afd.create_detector_version(detectorId="shop", rules=rules, ruleExecutionMode="ALL_MATCHED")
        afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")
        afd.create_detector_version(detectorId="shop", rules=rules[1:2])
        yield server


@pytest.fixture(scope="module")
def document(shop: RunningServer) -> dict[str, Any]:
    answer = call(shop.url, "/v1/openapi.json", method="GET")
    assert answer.status == 200
    assert isinstance(answer.body, dict)
    return answer.body


def conforms(document: dict[str, Any], name: str, value: Any) -> None:
    """`value` is valid against the document's schema `name` (references resolved in the document)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(value)


def records(afd: Any, event_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = afd.list_event_predictions(eventId={"value": event_id})["eventPredictionSummaries"]
    return found


def test_openapi_document_validates_and_names_the_endpoints(document: dict[str, Any]) -> None:
    validate(document)  # raises on an invalid OpenAPI 3.1 document
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) >= {
        "/v1/detectors/{detectorId}/predictions",
        "/v1/detectors/{detectorId}/versions/{version}/predictions",
    }
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"]["name"] == "X-Api-Key"
    post = document["paths"]["/v1/detectors/{detectorId}/predictions"]["post"]
    assert {"200", "400", "401", "403", "404", "413", "415", "429", "500"} <= set(post["responses"])
    # the documented examples are valid against the documented schemas
    conforms(document, "PredictionRequest", post["requestBody"]["content"]["application/json"]["example"])
    conforms(document, "Prediction", post["responses"]["200"]["content"]["application/json"]["example"])
    # the document's limits are GetEventPrediction's own: an entity id AFD refuses, the schema refuses
    with pytest.raises(jsonschema.ValidationError):
        conforms(document, "PredictionRequest", {"variables": {"a": 1}, "entity": {"id": "no spaces"}})


def test_prediction_with_defaults_is_recorded_and_ingested(shop: RunningServer, document: dict[str, Any]) -> None:
    afd = boto_client(shop.url)
    answer = call(shop.url, PREDICT, {"variables": {"order_amount": 1500, "is_member": False, "items": 3}})
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "application/json"
    conforms(document, "Prediction", answer.body)
    body = answer.body
    assert body["detectorId"] == "shop"
    assert body["detectorVersion"] == "1"  # the ACTIVE version
    assert body["eventTypeName"] == "checkout"
    assert body["entity"] == {"type": "customer", "id": "unknown"}  # the event type's entity type, AFD's unknown id
    assert len(body["eventId"]) == 36  # a new UUID
    assert body["ruleResults"] == [
        {"ruleId": "big_order", "outcomes": ["block"]},
        {"ruleId": "everyone", "outcomes": ["approve"]},
    ]
    assert body["outcomes"] == ["block", "approve"]
    assert body["modelScores"] == []
    assert body["externalModelOutputs"] == []
    assert "explanations" not in body
    # recorded, as GetEventPrediction records: the metadata is found at the answer's prediction time
    metadata = afd.get_event_prediction_metadata(
        eventId=body["eventId"],
        eventTypeName="checkout",
        detectorId="shop",
        detectorVersionId="1",
        predictionTimestamp=body["predictionTimestamp"],
    )
    assert metadata["outcomes"] == ["block", "approve"]
    assert metadata["eventTimestamp"] == body["eventTimestamp"]
    sent = {v["name"]: (v["value"], v["source"]) for v in metadata["eventVariables"]}
    # JSON values become AFD's text once; what was left out takes its default
    assert sent["order_amount"] == ("1500", "EVENT")
    assert sent["is_member"] == ("false", "EVENT")
    assert sent["items"] == ("3", "EVENT")
    assert sent["email_address"] == ("unknown", "DEFAULT")
    # ingested: the event type has ingestion enabled
    event = afd.get_event(eventId=body["eventId"], eventTypeName="checkout")["event"]
    assert event["eventVariables"] == {"order_amount": "1500", "is_member": "false", "items": "3"}
    assert event["entities"] == [{"entityType": "customer", "entityId": "unknown"}]


def test_given_fields_are_used_and_answers_equal_get_event_prediction(
    shop: RunningServer, document: dict[str, Any]
) -> None:
    afd = boto_client(shop.url)
    request = {
        "eventId": "rest_given_1",
        "eventTimestamp": "2026-03-01T10:00:00Z",
        "entity": {"type": "customer", "id": "c-1042"},
        "variables": {"order_amount": 12.5, "items": 60, "is_member": True, "email_address": None},
    }
    answer = call(shop.url, PREDICT, request)
    assert answer.status == 200, answer.body
    conforms(document, "Prediction", answer.body)
    assert answer.body["eventId"] == "rest_given_1"
    assert answer.body["eventTimestamp"] == "2026-03-01T10:00:00Z"
    assert answer.body["entity"] == {"type": "customer", "id": "c-1042"}
    event = afd.get_event(eventId="rest_given_1", eventTypeName="checkout")["event"]
    assert event["eventVariables"] == {"order_amount": "12.5", "items": "60", "is_member": "true"}
    assert event["eventTimestamp"].startswith("2026-03-01T10:00:00")
    # the same event through AFD's protocol gets the same rules and outcomes
    afd_answer = afd.get_event_prediction(
        detectorId="shop",
        eventId="afd_given_1",
        eventTypeName="checkout",
        eventTimestamp="2026-03-01T10:00:00Z",
        entities=[{"entityType": "customer", "entityId": "c-1042"}],
        eventVariables={"order_amount": "12.5", "items": "60", "is_member": "true"},
    )
    assert answer.body["ruleResults"] == afd_answer["ruleResults"]
    assert answer.body["outcomes"] == ["review", "block", "approve"]
    # a second prediction of the same event id is recorded again, the event stored once (as AFD)
    again = call(shop.url, PREDICT, request)
    assert again.status == 200
    assert len(records(afd, "rest_given_1")) == 2


def test_a_named_version_evaluates_whatever_its_status(shop: RunningServer, document: dict[str, Any]) -> None:
    answer = call(shop.url, "/v1/detectors/shop/versions/2/predictions", {"variables": {"items": 70}})
    assert answer.status == 200, answer.body
    conforms(document, "Prediction", answer.body)
    assert answer.body["detectorVersion"] == "2"
    assert answer.body["ruleResults"] == [{"ruleId": "bulk", "outcomes": ["review", "block"]}]


def test_without_ingestion_the_prediction_is_recorded_but_the_event_not_stored(shop: RunningServer) -> None:
    afd = boto_client(shop.url)
    afd.put_event_type(
        name="quote",
        eventVariables=["order_amount", "items"],
        labels=["fraud", "legit"],
        entityTypes=["customer"],
        eventIngestion="DISABLED",
    )
    afd.put_detector(detectorId="quotes", eventTypeName="quote")
    quote_rule = rule(afd, "any_quote", "$items >= 0", ["approve"], detector="quotes")
    afd.create_detector_version(detectorId="quotes", rules=[quote_rule])
    answer = call(shop.url, "/v1/detectors/quotes/versions/1/predictions", {"eventId": "q1", "variables": {"items": 2}})
    assert answer.status == 200, answer.body
    assert answer.body["outcomes"] == ["approve"]
    assert len(records(afd, "q1")) == 1
    code, _ = error_of(afd.get_event, eventId="q1", eventTypeName="quote")
    assert code == "ResourceNotFoundException"


BAD_REQUESTS: list[tuple[str, str, bytes, str, int, str, str | None]] = [
    # (what, path, body, content type, status, error type, field)
    ("invalid JSON", PREDICT, b'{"variables": {', "application/json", 400, "ValidationException", None),
    ("not an object", PREDICT, b"[1, 2]", "application/json", 400, "ValidationException", None),
    ("empty body", PREDICT, b"", "application/json", 400, "ValidationException", "variables"),
    ("no variables", PREDICT, b'{"eventId": "x1"}', "application/json", 400, "ValidationException", "variables"),
    (
        "variables not an object",
        PREDICT,
        b'{"variables": [1]}',
        "application/json",
        400,
        "ValidationException",
        "variables",
    ),
    (
        "a value that is an object",
        PREDICT,
        b'{"variables": {"items": {"n": 1}}}',
        "application/json",
        400,
        "ValidationException",
        "variables.items",
    ),
    (
        "a value that is an array",
        PREDICT,
        b'{"variables": {"items": [1]}}',
        "application/json",
        400,
        "ValidationException",
        "variables.items",
    ),
    (
        "a number JSON cannot hold",
        PREDICT,
        b'{"variables": {"order_amount": 1e400}}',
        "application/json",
        400,
        "ValidationException",
        "variables.order_amount",
    ),
    (
        "unknown variable",
        PREDICT,
        b'{"variables": {"shoe_size": 9}}',
        "application/json",
        400,
        "ValidationException",
        "variables.shoe_size",
    ),
    (
        "value its type refuses",
        PREDICT,
        b'{"variables": {"items": "many"}}',
        "application/json",
        400,
        "ValidationException",
        "variables.items",
    ),
    (
        "only nulls",
        PREDICT,
        b'{"variables": {"items": null}}',
        "application/json",
        400,
        "ValidationException",
        "variables",
    ),
    (
        "unknown field",
        PREDICT,
        b'{"variables": {"items": 1}, "eventVariables": {}}',
        "application/json",
        400,
        "ValidationException",
        "eventVariables",
    ),
    (
        "entity not an object",
        PREDICT,
        b'{"variables": {"items": 1}, "entity": "c1"}',
        "application/json",
        400,
        "ValidationException",
        "entity",
    ),
    (
        "entity id AFD refuses",
        PREDICT,
        b'{"variables": {"items": 1}, "entity": {"id": "a b"}}',
        "application/json",
        400,
        "ValidationException",
        "entity.id",
    ),
    (
        "unknown entity type",
        PREDICT,
        b'{"variables": {"items": 1}, "entity": {"type": "merchant", "id": "m1"}}',
        "application/json",
        400,
        "ValidationException",
        "entity.type",
    ),
    (
        "event id not a string",
        PREDICT,
        b'{"variables": {"items": 1}, "eventId": 7}',
        "application/json",
        400,
        "ValidationException",
        "eventId",
    ),
    (
        "bad timestamp",
        PREDICT,
        b'{"variables": {"items": 1}, "eventTimestamp": "last tuesday"}',
        "application/json",
        400,
        "ValidationException",
        "eventTimestamp",
    ),
    (
        "bad explain",
        PREDICT + "?explain=maybe",
        b'{"variables": {"items": 1}}',
        "application/json",
        400,
        "ValidationException",
        "explain",
    ),
    (
        "unknown query parameter",
        PREDICT + "?debug=1",
        b'{"variables": {"items": 1}}',
        "application/json",
        400,
        "ValidationException",
        "debug",
    ),
    (
        "unknown detector",
        "/v1/detectors/nobody/predictions",
        b'{"variables": {"items": 1}}',
        "application/json",
        404,
        "ResourceNotFoundException",
        "detectorId",
    ),
    (
        "unknown version",
        "/v1/detectors/shop/versions/9/predictions",
        b'{"variables": {"items": 1}}',
        "application/json",
        404,
        "ResourceNotFoundException",
        "version",
    ),
    (
        "bad version",
        "/v1/detectors/shop/versions/v1/predictions",
        b'{"variables": {"items": 1}}',
        "application/json",
        400,
        "ValidationException",
        "version",
    ),
    ("wrong content type", PREDICT, b'{"variables": {"items": 1}}', "text/plain", 415, "ValidationException", None),
    (
        "AWS JSON content type",
        PREDICT,
        b'{"variables": {"items": 1}}',
        "application/x-amz-json-1.1",
        415,
        "ValidationException",
        None,
    ),
    (
        "body too large",
        PREDICT,
        b'{"variables": {"items": 1}, "eventId": "' + b"x" * (256 * 1024) + b'"}',
        "application/json",
        413,
        "ValidationException",
        None,
    ),
    ("no such path", "/v1/predictions", b"{}", "application/json", 404, "ResourceNotFoundException", None),
]


# the bad requests whose shape alone is wrong: the documented request schema refuses them too
SHAPE_ERRORS = {
    "not an object",
    "no variables",
    "variables not an object",
    "a value that is an object",
    "a value that is an array",
    "unknown field",
    "entity not an object",
    "entity id AFD refuses",
    "event id not a string",
}


def test_the_request_schema_documents_what_the_server_checks(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["PredictionRequest"]
    assert tuple(schema["properties"]) == rest_shapes.REQUEST_FIELDS
    shape_cases = [case for case in BAD_REQUESTS if case[0] in SHAPE_ERRORS]
    assert len(shape_cases) == len(SHAPE_ERRORS)
    for _, _, data, *_ in shape_cases:
        with pytest.raises(jsonschema.ValidationError):
            conforms(document, "PredictionRequest", json.loads(data))
    conforms(document, "PredictionRequest", {"variables": {"items": 1, "order_amount": 2.5, "is_member": None}})


@pytest.mark.parametrize(
    ("path", "data", "content_type", "status", "kind", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
def test_bad_input_gets_one_error_shape_naming_the_field(
    shop: RunningServer,
    document: dict[str, Any],
    path: str,
    data: bytes,
    content_type: str,
    status: int,
    kind: str,
    field: str | None,
) -> None:
    afd = boto_client(shop.url)
    before = len(afd.list_event_predictions(maxResults=100)["eventPredictionSummaries"])
    answer = call(shop.url, path, data=data, headers={"Content-Type": content_type})
    assert answer.status == status, answer.body
    conforms(document, "Error", answer.body)
    assert answer.body["error"]["type"] == kind
    assert answer.body["error"]["field"] == field
    assert answer.body["error"]["message"]
    # nothing was recorded
    assert len(afd.list_event_predictions(maxResults=100)["eventPredictionSummaries"]) == before


def test_wrong_methods_are_refused_with_allow(shop: RunningServer, document: dict[str, Any]) -> None:
    answer = call(shop.url, PREDICT, method="GET")
    assert answer.status == 405
    assert answer.headers["allow"] == "POST"
    conforms(document, "Error", answer.body)
    answer = call(shop.url, "/v1/openapi.json", {}, method="POST")
    assert answer.status == 405
    assert answer.headers["allow"] == "GET"


def test_without_keys_only_loopback_host_names_are_answered(shop: RunningServer, document: dict[str, Any]) -> None:
    for path, body in ((PREDICT, {"variables": {"items": 1}}), ("/v1/openapi.json", None)):
        method = "POST" if body else "GET"
        answer = call(shop.url, path, body, headers={"Host": "fraud.example.com"}, method=method)
        assert answer.status == 403, answer.body
        conforms(document, "Error", answer.body)
        assert answer.body["error"]["type"] == "AccessDeniedException"
    assert call(shop.url, PREDICT, {"variables": {"items": 1}}, headers={"Host": "localhost"}).status == 200


def signed_headers(url: str, body: bytes, key_id: str, secret: str, region: str) -> dict[str, str]:
    """SigV4 headers from botocore's signer (it signs; the request itself goes through urllib)."""
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key_id, secret), "frauddetector", region).add_auth(request)
    return dict(request.headers.items())


def test_access_keys_as_api_key_bearer_or_sigv4(settings: Settings) -> None:
    with RunningServer(dataclasses.replace(settings, access_keys=KEYS)) as server:
        afd = boto_client(server.url, "AKIDREST", KEYS["AKIDREST"])
        setup_catalog(afd)
        everyone = rule(afd, "everyone", "$items >= 0", ["approve"])
        afd.create_detector_version(detectorId="shop", rules=[everyone])
        afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")
        request = {"variables": {"items": 1}}
        data = json.dumps(request).encode()
        refused = [
            ({}, "MissingAuthenticationTokenException"),
            ({"X-Api-Key": "AKIDREST:wrong"}, "UnrecognizedClientException"),
            ({"X-Api-Key": "AKIDNOBODY:" + KEYS["AKIDREST"]}, "UnrecognizedClientException"),
            ({"X-Api-Key": KEYS["AKIDOTHER"]}, "IncompleteSignatureException"),  # no key id
            ({"Authorization": "Bearer AKIDOTHER:" + KEYS["AKIDREST"]}, "UnrecognizedClientException"),
            (
                signed_headers(server.url + PREDICT, data, "AKIDREST", "wrong", settings.region),
                "InvalidSignatureException",
            ),
        ]
        for headers, kind in refused:
            answer = call(server.url, PREDICT, data=data, headers=headers)
            assert answer.status == 401, (headers, answer.body)
            assert answer.body["error"]["type"] == kind
            assert "www-authenticate" in answer.headers
        # a body changed after signing fails the signature
        signed = signed_headers(server.url + PREDICT, data, "AKIDREST", KEYS["AKIDREST"], settings.region)
        answer = call(server.url, PREDICT, data=data.replace(b"1", b"2"), headers=signed)
        assert answer.status == 401
        assert answer.body["error"]["type"] == "InvalidSignatureException"
        accepted = [
            {"X-Api-Key": f"AKIDREST:{KEYS['AKIDREST']}"},
            {"Authorization": "Bearer AKIDOTHER:other"},
            signed_headers(server.url + PREDICT, data, "AKIDREST", KEYS["AKIDREST"], settings.region),
        ]
        for headers in accepted:
            answer = call(server.url, PREDICT, data=data, headers=headers)
            assert answer.status == 200, (headers, answer.body)
            assert answer.body["outcomes"] == ["approve"]
        assert len(afd.list_event_predictions()["eventPredictionSummaries"]) == len(accepted)
        # the document describes the API and holds no secret: readable without credentials
        assert call(server.url, "/v1/openapi.json", method="GET").status == 200


@pytest.mark.postgres
def test_prediction_on_postgresql(pg_url: str, tmp_path: Any) -> None:
    """On PostgreSQL the look-up and the prediction run on worker threads, the write by the group's
    writer thread: the same answer, record and errors."""
    settings = Settings.load(data_dir=tmp_path / "data", database_url=pg_url, environ={})
    with RunningServer(settings) as server:
        afd = boto_client(server.url)
        setup_catalog(afd)
        everyone = rule(afd, "everyone", "$items >= 0", ["approve"])
        afd.create_detector_version(detectorId="shop", rules=[everyone])
        afd.update_detector_version_status(detectorId="shop", detectorVersionId="1", status="ACTIVE")
        answer = call(server.url, PREDICT, {"eventId": "pg1", "variables": {"items": 4}})
        assert answer.status == 200, answer.body
        assert answer.body["outcomes"] == ["approve"]
        [recorded] = records(afd, "pg1")
        assert recorded["predictionTimestamp"] == answer.body["predictionTimestamp"]
        missing = call(server.url, "/v1/detectors/shop/versions/5/predictions", {"variables": {"items": 4}})
        assert missing.status == 404
        assert missing.body["error"]["field"] == "version"


def test_model_scores_and_explanations(lab: Lab) -> None:
    afd = lab.afd
    document = call(afd.meta.endpoint_url, "/v1/openapi.json", method="GET").body
    model = {"modelId": "signup_model", "modelType": OFI, "modelVersionNumber": "1.0"}
    afd.update_model_version_status(**model, status="ACTIVE")
    wait_status(afd, "signup_model", OFI, "1.0", "ACTIVE")
    afd.put_outcome(name="review")
    afd.put_detector(detectorId="rest_signups", eventTypeName="signup")
    risky = rule(afd, "rest_risky", "$signup_model_insightscore > 500", ["review"], detector="rest_signups")
    afd.create_detector_version(detectorId="rest_signups", rules=[risky], modelVersions=[model])
    afd.update_detector_version_status(detectorId="rest_signups", detectorVersionId="1", status="ACTIVE")
    variables = {"email_address": "xq7zk2v9r1@mailinator.com", "ip_address": "185.105.3.4", "billing_state": "CA"}
    answer = call(
        afd.meta.endpoint_url,
        "/v1/detectors/rest_signups/predictions?explain=true",
        {"eventId": "rest_signup_1", "variables": variables},
    )
    assert answer.status == 200, answer.body
    conforms(document, "Prediction", answer.body)
    [scored] = answer.body["modelScores"]
    assert (scored["modelId"], scored["modelType"], scored["modelVersion"]) == ("signup_model", OFI, "1.0")
    afd_answer = afd.get_event_prediction(
        detectorId="rest_signups",
        eventId="afd_signup_1",
        eventTypeName="signup",
        eventTimestamp=answer.body["eventTimestamp"],
        entities=[{"entityType": "customer", "entityId": "unknown"}],
        eventVariables=variables,
    )
    assert scored["scores"] == afd_answer["modelScores"][0]["scores"]
    assert answer.body["outcomes"] == (["review"] if scored["scores"]["signup_model_insightscore"] > 500 else [])
    [explained] = answer.body["explanations"]
    metadata = afd.get_event_prediction_metadata(
        eventId="rest_signup_1",
        eventTypeName="signup",
        detectorId="rest_signups",
        detectorVersionId="1",
        predictionTimestamp=answer.body["predictionTimestamp"],
    )
    recorded = metadata["evaluatedModelVersions"][0]["evaluations"][0]["predictionExplanations"]
    assert explained["variableImpacts"] == recorded["variableImpactExplanations"]
    assert {i["eventVariableName"] for i in explained["variableImpacts"]} <= set(datagen.REGISTRATION_VARIABLES)


def test_docs_page_renders_offline(console: ConsoleSession) -> None:
    page = console.go("/v1/docs")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.reload()
    endpoints = page.locator(".endpoint")
    assert "POST /v1/detectors/{detectorId}/predictions" in endpoints.all_inner_texts()
    assert "POST /v1/detectors/{detectorId}/versions/{version}/predictions" in endpoints.all_inner_texts()
    assert page.locator("#predict code", has_text="variables").count() >= 1
    assert page.get_by_text("X-Api-Key").count() >= 1
    assert all(url.startswith(console.url) for url in requested), requested  # nothing from elsewhere
    console.shot("rest-api-docs")
    # the console's footer leads there
    console.go("/")
    console.page.locator("footer").get_by_role("link", name="REST API").click()
    console.page.wait_for_url(console.url + "/v1/docs")
