"""The REST prediction API's OpenAPI 3.1 document (`GET /v1/openapi.json`), and the page that shows it
(`GET /v1/docs`), rendered on the server from the same document: no script, nothing fetched.

The request's limits come from GetEventPrediction's own contract (botocore's service model), which
checks every REST request once translated (`rest_shapes.afd_request`); the field names are the ones
`rest_shapes` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import Shape
from jinja2 import Environment, PackageLoader, select_autoescape

from fraudhawk.api import rest_shapes
from fraudhawk.api.auth import API_KEY_HEADER
from fraudhawk.service import contract

OPENAPI_PATH = "/v1/openapi.json"
DOCS_PATH = "/v1/docs"
PREDICTIONS_PATH = "/v1/detectors/{detectorId}/predictions"
VERSION_PREDICTIONS_PATH = "/v1/detectors/{detectorId}/versions/{version}/predictions"
_REF = "#/components/schemas/"

# The HTTP statuses a prediction may answer with, and when (the error's type says which error).
ERROR_STATUSES = {
    "400": "The request is invalid: not JSON, a field of the wrong type, an unknown variable, a value its "
    "variable's data type refuses... (ValidationException)",
    "401": "No credentials, or credentials that are not one of the server's access keys",
    "403": "Without access keys, a request to a host name that is not loopback (AccessDeniedException)",
    "404": "The detector, or the version named, does not exist, or the detector has no ACTIVE version",
    "409": "The request conflicts with a concurrent change (ConflictException): try again",
    "413": "The body is larger than GetEventPrediction's 256 KB quota",
    "415": "The body is not sent as application/json",
    "429": "The database is busy (ThrottlingException): try again shortly",
    "500": "An internal error (the server's log has the details)",
    "503": "A resource the prediction needs is unavailable (ResourceUnavailableException)",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _limits(shape: Shape) -> dict[str, Any]:
    """A string shape's constraints as JSON Schema keywords."""
    found: dict[str, Any] = {}
    if "min" in shape.metadata:
        found["minLength"] = shape.metadata["min"]
    if "max" in shape.metadata:
        found["maxLength"] = shape.metadata["max"]
    if "pattern" in shape.metadata:
        found["pattern"] = shape.metadata["pattern"]
    return found


