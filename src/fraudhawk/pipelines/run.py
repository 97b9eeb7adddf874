"""Running one pipeline run: a job (`runs.JOBS`) that goes through its stages, each committed with the
run's row, so that a run taken over after a crash resumes at its last stage.

Stages: `start` (copy the file into the run's work folder, checking its checksum, and transform it),
then the action's: `import` / `import-wait` (CreateBatchImportJob), `train` / `train-wait`
(CreateModel if missing, then CreateModelVersion or UpdateModelVersion), `activate` / `activating` /
`detector` (the guard, UpdateModelVersionStatus, CreateDetectorVersion), `predict` / `predict-wait`
(CreateBatchPredictionJob), then `done`. Every action goes through AFD's operations (`call`), with
their checks. An action that creates something is made idempotent by its name: a job's id is derived
from the run, a model or detector version carries a tag naming the run, and a stage looks for what it
made before making it again. While a job of the run is not finished, or the major version to update is
training, the run gives its claim back (`Deferred`) and is looked at again on the next round.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from fraudhawk.context import Context
from fraudhawk.errors import ConflictError, FraudhawkError, ResourceNotFoundError, ThrottlingError, ValidationError
from fraudhawk.events import raw, rawimport
from fraudhawk.jobs import COMPLETE, Cancelled, Deferred, Failed, Job, JobInterrupt, Kind, Outcome
from fraudhawk.pipelines import declared, guard, runs, sources
from fraudhawk.storage import schema
from fraudhawk.storage.clock import now_ms

log = logging.getLogger("fraudhawk.pipelines")
Call = rawimport.Call
RUN_TAG = "fraudhawk:pipeline-run"  # on model and detector versions: the run (and attempt) that made it
_ENDED_JOB = ("COMPLETE", "FAILED", "CANCELED")
_INTERRUPTED = "Training interrupted"  # the title training gives a version whose worker died


def work_folder(ctx: Context, run_id: str) -> Path:
    """The run's work area (its copy of the file, the transformed file), deleted when the run ends."""
    return rawimport.work_area(ctx.settings.data_dir).parent / "pipelines" / run_id


def reports_folder(ctx: Context) -> Path:
    """Where imports started by pipelines write their reports of rejected lines (kept)."""
    return rawimport.work_area(ctx.settings.data_dir).parent / "pipelines" / "reports"


