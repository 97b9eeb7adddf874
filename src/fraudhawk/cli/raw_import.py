"""`fraudhawk import`: a raw CSV in, stored events out, through the same batch import jobs the API runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from fraudhawk.client import Client
from fraudhawk.events import raw
from fraudhawk.events.csvsource import open_binary, read_csv


def _ensure_catalog(client: Client, event_type: str, mapping: raw.Mapping, variables: list[raw.Suggestion]) -> None:
    client.put_entity_type(name=mapping.entity_type)
    labels: list[str] = []
    if mapping.label:
        labels = [raw.FRAUD, raw.LEGIT]
        for label in labels:
            client.put_label(name=label)
    existing = {v["name"]: v for v in client.batch_get_variable(names=[s.variable for s in variables])["variables"]}
    for suggestion in variables:
        current = existing.get(suggestion.variable)
        if current is None:
            default = "0.0" if suggestion.data_type == "FLOAT" else ""
            client.create_variable(
                name=suggestion.variable,
                dataType=suggestion.data_type,
                dataSource="EVENT",
                defaultValue=default,
                variableType=suggestion.variable_type,
            )
            click.echo(f"  variable {suggestion.variable:30} {suggestion.data_type:8} {suggestion.variable_type}")
        else:
            click.echo(f"  variable {suggestion.variable:30} exists ({current['dataType']})")
    names = [s.variable for s in variables]
    try:
        current_type = client.get_event_types(name=event_type)["eventTypes"][0]
        names = list(dict.fromkeys([*current_type["eventVariables"], *names]))
        labels = list(dict.fromkeys([*current_type.get("labels", []), *labels]))
        entity_types = list(dict.fromkeys([*current_type["entityTypes"], mapping.entity_type]))
    except client.exceptions.ResourceNotFoundException:
        entity_types = [mapping.entity_type]
    client.put_event_type(
        name=event_type, eventVariables=names, labels=labels, entityTypes=entity_types, eventIngestion="ENABLED"
    )


def run_import(client: Client, data_dir: Path, path: Path, event_type: str, mapping: raw.Mapping) -> dict[str, Any]:
    with path.open("rb") as handle:
        header, sample = raw.sample_rows(open_binary(handle))
    missing = [
        c for c in (mapping.event_time, mapping.entity_id, mapping.event_id, mapping.label) if c and c not in header
    ]
    if missing:
        raise click.UsageError(f"column(s) {', '.join(missing)} are not in the file (it has: {', '.join(header)})")
    mapped = {mapping.event_time, mapping.entity_id, mapping.event_id, mapping.label, *mapping.exclude}
    unnamed = [c for c in header if not c.strip() or c.lower().startswith("unnamed")]
    columns = [c for c in header if c not in mapped and c not in unnamed]
    if unnamed:
        click.echo(f"skipping unnamed column(s): {', '.join(repr(c) for c in unnamed)}")
    variables = raw.suggest(sample, columns)
    click.echo(f"event type {event_type}: {len(variables)} variables")
    _ensure_catalog(client, event_type, mapping, variables)

    source = raw.source_id(path)
    work = data_dir / "files" / "imports"
    converted = work / f"{event_type}-{source}.csv.gz"
    started = time.monotonic()
    with path.open("rb") as handle:
        records = read_csv(open_binary(handle))
        result = raw.write_afd_csv(raw.convert_batches(records.batches(), mapping, variables, source), converted)
    click.echo(f"converted {result.rows:,} rows to AFD's layout in {time.monotonic() - started:.1f}s")
    if records.rejected:
        shown = ", ".join(f"{r.line} ({r.reason})" for r in sorted(records.rejected, key=lambda r: r.line)[:20])
        more = f" and {len(records.rejected) - 20} more" if len(records.rejected) > 20 else ""
        click.echo(f"skipped {len(records.rejected):,} malformed line(s) of {path.name}: {shown}{more}", err=True)

    job_id = f"import-{source}-{int(time.time())}"
    client.create_batch_import_job(
        jobId=job_id,
        inputPath=str(converted),
        outputPath=str(work / "reports") + "/",
        eventTypeName=event_type,
        iamRoleArn="arn:aws:iam::000000000000:role/fraudhawk-local",
    )
    started = time.monotonic()
    while True:
        job = client.get_batch_import_jobs(jobId=job_id)["batchImports"][0]
        elapsed = time.monotonic() - started
        click.echo(
            f"\r{job['status']:<12} {job['processedRecordsCount']:>12,} stored {job['failedRecordsCount']:>9,} failed "
            f"({elapsed:.0f}s)",
            nl=False,
        )
        if job["status"] in ("COMPLETE", "FAILED", "CANCELED"):
            click.echo()
            break
        time.sleep(0.5)
    converted.unlink(missing_ok=True)
    job["reportPath"] = str(work / "reports" / f"{job_id}_failed_records.csv")
    return dict(job)