def _schemas() -> dict[str, Any]:
    members = contract.operation_model(rest_shapes.OPERATION).input_shape.members
    entity = members["entities"].member.members
    variables = members["eventVariables"]
    blobs = members["externalModelEndpointDataBlobs"]
    blob = blobs.value.members
    return {
        "PredictionRequest": {
            "type": "object",
            "description": "An event to evaluate. Only `variables` is required.",
            "required": ["variables"],
            "additionalProperties": False,
            "properties": {
                "eventId": {
                    "type": "string",
                    "description": "The event's id (default: a new UUID). With ingestion, an event id already "
                    "stored for the event type is not stored again.",
                },
                "eventTimestamp": {
                    "type": "string",
                    "description": "When the event happened, ISO-8601 UTC such as 2026-11-30T13:01:01Z (default: now).",
                    **_limits(members["eventTimestamp"]),
                },
                "entity": _ref("Entity"),
                "variables": {
                    "type": "object",
                    "description": "The event's variables by name. A number or boolean is sent as its JSON "
                    "text (12.5, true); null or a variable left out takes the variable's default. At least "
                    "one variable is required, and one of each model's.",
                    "propertyNames": _limits(variables.key),
                    "additionalProperties": {
                        "type": ["string", "number", "boolean", "null"],
                        **_limits(variables.value),
                    },
                },
                "externalModelEndpointDataBlobs": {
                    "type": "object",
                    "description": "Data sent to the detector's SageMaker endpoints as is, by endpoint name "
                    "(as in GetEventPrediction).",
                    "propertyNames": _limits(blobs.key),
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "byteBuffer": {"type": "string", "contentEncoding": "base64"},
                            "contentType": {"type": "string", **_limits(blob["contentType"])},
                        },
                    },
                },
            },
        },
        "Entity": {
            "type": "object",
            "description": "Who the event is about (default: the event type's first entity type, id "
            f"{rest_shapes.UNKNOWN_ENTITY_ID!r}, AFD's unknown entity).",
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "description": "One of the event type's entity types."},
                "id": {"type": "string", "description": "The entity's id.", **_limits(entity["entityId"])},
            },
        },
        "Prediction": {
            "type": "object",
            "description": "What the detector version made of the event. The prediction is recorded "
            "(GetEventPredictionMetadata, ListEventPredictions, the console's past predictions) and, when "
            "the event type has ingestion enabled, the event is stored.",
            "required": [
                "eventId",
                "eventTypeName",
                "eventTimestamp",
                "entity",
                "detectorId",
                "detectorVersion",
                "predictionTimestamp",
                "modelScores",
                "outcomes",
                "ruleResults",
                "externalModelOutputs",
            ],
            "additionalProperties": False,
            "properties": {
                "eventId": {"type": "string"},
                "eventTypeName": {"type": "string", "description": "The detector's event type."},
                "eventTimestamp": {"type": "string"},
                "entity": {
                    "type": "object",
                    "required": ["type", "id"],
                    "additionalProperties": False,
                    "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
                },
                "detectorId": {"type": "string"},
                "detectorVersion": {"type": "string", "description": "The detector version that evaluated."},
                "predictionTimestamp": {
                    "type": "string",
                    "description": "When the prediction was recorded: GetEventPredictionMetadata's "
                    "predictionTimestamp.",
                },
                "modelScores": {"type": "array", "items": _ref("ModelScore")},
                "outcomes": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The outcomes of the matched rules, each once, in rule order.",
                },
                "ruleResults": {
                    "type": "array",
                    "items": _ref("RuleResult"),
                    "description": "The matched rules (with FIRST_MATCHED, the first one only).",
                },
                "externalModelOutputs": {"type": "array", "items": _ref("ExternalModelOutput")},
                "explanations": {
                    "type": "array",
                    "items": _ref("Explanation"),
                    "description": "With ?explain=true: how each model's inputs moved its score.",
                },
            },
        },
        "ModelScore": {
            "type": "object",
            "required": ["modelId", "modelType", "modelVersion", "scores"],
            "additionalProperties": False,
            "properties": {
                "modelId": {"type": "string"},
                "modelType": {
                    "type": "string",
                    "enum": ["ONLINE_FRAUD_INSIGHTS", "TRANSACTION_FRAUD_INSIGHTS", "ACCOUNT_TAKEOVER_INSIGHTS"],
                },
                "modelVersion": {"type": "string", "examples": ["1.0"]},
                "scores": {
                    "type": "object",
                    "description": 'The score (0 to 1000) by its variable name, e.g. {"fraud_model_insightscore": 870}',
                    "additionalProperties": {"type": "number"},
                },
            },
        },
        "RuleResult": {
            "type": "object",
            "required": ["ruleId", "outcomes"],
            "additionalProperties": False,
            "properties": {"ruleId": {"type": "string"}, "outcomes": {"type": "array", "items": {"type": "string"}}},
        },
        "ExternalModelOutput": {
            "type": "object",
            "required": ["modelEndpoint", "modelSource", "outputs"],
            "additionalProperties": False,
            "properties": {
                "modelEndpoint": {"type": "string"},
                "modelSource": {"type": "string"},
                "outputs": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "Explanation": {
            "type": "object",
            "required": ["modelId", "modelVersion", "modelType", "variableImpacts"],
            "additionalProperties": False,
            "properties": {
                "modelId": {"type": "string"},
                "modelVersion": {"type": "string"},
                "modelType": {"type": "string"},
                "variableImpacts": {
                    "type": "array",
                    "description": "Per variable, largest first: AFD's variableImpactExplanations.",
                    "items": {
                        "type": "object",
                        "required": ["eventVariableName", "relativeImpact", "logOddsImpact"],
                        "properties": {
                            "eventVariableName": {"type": "string"},
                            "relativeImpact": {"type": "string", "description": "0 to 5, as AFD's console shows it"},
                            "logOddsImpact": {"type": "number"},
                        },
                    },
                },
                "aggregatedVariableImpacts": {
                    "type": "array",
                    "description": "Per group of variables read together: AFD's aggregatedVariablesImpactExplanations.",
                    "items": {"type": "object"},
                },
                "featureImpacts": {
                    "type": "array",
                    "description": "Per derived feature, with what it is in words (fraudhawk's "
                    "featureImpactExplanations).",
                    "items": {"type": "object"},
                },
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["type", "message", "field"],
                    "additionalProperties": False,
                    "properties": {
                        "type": {
                            "type": "string",
                            "description": "The error's AFD type, as GetEventPrediction would answer it.",
                            "examples": ["ValidationException", "ResourceNotFoundException"],
                        },
                        "message": {
                            "type": "string",
                            "description": "What is wrong. The checks GetEventPrediction makes word it in "
                            "that operation's parameter names (eventVariables, entities); `field` is in this "
                            "API's.",
                        },
                        "field": {
                            "type": ["string", "null"],
                            "description": "The request field the error is about, in this API's names "
                            "(variables.amount, entity.id, eventTimestamp, detectorId, version), or null.",
                        },
                    },
                },
            },
        },
    }


