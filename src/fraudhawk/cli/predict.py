"""`fraudhawk predict`: score one event with a detector and show what decided it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import click

from fraudhawk.client import Client
from fraudhawk.eventdata.layout import ENTITY_ID
from fraudhawk.predictions.explain import FEATURES

#: rows shown per score by --explain
TOP = 10


def parse_variables(pairs: tuple[str, ...]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"--var takes name=value, got {pair!r}")
        variables[name.strip()] = value
    return variables


def predict_one(
    client: Client,
    detector_id: str,
    version: str | None,
    event_type: str | None,
    entity: tuple[str | None, str],
    event_id: str | None,
    timestamp: str | None,
    variables: dict[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """GetEventPrediction, then the recorded prediction with its explanations."""
    detector = client.get_detectors(detectorId=detector_id)["detectors"][0]
    event_type = event_type or detector["eventTypeName"]
    entity_type, entity_id = entity
    if entity_type is None:
        spec = client.get_event_types(name=event_type)["eventTypes"][0]
        entity_type = spec["entityTypes"][0]
    request: dict[str, Any] = {
        "detectorId": detector_id,
        "eventId": event_id or uuid.uuid4().hex,
        "eventTypeName": event_type,
        "eventTimestamp": timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "entities": [{"entityType": entity_type, "entityId": entity_id}],
        "eventVariables": variables,
    }
    if version:
        request["detectorVersionId"] = version
    result = client.get_event_prediction(**request)
    found = client.list_event_predictions(
        eventId={"value": request["eventId"]}, detectorId={"value": detector_id}, maxResults=50
    )["eventPredictionSummaries"]
    summary = found[0]
    metadata = client.get_event_prediction_metadata(
        eventId=request["eventId"],
        eventTypeName=event_type,
        detectorId=detector_id,
        detectorVersionId=summary["detectorVersionId"],
        predictionTimestamp=summary["predictionTimestamp"],
    )
    result.pop("ResponseMetadata", None)
    metadata.pop("ResponseMetadata", None)
    return result, metadata


def describe(result: dict[str, Any], metadata: dict[str, Any], explain: bool) -> None:
    click.echo(
        f"event {metadata['eventId']} ({metadata['eventTypeName']}), detector {metadata['detectorId']} "
        f"version {metadata['detectorVersionId']}"
    )
    for entry in result["modelScores"]:
        for name, score in entry["scores"].items():
            click.echo(f"  {name}: {score:g}")
    for entry in result["externalModelOutputs"]:
        for name, value in entry["outputs"].items():
            click.echo(f"  {name}: {value.strip()} (external model {entry['externalModel']['modelEndpoint']})")
    for rule in metadata["rules"]:
        mark = "matched" if rule["matched"] else "evaluated" if rule["evaluated"] else "not evaluated"
        click.echo(f"  rule {rule['ruleId']} v{rule['ruleVersion']}: {mark}")
        if rule["evaluated"]:
            click.echo(f"      {rule['expressionWithValues']}")
    click.echo(f"outcomes: {', '.join(metadata['outcomes']) or '(none)'}")
    if not explain:
        return
    for model in metadata["evaluatedModelVersions"]:
        for evaluation in model["evaluations"]:
            explanations = evaluation.get("predictionExplanations")
            if explanations:
                click.echo(f"why {evaluation['outputVariableName']} = {evaluation['evaluationScore']}:")
                _explain(explanations)


def _explain(explanations: dict[str, Any]) -> None:
    """The rows that moved a score most, each naming what it is: a derived feature with its words
    (the feature plan's), or an Account Takeover Insights group with its reasons in words."""
    groups = explanations["aggregatedVariablesImpactExplanations"]
    features = explanations.get(FEATURES)
    rows: list[tuple[str, float, str | None]]
    if any(g.get("description") for g in groups) or features is None:
        # Account Takeover Insights: its groups come with the login's reasons, which say more than the
        # features' general words (a raw variable's impact is the sum of its groups': not listed twice)
        rows = [(", ".join(g["eventVariableNames"]), g["logOddsImpact"], g.get("description")) for g in groups]
    else:
        rows = [
            (f"{', '.join(_source(n) for n in f['eventVariableNames'])} ({f['description']})", f["logOddsImpact"], None)
            for f in features
        ]
    shown = sorted(rows, key=lambda row: -abs(row[1]))[:TOP]
    width = min(max((len(label) for label, _, _ in shown), default=0), 80)
    for label, impact, words in shown:
        direction = "raises" if impact > 0 else "lowers"
        click.echo(f"  {label:{width}}  {direction} risk ({impact:+.3f} log-odds)")
        if words:
            click.echo(f"      {words}")


def _source(name: str) -> str:
    return "entity" if name == ENTITY_ID else name


def print_json(result: dict[str, Any], metadata: dict[str, Any]) -> None:
    click.echo(json.dumps({"prediction": result, "record": metadata}, indent=2))
