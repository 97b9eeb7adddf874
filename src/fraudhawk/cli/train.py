"""`fraudhawk train`: train a model version from the command line, with a live progress line."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from fraudhawk.client import Client
from fraudhawk.training.readings import ASI_GOOD, ASI_HIGH, ATODR_ENTITIES, asi_meaning, cr_table

ATI = "ACCOUNT_TAKEOVER_INSIGHTS"
_SHORT = {
    "ofi": "ONLINE_FRAUD_INSIGHTS",
    "tfi": "TRANSACTION_FRAUD_INSIGHTS",
    "ati": ATI,
}
_ROLE = "arn:aws:iam::123456789012:role/fraudhawk-cli"


#: the counter at the end of a training step's progress ("training the model: search, round 40"): it
#: moves within one phase
_COUNTER = re.compile(r"[,:]?\s*round \d+$")


def phase_of(progress: str) -> str:
    """The phase a progress text belongs to: the text without its moving counter."""
    return _COUNTER.sub("", progress)


class ProgressLines:
    """Training progress on standard output. A terminal gets one line rewritten in place (elapsed
    time, step, round); anything else (a pipe, a log file) gets one line per phase, each when the
    phase begins, so a log reads as a list of steps instead of one long line of carriage returns."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.shown = ""

    def show(self, elapsed_s: float, progress: str) -> None:
        if self.live:
            line = f"  {elapsed_s:6.0f}s  {progress}"
            if line != self.shown:
                click.echo(f"\r{line:70}", nl=False)
                self.shown = line
            return
        phase = phase_of(progress)
        if phase and phase != self.shown:
            click.echo(f"  {elapsed_s:6.0f}s  {phase}")
            self.shown = phase

    def end(self) -> None:
        if self.live and self.shown:
            click.echo("")  # leave the rewritten line in place, end it


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
    if kind == ATI and data is not None:
        raise click.UsageError(
            "Account Takeover Insights trains on stored events: import the logins first (fraudhawk import), "
            "then train without --data"
        )
    _ensure_model(client, model_id, kind, event_type)
    spec = client.get_event_types(name=event_type)["eventTypes"][0]
    names = variables or list(spec["eventVariables"])
    schema: dict[str, Any] = {
        "modelVariables": names,
        "labelSchema": {"labelMapper": {"FRAUD": fraud, "LEGIT": legit}, "unlabeledEventsTreatment": unlabeled},
    }
    if kind == ATI:
        _ati_labels(schema, spec, fraud, legit)
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
    lines = ProgressLines(live=sys.stdout.isatty())
    while True:
        current = client.get_model_version(modelId=model_id, modelType=kind, modelVersionNumber=version)
        if current["status"] != "TRAINING_IN_PROGRESS":
            break
        lines.show(time.monotonic() - started, client.training_progress(model_id, version) or "")
        time.sleep(0.5)
    lines.end()
    detail: dict[str, Any] = client.describe_model_versions(
        modelId=model_id, modelType=kind, modelVersionNumber=version
    )["modelVersionDetails"][0]
    detail["elapsedSeconds"] = time.monotonic() - started
    detail["details"] = client.training_details(model_id, version)
    return detail


def _ati_labels(schema: dict[str, Any], spec: dict[str, Any], fraud: list[str], legit: list[str]) -> None:
    """Labels are optional for Account Takeover Insights: the mapper is kept only when the event type
    has both a fraud and a legit label among those given (its FRAUD labels mark known takeovers)."""
    known = set(spec.get("labels") or [])
    fraud_known = [label for label in fraud if label in known]
    legit_known = [label for label in legit if label in known]
    if fraud_known and legit_known:
        schema["labelSchema"]["labelMapper"] = {"FRAUD": fraud_known, "LEGIT": legit_known}
        return
    del schema["labelSchema"]
    click.echo(
        f"training without labels: event type {spec['name']} does not have both a fraud label "
        f"({', '.join(fraud) or 'none given'}) and a legit label ({', '.join(legit) or 'none given'}); "
        "labelled takeovers would give the ATO discovery rate"
    )