def _prediction_operation(with_version: bool) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": "detectorId",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The detector.",
        }
    ]
    if with_version:
        version = contract.operation_model(rest_shapes.OPERATION).input_shape.members["detectorVersionId"]
        parameters.append(
            {
                "name": "version",
                "in": "path",
                "required": True,
                "schema": {"type": "string", **_limits(version)},
                "description": "The detector version to evaluate with, whatever its status.",
            }
        )
    parameters.append(
        {
            "name": "explain",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean", "default": False},
            "description": "Also answer how each model's inputs moved its score (computed from the recorded "
            "prediction, as GetEventPredictionMetadata does).",
        }
    )
    which = "the version named" if with_version else "the detector's ACTIVE version"
    responses: dict[str, Any] = {
        "200": {
            "description": "The prediction.",
            "content": {"application/json": {"schema": _ref("Prediction"), "example": _EXAMPLE_ANSWER}},
        }
    }
    for status, text in ERROR_STATUSES.items():
        responses[status] = {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
    return {
        "operationId": "predictVersion" if with_version else "predict",
        "summary": f"Evaluate an event with {which}",
        "description": "GetEventPrediction in plain JSON: the same checks, the same evaluation, the same "
        "record and, when the event type has ingestion enabled, the event stored.",
        "parameters": parameters,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("PredictionRequest"), "example": _EXAMPLE_REQUEST}},
        },
        "responses": responses,
        "security": [{"apiKey": []}, {"bearer": []}, {"sigv4": []}],
    }


_EXAMPLE_REQUEST = {
    "eventId": "txn-000123",
    "eventTimestamp": "2026-11-30T13:01:01Z",
    "entity": {"type": "customer", "id": "c-1042"},
    "variables": {"amt": 912.5, "category": "shopping_net", "is_member": True, "merchant": None},
}
_EXAMPLE_ANSWER = {
    "eventId": "txn-000123",
    "eventTypeName": "transaction",
    "eventTimestamp": "2026-11-30T13:01:01Z",
    "entity": {"type": "customer", "id": "c-1042"},
    "detectorId": "transaction_detector",
    "detectorVersion": "1",
    "predictionTimestamp": "2026-11-30T13:01:01.215Z",
    "modelScores": [
        {
            "modelId": "transaction_model",
            "modelType": "TRANSACTION_FRAUD_INSIGHTS",
            "modelVersion": "1.0",
            "scores": {"transaction_model_insightscore": 912.0},
        }
    ],
    "outcomes": ["review"],
    "ruleResults": [{"ruleId": "high_risk", "outcomes": ["review"]}],
    "externalModelOutputs": [],
}


