"""Background work on model versions: training, and the activation steps AFD reports.

Training runs in its own worker thread (it takes minutes; imports should not wait behind it). A
version in TRAINING_IN_PROGRESS is claimed by one worker, which beats while it trains. Training
cannot resume half-way, so a version whose worker died (its process is gone, or it stopped beating)
is put in ERROR with the reason: never left in progress.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, delete, insert, select, update

from fraudhawk.catalog.values import utc_ms
from fraudhawk.context import Context, now_ms
from fraudhawk.events import paths
from fraudhawk.events.worker import STALE_MS, owner_is_gone
from fraudhawk.features.plan import VariableInfo
from fraudhawk.scoring.compiled import CompiledModel, CompileError
from fraudhawk.scoring.states import catch_up, new_token
from fraudhawk.storage import schema
from fraudhawk.training import artifacts, dataset, report, trainer
from fraudhawk.training.messages import Messages
from fraudhawk.training.versions import COMPLETE, TRAINING, version_text

log = logging.getLogger("fraudhawk.training")
_versions = schema.model_versions
BEAT_SECONDS = 5.0
CANCEL_POLL_SECONDS = 2.0


def _where(row: Any) -> Any:
    return and_(_versions.c.model_id == row.model_id, _versions.c.major == row.major, _versions.c.minor == row.minor)


def _end(ctx: Context, row: Any, owner: str, status: str, messages: Messages | None = None) -> None:
    """End this worker's training of `row` (if still its own) as `status`, with the reasons if any."""
    result = None if messages is None else json.dumps(report.failure(messages))
    with ctx.db.write() as conn:
        conn.execute(
            update(_versions)
            .where(_where(row), _versions.c.owner == owner, _versions.c.status == TRAINING)
            .values(status=status, training_result=result, owner=None, progress=None, updated_ms=now_ms())
        )


def _abandoned(ctx: Context, row: Any) -> None:
    """End a version whose worker died: cancelled if the caller asked for that, else ERROR.

    The update only applies if the row is exactly as read (same owner, same heartbeat), so a worker
    that is alive and beating never loses its training to a stale view.
    """
    messages = Messages()
    messages.file_error(
        "Training interrupted",
        "The process training this version stopped before it finished (it was killed or crashed): "
        "create a new version to train again",
    )
    values: dict[str, Any] = {"owner": None, "progress": None, "updated_ms": now_ms()}
    if row.cancel_requested:
        values["status"] = "TRAINING_CANCELLED"
    else:
        values.update(status="ERROR", training_result=json.dumps(report.failure(messages)))
    heartbeat = _versions.c.heartbeat_ms
    same_beat = heartbeat.is_(None) if row.heartbeat_ms is None else heartbeat == row.heartbeat_ms
    with ctx.db.write() as conn:
        conn.execute(
            update(_versions)
            .where(_where(row), _versions.c.owner == row.owner, same_beat, _versions.c.status == TRAINING)
            .values(**values)
        )


def run_pending(ctx: Context, owner: str, stopping: Callable[[], bool]) -> bool:
    with ctx.db.read() as conn:
        keys = conn.execute(
            select(_versions.c.model_id, _versions.c.major, _versions.c.minor)
            .where(_versions.c.status == TRAINING)
            .order_by(_versions.c.created_ms)
        ).all()
    worked = False
    for key in keys:
        if stopping():
            break
        with ctx.db.read() as conn:  # as it is now: an earlier training may have taken minutes
            row = conn.execute(select(_versions).where(_where(key), _versions.c.status == TRAINING)).first()
        if row is None:
            continue
        if row.owner is not None and row.owner != owner:
            if owner_is_gone(row.owner) or (row.heartbeat_ms or 0) < now_ms() - STALE_MS:
                _abandoned(ctx, row)
                worked = True
            continue
        if row.cancel_requested:
            with ctx.db.write() as conn:
                conn.execute(
                    update(_versions)
                    .where(_where(row), _versions.c.owner.is_(None), _versions.c.status == TRAINING)
                    .values(status="TRAINING_CANCELLED", progress=None, updated_ms=now_ms())
                )
            worked = True
            continue
        with ctx.db.write() as conn:
            claimed = conn.execute(
                update(_versions)
                .where(_where(row), _versions.c.owner.is_(None), _versions.c.status == TRAINING)
                .values(owner=owner, heartbeat_ms=now_ms(), progress="starting")
            ).rowcount
        if claimed:
            worked = True
            run_one(ctx, row, owner, stopping)
    return worked


