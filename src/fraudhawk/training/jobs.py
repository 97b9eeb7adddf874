"""Background work on model versions: training, and the activation steps AFD reports.

A model version in TRAINING_IN_PROGRESS is a job (`versions.JOBS`), run by a worker of its own (it
takes minutes; imports should not wait behind it), which beats while it trains. Training cannot
resume half-way, so a version whose worker died (its process is gone, or it stopped beating) is put
in ERROR with the reason: never left in progress.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import and_, delete, insert, select, update

from fraudhawk.catalog.values import utc_ms
from fraudhawk.catalog.version_numbers import version_text
from fraudhawk.context import Context, now_ms
from fraudhawk.events import paths
from fraudhawk.features.plan import VariableInfo
from fraudhawk.jobs import CANCELLED, Cancelled, End, Job, Kind, LostClaim, Outcome, Stopping, failed
from fraudhawk.scoring import artifacts
from fraudhawk.scoring.compiled import CompiledModel, CompileError
from fraudhawk.scoring.model import load_version_model
from fraudhawk.scoring.states import catch_up, new_token
from fraudhawk.storage import schema
from fraudhawk.training import ati, dataset, report, trainer
from fraudhawk.training.messages import Messages
from fraudhawk.training.versions import COMPLETE, JOBS

log = logging.getLogger("fraudhawk.training")
_versions = schema.model_versions
BEAT_SECONDS = 5.0
CANCEL_POLL_SECONDS = 2.0


def _where(row: Any) -> Any:
    return and_(_versions.c.model_id == row.model_id, _versions.c.major == row.major, _versions.c.minor == row.minor)


def _error(title: str, text: str) -> Outcome:
    messages = Messages()
    messages.file_error(title, text)
    return _failed(messages)


def _failed(messages: Messages) -> Outcome:
    """ERROR, with AFD-style reasons in the version's training result."""
    return failed(training_result=json.dumps(report.failure(messages)))


def kind(ctx: Context) -> Kind:
    interrupted = _error(
        "Training interrupted",
        "The process training this version stopped before it finished (it was killed or crashed): "
        "create a new version to train again",
    )
    return Kind("training", JOBS, partial(run_one, ctx), resumable=False, interruption=interrupted, crashed=_crashed)


def _crashed(error: Exception) -> Outcome:
    return _error(
        "Training failed",
        f"Training stopped on an internal error ({type(error).__name__}): the server log has details",
    )


