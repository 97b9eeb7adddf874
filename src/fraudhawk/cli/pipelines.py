"""`fraudhawk pipelines` and `fraudhawk runs`: declare file-driven pipelines and watch what they ran.

The pipelines themselves run in the server (`fraudhawk serve`), whose workers scan their sources;
these commands read and write the same database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from fraudhawk.errors import ConfigurationError, FraudhawkError
from fraudhawk.pipelines import declared, runs
from fraudhawk.settings import BY_NAME, Settings
from fraudhawk.storage.database import Database

Command = TypeVar("Command", bound=Callable[..., Any])


def _where(command: Command) -> Command:
    """The options that say which server's store and files are meant (as `fraudhawk serve` takes them)."""
    for name in ("allowed_roots", "s3_root", "data_dir"):
        setting = BY_NAME[name]
        assert setting.option is not None
        text = f"{setting.help[0].upper()}{setting.help[1:]}; env {setting.variable}.".replace("`", "")
        command = click.option(setting.option, name, default=None, multiple=name == "allowed_roots", help=text)(command)
    return command


@contextmanager
def _store(
    data_dir: str | None, s3_root: str | None, allowed_roots: tuple[str, ...]
) -> Iterator[tuple[Database, Settings]]:
    try:
        settings = Settings.load(data_dir=data_dir, s3_root=s3_root, allowed_roots=allowed_roots)
    except ConfigurationError as error:
        raise click.UsageError(error.message) from None
    database = Database(settings.database_url)
    try:
        database.migrate()
        yield database, settings
    except FraudhawkError as error:
        raise click.ClickException(error.message) from None
    finally:
        database.dispose()


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group("pipelines", invoke_without_command=True)
@_where
@click.pass_context
def pipelines(
    context: click.Context, data_dir: str | None, s3_root: str | None, allowed_roots: tuple[str, ...]
) -> None:
    """List the pipelines (with each one's last run), or manage them with a subcommand."""
    if context.invoked_subcommand is not None:
        return
    with _store(data_dir, s3_root, allowed_roots) as (db, _):
        listed = declared.list_pipelines(db)
        last = runs.last_runs(db)
    if not listed:
        click.echo("no pipelines (create one with `fraudhawk pipelines put FILE` or `fraudhawk pipelines create`)")
        return
    for entry in listed:
        run = last.get(entry["name"])
        state = "enabled" if entry["enabled"] else "disabled"
        latest = f"{run['status']} {run['file']} ({_time(run['createdMs'])})" if run else "no runs yet"
        click.echo(f"{entry['name']}  [{state}]  {entry['source']}{entry['pattern']}")
        click.echo(f"    {declared.describe_action(entry)}{', transformed' if 'transform' in entry else ''}")
        click.echo(f"    last run: {latest}")


