"""Batch import jobs: CreateBatchImportJob and friends, and the runner that stores a CSV's events.

The runner commits one batch at a time together with the job's progress (the last line handled,
the counts, the rejected lines), so a job killed at any moment resumes after its last commit:
no event is stored twice or half, and no bad line is reported twice.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.compute as pc
from sqlalchemy import Connection, delete, insert, select

from fraudhawk.catalog.activity import IMPORT_ACTIVE, deletion_running
from fraudhawk.catalog.event_types import EventTypeSpec, load_spec
from fraudhawk.catalog.paging import one_or_page, with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.errors import ResourceNotFoundError, ValidationError
from fraudhawk.events import paths, rawimport, store
from fraudhawk.events.csvsource import LINE, CsvRecords, Rejected, read_csv
from fraudhawk.events.validate import Columns, map_header, missing_required, validate_batch
from fraudhawk.jobs import (
    CANCELLED,
    COMPLETE,
    Job,
    JobInterrupt,
    JobTable,
    Kind,
    Outcome,
    Stopping,
    explain,
    failed,
    request_cancel,
)
from fraudhawk.scoring import states
from fraudhawk.storage import schema

log = logging.getLogger("fraudhawk.imports")
ARN_TYPE = "batch-import"
ACTIVE = IMPORT_ACTIVE
_jobs = schema.batch_imports
_failures = schema.batch_import_failures
JOBS = JobTable(
    _jobs,
    key=("job_id",),
    active=ACTIVE,
    waiting="IN_PROGRESS_INITIALIZING",
    running="IN_PROGRESS",
    cancelling="CANCEL_IN_PROGRESS",
)
DONE = JOBS.ended_statuses


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    return len(path) == 1 and _job_exists(conn, path[0])


def _job_exists(conn: Connection, job_id: str) -> bool:
    query = select(_jobs.c.job_id).where(_jobs.c.job_id == job_id).with_for_update()
    return conn.execute(query).first() is not None


# --- operations -----------------------------------------------------------------------------------


def create_batch_import_job(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    job_id = req["jobId"]
    source = paths.resolve(ctx.settings, req["inputPath"], "inputPath")
    paths.resolve(ctx.settings, req["outputPath"], "outputPath")
    paths.check_readable(source, "inputPath")
    with ctx.db.write() as conn:
        spec = load_spec(conn, req["eventTypeName"])
        if deletion_running(conn, spec.name):
            raise ValidationError(f"The events of {spec.name} are being deleted: import once that is COMPLETE")
        if not spec.ingestion_enabled:
            raise ValidationError(
                f"Event ingestion is DISABLED for event type {spec.name}: enable it with PutEventType before importing"
            )
        previous = conn.execute(select(_jobs.c.status).where(_jobs.c.job_id == job_id)).scalar()
        if previous is not None:
            raise ValidationError(f"A batch import job with id {job_id} already exists (status {previous})")
        conn.execute(
            insert(_jobs).values(
                job_id=job_id,
                event_type=spec.name,
                input_path=req["inputPath"],
                output_path=req["outputPath"],
                iam_role_arn=req["iamRoleArn"],
                status="IN_PROGRESS_INITIALIZING",
                start_ms=now_ms(),
                processed=0,
                failed=0,
                total=0,
                records_done=1,  # the header line
                cancel_requested=False,
            )
        )
        apply_tags(conn, ctx.arns.build(ARN_TYPE, job_id), req.get("tags"))
    ctx.wake_jobs()
    return {}


def _to_wire(ctx: Context, row: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "jobId": row.job_id,
        "status": row.status,
        "startTime": iso_time(row.start_ms),
        "inputPath": row.input_path,
        "outputPath": row.output_path,
        "eventTypeName": row.event_type,
        "iamRoleArn": row.iam_role_arn,
        "arn": ctx.arns.build(ARN_TYPE, row.job_id),
        "processedRecordsCount": row.processed,
        "failedRecordsCount": row.failed,
        "totalRecordsCount": row.total,
    }
    if row.failure_reason:
        item["failureReason"] = row.failure_reason
    if row.completion_ms is not None:
        item["completionTime"] = iso_time(row.completion_ms)
    return item


def get_batch_import_jobs(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    missing = f"The batch import job {req.get('jobId')} does not exist"
    with ctx.db.read() as conn:
        rows, token = one_or_page(conn, select(_jobs), _jobs.c.job_id, req, "jobId", missing)
    return with_token({"batchImports": [_to_wire(ctx, row) for row in rows]}, token)


def cancel_batch_import_job(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    job_id = req["jobId"]
    with ctx.db.write() as conn:
        job = request_cancel(conn, JOBS, (job_id,))
        if job is None:
            raise ResourceNotFoundError(f"The batch import job {job_id} does not exist")
        if job.status in DONE:
            raise ValidationError(f"The batch import job {job_id} is {job.status} and cannot be cancelled")
    ctx.wake_jobs()
    return {}


def delete_batch_import_job(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    job_id = req["jobId"]
    with ctx.db.write() as conn:
        status = conn.execute(select(_jobs.c.status).where(_jobs.c.job_id == job_id).with_for_update()).scalar()
        if status is None:
            return {}
        if status not in DONE:
            raise ValidationError(f"The batch import job {job_id} is {status}: cancel it before deleting it")
        conn.execute(delete(_failures).where(_failures.c.job_id == job_id))
        conn.execute(delete(_jobs).where(_jobs.c.job_id == job_id))
        drop_tags(conn, ctx.arns.build(ARN_TYPE, job_id))
    return {}


# --- the runner -----------------------------------------------------------------------------------


def run_job(ctx: Context, job: Job) -> Outcome:
    """Store the file's events after the last committed line; the report is written whatever the
    outcome (but not when the worker stops or lost the job), before the job says it ended."""
    try:
        with job.step() as step:
            step.start()
        outcome = _import(ctx, job)
    except JobInterrupt:
        raise
    except Exception as error:  # the job, not the server, fails; the reason goes to the caller
        log.exception("batch import %s failed", job.row.job_id)
        outcome = failed(f"The import stopped: {explain(error)}")
    # The report is in place before the job says it is done, so a caller who sees COMPLETE finds it.
    problem = _write_report(ctx, job.row.job_id)
    _forget_converted(ctx, job.row.input_path)
    return failed(problem) if problem else outcome


def _forget_converted(ctx: Context, input_path: str) -> None:
    """A mapped import's converted copy (`fraudhawk import`, the console's mapping form) served only
    this job: it goes when the job ends, whoever started it and whether or not anyone watches."""
    source = Path(input_path)
    if source.is_absolute() and source.parent == rawimport.work_area(ctx.settings.data_dir):
        source.unlink(missing_ok=True)


def kind(ctx: Context) -> Kind:
    return Kind("batch import", JOBS, partial(run_job, ctx))


def _check_numbered(rejected: list[Rejected]) -> None:
    """Every rejected line must be reported by number; fail the job rather than drop one."""
    for item in rejected:
        if item.line <= 0:
            raise ValueError(f"could not tell the line number of a malformed record: {(item.raw or '')[:200]!r}")


@dataclass
class _Step:
    """One batch made ready for storing: validated rows, their encoded segment, rejections."""

    good: pl.DataFrame
    segment: store.Segment
    rejected: list[Rejected]
    parser_rejected: list[Rejected]
    last: int


class _Prepared:
    """Reads, validates and encodes batches on a second thread, while the caller stores the previous
    one: parsing and encoding (pyarrow, polars) overlap the database work, on a two-core machine
    nearly halving an import's time. At most two batches wait, so memory stays bounded."""

    _END = object()

    def __init__(self, records: CsvRecords, spec: EventTypeSpec, columns: Columns, done: int) -> None:
        self._records, self._spec, self._columns, self._done = records, spec, columns, done
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fraudhawk-import-reader", daemon=True)
        self.leftover_rejected: list[Rejected] = []

    def __enter__(self) -> _Prepared:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.1)
        self._thread.join()

    def __iter__(self) -> Iterator[_Step]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, item: Any) -> bool:
        while not self._halt.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            done = self._done
            for parsed in self._records.batches():
                if self._halt.is_set():
                    return
                lines = parsed.column(0)
                if parsed.num_rows == 0:
                    continue
                last = lines[parsed.num_rows - 1].as_py()
                if last <= done:
                    continue
                batch = parsed.filter(pc.greater(lines, done)) if lines[0].as_py() <= done else parsed
                good, sizes, rejected = validate_batch(self._spec, self._columns, batch)
                segment = store.prepare_segment(good.drop(LINE), sizes)
                parser_rejected = self._records.take_rejected()
                _check_numbered(parser_rejected)
                if not self._put(_Step(good, segment, rejected, parser_rejected, last)):
                    return
                done = last
            self.leftover_rejected = self._records.take_rejected()
            _check_numbered(self.leftover_rejected)
            self._put(self._END)
        except BaseException as error:  # handed to the consuming thread, which fails the job
            self._put(error)


