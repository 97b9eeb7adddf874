"""`fraudhawk train`: train a model version from the command line, with a live progress line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from fraudhawk.client import Client

_SHORT = {
    "ofi": "ONLINE_FRAUD_INSIGHTS",
    "tfi": "TRANSACTION_FRAUD_INSIGHTS",
}
_ROLE = "arn:aws:iam::123456789012:role/fraudhawk-cli"


def _ensure_model(client: Client, model_id: str, model_type: str, event_type: str) -> None:
    try:
        found = client.get_models(modelId=model_id)["models"][0]
    except client.exceptions.ResourceNotFoundException:
        client.create_model(modelId=model_id, modelType=model_type, eventTypeName=event_type)
        click.echo(f"created model {model_id} ({model_type}) for event type {event_type}")
        return
    if found["modelType"] != model_type or found["eventTypeName"] != event_type:
        raise click.UsageError(
            f"model {model_id} exists as {found['modelType']} for event type {found['eventTypeName']}"
        )


def run_training(
    client: Client,
    model_id: str,
    model_type: str,
    event_type: str,
    variables: list[str] | None,
    fraud: list[str],
    legit: list[str],
    unlabeled: str,
    data: Path | None,
    window: tuple[str, str] | None,
) -> dict[str, Any]:
    """Start the training, show its progress, and return the finished version's details."""
    kind = _SHORT.get(model_type.lower(), model_type)
    _ensure_model(client, model_id, kind, event_type)
    spec = client.get_event_types(name=event_type)["eventTypes"][0]
    names = variables or list(spec["eventVariables"])
    schema = {
        "modelVariables": names,
        "labelSchema": {"labelMapper": {"FRAUD": fraud, "LEGIT": legit}, "unlabeledEventsTreatment": unlabeled},
    }
    request: dict[str, Any] = {"modelId": model_id, "modelType": kind, "trainingDataSchema": schema}
    if data is not None:
        request["trainingDataSource"] = "EXTERNAL_EVENTS"
        request["externalEventsDetail"] = {"dataLocation": str(data.resolve()), "dataAccessRoleArn": _ROLE}
    else:
        statistics = spec.get("ingestedEventStatistics") or {}
        if window is None:
            if not statistics.get("numberOfEvents"):
                raise click.UsageError(f"event type {event_type} has no stored events: import some or pass --data")
            window = (statistics["leastRecentEvent"], statistics["mostRecentEvent"])
        request["trainingDataSource"] = "INGESTED_EVENTS"
        request["ingestedEventsDetail"] = {"ingestedEventsTimeWindow": {"startTime": window[0], "endTime": window[1]}}
    version = client.create_model_version(**request)["modelVersionNumber"]
    click.echo(f"training {model_id} {version} on {len(names)} variable(s)")
    started = time.monotonic()
    shown = ""
    while True:
        current = client.get_model_version(modelId=model_id, modelType=kind, modelVersionNumber=version)
        if current["status"] != "TRAINING_IN_PROGRESS":
            break
        progress = client.training_progress(model_id, version) or ""
        line = f"  {time.monotonic() - started:6.0f}s  {progress}"
        if line != shown:
            click.echo(f"\r{line:70}", nl=False)
            shown = line
        time.sleep(0.5)
    click.echo("")
    detail: dict[str, Any] = client.describe_model_versions(
        modelId=model_id, modelType=kind, modelVersionNumber=version
    )["modelVersionDetails"][0]
    detail["elapsedSeconds"] = time.monotonic() - started
    detail["details"] = client.training_details(model_id, version)
    return detail


def describe(detail: dict[str, Any]) -> None:
    """Print what an analyst needs to judge a trained version."""
    result = detail.get("trainingResult", {})
    validation = result.get("dataValidationMetrics", {})
    for message in validation.get("fileLevelMessages", []):
        click.echo(f"  {message['type']:7} {message['title']}: {message['content']}")
    for message in validation.get("fieldLevelMessages", []):
        click.echo(f"  {message['type']:7} {message['fieldName']}: {message['content']}")
    click.echo(
        f"{detail['modelId']} {detail['modelVersionNumber']}: {detail['status']} in {detail['elapsedSeconds']:.0f}s"
    )
    if detail["status"] != "TRAINING_COMPLETE":
        return
    v2 = detail["trainingResultV2"]["trainingMetricsV2"]
    performance = next(iter(v2.values()))["modelPerformance"]
    bounds = performance["uncertaintyRange"]
    click.echo(
        f"  AUC {performance['auc']:.4f} (95% range {bounds['lowerBoundValue']:.4f}-{bounds['upperBoundValue']:.4f})"
    )
    extra = detail.get("details") or {}
    if extra:
        recall = extra["recallAtFpr"]
        click.echo(
            f"  average precision {extra['averagePrecision']:.4f}; fraud caught at 0.1% / 1% false positives: "
            f"{recall['0.001']:.1%} / {recall['0.01']:.1%}"
        )
        summary = extra["summary"]
        click.echo(
            f"  {summary['events']:,} events ({summary['fraudEvents']:,} fraud), validated on the newest "
            f"{summary['validationEvents']:,}"
        )
    for point in result["trainingMetrics"]["metricDataPoints"]:
        if point["threshold"] in (500.0, 600.0, 700.0, 800.0, 900.0, 950.0):
            click.echo(
                f"  score >= {point['threshold']:4.0f}: catches {point['tpr']:6.1%} of fraud, "
                f"flags {point['fpr']:6.2%} of legit, precision {point['precision']:6.1%}"
            )
    top = result["variableImportanceMetrics"]["logOddsMetrics"][:8]
    if top:
        click.echo(
            "  most important variables: "
            + ", ".join(f"{v['variableName']} ({v['variableImportance']:.2f})" for v in top)
        )
