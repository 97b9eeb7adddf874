"""`fraudhawk serve | settings | migrate | call | import | train | predict | apply | export | pipelines | runs |
operations`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fraudhawk import __version__
from fraudhawk.errors import ConfigurationError, FraudhawkError
from fraudhawk.settings import BY_NAME, PATHS, TABLE, Settings, markdown_table

Command = TypeVar("Command", bound=Callable[..., Any])


def _setting_option(name: str) -> Callable[[Command], Command]:
    """The command-line option of a setting of the table; unset, the setting's variable applies."""
    setting = BY_NAME[name]
    assert setting.option is not None, name
    text = f"{setting.help[0].upper()}{setting.help[1:]}; default {setting.default_text}, env {setting.variable}."
    return click.option(
        setting.option,
        setting.name,
        default=None,
        multiple=setting.kind is PATHS,
        help=text.replace("`", ""),
    )


_data_dir = _setting_option("data_dir")


def _settings(data_dir: str | None) -> Settings:
    try:
        return Settings.load(data_dir=data_dir)
    except ConfigurationError as error:
        raise click.UsageError(error.message) from None


@click.group()
@click.version_option(__version__, prog_name="fraudhawk")
def main() -> None:
    """fraudhawk: self-hosted fraud detection with Amazon Fraud Detector's API."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Server processes (default: one per usable core, which serves the most predictions).",
)
@_setting_option("s3_root")
@_setting_option("allowed_roots")
@_data_dir
def serve(
    host: str,
    port: int,
    log_level: str,
    workers: int | None,
    s3_root: str | None,
    allowed_roots: tuple[str, ...],
    data_dir: str | None,
) -> None:
    """Serve AFD's API (AWS JSON 1.1) over HTTP."""
    from fraudhawk.api.server import check_listen_address, usable_cores
    from fraudhawk.api.server import serve as run

    try:
        settings = Settings.load(data_dir=data_dir, s3_root=s3_root, allowed_roots=allowed_roots)
    except ConfigurationError as error:
        raise click.UsageError(error.message) from None
    try:
        check_listen_address(settings, host)  # refused before the banner says where to go
        click.echo(banner(settings, host, port))
        run(settings, host, port, log_level, workers or usable_cores())
    except ConfigurationError as error:
        click.echo(f"fraudhawk: {error.message}", err=True)
        sys.exit(2)


