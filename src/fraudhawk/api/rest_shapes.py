"""The REST prediction API's request and answer, as GetEventPrediction's.

A plain JSON request becomes a GetEventPrediction request (`afd_request`), with defaults for what
it may leave out, and GetEventPrediction's answer becomes the plain answer (`plain_answer`). So
the REST API checks, evaluates, records and ingests exactly as GetEventPrediction does; what is
checked here is only what GetEventPrediction has no word for (JSON values as variables, the shape
of `entity`). The shapes are documented in `openapi.py`, whose field names these functions read.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from fraudhawk.context import iso_time, now_ms
from fraudhawk.errors import SerializationError, ValidationError
from fraudhawk.predictions.ingest import Written
from fraudhawk.predictions.realtime import Target

OPERATION = "GetEventPrediction"
# AFD's own convention for an event whose entity is not known (its documentation's "unknown" entity)
UNKNOWN_ENTITY_ID = "unknown"
REQUEST_FIELDS = ("eventId", "eventTimestamp", "entity", "variables", "externalModelEndpointDataBlobs")
ENTITY_FIELDS = ("type", "id")


@dataclass(frozen=True)
class PredictionRequest:
    """A REST prediction request, checked and with its variables as AFD's text values."""

    event_id: str | None
    event_timestamp: str | None
    entity_type: str | None
    entity_id: str | None
    variables: dict[str, str]
    blobs: Any  # externalModelEndpointDataBlobs, as GetEventPrediction takes it (None: not given)


def parse_request(body: Any) -> PredictionRequest:
    if not isinstance(body, dict):
        raise SerializationError('The request body must be a JSON object such as {"variables": {"amount": 12.5}}')
    for name in body:
        if name not in REQUEST_FIELDS:
            raise ValidationError(
                f"Unknown field {name!r}: a prediction request has {', '.join(REQUEST_FIELDS)}", field=name
            )
    entity_type, entity_id = _entity(body.get("entity"))
    variables = body.get("variables")
    if not isinstance(variables, dict):
        raise ValidationError(
            'variables must be an object of the event\'s variables, such as {"amount": 12.5, "email": "a@b.com"}',
            field="variables",
        )
    texts: dict[str, str] = {}
    for name, value in variables.items():
        text = variable_text(name, value)
        if text is not None:
            texts[name] = text
    return PredictionRequest(
        event_id=_text(body, "eventId", "eventId"),
        event_timestamp=_text(body, "eventTimestamp", "eventTimestamp"),
        entity_type=entity_type,
        entity_id=entity_id,
        variables=texts,
        blobs=body.get("externalModelEndpointDataBlobs"),
    )


def variable_text(name: str, value: Any) -> str | None:
    """A JSON value as AFD's text for a variable (None: missing, so the variable's default applies).
    Numbers are written as JSON wrote them back (shortest round trip), booleans as true/false."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"variables.{name} must be a finite number", field=f"variables.{name}")
        return repr(value)
    kind = "an object" if isinstance(value, dict) else "an array"
    raise ValidationError(
        f"variables.{name} is {kind}: a variable's value is a string, a number, a boolean or null (missing)",
        field=f"variables.{name}",
    )


def _text(body: dict[str, Any], name: str, field: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(f"{field} must be a string", field=field)


def _entity(entity: Any) -> tuple[str | None, str | None]:
    if entity is None:
        return None, None
    if not isinstance(entity, dict):
        raise ValidationError(
            'entity must be an object such as {"type": "customer", "id": "c-1042"}; leave it out for an unknown entity',
            field="entity",
        )
    for name in entity:
        if name not in ENTITY_FIELDS:
            raise ValidationError(
                f"Unknown field entity.{name}: an entity has {', '.join(ENTITY_FIELDS)}", field=f"entity.{name}"
            )
    return _text(entity, "type", "entity.type"), _text(entity, "id", "entity.id")


def afd_request(request: PredictionRequest, target: Target) -> dict[str, Any]:
    """The GetEventPrediction request: the detector version named (the ACTIVE one was resolved into
    `target`, so the answer can say which version evaluated), a new event id, now, the event type's
    first entity type and AFD's unknown entity id where the request leaves them out."""
    params: dict[str, Any] = {
        "detectorId": target.detector_id,
        "detectorVersionId": str(target.version),
        "eventId": request.event_id if request.event_id is not None else str(uuid.uuid4()),
        "eventTypeName": target.event_type,
        "eventTimestamp": request.event_timestamp if request.event_timestamp is not None else iso_time(now_ms()),
        "entities": [
            {
                "entityType": request.entity_type if request.entity_type is not None else target.entity_types[0],
                "entityId": request.entity_id if request.entity_id is not None else UNKNOWN_ENTITY_ID,
            }
        ],
        "eventVariables": request.variables,
    }
    if request.blobs is not None:
        params["externalModelEndpointDataBlobs"] = request.blobs
    return params