def _import(ctx: Context, job: Job) -> Outcome:
    row = job.row
    location = paths.resolve(ctx.settings, row.input_path, "inputPath")
    with paths.open_input(location) as raw:
        try:
            records = read_csv(raw, ctx.settings.csv_max_record_bytes)
        except ValueError as error:
            return failed(str(error))
        if not records.header:
            return failed("The input file is empty: it needs a header line and events")
        with ctx.db.read() as conn:
            spec = load_spec(conn, row.event_type)
        columns = map_header(spec, records.header)
        missing = missing_required(columns)
        if missing:
            return failed(f"The header lacks the required column(s) {', '.join(missing)}")
        done = row.records_done
        header_notes = []
        if columns.ignored and done <= 1:
            header_notes.append(
                Rejected(
                    1,
                    f"column(s) {', '.join(columns.ignored)} are not variables of event type {spec.name}; "
                    "their values were not stored",
                )
            )
        pending: list[Rejected] = []
        with _Prepared(records, spec, columns, done) as prepared:
            for batch in prepared:
                if job.stopping():
                    raise Stopping
                pending += batch.parser_rejected
                cancel = _commit(job, spec.name, batch, [*header_notes, *batch.rejected], pending, batch.last, done)
                header_notes = []
                done = batch.last
                if cancel:
                    return CANCELLED
            pending += prepared.leftover_rejected
        final = max([done, *(r.line for r in pending)])
        _commit(job, spec.name, None, header_notes, pending, final, done)
    return COMPLETE