def _group_name(names: list[str]) -> str:
    # the entity's own activity (how often and when it logs in) is reported under ENTITY_ID
    return "+".join("the entity's activity" if name == "ENTITY_ID" else name for name in names)


def describe_ati(detail: dict[str, Any]) -> None:
    """The analyst's summary of an Account Takeover Insights version: ASI and the challenge rates."""
    v2 = detail["trainingResultV2"]
    ati = v2["trainingMetricsV2"]["ati"]
    asi = ati["modelPerformance"]["asi"]
    click.echo(
        f"  ASI {asi:.3f}: {asi_meaning(asi)} (AFD: >= {ASI_HIGH} high, {ASI_GOOD}-{ASI_HIGH} good, < {ASI_GOOD} poor)"
    )
    click.echo(
        "  the Anomaly Separation Index says how well scores separate anomalous logins from users' usual ones "
        "(0.5: not at all, 1.0: fully)"
    )
    extra = detail.get("details") or {}
    summary = extra.get("summary") or {}
    if summary:
        entities = f" of {summary['entities']:,} entities" if "entities" in summary else ""
        click.echo(
            f"  {summary['events']:,} login events{entities}, validated on the newest "
            f"{summary['validationEvents']:,} successful logins"
        )
        if summary.get("labelledTakeovers"):
            click.echo(
                f"  {summary['labelledTakeovers']:,} labelled takeover events "
                f"({summary.get('takeoverEntities', 0):,} entities)"
            )
    points = ati["metricDataPoints"]
    with_atodr = any("atodr" in point for point in points)
    if not with_atodr and "atoEntities" in extra:
        click.echo(
            f"  no ATO discovery rate: it needs at least {ATODR_ENTITIES} entities with a labelled takeover, "
            f"the data has {extra['atoEntities']:,}"
        )
    rows = cr_table(points)
    if rows:
        header = "  challenge rate  score >=  anomalies caught"
        click.echo(header + ("  takeovers caught" if with_atodr else ""))
        for point in rows:
            line = f"  {point['cr']:13.2%}  {point['threshold']:8.0f}  {point['adr']:16.1%}"
            if with_atodr:
                line += f"  {point['atodr']:16.1%}" if "atodr" in point else f"  {'-':>16}"
            click.echo(line)
    top = v2.get("variableImportanceMetrics", {}).get("logOddsMetrics", [])[:8]
    if top:
        click.echo(
            "  most important variables: "
            + ", ".join(f"{v['variableName']} ({v['variableImportance']:.2f})" for v in top)
        )
    groups = v2.get("aggregatedVariablesImportanceMetrics", {}).get("logOddsMetrics", [])[:8]
    if groups:
        click.echo(
            "  most important aggregates (by the variables they come from): "
            + ", ".join(f"{_group_name(g['variableNames'])} ({g['aggregatedVariablesImportance']:.2f})" for g in groups)
        )


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
    if detail["modelType"] == ATI:
        describe_ati(detail)
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
    for line in history_lines(extra.get("historyLength") or []):
        click.echo(line)
    top = result["variableImportanceMetrics"]["logOddsMetrics"][:8]
    if top:
        click.echo(
            "  most important variables: "
            + ", ".join(f"{v['variableName']} ({v['variableImportance']:.2f})" for v in top)
        )


def history_lines(buckets: list[dict[str, Any]]) -> list[str]:
    """How entities fare by history length (Transaction Fraud Insights): per bucket of earlier events,
    the validation events' share and legit flagged above 900, and the same for validation events
    scored as if their entity were new."""
    if not buckets:
        return []
    lines = ["  by the entity's earlier events (validation; as if new: the same events, their entity's history cut):"]
    for bucket in buckets:
        flagged = bucket["fprAtThreshold"].get("900")
        own = "-" if flagged is None else f"{flagged:.2%}"
        young = bucket.get("asIfNew")
        as_new = ""
        if young is not None and young["fprAtThreshold"].get("900") is not None:
            as_new = f"; as if new: {young['events']:,} events, legit above 900 {young['fprAtThreshold']['900']:.2%}"
        lines.append(
            f"    {bucket['earlierEvents']:>4s} earlier events: {bucket['share']:7.2%} of events, "
            f"legit above 900 {own}{as_new}"
        )
    return lines
