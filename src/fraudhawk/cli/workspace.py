"""`fraudhawk apply` and `fraudhawk export`: the workspace file against a data directory or an AFD account."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import IO, Any

import click

from fraudhawk.errors import FraudhawkError
from fraudhawk.events.paths import Location, write_atomically
from fraudhawk.pipelines import declared
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings
from fraudhawk.workspace.apply import Report, apply_plan
from fraudhawk.workspace.document import dump
from fraudhawk.workspace.model import WAITING, WOULD_DELETE, Change
from fraudhawk.workspace.plan import Plan, export, make_plan
from fraudhawk.workspace.reader import Call, boto3_call, with_operations

_WIDTH = 13


def local_service(settings: Settings) -> Service:
    # no background worker: a training this process started must not die with it; the data
    # directory's server (`fraudhawk serve`) runs it
    return Service(settings, worker=False)


def local_call(service: Service) -> Call:
    """The `Call` apply and export run through on a data directory: AFD's operations in-process,
    plus the operations of fraudhawk's own sections (`reader.with_operations`): pipelines."""
    ctx = service.context

    def list_pipelines(_operation: str, _params: dict[str, Any]) -> dict[str, Any]:
        return {"pipelines": declared.list_pipelines(ctx.db)}

    def put_pipeline(_operation: str, params: dict[str, Any]) -> dict[str, Any]:
        declared.put_pipeline(ctx.db, ctx.settings, params)
        return {}

    def delete_pipeline(_operation: str, params: dict[str, Any]) -> dict[str, Any]:
        declared.delete_pipeline(ctx.db, params["name"])
        return {}

    own = {"ListPipelines": list_pipelines, "PutPipeline": put_pipeline, "DeletePipeline": delete_pipeline}
    return with_operations(service.call, own)


def line(action: str, change: Change, detail: str | None = None) -> str:
    text = detail if detail is not None else change.detail
    return f"  {action:<{_WIDTH}} {change.label}" + (f": {text}" if text else "")


def show_plan(plan: Plan) -> None:
    for change in plan.changes:
        click.echo(line(change.action, change))
    counts = Counter(change.action for change in plan.changes)
    summary = ", ".join(f"{count} {action}" for action, count in sorted(counts.items()))
    click.echo(f"plan: {summary or 'nothing declared'}")


def show_report(report: Report) -> None:
    for change in report.applied:
        click.echo(line("applied", change, change.action))
    for change, reason in report.failed:
        click.echo(line("FAILED", change, reason))
    for change in report.not_attempted:
        click.echo(line("not attempted", change, change.action))


def run_apply(path: Path, settings: Settings, *, plan_only: bool, prune: bool, retrain: bool) -> int:
    from fraudhawk.workspace.files import read_workspace

    try:
        document = read_workspace(path)
        # where a pipeline's folders may point is the server's settings' to say, not the schema's
        declared.plan(settings, [], document.get("pipelines") or [])
    except FraudhawkError as error:
        click.echo(f"fraudhawk: {error.message}", err=True)
        click.echo("nothing applied", err=True)
        return 2
    service = local_service(settings)
    try:
        call = local_call(service)
        plan = make_plan(document, call, prune=prune, retrain=retrain)
        show_plan(plan)
        if plan.refused:
            click.echo(f"nothing applied: {len(plan.refused)} change(s) refused (see the reasons above)", err=True)
            return 1
        if plan_only:
            return 0
        held = sum(1 for change in plan.changes if change.action == WAITING)
        if not plan.writes:
            if held:
                click.echo(f"nothing to do now; {held} change(s) waiting (see above)")
            else:
                click.echo("nothing to do: the data directory is as the file declares")
            return 0
        report = apply_plan(plan, call)
        show_report(report)
    finally:
        service.close()
    if report.failed:
        click.echo(
            f"stopped: {len(report.applied)} applied, {len(report.failed)} failed, "
            f"{len(report.not_attempted)} not attempted",
            err=True,
        )
        return 1
    kept = sum(1 for change in plan.changes if change.action == WOULD_DELETE)
    notes = [f"{held} waiting"] if held else []
    notes += [f"{kept} not in the file kept"] if kept else []
    click.echo(f"applied {len(report.applied)} change(s)" + "".join(f"; {note}" for note in notes))
    return 0


def afd_call(region: str | None, profile: str | None, endpoint_url: str | None) -> Call:
    import boto3

    session = boto3.Session(profile_name=profile, region_name=region)
    client = session.client("frauddetector", endpoint_url=endpoint_url)
    return boto3_call(client)


def write_document(document: dict[str, Any], output: Path | None) -> None:
    text = dump(document).encode("utf-8")
    if output is None:
        click.echo(text.decode("utf-8"), nl=False)
        return

    def write(out: IO[bytes]) -> None:
        out.write(text)

    write_atomically(Location(str(output), Path(os.path.abspath(output))), write)


def run_export(settings: Settings | None, call: Call | None, output: Path | None) -> None:
    if call is not None:
        write_document(export(call, afd=True), output)
        return
    assert settings is not None
    service = local_service(settings)
    try:
        document = export(local_call(service))
    finally:
        service.close()
    write_document(document, output)