class _Watch:
    """Progress, heartbeat and cancellation for one training, throttled to keep the store quiet."""

    def __init__(self, ctx: Context, row: Any, owner: str, stopping: Callable[[], bool]) -> None:
        self.ctx, self.row, self.owner, self.stopping = ctx, row, owner, stopping
        self.last_beat = 0.0
        self.last_poll = 0.0
        self.cancelled = False
        self.lost = False

    def progress(self, text: str) -> None:
        now = time.monotonic()
        if "round" in text and now - self.last_beat < BEAT_SECONDS:
            return  # boosting rounds come many a second; each new step is always shown
        self.last_beat = now
        with self.ctx.db.write() as conn:
            updated = conn.execute(
                update(_versions)
                .where(_where(self.row), _versions.c.owner == self.owner)
                .values(progress=text, heartbeat_ms=now_ms())
            ).rowcount
        self.lost = not updated

    def stop(self) -> bool:
        if self.stopping() or self.lost:
            return True
        now = time.monotonic()
        if now - self.last_poll >= CANCEL_POLL_SECONDS:
            self.last_poll = now
            with self.ctx.db.read() as conn:
                self.cancelled = bool(
                    conn.execute(select(_versions.c.cancel_requested).where(_where(self.row))).scalar()
                )
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
        return dataset.from_csv(location, names, messages), None
    window = json.loads(row.ingested_detail)["ingestedEventsTimeWindow"]
    low = utc_ms(window["startTime"], "startTime")
    high = utc_ms(window["endTime"], "endTime")
    with ctx.db.read(snapshot=True) as conn:  # the events, labels and index of one moment
        return dataset.from_store(conn, event_type, names), (low, high)


def _complete(
    ctx: Context,
    row: Any,
    owner: str,
    event_type: str,
    data: dataset.TrainingData,
    names: list[str],
    trained: trainer.Trained,
    result: dict[str, Any],
    digest: str,
) -> bool:
    """Mark the version complete and store its entity states in one transaction; False if the
    version was taken from this worker or cancelled meanwhile."""
    states = schema.entity_states
    with ctx.db.write() as conn:
        event_types = schema.event_types
        conn.execute(select(event_types.c.name).where(event_types.c.name == event_type).with_for_update())
        # a cancel accepted after the last check still wins: the caller was told it would
        conn.execute(
            update(_versions)
            .where(
                _where(row), _versions.c.owner == owner, _versions.c.status == TRAINING, _versions.c.cancel_requested
            )
            .values(status="TRAINING_CANCELLED", owner=None, progress=None, updated_ms=now_ms())
        )
        done = conn.execute(
            update(_versions)
            .where(_where(row), _versions.c.owner == owner, _versions.c.status == TRAINING)
            .values(
                status=COMPLETE,
                training_result=json.dumps(result),
                artifact_sha256=digest,
                history_spec=None if trained.plan.history is None else json.dumps(trained.plan.history.to_json()),
                owner=None,
                progress=None,
                updated_ms=now_ms(),
            )
        ).rowcount
        if done and row.training_source == "INGESTED_EVENTS" and trained.plan.history is not None:
            # events stored while the model trained: their entities' history moves on too
            catch_up(trained.plan.history, trained.states, dataset.later_events(conn, event_type, data, names))
        if done and trained.states:
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
    return bool(done)


def run_one(ctx: Context, row: Any, owner: str, stopping: Callable[[], bool]) -> None:
    watch = _Watch(ctx, row, owner, stopping)
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
        trained = trainer.train(data, request, watch.progress, watch.stop)
        # messages from loading the data come first, then the trainer's own
        trained.messages.file_level[:0] = messages.file_level
        trained.messages.field_level[:0] = messages.field_level
        manifest = report.manifest(model, version, row, trained)
        manifest["trainingRun"] = f"{owner}@{now_ms()}"
        parent = artifacts.version_folder(ctx.settings.data_dir, row.model_id, version)
        digest, target = artifacts.save(parent, trained.booster.model_to_string(), manifest)
        result = report.success(model.model_type, trained)
        try:
            done = _complete(ctx, row, owner, model.event_type, data, names, trained, result, digest)
        except BaseException:
            artifacts.remove(target)
            raise
        if not done:
            artifacts.remove(target)
    except trainer.TrainingFailed as failure:
        failure.messages.file_level[:0] = [m for m in messages.file_level if m not in failure.messages.file_level]
        failure.messages.field_level[:0] = [m for m in messages.field_level if m not in failure.messages.field_level]
        _end(ctx, row, owner, "ERROR", failure.messages)
    except trainer.Cancelled:
        if watch.cancelled:
            _end(ctx, row, owner, "TRAINING_CANCELLED")
        else:
            stopped = Messages()
            stopped.file_error(
                "Training interrupted",
                "The server stopped before training finished: create a new version to train again",
            )
            _end(ctx, row, owner, "ERROR", stopped)
    except Exception as error:
        log.exception("training %s %s failed", row.model_id, version)
        failed = Messages()
        failed.file_error(
            "Training failed",
            f"Training stopped on an internal error ({type(error).__name__}): the server log has details",
        )
        _end(ctx, row, owner, "ERROR", failed)


def load_version_model(ctx: Context, row: Any) -> Any:
    """The loaded model of a trained version (cached); ArtifactError if its files are gone or changed."""
    digest = row.artifact_sha256 or ""
    source = artifacts.folder(ctx.settings.data_dir, row.model_id, version_text(row.major, row.minor), digest)
    model = ctx.models.get(source, digest)
    model.trust_library(getattr(row, "compiled_sha256", None))
    return model


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
