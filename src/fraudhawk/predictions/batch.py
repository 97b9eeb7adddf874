"""Batch prediction jobs: CreateBatchPredictionJob and friends, and the runner that scores a CSV with a
detector version and writes a CSV of results.

A job scores every event of its input as GetEventPrediction would (see `batch_scoring`), but stores
nothing: no event, no entity state, no prediction record. AFD runs one job at a time per account;
fraudhawk queues instead of refusing: a second job waits in IN_PROGRESS_INITIALIZING until the running
one ends, and jobs start in the order they were created.

The results are written once, whole, when the scoring is done (`paths.write_atomically`), to
`<jobId>_<epoch seconds>_output.csv` in outputPath (or to outputPath itself when it names a .csv
file). A job interrupted by a crash or a shutdown starts its scoring again from the beginning and
writes the same file, so a reader never sees half a file or two.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import IO, Any

import numpy as np
import polars as pl
import pyarrow as pa
from sqlalchemy import Connection, delete, insert, select

from fraudhawk.catalog.paging import one_or_page, with_token
from fraudhawk.catalog.tags import apply_tags, drop_tags
from fraudhawk.context import Context, iso_time, now_ms
from fraudhawk.detectors.detectors import load_detector
from fraudhawk.errors import FraudhawkError, ResourceNotFoundError, ValidationError
from fraudhawk.eventdata import layout
from fraudhawk.events import paths
from fraudhawk.events.csvsource import LINE, Rejected, read_csv
from fraudhawk.events.validate import Columns, map_header, missing_required, validate_batch
from fraudhawk.features.history import EntityState
from fraudhawk.jobs import Deferred, End, Failed, Job, JobTable, Kind, Outcome, explain, failed, request_cancel
from fraudhawk.predictions import batch_scoring
from fraudhawk.predictions.plan import DetectorPlan, resolve_version
from fraudhawk.scoring import states
from fraudhawk.scoring.states import Tracked
from fraudhawk.storage import schema

log = logging.getLogger("fraudhawk.batch_predictions")
ARN_TYPE = "batch-prediction"
WAITING = "IN_PROGRESS_INITIALIZING"
ACTIVE = (WAITING, "IN_PROGRESS", "CANCEL_IN_PROGRESS")
SUCCESS = "Success"
INVALID_EVENT = "INVALID_EVENT"  # a record read, but not an event GetEventPrediction would evaluate
MALFORMED_RECORD = "MALFORMED_RECORD"  # a line that is no CSV record of the header's columns
STATUS = "STATUS"
WRITE_STEP = 100_000  # report rows joined and encoded at a time
OUTPUT_COLUMNS = (
    batch_scoring.MODEL_SCORES,
    batch_scoring.OUTCOMES,
    batch_scoring.RULE_RESULTS,
    STATUS,
    batch_scoring.ERROR,
)
_PROBLEM = "__problem__"
_jobs = schema.batch_predictions
JOBS = JobTable(
    _jobs,
    key=("job_id",),
    active=ACTIVE,
    waiting=WAITING,
    running="IN_PROGRESS",
    cancelling="CANCEL_IN_PROGRESS",
    order=("start_ms", "job_id"),
)
DONE = JOBS.ended_statuses


def taggable(conn: Connection, path: tuple[str, ...]) -> bool:
    return len(path) == 1 and _job_exists(conn, path[0])


def _job_exists(conn: Connection, job_id: str) -> bool:
    query = select(_jobs.c.job_id).where(_jobs.c.job_id == job_id).with_for_update()
    return conn.execute(query).first() is not None


# --- operations -----------------------------------------------------------------------------------


def create_batch_prediction_job(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    """Queue a job. The detector version is fixed now: the one named, else the detector's ACTIVE one."""
    job_id = req["jobId"]
    source = paths.resolve(ctx.settings, req["inputPath"], "inputPath")
    paths.resolve(ctx.settings, req["outputPath"], "outputPath")
    paths.check_readable(source, "inputPath")
    with ctx.db.write() as conn:
        detector = load_detector(conn, req["detectorName"])
        if detector.event_type != req["eventTypeName"]:
            raise ValidationError(
                f"eventTypeName: detector {detector.detector_id} evaluates events of type {detector.event_type}, "
                f"not {req['eventTypeName']}"
            )
        version = resolve_version(conn, detector.detector_id, req.get("detectorVersion"))
        previous = conn.execute(select(_jobs.c.status).where(_jobs.c.job_id == job_id)).scalar()
        if previous is not None:
            raise ValidationError(f"A batch prediction job with id {job_id} already exists (status {previous})")
        conn.execute(
            insert(_jobs).values(
                job_id=job_id,
                event_type=detector.event_type,
                detector_id=detector.detector_id,
                detector_version=version.version,
                input_path=req["inputPath"],
                output_path=req["outputPath"],
                iam_role_arn=req["iamRoleArn"],
                status=WAITING,
                start_ms=now_ms(),
                processed=0,
                total=0,
                failed=0,
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
        "detectorName": row.detector_id,
        # AFD answers the version number as the request gave it ("1"), though its model says "1.0"
        "detectorVersion": str(row.detector_version),
        "iamRoleArn": row.iam_role_arn,
        "arn": ctx.arns.build(ARN_TYPE, row.job_id),
        "processedRecordsCount": row.processed,
        "totalRecordsCount": row.total,
    }
    if row.failure_reason:
        item["failureReason"] = row.failure_reason
    if row.completion_ms is not None:
        item["completionTime"] = iso_time(row.completion_ms)
    if row.heartbeat_ms is not None:
        item["lastHeartbeatTime"] = iso_time(row.heartbeat_ms)
    return item


def get_batch_prediction_jobs(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    missing = f"The batch prediction job {req.get('jobId')} does not exist"
    with ctx.db.read() as conn:
        rows, token = one_or_page(conn, select(_jobs), _jobs.c.job_id, req, "jobId", missing)
    return with_token({"batchPredictions": [_to_wire(ctx, row) for row in rows]}, token)


def cancel_batch_prediction_job(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    """A job no worker holds yet is CANCELED at once; a running one at its next step."""
    job_id = req["jobId"]
    with ctx.db.write() as conn:
        job = request_cancel(conn, JOBS, (job_id,))
        if job is None:
            raise ResourceNotFoundError(f"The batch prediction job {job_id} does not exist")
        if job.status in DONE:
            raise ValidationError(f"The batch prediction job {job_id} is {job.status} and cannot be cancelled")
    ctx.wake_jobs()
    return {}


def delete_batch_prediction_job(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    """Forget a finished job (its output file stays); a job not finished must be cancelled first."""
    job_id = req["jobId"]
    with ctx.db.write() as conn:
        status = conn.execute(select(_jobs.c.status).where(_jobs.c.job_id == job_id).with_for_update()).scalar()
        if status is None:
            return {}
        if status not in DONE:
            raise ValidationError(f"The batch prediction job {job_id} is {status}: cancel it before deleting it")
        conn.execute(delete(_jobs).where(_jobs.c.job_id == job_id))
        drop_tags(conn, ctx.arns.build(ARN_TYPE, job_id))
    return {}


@dataclass(frozen=True)
class Outputs:
    """What GetBatchPredictionJobs does not say of a job: where a COMPLETE job wrote its results (AFD
    leaves the name to be found in outputPath; None until then), and how many records could not be
    evaluated (their rows say why)."""

    output_file: str | None
    failed: int


def outputs(ctx: Context, job_id: str) -> Outputs:
    with ctx.db.read() as conn:
        query = select(_jobs.c.status, _jobs.c.output_file, _jobs.c.failed).where(_jobs.c.job_id == job_id)
        row = conn.execute(query).first()
    if row is None:
        raise ResourceNotFoundError(f"The batch prediction job {job_id} does not exist")
    done = row.status == "COMPLETE" and row.output_file
    return Outputs(str(row.output_file) if done else None, int(row.failed or 0))


# --- the runner -----------------------------------------------------------------------------------


def run_job(ctx: Context, job: Job) -> Outcome:
    """Run one claimed job to its end: read, check, score, write; Deferred while another job runs."""
    started = _start(ctx, job)
    total = _Run(ctx, started, job).run()
    return Outcome(End.COMPLETE, values={"processed": total})


def _crashed(error: Exception) -> Outcome:
    return failed(f"The batch prediction stopped: {explain(error)}")


def kind(ctx: Context) -> Kind:
    return Kind("batch prediction", JOBS, partial(run_job, ctx), crashed=_crashed)


def _start(ctx: Context, job: Job) -> Any:
    """Mark the claimed job IN_PROGRESS and give it its output location; Deferred while another job
    runs, so one job runs at a time. The active jobs are locked together (before the job's own step),
    so two workers cannot both start one."""
    with ctx.db.write() as conn:
        active = conn.execute(select(_jobs).where(_jobs.c.status.in_(ACTIVE)).with_for_update()).all()
        with job.step(conn) as step:
            row = step.row
            running = [
                other
                for other in active
                if other.job_id != row.job_id
                and (
                    other.status == "IN_PROGRESS" or (other.status == "CANCEL_IN_PROGRESS" and other.owner is not None)
                )
            ]
            if row.status == WAITING and running:
                raise Deferred
            output_file = row.output_file
            if output_file is None:
                # The name is fixed at the first start, so a job started again replaces the same file.
                folder = paths.resolve(ctx.settings, row.output_path, "outputPath")
                output_file = paths.report_location(folder, f"{row.job_id}_{now_ms() // 1000}_output.csv").text
            step.start()
            step.progress(processed=0, total=0, failed=0, output_file=output_file)
        return conn.execute(select(_jobs).where(_jobs.c.job_id == row.job_id)).one()


@dataclass
class _Read:
    """The input file, read and checked: every record (for the output), and the records that cannot
    be evaluated, with why. The valid events go their own way (`_Run._read`), so that a job holds
    them once, as checked, not also as read."""

    header: list[str]
    records: pa.Table  # LINE, then the file's columns (as c0, c1, ...: header names may clash)
    invalid: list[Rejected]
    malformed: list[Rejected]

    @property
    def total(self) -> int:
        return int(self.records.num_rows) + len(self.malformed)


class _Run:
    """One run of a claimed, started job (`job`, as started): read, check, score, write; progress
    committed on the way (the claim's `beat`)."""

    def __init__(self, ctx: Context, job: Any, claim: Job) -> None:
        self.ctx, self.job, self.claim = ctx, job, claim
        self.processed = 0
        self.total = 0
        self.failed = 0  # records that cannot be evaluated (INVALID_EVENT or MALFORMED_RECORD in the output)

    def beat(self, done: int = 0) -> None:
        """Count `done` more records processed, and commit the progress and the heartbeat; stop if
        asked to, cancelled, or no longer ours."""
        self.processed += done
        self.claim.beat(processed=self.processed, total=self.total, failed=self.failed)

    def run(self) -> int:
        """Score the job's file and write its output; the number of records."""
        clock = _Clock()
        plan = self._plan()
        read, events = self._read(plan)
        self.total = read.total
        self.beat()
        clock.lap("read")
        events = self._checked(plan, read, events)
        clock.lap("check")
        with batch_scoring.BaseColumns(plan, events) as bases:  # computed meanwhile, on a thread
            histories = {
                m.model_id: batch_scoring.history(m, events, self._load_states, self.beat) for m in plan.models
            }
            clock.lap("history")
            invoker = self.ctx.invoker
            scored = batch_scoring.score_frame(plan, events, histories, invoker, self.beat, bases)
        scored = scored.with_columns(events[LINE], pl.lit(SUCCESS).alias(STATUS))
        clock.lap("score")
        self._write(read, scored)
        clock.lap("write")
        log.info("batch prediction %s: %d records (%s)", self.job.job_id, self.total, clock)
        return self.total

    def _checked(self, plan: DetectorPlan, read: _Read, events: pl.DataFrame) -> pl.DataFrame:
        """Of the valid `events`, those GetEventPrediction would evaluate; the others join `read.invalid`."""
        events = batch_scoring.with_all_variables(plan, events)
        # validate_batch finds an EVENT_ID repeated within a batch; this, one repeated across batches
        problem = pl.col(_PROBLEM)
        events = events.with_columns(batch_scoring.event_problems(plan, events).alias(_PROBLEM)).with_columns(
            pl.when(problem.is_null() & ~pl.col(layout.EVENT_ID).is_first_distinct())
            .then(pl.lit("EVENT_ID '") + pl.col(layout.EVENT_ID) + pl.lit("' is repeated in the file"))
            .otherwise(problem)
            .alias(_PROBLEM)
        )
        refused = events.filter(problem.is_not_null()).select(LINE, _PROBLEM)
        for line, reason in refused.rows():
            read.invalid.append(Rejected(int(line), reason))
        self.processed = self.failed = len(read.invalid) + len(read.malformed)
        # no copy when every event passes: a job holds one frame of events
        return (events.filter(problem.is_null()) if refused.height else events).drop(_PROBLEM)

    def _plan(self) -> DetectorPlan:
        job = self.job
        try:
            with self.ctx.db.read() as conn:
                row = resolve_version(conn, job.detector_id, str(job.detector_version))
                return self.ctx.plans.get(self.ctx, conn, row)
        except FraudhawkError as error:
            raise Failed(f"The detector version cannot be used: {error.message}") from None

    def _load_states(self, tracked: Tracked, entities: Any) -> dict[str, EntityState]:
        with self.ctx.db.read() as conn:
            return states.load_states(conn, tracked, list(entities))

    def _read(self, plan: DetectorPlan) -> tuple[_Read, pl.DataFrame]:
        """The file read, and its valid events in segment layout, with LINE."""
        location = paths.resolve(self.ctx.settings, self.job.input_path, "inputPath")
        try:
            raw = paths.open_input(location)
        except Exception as error:
            raise Failed(f"The input file {self.job.input_path} cannot be read: {explain(error)}") from None
        with raw:
            try:
                records = read_csv(raw, self.ctx.settings.csv_max_record_bytes)
            except ValueError as error:
                raise Failed(str(error)) from None
            if not records.header:
                raise Failed("The input file is empty: it needs a header line and events")
            header = records.header
            repeated = sorted({name for name in header if header.count(name) > 1})
            if repeated:
                raise Failed(f"The header names column(s) {', '.join(repeated)} more than once")
            found = map_header(plan.spec, header)
            missing = missing_required(found)
            if missing:
                raise Failed(f"The header lacks the required column(s) {', '.join(missing)}")
            # Labels play no part in a prediction: a row is not refused for its label.
            required = {name: found.metadata[name] for name in layout.REQUIRED}
            columns = Columns(required, found.variables, found.ignored)
            batches: list[pa.RecordBatch] = []
            events: list[pl.DataFrame] = []
            invalid: list[Rejected] = []
            for batch in records.batches():
                if not batch.num_rows:
                    continue
                good, _, rejected = validate_batch(plan.spec, columns, batch)
                batches.append(batch.rename_columns([LINE, *(f"c{i}" for i in range(len(header)))]))
                events.append(good)
                invalid += rejected
                self.total += batch.num_rows
                self.beat()
            malformed = list(records.rejected)
        for item in malformed:
            if item.line <= 0:
                raise Failed(f"could not tell the line number of a malformed record: {(item.raw or '')[:200]!r}")
        schema = pa.schema([(LINE, pa.int64()), *((f"c{i}", pa.string()) for i in range(len(header)))])
        table = pa.Table.from_batches(batches, schema=schema)
        frame = pl.concat(events) if events else pl.DataFrame()
        if not events:
            frame = pl.DataFrame(
                schema={
                    layout.EVENT_ID: pl.String,
                    layout.EVENT_MS: pl.Int64,
                    layout.ENTITY_TYPE: pl.String,
                    layout.ENTITY_ID: pl.String,
                    **dict.fromkeys(columns.variables, pl.String),
                    LINE: pl.Int64,
                }
            )
        return _Read(header, table, invalid, malformed), frame

    def _write(self, read: _Read, scored: pl.DataFrame) -> None:
        """Every record in line order, its columns as read, then the results; written whole."""
        refused = [
            pl.DataFrame(
                {
                    LINE: [r.line for r in rejected],
                    STATUS: [status] * len(rejected),
                    batch_scoring.ERROR: [_error_text(r, status) for r in rejected],
                },
                schema={LINE: pl.Int64, STATUS: pl.String, batch_scoring.ERROR: pl.String},
            )
            for rejected, status in ((read.invalid, INVALID_EVENT), (read.malformed, MALFORMED_RECORD))
        ]
        results = pl.concat([scored.select(LINE, *OUTPUT_COLUMNS), *refused], how="diagonal_relaxed")
        if read.invalid or read.malformed:
            results = results.sort(LINE)  # the scored rows are in line order already
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerow([*read.header, *OUTPUT_COLUMNS])

        def write(out: IO[bytes]) -> None:  # straight into the file: the report never sits whole in memory
            out.write(text.getvalue().encode("utf-8"))
            for rows in _report_rows(read.records, results):
                rows.write_csv(out, include_header=False)

        location = paths.report_location(
            paths.resolve(self.ctx.settings, self.job.output_path, "outputPath"),
            self.job.output_file.rsplit("/", 1)[-1],
        )
        self.beat()
        try:
            paths.write_atomically(location, write)
        except Exception as error:
            log.exception("batch prediction %s: could not write its output", self.job.job_id)
            raise Failed(f"The events were scored, but the output could not be written: {explain(error)}") from None


def _report_rows(records: pa.Table, results: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """The report's rows a slice of lines at a time, so the records are never converted and joined
    whole: each record's columns as read, then its results. Both tables are in line order; a
    malformed line has a result but no record (no columns of its own: only its status and error)."""
    lines = records.column(LINE).to_numpy()
    for start in range(0, results.height, WRITE_STEP):
        part = results.slice(start, WRITE_STEP)
        first, last = np.searchsorted(lines, [part[LINE][0], part[LINE][-1] + 1])
        piece = pl.from_arrow(records.slice(int(first), int(last - first)))
        assert isinstance(piece, pl.DataFrame)
        if piece.height == part.height:
            assert piece[LINE].equals(part[LINE]), "every record has one result"
            rows = piece.hstack(part.drop(LINE))
        else:
            rows = piece.join(part, on=LINE, how="full", coalesce=True).sort(LINE)
        yield rows.drop(LINE)


class _Clock:
    """Seconds spent in each phase of a job, for the log."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self._laps.append((name, now - self._last))
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self._laps)


def _error_text(rejected: Rejected, status: str) -> str:
    text = f"line {rejected.line}: {rejected.reason}"
    if status == MALFORMED_RECORD and rejected.raw:
        text += f": {rejected.raw[:200]}"
    return text
