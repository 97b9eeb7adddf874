"""`fraudhawk import`: a raw CSV in, stored events out, through the same batch import jobs the API runs.

The mapping, conversion and catalog steps are `fraudhawk.events.rawimport`'s (the console's mapping
form runs the same ones); this module says what happens and waits for the job.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from fraudhawk.client import Client
from fraudhawk.events import raw, rawimport


def run_import(client: Client, data_dir: Path, path: Path, event_type: str, mapping: raw.Mapping) -> dict[str, Any]:
    try:
        plan = rawimport.plan(path, mapping)
    except rawimport.MissingColumns as error:
        raise click.UsageError(error.message) from None
    if plan.unnamed:
        click.echo(f"skipping unnamed column(s): {', '.join(repr(c) for c in plan.unnamed)}")
    click.echo(f"event type {event_type}: {len(plan.variables)} variables")

    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return client.call(operation, **params)

    for line in rawimport.ensure_catalog(call, event_type, mapping, plan.variables):
        click.echo(f"  {line}")

    work = rawimport.work_area(data_dir)
    converted = rawimport.work_file(data_dir, event_type, path)
    started = time.monotonic()
    result = rawimport.convert(path, mapping, plan.variables, converted)
    click.echo(f"converted {result.rows:,} rows to AFD's layout in {time.monotonic() - started:.1f}s")
    if result.rejected:
        shown = ", ".join(f"{r.line} ({r.reason})" for r in result.rejected[:20])
        more = f" and {len(result.rejected) - 20} more" if len(result.rejected) > 20 else ""
        click.echo(f"skipped {len(result.rejected):,} malformed line(s) of {path.name}: {shown}{more}", err=True)

    job_id = rawimport.job_id_for(path)
    rawimport.start(call, job_id, converted, str(work / "reports") + "/", event_type)
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
    job["reportPath"] = str(work / "reports" / f"{job_id}_failed_records.csv")
    return dict(job)