class _Watch:
    """Progress, heartbeat and cancellation for one training, throttled to keep the store quiet."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.last_beat = 0.0
        self.last_poll = 0.0
        self.cancelled = False
        self.lost = False

    def progress(self, text: str) -> None:
        now = time.monotonic()
        if "round" in text and now - self.last_beat < BEAT_SECONDS:
            return  # boosting rounds come many a second; each new step is always shown
        self.last_beat = now
        try:
            self.job.beat(progress=text)
        except Stopping:
            pass  # `stop` says so to the trainer
        except Cancelled:
            self.cancelled = True
        except LostClaim:
            self.lost = True

    def stop(self) -> bool:
        if self.job.stopping() or self.lost or self.cancelled:
            return True
        now = time.monotonic()
        if now - self.last_poll >= CANCEL_POLL_SECONDS:
            self.last_poll = now
            self.cancelled = self.job.cancel_requested()
        return self.cancelled


def _variables(ctx: Context, names: list[str]) -> list[VariableInfo]:
    table = schema.variables
    with ctx.db.read() as conn:
        rows = {
            row.name: row
            for row in conn.execute(
                select(table.c.name, table.c.data_type, table.c.variable_type).where(table.c.name.in_(names))
            )
        }
    infos = []
    for name in names:
        row = rows.get(name)
        if row is None:
            raise ValueError(f"the model variable {name} no longer exists")
        infos.append(VariableInfo(name, row.data_type, row.variable_type or "CATEGORICAL"))
    return infos


def _load_data(
    ctx: Context, row: Any, event_type: str, names: list[str], messages: Messages
) -> tuple[dataset.TrainingData, tuple[int, int] | None]:
    if row.training_source == "EXTERNAL_EVENTS":
        detail = json.loads(row.external_detail)
        location = paths.resolve(ctx.settings, detail["dataLocation"], "externalEventsDetail.dataLocation")
        return dataset.from_csv(location, names, messages, ctx.settings.csv_max_record_bytes), None
    window = json.loads(row.ingested_detail)["ingestedEventsTimeWindow"]
    low = utc_ms(window["startTime"], "startTime")
    high = utc_ms(window["endTime"], "endTime")
    with ctx.db.read(snapshot=True) as conn:  # the events, labels and index of one moment
        return dataset.from_store(conn, event_type, names), (low, high)


def _complete(
    ctx: Context,
    job: Job,
    event_type: str,
    data: dataset.TrainingData,
    names: list[str],
    trained: trainer.Trained,
    result: dict[str, Any],
    digest: str,
) -> bool:
    """Mark the version complete and store its entity states in one transaction; False if the
    version was taken from this worker or cancelled meanwhile (then it has ended so)."""
    row = job.row
    states = schema.entity_states
    with ctx.db.write() as conn:
        event_types = schema.event_types
        conn.execute(select(event_types.c.name).where(event_types.c.name == event_type).with_for_update())
        try:
            with job.step(conn) as step:
                if step.cancel_requested:  # a cancel accepted after the last check still wins: the caller was told
                    step.finish(CANCELLED)
                    return False
                history = trained.plan.history
                values = {
                    "training_result": json.dumps(result),
                    "artifact_sha256": digest,
                    "history_spec": None if history is None else json.dumps(history.to_json()),
                }
                step.finish(Outcome(End.COMPLETE, values=values))
        except LostClaim:
            return False
        if row.training_source == "INGESTED_EVENTS" and trained.plan.history is not None:
            # events stored while the model trained: their entities' history moves on too
            catch_up(trained.plan.history, trained.states, dataset.later_events(conn, event_type, data, names))
        if trained.states:
            keys = {"model_id": row.model_id, "major": row.major, "minor": row.minor}
            # no leftovers of an earlier version that had this number may mix in
            conn.execute(delete(states).where(*(states.c[k] == v for k, v in keys.items())))
            conn.execute(
                insert(states),
                [
                    {**keys, "entity_id": entity, "state": s.to_bytes(), "seq": new_token()}
                    for entity, s in trained.states.items()
                ],
            )
    return True


def run_one(ctx: Context, job: Job) -> Outcome:
    """Train the claimed version; how its training ended (COMPLETE is written with its states)."""
    row = job.row
    watch = _Watch(job)
    version = version_text(row.major, row.minor)
    messages = Messages()
    try:
        with ctx.db.read() as conn:
            model = conn.execute(select(schema.models).where(schema.models.c.model_id == row.model_id)).one()
        training_schema = json.loads(row.training_schema)
        names = list(training_schema["modelVariables"])
        label_schema = training_schema.get("labelSchema") or {}
        watch.progress("checking the data")
        data, window = _load_data(ctx, row, model.event_type, names, messages)
        if messages.has_errors:
            raise trainer.TrainingFailed(messages)
        request = trainer.Request(
            model_type=model.model_type,
            variables=_variables(ctx, names),
            label_mapper=label_schema.get("labelMapper", {}),
            unlabeled=label_schema.get("unlabeledEventsTreatment", "IGNORE"),
            window=window,
        )
        train = ati.train if model.model_type == ati.MODEL_TYPE else trainer.train
        trained = train(data, request, watch.progress, watch.stop)
        # messages from loading the data come first, then the trainer's own
        trained.messages.file_level[:0] = messages.file_level
        trained.messages.field_level[:0] = messages.field_level
        manifest = report.manifest(model, version, row, trained)
        manifest["trainingRun"] = f"{job.owner}@{now_ms()}"
        parent = artifacts.version_folder(ctx.settings.data_dir, row.model_id, version)
        digest, target = artifacts.save(parent, trained.booster.model_to_string(), manifest)
        result = report.success(model.model_type, trained)
        try:
            done = _complete(ctx, job, model.event_type, data, names, trained, result, digest)
        except BaseException:
            artifacts.remove(target)
            raise
        if not done:
            artifacts.remove(target)
        return Outcome(End.COMPLETE)  # written by `_complete`, or the version ended otherwise meanwhile
    except trainer.TrainingFailed as failure:
        failure.messages.file_level[:0] = [m for m in messages.file_level if m not in failure.messages.file_level]
        failure.messages.field_level[:0] = [m for m in messages.field_level if m not in failure.messages.field_level]
        return _failed(failure.messages)
    except trainer.Cancelled:
        if watch.cancelled:
            return CANCELLED
        if watch.lost:
            raise LostClaim from None
        return _error(
            "Training interrupted", "The server stopped before training finished: create a new version to train again"
        )


# --- activation -------------------------------------------------------------------------------------

COMPILE_TIMEOUT_S = 600.0
_STEPS = {
    "ACTIVATE_REQUESTED": "ACTIVATE_IN_PROGRESS",
    "INACTIVATE_REQUESTED": "INACTIVATE_IN_PROGRESS",
    "INACTIVATE_IN_PROGRESS": COMPLETE,
}


def _compile(model: Any, row: Any) -> str | None:
    """Compile the version's trees to native code (identical scores, faster) while it activates; a
    machine without a C compiler, or a failure, leaves LightGBM scoring it. Returns the library's
    SHA-256, which the store keeps: only that file is ever loaded for the version."""
    if model.folder is None:
        return None
    try:
        return CompiledModel.build(model.model_text, model.folder, timeout_s=COMPILE_TIMEOUT_S).sha256
    except CompileError as error:
        log.warning(
            "model version %s %s.%s is scored with LightGBM: %s %s",
            row.model_id,
            row.major,
            row.minor,
            error.message,
            error.detail[-2000:],
        )
    return None


def run_status_changes(ctx: Context, owner: str, stopping: Callable[[], bool]) -> bool:
    """Move versions through AFD's deploy states; activating loads and verifies the artifact first."""
    with ctx.db.read() as conn:
        rows = conn.execute(select(_versions).where(_versions.c.status.in_([*_STEPS, "ACTIVATE_IN_PROGRESS"]))).all()
    for row in rows:
        if stopping():
            break
        following = _STEPS.get(row.status)
        values: dict[str, Any] = {}
        if row.status == "ACTIVATE_IN_PROGRESS":
            following = "ACTIVE"
            try:
                model = load_version_model(ctx, row)
            except Exception as error:
                log.error("model version %s %s cannot be activated: %s", row.model_id, row.major, error)
                following = COMPLETE
            else:
                values["compiled_sha256"] = _compile(model, row)
        with ctx.db.write() as conn:
            conn.execute(
                update(_versions)
                .where(_where(row), _versions.c.status == row.status)
                .values(status=following, updated_ms=now_ms(), **values)
            )
    return bool(rows)