def console_address(host: str, port: int) -> str:
    """Where a browser reaches a server listening on `host`: a wildcard address is reached through
    this machine's loopback, an IPv6 address is written in brackets."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def banner(settings: Settings, host: str, port: int) -> str:
    """The lines `fraudhawk serve` starts with: what a new user needs to find the console and their data."""
    s3 = (
        f"s3://bucket/key is the file {settings.s3_root}/bucket/key"
        if settings.s3_root is not None
        else "s3:// paths are read from a real S3-compatible store"
    )
    return "\n".join(
        [
            f"fraudhawk {__version__}",
            f"  console:  {console_address(host, port)}  (open it in a browser; AFD's API answers POST there too)",
            f"  data:     {settings.data_dir}  ({s3})",
        ]
    )


@main.command("settings")
@click.option("--markdown", is_flag=True, help="Print the table of settings the README shows, not their values.")
@_data_dir
def show_settings(markdown: bool, data_dir: str | None) -> None:
    """Show the settings in force (from the environment and defaults), secrets hidden."""
    if markdown:
        click.echo(markdown_table(), nl=False)
        return
    settings = _settings(data_dir)
    for setting in TABLE:
        click.echo(f"{setting.variable}={setting.shown(getattr(settings, setting.name))}")


@main.command()
@_data_dir
def migrate(data_dir: str | None) -> None:
    """Create or upgrade the database schema to the newest revision."""
    from fraudhawk.storage.database import Database

    settings = _settings(data_dir)
    database = Database(settings.database_url)
    before = database.current_revision()
    database.migrate()
    click.echo(f"schema at revision {database.current_revision()} (was {before or 'empty'})")
    database.dispose()


@main.command()
@click.argument("operation")
@click.argument("params", required=False, default="{}")
@_data_dir
def call(operation: str, params: str, data_dir: str | None) -> None:
    """Run one AFD OPERATION in-process, e.g. `fraudhawk call GetVariables '{"name": "amt"}'`.

    PARAMS is a JSON object, or `-` to read it from standard input.
    """
    from fraudhawk.client import Client

    text = sys.stdin.read() if params == "-" else params
    try:
        request: Any = json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="PARAMS") from None
    if not isinstance(request, dict):
        raise click.BadParameter("must be a JSON object", param_hint="PARAMS")
    with Client(settings=_settings(data_dir)) as client:
        try:
            response = client.call(operation, **request)
        except FraudhawkError as error:
            click.echo(json.dumps(error.to_wire(), indent=2), err=True)
            sys.exit(1)
    response.pop("ResponseMetadata", None)
    click.echo(json.dumps(response, indent=2))


@main.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--event-type", required=True, help="Event type to store into (created when missing).")
@click.option("--entity-id", required=True, help="Column holding the entity id (a customer, a card...).")
@click.option("--timestamp", "event_time", required=True, help="Column holding the event time.")
@click.option(
    "--timestamp-format",
    default=None,
    help="Format of the time column: a strftime pattern such as '%Y-%m-%d %H:%M:%S' (read as UTC), 'unix' or "
    "'unix_ms'. Default: any format AFD accepts.",
)
@click.option("--event-id", default=None, help="Column holding a unique event id (default: generated).")
@click.option("--label", default=None, help="Column holding the label, if the data is labelled.")
@click.option(
    "--fraud-values",
    default="1,true,fraud,yes",
    show_default=True,
    help="Label values that mean fraud (comma-separated).",
)
@click.option("--entity-type", default="customer", show_default=True, help="Entity type of the events.")
@click.option("--exclude", default="", help="Columns not to store (comma-separated).")
@_data_dir
def import_events(
    path: Path,
    event_type: str,
    entity_id: str,
    event_time: str,
    timestamp_format: str | None,
    event_id: str | None,
    label: str | None,
    fraud_values: str,
    entity_type: str,
    exclude: str,
    data_dir: str | None,
) -> None:
    """Import a raw CSV file (plain, .gz or .xz) as stored events, creating what is missing.

    Example, the Kaggle credit-card file:

        fraudhawk import fraudTrain.csv.xz --event-type cc_txn --entity-id cc_num \\
          --timestamp trans_date_trans_time --timestamp-format '%Y-%m-%d %H:%M:%S' \\
          --event-id trans_num --label is_fraud
    """
    from fraudhawk.cli.raw_import import run_import
    from fraudhawk.client import Client
    from fraudhawk.events.raw import Mapping

    mapping = Mapping(
        event_time=event_time,
        entity_id=entity_id,
        event_id=event_id,
        time_format=timestamp_format,
        label=label,
        fraud_values=tuple(v.strip().lower() for v in fraud_values.split(",") if v.strip()),
        entity_type=entity_type,
        exclude=tuple(c.strip() for c in exclude.split(",") if c.strip()),
    )
    settings = _settings(data_dir)
    with Client(settings=settings) as client:
        try:
            job = run_import(client, settings.data_dir, path, event_type, mapping)
        except FraudhawkError as error:
            raise click.ClickException(error.message) from None
    click.echo(
        f"{job['status']}: {job['processedRecordsCount']:,} events stored, {job['failedRecordsCount']:,} rejected "
        f"(report: {job['reportPath']})"
    )
    if job["status"] != "COMPLETE":
        click.echo(f"reason: {job.get('failureReason', 'cancelled')}", err=True)
        sys.exit(1)


@main.command()
@click.option("--model-id", required=True, help="Model to train (created when missing).")
@click.option("--event-type", required=True, help="Event type the model scores.")
@click.option(
    "--model-type",
    default="ofi",
    show_default=True,
    type=click.Choice(["ofi", "tfi", "ati"], case_sensitive=False),
    help="ofi: Online Fraud Insights (event level); tfi: Transaction Fraud Insights (with each entity's history); "
    "ati: Account Takeover Insights (logins, stored events, labels optional).",
)
@click.option("--variables", default=None, help="Variables to use (comma-separated; default: all of the event type).")
@click.option(
    "--fraud-labels",
    default="fraud",
    show_default=True,
    help="Labels that mean fraud (comma-separated; ati: labelled takeovers, used when the event type has them).",
)
@click.option("--legit-labels", default="legit", show_default=True, help="Labels that mean legit (comma-separated).")
@click.option(
    "--unlabeled",
    default="IGNORE",
    show_default=True,
    type=click.Choice(["IGNORE", "FRAUD", "LEGIT", "AUTO"]),
    help="What unlabeled events count as.",
)
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Train on this CSV (AFD layout) instead of the stored events.",
)
@click.option("--start", default=None, help="Stored events from this time (ISO-8601 UTC; default: the first).")
@click.option("--end", default=None, help="Stored events up to this time (ISO-8601 UTC; default: the last).")
@_data_dir
def train(
    model_id: str,
    event_type: str,
    model_type: str,
    variables: str | None,
    fraud_labels: str,
    legit_labels: str,
    unlabeled: str,
    data: Path | None,
    start: str | None,
    end: str | None,
    data_dir: str | None,
) -> None:
    """Train a new version of a model and show how well it does.

    Example, after `fraudhawk import` of the Kaggle credit-card file:

        fraudhawk train --model-id cc_tfi --event-type cc_txn --model-type tfi
    """
    from fraudhawk.cli.train import describe, run_training
    from fraudhawk.client import Client

    if (start is None) != (end is None):
        raise click.UsageError("give --start and --end together")
    roots = (str(data.resolve().parent),) if data is not None else ()
    try:
        settings = Settings.load(data_dir=data_dir, allowed_roots=roots)
    except ConfigurationError as error:
        raise click.UsageError(error.message) from None

    def split(text: str) -> list[str]:
        return [v.strip() for v in text.split(",") if v.strip()]

    with Client(settings=settings) as client:
        try:
            detail = run_training(
                client,
                model_id,
                model_type,
                event_type,
                split(variables) if variables else None,
                split(fraud_labels),
                split(legit_labels),
                unlabeled,
                data,
                (start, end) if start and end else None,
            )
        except FraudhawkError as error:
            raise click.ClickException(error.message) from None
    describe(detail)
    if detail["status"] != "TRAINING_COMPLETE":
        sys.exit(1)


@main.command()
@click.option("--detector-id", required=True, help="Detector to evaluate the event with.")
@click.option("--detector-version", default=None, help="Version to use (default: the ACTIVE one; a DRAFT works too).")
@click.option("--event-type", default=None, help="Event type (default: the detector's).")
@click.option("--entity-type", default=None, help="Entity type (default: the event type's first).")
@click.option("--entity-id", default="unknown", show_default=True, help="The event's entity, e.g. a card or customer.")
@click.option("--event-id", default=None, help="Event id (default: a new random one).")
@click.option("--timestamp", default=None, help="Event time, ISO-8601 UTC (default: now).")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="An event variable (repeatable).")
@click.option("--explain", is_flag=True, help="Also show which variables moved each model score.")
@click.option("--json", "as_json", is_flag=True, help="Print the prediction and its record as JSON.")
@_data_dir
def predict(
    detector_id: str,
    detector_version: str | None,
    event_type: str | None,
    entity_type: str | None,
    entity_id: str,
    event_id: str | None,
    timestamp: str | None,
    variables: tuple[str, ...],
    explain: bool,
    as_json: bool,
    data_dir: str | None,
) -> None:
    """Score one event with a detector: model scores, rules, outcomes (and why, with --explain).

    Example:

        fraudhawk predict --detector-id cc_detector --entity-id 4263982640269299 \\
            --var amt=912.50 --var category=shopping_net --var merchant=fraud_Kub --explain
    """
    from fraudhawk.cli.predict import describe, parse_variables, predict_one, print_json
    from fraudhawk.client import Client

    with Client(settings=_settings(data_dir)) as client:
        try:
            result, metadata = predict_one(
                client,
                detector_id,
                detector_version,
                event_type,
                (entity_type, entity_id),
                event_id,
                timestamp,
                parse_variables(variables),
            )
        except FraudhawkError as error:
            raise click.ClickException(error.message) from None
    if as_json:
        print_json(result, metadata)
    else:
        describe(result, metadata, explain)


@main.command("apply")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--plan", "plan_only", is_flag=True, help="Only show what applying would do.")
@click.option(
    "--prune",
    is_flag=True,
    help="Also delete what the data directory has and the file does not name (never done without it).",
)
@click.option(
    "--retrain",
    is_flag=True,
    help="Train again the models (train: true) whose training with the file's settings ended in ERROR or was "
    "cancelled (never done without it).",
)
@_setting_option("s3_root")
@_setting_option("allowed_roots")
@_data_dir
def apply_workspace(
    path: Path,
    plan_only: bool,
    prune: bool,
    retrain: bool,
    s3_root: str | None,
    allowed_roots: tuple[str, ...],
    data_dir: str | None,
) -> None:
    """Make the data directory what the workspace file PATH declares, through AFD's operations.

    Shows the plan first: per resource create, update, unchanged, train, waiting (a detector version
    whose model version is not trained and ACTIVE yet: the rest is applied), would delete (the store
    has it, the file does not: deleted only with --prune) or refused (a change AFD cannot make in
    place, with the reason). Nothing is applied when the file is invalid or a change is refused.
    Applying the same file again changes nothing. A model with `train: true` gets a new version
    trained with its `training` settings when none was; the data directory's server runs the training.

    Example: fraudhawk apply docs/examples/transactions-workspace.yaml --plan
    """
    from fraudhawk.cli.workspace import run_apply

    try:
        # the pipelines' folders are checked against the roots the server may use
        settings = Settings.load(data_dir=data_dir, s3_root=s3_root, allowed_roots=allowed_roots)
    except ConfigurationError as error:
        raise click.UsageError(error.message) from None
    sys.exit(run_apply(path, settings, plan_only=plan_only, prune=prune, retrain=retrain))


@main.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: stdout).",
)
@click.option(
    "--from-afd", is_flag=True, help="Read an Amazon Fraud Detector account (boto3) instead of the data directory."
)
@click.option("--region", default=None, help="--from-afd: the AWS region (default: boto3's configuration).")
@click.option("--profile", default=None, help="--from-afd: the AWS profile (default: boto3's configuration).")
@click.option("--endpoint-url", default=None, help="--from-afd: another endpoint, e.g. a fraudhawk server.")
@_data_dir
def export_workspace(
    output: Path | None,
    from_afd: bool,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    data_dir: str | None,
) -> None:
    """Write the workspace (entity types, event types, variables, labels, outcomes, lists, external
    models, models with their training settings, detectors with rules and versions, tags) as a
    workspace file that `fraudhawk apply` takes.

    Migrating from AFD: fraudhawk export --from-afd --region eu-west-1 -o workspace.yaml
    """
    from fraudhawk.cli.workspace import afd_call, run_export

    if not from_afd and (region or profile or endpoint_url):
        raise click.UsageError("--region, --profile and --endpoint-url go with --from-afd")
    try:
        if from_afd:
            run_export(None, afd_call(region, profile, endpoint_url), output)
        else:
            run_export(_settings(data_dir), None, output)
    except FraudhawkError as error:
        raise click.ClickException(error.message) from None
    except Exception as error:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(error, ClientError | BotoCoreError):
            raise click.ClickException(f"reading AFD failed: {error}") from None
        raise


@main.command()
def operations() -> None:
    """List AFD's operations and whether this version implements each."""
    from fraudhawk.service.contract import operation_names
    from fraudhawk.service.operations import OPERATIONS

    for name in sorted(operation_names()):
        click.echo(f"{'yes' if name in OPERATIONS else 'no ':3}  {name}")


def _register() -> None:
    from fraudhawk.cli.pipelines import pipelines, runs_command

    main.add_command(pipelines)
    main.add_command(runs_command)


_register()