def _entries(path: Path) -> list[Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise click.BadParameter(f"not YAML or JSON: {error}", param_hint="FILE") from None
    if isinstance(loaded, dict) and "pipelines" in loaded:
        loaded = loaded["pipelines"]
    return loaded if isinstance(loaded, list) else [loaded]


@pipelines.command("put")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what would change, change nothing.")
@_where
def put(path: Path, dry_run: bool, data_dir: str | None, s3_root: str | None, allowed_roots: tuple[str, ...]) -> None:
    """Create or replace the pipelines FILE declares (YAML or JSON: one entry, a list of them, or a
    mapping with a `pipelines:` list), e.g.

    \b
        name: train-transactions
        source: s3://fraud-sample-data/glue_transformed/
        transform: {eventTime: trans_date_trans_time, timestampFormat: "%Y-%m-%d %H:%M:%S",
                    entityId: cc_num, eventId: trans_num, label: is_fraud}
        action:
          train: {modelId: cc_model, modelType: ONLINE_FRAUD_INSIGHTS, eventType: cc_txn,
                  mode: create, activate: {detectorId: cc_detector, maxAucDrop: 0.002}}
    """
    entries = _entries(path)
    with _store(data_dir, s3_root, allowed_roots) as (db, settings):
        try:
            planned = declared.plan(settings, declared.list_pipelines(db), entries)
        except FraudhawkError as error:
            raise click.ClickException(error.message) from None
        for index, (name, said) in enumerate(planned):
            if said == "undeclared":
                click.echo(f"not in {path.name}, kept: {name}")
            elif dry_run:
                click.echo(f"would be {said}: {name}")
            else:
                click.echo(f"{declared.put_pipeline(db, settings, entries[index])}: {name}")


@pipelines.command("create")
@click.argument("name")
@click.option("--source", required=True, help="s3://bucket/prefix/ or a folder inside an allowed root.")
@click.option("--pattern", default=declared.DEFAULT_PATTERN, show_default=True, help="Glob on the file's key.")
@click.option(
    "--action",
    "action_kind",
    required=True,
    type=click.Choice(["import", "train", "batch-predict"]),
    help="What each new file is used for.",
)
@click.option("--event-type", default=None, help="import, train: the event type.")
@click.option("--model-id", default=None, help="train: the model (created when missing).")
@click.option(
    "--model-type",
    default="ONLINE_FRAUD_INSIGHTS",
    show_default=True,
    type=click.Choice(list(declared.MODEL_TYPES)),
    help="train: the model's type.",
)
@click.option("--mode", default="create", show_default=True, type=click.Choice(["create", "update"]), help="train.")
@click.option("--major-version", type=int, default=None, help="train, update mode: the major version to update.")
@click.option("--data", default="file", show_default=True, type=click.Choice(["file", "stored"]), help="train.")
@click.option(
    "--activate-for", "detector", default=None, help="train: activate a good enough version in this detector."
)
@click.option("--max-auc-drop", type=float, default=None, help="train: the guard (AUC below the active version's).")
@click.option("--detector-id", default=None, help="batch-predict: the detector.")
@click.option("--output", default=None, help="batch-predict: where results are written.")
@click.option(
    "--transform",
    "transform_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A YAML or JSON file with the raw-CSV mapping (eventTime, entityId, label...).",
)
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@_where
def create(
    name: str,
    source: str,
    pattern: str,
    action_kind: str,
    event_type: str | None,
    model_id: str | None,
    model_type: str,
    mode: str,
    major_version: int | None,
    data: str,
    detector: str | None,
    max_auc_drop: float | None,
    detector_id: str | None,
    output: str | None,
    transform_file: Path | None,
    disabled: bool,
    data_dir: str | None,
    s3_root: str | None,
    allowed_roots: tuple[str, ...],
) -> None:
    """Create (or replace) pipeline NAME from options; `put` takes every field from a file."""
    action: dict[str, Any]
    if action_kind == "import":
        action = {"import": {"eventType": event_type}}
    elif action_kind == "train":
        train: dict[str, Any] = {"modelId": model_id, "modelType": model_type, "eventType": event_type, "mode": mode}
        train["data"] = data
        if major_version is not None:
            train["majorVersion"] = major_version
        if detector is not None or max_auc_drop is not None:
            train["activate"] = {"maxAucDrop": max_auc_drop or 0.0}
            if detector is not None:
                train["activate"]["detectorId"] = detector
        action = {"train": {k: v for k, v in train.items() if v is not None}}
    else:
        action = {"batchPredict": {k: v for k, v in {"detectorId": detector_id, "output": output}.items() if v}}
    entry: dict[str, Any] = {
        "name": name,
        "source": source,
        "pattern": pattern,
        "action": action,
        "enabled": not disabled,
    }
    if transform_file is not None:
        entry["transform"] = _entries(transform_file)[0]
    with _store(data_dir, s3_root, allowed_roots) as (db, settings):
        click.echo(f"{declared.put_pipeline(db, settings, entry)}: {name}")


@pipelines.command("show")
@click.argument("name")
@_where
def show(name: str, data_dir: str | None, s3_root: str | None, allowed_roots: tuple[str, ...]) -> None:
    """Print pipeline NAME as YAML (what `put` takes)."""
    with _store(data_dir, s3_root, allowed_roots) as (db, _):
        click.echo(yaml.safe_dump(declared.get_pipeline(db, name), sort_keys=False).rstrip())


@pipelines.command("delete")
@click.argument("name")
@_where
def delete(name: str, data_dir: str | None, s3_root: str | None, allowed_roots: tuple[str, ...]) -> None:
    """Delete pipeline NAME (its recorded runs are kept)."""
    with _store(data_dir, s3_root, allowed_roots) as (db, _):
        declared.delete_pipeline(db, name)
    click.echo(f"deleted: {name}")


def _switch(enabled: bool) -> Callable[..., None]:
    def command(name: str, data_dir: str | None, s3_root: str | None, allowed_roots: tuple[str, ...]) -> None:
        with _store(data_dir, s3_root, allowed_roots) as (db, _):
            declared.set_enabled(db, name, enabled)
        click.echo(f"{'enabled' if enabled else 'disabled'}: {name}")

    return command


pipelines.command("enable", help="Watch pipeline NAME's source again.")(click.argument("name")(_where(_switch(True))))
pipelines.command("disable", help="Stop watching pipeline NAME's source (runs under way go on).")(
    click.argument("name")(_where(_switch(False)))
)


@click.group("runs", invoke_without_command=True)
@click.option("--pipeline", default=None, help="Only this pipeline's runs.")
@click.option("--status", default=None, type=click.Choice(list(runs.STATUSES)), help="Only runs in this status.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@_where
@click.pass_context
def runs_command(
    context: click.Context,
    pipeline: str | None,
    status: str | None,
    limit: int,
    as_json: bool,
    data_dir: str | None,
    s3_root: str | None,
    allowed_roots: tuple[str, ...],
) -> None:
    """List pipeline runs, newest first: the file, its size and checksum, the action, what it made, the
    status and timings; or retry one with `runs retry RUN_ID`."""
    if context.invoked_subcommand is not None:
        return
    with _store(data_dir, s3_root, allowed_roots) as (db, _):
        listed = runs.list_runs(db, pipeline, status, limit)
    if as_json:
        click.echo(json.dumps(listed, indent=2))
        return
    if not listed:
        click.echo("no runs")
        return
    for run in listed:
        took = ""
        if run["startedMs"] is not None and run["endedMs"] is not None:
            took = f", took {(run['endedMs'] - run['startedMs']) / 1000:.1f}s"
        click.echo(
            f"{run['runId']}  {run['status']:<9} {run['pipeline']}  {run['file']}  {run['size']:,} bytes  "
            f"sha256 {run['checksum'][:12]}  {run['action']}"
        )
        click.echo(
            f"    seen {_time(run['createdMs'])}{took}"
            + (f", attempt {run['attempts']}" if run["attempts"] > 1 else "")
        )
        made = runs.describe_result(run)
        if made:
            click.echo(f"    {made}")
        if run["detail"]:
            click.echo(f"    {run['detail']}")
        if run["error"]:
            click.echo(f"    error: {run['error']}")


@runs_command.command("retry")
@click.argument("run_id")
@_where
def retry(run_id: str, data_dir: str | None, s3_root: str | None, allowed_roots: tuple[str, ...]) -> None:
    """Run a FAILED or CANCELLED run again from its start (a running server picks it up)."""
    with _store(data_dir, s3_root, allowed_roots) as (db, _):
        runs.retry(db, run_id)
    click.echo(f"queued again: {run_id}")


@runs_command.command("cancel")
@click.argument("run_id")
@_where
def cancel(run_id: str, data_dir: str | None, s3_root: str | None, allowed_roots: tuple[str, ...]) -> None:
    """Cancel a run: a queued one at once, one under way at its next step (the import, batch
    prediction or training it started is cancelled too)."""
    with _store(data_dir, s3_root, allowed_roots) as (db, _):
        status = runs.cancel(db, run_id)
    click.echo(f"cancelled: {run_id}" if status == runs.CANCELLED else f"cancelling: {run_id} (it was {status})")