def _mapping(transform: dict[str, Any]) -> raw.Mapping:
    return raw.Mapping(
        event_time=transform["eventTime"],
        entity_id=transform["entityId"],
        event_id=transform.get("eventId"),
        time_format=transform.get("timestampFormat"),
        label=transform.get("label"),
        fraud_values=tuple(transform["fraudValues"]),
        entity_type=transform["entityType"],
        exclude=tuple(transform["exclude"]),
    )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Run:
    """One claimed run: its row, its pipeline, and what it has recorded so far (`result`)."""

    def __init__(self, ctx: Context, call: Call, job: Job) -> None:
        self.ctx, self.call, self.job = ctx, call, job
        self.row = job.row
        self.result: dict[str, Any] = json.loads(self.row.result)
        self.stage: str = self.row.stage
        self.attempt_tag = f"{self.row.run_id}-{self.row.attempts}"

    # --- bookkeeping ------------------------------------------------------------------------------

    def save(self, stage: str, status: str = runs.RUNNING, detail: str | None = None, **result: Any) -> None:
        """Commit the next stage with what the run learnt (one step: all of it or none); a cancel
        asked meanwhile is honoured here, between stages."""
        self.result.update(result)
        with self.job.step() as step:
            step.progress(
                stage=stage,
                status=status,
                detail=detail,
                result=json.dumps(self.result, sort_keys=True),
            )
        self.stage = stage
        if step.row.cancel_requested and stage != "done":
            self.cancel()

    def wait(self, detail: str, status: str = runs.RUNNING) -> None:
        """Say what the run waits for, give its claim back and try again on a later round."""
        if detail != self.row.detail or status != self.row.status:
            with self.job.step() as step:
                step.progress(detail=detail, status=status)
            if step.row.cancel_requested:
                self.cancel()
        raise Deferred

    def cancel(self) -> None:
        """End the run as cancelled, cancelling first the job it waits for (if that has not ended)."""
        requests = {
            "import-wait": ("CancelBatchImportJob", {"jobId": self.result.get("importJob")}),
            "predict-wait": ("CancelBatchPredictionJob", {"jobId": self.result.get("predictionJob")}),
        }
        if self.stage == "train-wait":
            version = {"modelId": self.action["modelId"], "modelType": self.action["modelType"]}
            requests["train-wait"] = (
                "UpdateModelVersionStatus",
                {**version, "modelVersionNumber": self.result["modelVersion"], "status": "TRAINING_CANCELLED"},
            )
        if self.stage in requests:
            operation, params = requests[self.stage]
            with contextlib.suppress(ValidationError, ResourceNotFoundError):  # it ended meanwhile
                self.call(operation, params)
        raise Cancelled

    # --- the stages -------------------------------------------------------------------------------

    def run(self) -> Outcome:
        # the pipeline as the run began: a change to it applies to the next files, not half-way
        if "pipeline" in self.result:
            self.pipeline = self.result["pipeline"]
        else:
            try:
                self.pipeline = declared.get_pipeline(self.ctx.db, self.row.pipeline)
            except ResourceNotFoundError:
                raise Failed(f"The pipeline {self.row.pipeline} was deleted before the run started") from None
        ((self.kind, self.action),) = self.pipeline["action"].items()
        if self.row.cancel_requested:
            self.cancel()
        if self.row.started_ms is None:
            with self.job.step() as step:
                step.progress(started_ms=now_ms(), status=runs.RUNNING)
        stages: dict[str, Callable[[], None]] = {
            "start": self.start,
            "import": self.start_import,
            "import-wait": self.wait_import,
            "train": self.start_training,
            "train-wait": self.wait_training,
            "activate": self.activate,
            "activating": self.wait_activation,
            "detector": self.detector_version,
            "predict": self.start_prediction,
            "predict-wait": self.wait_prediction,
        }
        while self.stage != "done":
            stages[self.stage]()
        sources.remove_tree(work_folder(self.ctx, self.row.run_id))
        return COMPLETE

    def _after_input(self) -> str:
        if self.kind == "import" or (self.kind == "train" and self.action["data"] == "stored"):
            return "import"
        return "train" if self.kind == "train" else "predict"

    def _event_type(self) -> str:
        if self.kind == "batchPredict":
            detector = self.call("GetDetectors", {"detectorId": self.action["detectorId"]})["detectors"][0]
            return str(detector["eventTypeName"])
        return str(self.action["eventType"])

    def start(self) -> None:
        folder = work_folder(self.ctx, self.row.run_id)
        sources.remove_tree(folder)  # what an interrupted start left
        name = self.row.file_key.rsplit("/", 1)[-1]
        copy = folder / name
        uri = self.pipeline["source"] + self.row.file_key
        try:
            unchanged = sources.copy_checked(self.ctx.settings, uri, copy, self.row.checksum)
        except (OSError, ValidationError) as error:
            raise Failed(f"The file {uri} cannot be read: {getattr(error, 'message', None) or error}") from None
        if not unchanged:
            raise Failed(f"The file {uri} changed since it was seen: its new content is processed by a run of its own")
        found: dict[str, Any] = {"pipeline": self.pipeline, "input": str(copy)}
        transform = self.pipeline.get("transform")
        if transform is not None:
            mapping = _mapping(transform)
            event_type = self._event_type()
            plan = rawimport.plan(copy, mapping)
            rawimport.ensure_catalog(self.call, event_type, mapping, plan.variables)
            target = folder / "afd.csv.gz"
            converted = rawimport.convert(copy, mapping, plan.variables, target)
            copy.unlink()
            found.update(
                input=str(target),
                transformed={
                    "rows": converted.rows,
                    "rejected": [f"line {r.line}: {r.reason}" for r in converted.rejected[:20]],
                },
                rejectedLines=len(converted.rejected),
            )
        self.save(self._after_input(), **found)

    # --- import ------------------------------------------------------------------------------------

    def _job_id(self, prefix: str) -> str:
        return f"{prefix}-{self.attempt_tag}"

    def start_import(self) -> None:
        job_id = self._job_id("pipeline-import")
        event_type = str(self.action["eventType"])
        try:
            self.call("GetBatchImportJobs", {"jobId": job_id})
        except ResourceNotFoundError:
            reports = reports_folder(self.ctx)
            rawimport.start(self.call, job_id, self.result["input"], str(reports) + "/", event_type)
        self.save("import-wait", detail=f"importing ({job_id})", importJob=job_id)

    def wait_import(self) -> None:
        job_id = self.result["importJob"]
        job = self.call("GetBatchImportJobs", {"jobId": job_id})["batchImports"][0]
        if job["status"] not in _ENDED_JOB:
            self.wait(f"importing ({job_id}): {job.get('processedRecordsCount', 0):,} events stored")
        counts = {"stored": job.get("processedRecordsCount", 0), "rejected": job.get("failedRecordsCount", 0)}
        if job["status"] != "COMPLETE":
            raise Failed(f"Import job {job_id} ended {job['status']}: {job.get('failureReason', '')}".rstrip(": "))
        self.save("train" if self.kind == "train" else "done", imported=counts)

    # --- training ---------------------------------------------------------------------------------

    def _ensure_model(self) -> None:
        model_id, model_type = self.action["modelId"], self.action["modelType"]
        try:
            found = self.call("GetModels", {"modelId": model_id, "modelType": model_type})["models"][0]
        except ResourceNotFoundError:
            self.call(
                "CreateModel", {"modelId": model_id, "modelType": model_type, "eventTypeName": self.action["eventType"]}
            )
            return
        if found["eventTypeName"] != self.action["eventType"]:
            raise Failed(
                f"Model {model_id} scores events of type {found['eventTypeName']}, not {self.action['eventType']}"
            )

    def _versions(self) -> list[dict[str, Any]]:
        request = {"modelId": self.action["modelId"], "modelType": self.action["modelType"], "maxResults": 10}
        found: list[dict[str, Any]] = []
        while True:
            page = self.call("DescribeModelVersions", request)
            found += page["modelVersionDetails"]
            if not page.get("nextToken"):
                return found
            request["nextToken"] = page["nextToken"]

    def _made_by_this_run(self, resource: str) -> str | None:
        """The version (the last part of a `resource` ARN: model-version, detector-version) tagged
        with this attempt of the run, if an earlier try of the stage made it."""
        tags = schema.tags
        query = select(tags.c.resource_arn).where(tags.c.key == RUN_TAG, tags.c.value == self.attempt_tag)
        with self.ctx.db.read() as conn:
            for arn in conn.execute(query).scalars():
                kind, path = self.ctx.arns.parse(arn)
                if kind == resource and path:
                    return str(path[-1])
        return None

    def _training_request(self) -> dict[str, Any]:
        action = self.action
        variables = action.get("variables")
        if variables is None:
            event_type = self.call("GetEventTypes", {"name": action["eventType"]})["eventTypes"][0]
            variables = event_type["eventVariables"]
        request: dict[str, Any] = {
            "modelId": action["modelId"],
            "modelType": action["modelType"],
            "tags": [{"key": RUN_TAG, "value": self.attempt_tag}],
        }
        schema_: dict[str, Any] = {"modelVariables": variables}
        labels = action["labels"]
        if labels["fraud"] or labels["legit"]:
            schema_["labelSchema"] = {
                "labelMapper": {"FRAUD": labels["fraud"], "LEGIT": labels["legit"]},
                "unlabeledEventsTreatment": action["unlabeled"],
            }
        if action["data"] == "stored":
            window = {"startTime": "1970-01-01T00:00:00Z", "endTime": _iso(now_ms())}
            request["ingestedEventsDetail"] = {"ingestedEventsTimeWindow": window}
            request["trainingDataSource"] = "INGESTED_EVENTS"
        else:
            request["externalEventsDetail"] = {
                "dataLocation": self.result["input"],
                "dataAccessRoleArn": rawimport.LOCAL_ROLE,
            }
            request["trainingDataSource"] = "EXTERNAL_EVENTS"
        request["trainingDataSchema"] = schema_
        return request

    def _major_to_update(self, versions: list[dict[str, Any]]) -> int:
        if "majorVersion" in self.action:
            return int(self.action["majorVersion"])
        active = [v for v in versions if v["status"] == "ACTIVE"]
        pool = active or versions
        if not pool:
            raise Failed(f"Model {self.action['modelId']} has no version to update: train one in create mode first")
        return max(int(v["modelVersionNumber"].split(".")[0]) for v in pool)

    def start_training(self) -> None:
        version = self._made_by_this_run("model-version")
        if version is None:
            self._ensure_model()
            request = self._training_request()
            if self.action["mode"] == "create":
                made = self.call("CreateModelVersion", request)
            else:
                versions = self._versions()
                major = self._major_to_update(versions)
                training = [
                    v["modelVersionNumber"]
                    for v in versions
                    if v["status"] == "TRAINING_IN_PROGRESS" and v["modelVersionNumber"].split(".")[0] == str(major)
                ]
                if training:
                    self.wait(f"waiting: version {training[0]} is training", runs.WAITING)
                del request["trainingDataSchema"], request["trainingDataSource"]
                try:
                    made = self.call("UpdateModelVersion", {**request, "majorVersionNumber": str(major)})
                except ValidationError as error:
                    if "Simultaneous training" not in error.message:
                        raise
                    self.wait(f"waiting: version {major}.x is training", runs.WAITING)
            version = made["modelVersionNumber"]
        self.save("train-wait", detail=f"training version {version}", modelVersion=version)

    def _version(self, number: str) -> dict[str, Any]:
        request = {
            "modelId": self.action["modelId"],
            "modelType": self.action["modelType"],
            "modelVersionNumber": number,
        }
        return dict(self.call("DescribeModelVersions", request)["modelVersionDetails"][0])

    def wait_training(self) -> None:
        number = self.result["modelVersion"]
        version = self._version(number)
        status = version["status"]
        if status == "TRAINING_IN_PROGRESS":
            self.wait(f"training version {number}")
        if status in ("TRAINING_COMPLETE", "ACTIVE", "ACTIVATE_REQUESTED", "ACTIVATE_IN_PROGRESS"):
            self.save("activate" if "activate" in self.action else "done", auc=guard.auc_of(version))
            return
        messages = version.get("trainingResult", {}).get("dataValidationMetrics", {}).get("fileLevelMessages", [])
        interrupted = any(m.get("title") == _INTERRUPTED for m in messages)
        if interrupted and not self.result.get("trainingRetried"):
            # the server training it was killed: train once more, as the run's next attempt (a new
            # version, tagged with that attempt)
            attempts = self.row.attempts + 1
            with self.job.step() as step:
                step.progress(attempts=attempts)
            self.attempt_tag = f"{self.row.run_id}-{attempts}"
            self.save("train", detail=f"version {number} was interrupted: training again", trainingRetried=number)
            return
        why = "; ".join(f"{m.get('title', '')}: {m.get('content', '')}" for m in messages) or status
        raise Failed(f"Training version {number} ended {status}: {why}")

    # --- the activation guard ---------------------------------------------------------------------

    def activate(self) -> None:
        number = self.result["modelVersion"]
        versions = self._versions()
        decision = guard.decide(number, versions, float(self.action["activate"]["maxAucDrop"]))
        if not decision["activate"]:
            self.save("done", activation=decision)
            return
        self.call(
            "UpdateModelVersionStatus",
            {
                "modelId": self.action["modelId"],
                "modelType": self.action["modelType"],
                "modelVersionNumber": number,
                "status": "ACTIVE",
            },
        )
        self.save("activating", detail=f"activating version {number}", activation=decision)

    def wait_activation(self) -> None:
        number = self.result["modelVersion"]
        status = self._version(number)["status"]
        if status in ("ACTIVATE_REQUESTED", "ACTIVATE_IN_PROGRESS"):
            self.wait(f"activating version {number}")
        if status != "ACTIVE":
            raise Failed(f"Version {number} could not be activated: it is {status}")
        self.save("detector" if "detectorId" in self.action["activate"] else "done", detail=None)

    def detector_version(self) -> None:
        detector_id = self.action["activate"]["detectorId"]
        made = self._made_by_this_run("detector-version")
        if made is None:
            base = guard.base_version(self.call, detector_id)
            if base is None:
                self.save("done", detectorVersion=None, detectorNote=f"detector {detector_id} has no version to copy")
                return
            request = guard.next_version(
                base, self.action["modelId"], self.action["modelType"], self.result["modelVersion"]
            )
            request["tags"] = [{"key": RUN_TAG, "value": self.attempt_tag}]
            made = self.call("CreateDetectorVersion", request)["detectorVersionId"]
        if self.action["activate"]["publish"]:
            self.call(
                "UpdateDetectorVersionStatus",
                {"detectorId": detector_id, "detectorVersionId": made, "status": "ACTIVE"},
            )
        self.save(
            "done",
            detectorVersion={
                "detectorId": detector_id,
                "version": made,
                "published": self.action["activate"]["publish"],
            },
        )

    # --- batch prediction -------------------------------------------------------------------------

    def start_prediction(self) -> None:
        job_id = self._job_id("pipeline-predict")
        try:
            self.call("GetBatchPredictionJobs", {"jobId": job_id})
        except ResourceNotFoundError:
            request = {
                "jobId": job_id,
                "inputPath": self.result["input"],
                "outputPath": self.action["output"],
                "eventTypeName": self._event_type(),
                "detectorName": self.action["detectorId"],
                "iamRoleArn": rawimport.LOCAL_ROLE,
            }
            if "detectorVersion" in self.action:
                request["detectorVersion"] = self.action["detectorVersion"]
            self.call("CreateBatchPredictionJob", request)
        self.save("predict-wait", detail=f"predicting ({job_id})", predictionJob=job_id)

    def wait_prediction(self) -> None:
        job_id = self.result["predictionJob"]
        job = self.call("GetBatchPredictionJobs", {"jobId": job_id})["batchPredictions"][0]
        if job["status"] not in _ENDED_JOB:
            self.wait(f"predicting ({job_id}): {job.get('processedRecordsCount', 0):,} scored")
        if job["status"] != "COMPLETE":
            raise Failed(
                f"Batch prediction {job_id} ended {job['status']}: {job.get('failureReason', '')}".rstrip(": ")
            )
        with self.ctx.db.read() as conn:
            table = schema.batch_predictions
            output = conn.execute(select(table.c.output_file).where(table.c.job_id == job_id)).scalar()
        self.save("done", output=output, scored=job.get("processedRecordsCount", 0))


def run_job(ctx: Context, call: Call, job: Job) -> Outcome:
    """Run (or resume) the run to its end, or until it must wait. A refusal of one of AFD's operations
    fails the run with AFD's words; a busy database or a concurrent change is tried again later."""
    try:
        return _Run(ctx, call, job).run()
    except (ThrottlingError, ConflictError):
        raise Deferred from None
    except JobInterrupt as interrupt:
        if not isinstance(interrupt, (Failed, Cancelled)):
            raise  # waiting, stopping or taken over: the work folder is still needed
        sources.remove_tree(work_folder(ctx, job.row.run_id))
        raise
    except FraudhawkError as error:
        sources.remove_tree(work_folder(ctx, job.row.run_id))
        if error.http_status >= 500:
            raise
        raise Failed(error.message) from None
    except BaseException:
        sources.remove_tree(work_folder(ctx, job.row.run_id))
        raise


def kind(ctx: Context, call: Call) -> Kind:
    def run(job: Job) -> Outcome:
        return run_job(ctx, call, job)

    return Kind("pipeline run", runs.JOBS, run)