@cache
def document(version: str) -> dict[str, Any]:
    """The OpenAPI document; `version` is the server's."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fraudhawk REST prediction API",
            "version": version,
            "description": "Predictions in plain JSON beside Amazon Fraud Detector's protocol (POST / with "
            "AWS JSON 1.1), for programs that do not speak it. Authenticate with one of the server's access "
            f"keys: the `{API_KEY_HEADER}` header (or a bearer token) holding KEYID:SECRET, or an AWS Signature "
            "Version 4 signature (service `frauddetector`, the server's region). A server with no access keys "
            "asks for no credentials and answers requests to loopback host names only.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": {
            PREDICTIONS_PATH: {"post": _prediction_operation(with_version=False)},
            VERSION_PREDICTIONS_PATH: {"post": _prediction_operation(with_version=True)},
            OPENAPI_PATH: {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {}}}},
                }
            },
            DOCS_PATH: {
                "get": {
                    "operationId": "docs",
                    "summary": "This document as a page",
                    "security": [],
                    "responses": {"200": {"description": "An HTML page", "content": {"text/html": {}}}},
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Api-Key",
                    "description": "KEYID:SECRET, one of the server's access keys (FRAUDHAWK_ACCESS_KEYS).",
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer KEYID:SECRET, one of the server's access keys.",
                },
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AWS Signature Version 4 with one of the server's access keys, service "
                    "frauddetector and the server's region (what botocore's SigV4Auth signs).",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                },
            },
        },
    }


# --- the page -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    required: bool
    description: str
    limits: str


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its `$ref` followed (references point into the document's components)."""
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"][len(_REF) :]]
    return schema


def fields(doc: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[Field]:
    """A schema's members as rows (nested objects' members named with dots, `[]` for array items)."""
    schema = resolve(doc, schema)
    rows: list[Field] = []
    required = set(schema.get("required", []))
    for name, given in schema.get("properties", {}).items():
        member = resolve(doc, given)
        path = prefix + name
        rows.append(Field(path, _kind(doc, member), name in required, member.get("description", ""), _shown(member)))
        if member.get("type") == "object" and "properties" in member:
            rows += fields(doc, member, path + ".")
        items = member.get("items")
        if member.get("type") == "array" and items is not None and "properties" in resolve(doc, items):
            rows += fields(doc, items, path + "[].")
    return rows


def _kind(doc: dict[str, Any], schema: dict[str, Any]) -> str:
    kind = schema.get("type", "any")
    text = " | ".join(kind) if isinstance(kind, list) else str(kind)
    if text == "array" and "items" in schema:
        return f"array of {_kind(doc, resolve(doc, schema['items']))}"
    extra = schema.get("additionalProperties")
    if text == "object" and isinstance(extra, dict):
        return f"object of {_kind(doc, resolve(doc, extra))}"
    return text


def _shown(schema: dict[str, Any]) -> str:
    parts = []
    extra = schema.get("additionalProperties")
    for where in (schema, extra if isinstance(extra, dict) else {}):
        if "minLength" in where:
            parts.append(f"length ≥ {where['minLength']}")
        if "maxLength" in where:
            parts.append(f"length ≤ {where['maxLength']}")
        if "pattern" in where:
            parts.append(f"pattern {where['pattern']}")
        if "enum" in where:
            parts.append("one of " + ", ".join(where["enum"]))
    return "; ".join(parts)


@cache
def _templates() -> Environment:
    return Environment(loader=PackageLoader("fraudhawk.api", "templates"), autoescape=select_autoescape(default=True))


@cache
def page(version: str) -> str:
    """The document as an HTML page (server-rendered, no script)."""
    doc = document(version)
    operations = []
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "anchor": operation["operationId"],
                    "operation": operation,
                    "request": fields(doc, body["schema"]) if body else [],
                    "request_example": json.dumps(body["example"], indent=2) if body else "",
                    "answer": fields(doc, ok["schema"]) if "schema" in ok else [],
                    "answer_example": json.dumps(ok["example"], indent=2) if "example" in ok else "",
                }
            )
    return (
        _templates()
        .get_template("docs.html")
        .render(
            doc=doc,
            openapi_path=OPENAPI_PATH,
            operations=operations,
            error=fields(doc, _ref("Error")),
            schemes=doc["components"]["securitySchemes"],
        )
    )
