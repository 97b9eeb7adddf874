"""Pipeline runs: one row per (pipeline, file, content), inserted by whoever sees the file first, and
a job of the job framework (`JOBS`) until it ends."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, insert, select, update

from fraudhawk.errors import ResourceNotFoundError, ValidationError
from fraudhawk.jobs import JobTable
from fraudhawk.storage import schema
from fraudhawk.storage.clock import now_ms
from fraudhawk.storage.database import Database
from fraudhawk.storage.errors import Fault, fault

_runs = schema.pipeline_runs
QUEUED, RUNNING, WAITING = "QUEUED", "RUNNING", "WAITING"
SUCCEEDED, FAILED, CANCELLED = "SUCCEEDED", "FAILED", "CANCELLED"
ACTIVE = (QUEUED, RUNNING, WAITING)
STATUSES = (*ACTIVE, SUCCEEDED, FAILED, CANCELLED)
JOBS = JobTable(
    _runs,
    key=("run_id",),
    active=ACTIVE,
    complete=SUCCEEDED,
    failed=FAILED,
    cancelled=CANCELLED,
    waiting=QUEUED,
    running=RUNNING,
    order=("created_ms", "run_id"),
    # the run sees a cancel itself (`run.py`), so that it cancels the job it started before it ends
    cancel_requested=None,
    ended="ended_ms",
    cleared=("detail",),
)


def record(db: Database, pipeline: str, key: str, size: int, checksum: str, mtime_ms: int, action: str) -> str | None:
    """Record a run for the file, unless one exists for this pipeline, key and content: the new run's
    id, or None when another process (or an earlier scan) recorded it first."""
    run_id = uuid.uuid4().hex[:20]
    values = {
        "run_id": run_id,
        "pipeline": pipeline,
        "file_key": key,
        "size": size,
        "checksum": checksum,
        "mtime_ms": mtime_ms,
        "action": action,
        "status": QUEUED,
        "stage": "start",
        "result": "{}",
        "attempts": 1,
        "cancel_requested": False,
        "created_ms": now_ms(),
    }
    try:
        with db.write() as conn:
            conn.execute(insert(_runs).values(values))
    except Exception as error:
        if fault(error) is Fault.UNIQUE_VIOLATION:
            return None
        raise
    return run_id


def known(db: Database, pipeline: str) -> set[tuple[str, int, int]]:
    """(key, size, mtime) of every file this pipeline has a run for: files a scan need not read again."""
    query = select(_runs.c.file_key, _runs.c.size, _runs.c.mtime_ms).where(_runs.c.pipeline == pipeline)
    with db.read() as conn:
        return {(row.file_key, row.size, row.mtime_ms or 0) for row in conn.execute(query)}


def known_checksums(db: Database, pipeline: str, key: str) -> set[str]:
    query = select(_runs.c.checksum).where(_runs.c.pipeline == pipeline, _runs.c.file_key == key)
    with db.read() as conn:
        return {row.checksum for row in conn.execute(query)}


def as_dict(row: Any) -> dict[str, Any]:
    result = json.loads(row.result)
    result.pop("pipeline", None)  # the pipeline as the run began (kept for a run whose pipeline is deleted)
    return {
        "runId": row.run_id,
        "pipeline": row.pipeline,
        "file": row.file_key,
        "size": row.size,
        "checksum": row.checksum,
        "action": row.action,
        "status": row.status,
        "stage": row.stage,
        "detail": row.detail,
        "result": result,
        "error": row.failure_reason,
        "attempts": row.attempts,
        "cancelRequested": bool(row.cancel_requested),
        "createdMs": row.created_ms,
        "startedMs": row.started_ms,
        "endedMs": row.ended_ms,
    }


def list_runs(
    db: Database, pipeline: str | None = None, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Runs, newest first."""
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status: must be one of {', '.join(STATUSES)}, not {status!r}")
    query = select(_runs).order_by(_runs.c.created_ms.desc(), _runs.c.run_id.desc()).limit(limit)
    if pipeline is not None:
        query = query.where(_runs.c.pipeline == pipeline)
    if status is not None:
        query = query.where(_runs.c.status == status)
    with db.read() as conn:
        return [as_dict(row) for row in conn.execute(query)]


def get_run(db: Database, run_id: str) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(select(_runs).where(_runs.c.run_id == run_id)).first()
    if row is None:
        raise ResourceNotFoundError(f"There is no pipeline run {run_id!r}")
    return as_dict(row)


def last_runs(db: Database) -> dict[str, dict[str, Any]]:
    """Each pipeline's newest run."""
    newest = (
        select(_runs.c.pipeline, func.max(_runs.c.created_ms).label("created_ms")).group_by(_runs.c.pipeline).subquery()
    )
    query = select(_runs).join(
        newest, (newest.c.pipeline == _runs.c.pipeline) & (newest.c.created_ms == _runs.c.created_ms)
    )
    with db.read() as conn:
        return {row.pipeline: as_dict(row) for row in conn.execute(query)}


def retry(db: Database, run_id: str) -> None:
    """Run a failed or cancelled run again from its start (its work files are made anew); what it made
    before stays recorded in its result under `previous`."""
    with db.write() as conn:
        row = conn.execute(select(_runs).where(_runs.c.run_id == run_id).with_for_update()).first()
        if row is None:
            raise ResourceNotFoundError(f"There is no pipeline run {run_id!r}")
        if row.status not in (FAILED, CANCELLED):
            raise ValidationError(f"Run {run_id} is {row.status}: only a FAILED or CANCELLED run can be retried")
        result = json.loads(row.result)
        previous = [*result.pop("previous", []), result] if result else result.pop("previous", [])
        conn.execute(
            update(_runs)
            .where(_runs.c.run_id == run_id)
            .values(
                status=QUEUED,
                stage="start",
                detail=None,
                failure_reason=None,
                ended_ms=None,
                result=json.dumps({"previous": previous} if previous else {}),
                attempts=row.attempts + 1,
                cancel_requested=False,
            )
        )


def cancel(db: Database, run_id: str) -> str:
    """Cancel a run: one no worker holds that has not started ends at once; any other stops at its
    next step or claim, cancelling the import, batch prediction or training it started. The run's
    status after the request."""
    with db.write() as conn:
        row = conn.execute(select(_runs).where(_runs.c.run_id == run_id).with_for_update()).first()
        if row is None:
            raise ResourceNotFoundError(f"There is no pipeline run {run_id!r}")
        if row.status not in ACTIVE:
            raise ValidationError(f"Run {run_id} is {row.status}: it has ended")
        if row.status == QUEUED and row.owner is None:
            ended = {"status": CANCELLED, "ended_ms": now_ms(), "detail": None}
            conn.execute(update(_runs).where(_runs.c.run_id == run_id).values(ended))
            return CANCELLED
        conn.execute(update(_runs).where(_runs.c.run_id == run_id).values(cancel_requested=True, detail="cancelling"))
        return str(row.status)


def describe_result(run: dict[str, Any]) -> str:
    """What a run made, in a few words."""
    result = run["result"]
    said = []
    if "importJob" in result:
        said.append(f"import {result['importJob']}")
    if "modelVersion" in result:
        auc = f" (AUC {result['auc']:.4f})" if result.get("auc") is not None else ""
        said.append(f"version {result['modelVersion']}{auc}")
    if "activation" in result:
        said.append(
            "activated" if result["activation"]["activate"] else f"kept inactive: {result['activation']['why']}"
        )
    if result.get("detectorVersion"):
        said.append(f"detector version {result['detectorVersion']['version']}")
    if "output" in result:
        said.append(f"output {result['output']}")
    return "; ".join(said)