def _commit(
    job: Job,
    event_type: str,
    batch: _Step | None,
    rejected: list[Rejected],
    pending: list[Rejected],
    upto: int,
    done: int,
) -> bool:
    """Store one batch with the job's progress in a single step; say whether the job was cancelled."""
    # Lines the parser rejected belong to this step once the step has reached them.
    due = [r for r in pending if done < r.line <= upto]
    pending[:] = [r for r in pending if r.line > upto]
    failures = [r for r in [*rejected, *due] if r.line > done or r.line == 1]
    stored = 0
    job_id = job.row.job_id
    with job.step() as step:
        conn, row = step.conn, step.row
        if (
            failures
            and failures[0].line == 1
            and conn.execute(
                select(_failures.c.line).where(_failures.c.job_id == job_id, _failures.c.line == 1)
            ).first()
        ):
            failures = failures[1:]  # the header note of a resumed job is already recorded
        if batch is not None and batch.good.height:
            good = batch.good
            taken = store.store_batch(conn, event_type, batch.segment)
            if taken:
                already = good.filter(good["EVENT_ID"].is_in(taken))
                for line, event_id in already.select(LINE, "EVENT_ID").iter_rows():
                    reason = f"EVENT_ID '{event_id}' is already stored for event type {event_type}"
                    failures.append(Rejected(int(line), reason))
            stored = good.height - len(taken)
            fresh = batch.segment.frame
            if taken:
                fresh = fresh.filter(~fresh["EVENT_ID"].is_in(taken))
            states.advance(conn, event_type, fresh)
        counted = [r for r in failures if r.line != 1]
        if failures:
            conn.execute(
                insert(_failures),
                [{"job_id": job_id, "line": r.line, "reason": r.reason, "raw": r.raw} for r in failures],
            )
        step.progress(
            processed=row.processed + stored,
            failed=row.failed + len(counted),
            total=row.total + stored + len(counted),
            records_done=upto,
        )
    return step.cancel_requested


def _write_report(ctx: Context, job_id: str) -> str | None:
    """The failed lines, sorted, at the job's outputPath, written whole or not at all; or why not."""
    with ctx.db.read() as conn:
        job = conn.execute(select(_jobs).where(_jobs.c.job_id == job_id)).one()
        rows = conn.execute(
            select(_failures.c.line, _failures.c.reason, _failures.c.raw)
            .where(_failures.c.job_id == job_id)
            .order_by(_failures.c.line)
        ).all()
    text = io.StringIO()
    out = csv.writer(text)
    out.writerow(["LINE_NUMBER", "REASON", "RECORD"])
    for row in rows:
        out.writerow([row.line, row.reason, row.raw or ""])
    try:
        target = paths.report_location(
            paths.resolve(ctx.settings, job.output_path, "outputPath"), f"{job_id}_failed_records.csv"
        )
        report = text.getvalue().encode("utf-8")
        paths.write_atomically(target, lambda out: out.write(report))
    except Exception as error:
        log.exception("batch import %s: could not write its report", job_id)
        return f"The events were stored, but the report could not be written: {explain(error)}"
    return None