def plain_answer(result: dict[str, Any], params: dict[str, Any], written: Written) -> dict[str, Any]:
    """GetEventPrediction's answer in the REST API's shape (`Prediction` in the OpenAPI document)."""
    entity = params["entities"][0]
    rules = [{"ruleId": r["ruleId"], "outcomes": list(r["outcomes"])} for r in result.get("ruleResults", [])]
    return {
        "eventId": params["eventId"],
        "eventTypeName": params["eventTypeName"],
        "eventTimestamp": params["eventTimestamp"],
        "entity": {"type": entity["entityType"], "id": entity["entityId"]},
        "detectorId": params["detectorId"],
        "detectorVersion": params["detectorVersionId"],
        "predictionTimestamp": iso_time(written.prediction_ms),
        "modelScores": [
            {
                "modelId": m["modelVersion"]["modelId"],
                "modelType": m["modelVersion"]["modelType"],
                "modelVersion": m["modelVersion"]["modelVersionNumber"],
                "scores": dict(m["scores"]),
            }
            for m in result.get("modelScores", [])
        ],
        # the matched rules' outcomes, each once, in rule order: what the prediction's record keeps
        "outcomes": list(dict.fromkeys(outcome for r in rules for outcome in r["outcomes"])),
        "ruleResults": rules,
        "externalModelOutputs": [
            {
                "modelEndpoint": e["externalModel"]["modelEndpoint"],
                "modelSource": e["externalModel"]["modelSource"],
                "outputs": dict(e.get("outputs", {})),
            }
            for e in result.get("externalModelOutputs", [])
        ],
    }


def explanations(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """Each model's explanation of its score, from GetEventPredictionMetadata (`?explain=true`)."""
    found = []
    for version in metadata.get("evaluatedModelVersions", []):
        for evaluation in version.get("evaluations", []):
            explained = evaluation.get("predictionExplanations")
            if explained is None:
                continue
            found.append(
                {
                    "modelId": version["modelId"],
                    "modelVersion": version["modelVersion"],
                    "modelType": version["modelType"],
                    "variableImpacts": explained.get("variableImpactExplanations", []),
                    "aggregatedVariableImpacts": explained.get("aggregatedVariablesImpactExplanations", []),
                    "featureImpacts": explained.get("featureImpactExplanations", []),
                }
            )
    return found


def plain_field(field: str | None) -> str | None:
    """An error's field in the REST request's names: GetEventPrediction's `eventVariables.amount.value`
    is `variables.amount`, `entities.1.member.entityId` is `entity.id`, `detectorVersionId` is the
    path's `version`."""
    if field is None:
        return None
    head, _, rest = field.partition(".")
    if head == "eventVariables":
        name = rest.split(".", 1)[0]
        return f"variables.{name}" if name else "variables"
    if head == "entities":
        if field.endswith("entityType"):
            return "entity.type"
        if field.endswith("entityId"):
            return "entity.id"
        return "entity"
    if head == "detectorVersionId":
        return "version"
    if head == "eventTypeName":
        return None  # never sent: the detector's event type
    return field
