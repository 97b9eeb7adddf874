"""`Service.call(operation, params)`: the single path every request takes, whichever door it came in by.

This is also the one place where failures become the error tree: anything that is not already a
FraudhawkError is logged with its traceback and answered as InternalServerException, never leaked.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fraudhawk.context import Context
from fraudhawk.errors import (
    ConflictError,
    FraudhawkError,
    InternalError,
    ThrottlingError,
    UnknownOperationError,
    ValidationError,
)
from fraudhawk.events.store import SegmentCache
from fraudhawk.jobs import Worker
from fraudhawk.predictions import plan, realtime
from fraudhawk.predictions.ingest import TrackedVersions
from fraudhawk.predictions.plan import PlanCache
from fraudhawk.predictions.records import PruneClock
from fraudhawk.scoring.external import ExternalInvoker
from fraudhawk.scoring.model import ModelCache
from fraudhawk.scoring.state_cache import StateCache
from fraudhawk.service import background, contract
from fraudhawk.service.operations import OPERATIONS, STAGED, TAGGABLE, Handler, Staged, WouldBlock
from fraudhawk.settings import Settings
from fraudhawk.storage.database import Database
from fraudhawk.storage.errors import Fault, driver_error, fault

log = logging.getLogger("fraudhawk")
_RETRIES = 3
_READ_PREFIXES = ("Get", "List", "Describe", "BatchGet")


# Database failures a retry can cure (see `failure`).
_CONFLICTS = frozenset({Fault.UNIQUE_VIOLATION, Fault.FOREIGN_KEY_VIOLATION})  # a concurrent write got there first
_BUSY = frozenset({Fault.BUSY, Fault.SERIALIZATION_FAILURE, Fault.DEADLOCK})


class Service:
    def __init__(
        self, settings: Settings, database: Database | None = None, *, migrate: bool = True, worker: bool = True
    ) -> None:
        self.settings = settings
        self.db = database or Database(settings.database_url)
        if migrate:
            self.db.migrate()
        self.context = Context(
            settings=settings,
            db=self.db,
            taggable=TAGGABLE,
            models=ModelCache(),
            plans=PlanCache(),
            states=StateCache(),
            tracked=TrackedVersions(),
            segments=SegmentCache(),
            invoker=ExternalInvoker(settings.external_model_url, settings.external_model_timeout_s),
            pruning=PruneClock(),
        )
        self.worker: Worker | None = None
        self.trainer: Worker | None = None
        self.pipelines: Worker | None = None
        if worker:
            self.worker, self.trainer = background.workers(self.context)
            self.pipelines = background.pipelines(self.context, self.call)
            self.context.wake_jobs = self.worker.wake
            self.context.wake_training = self.trainer.wake
            self.worker.start()
            self.trainer.start()
            self.pipelines.start()

    def _handler(self, operation: str) -> Handler:
        if operation not in contract.service_model().operation_names:
            raise UnknownOperationError(f"{operation} is not an operation of Amazon Fraud Detector's API")
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise ValidationError(f"The operation {operation} is not available in this version of fraudhawk")
        return handler

    def call(self, operation: str, params: Any) -> dict[str, Any]:
        handler = self._handler(operation)
        request = contract.validate_input(operation, {} if params is None else params)
        for attempt in range(_RETRIES):
            try:
                return handler(self.context, request)
            except Exception as error:
                failure = self.failure(operation, error, last_try=attempt == _RETRIES - 1)
                if failure is not None:
                    raise failure from error
        raise AssertionError("unreachable")  # pragma: no cover

    def stages(self, operation: str) -> bool:
        return operation in STAGED

    def stage(self, operation: str, params: Any, *, may_block: bool = True) -> Staged:
        """For operations whose work ends in a small write (`stages`, e.g. GetEventPrediction):
        everything but the write, which the caller commits together with other requests' writes
        (`Database.group`) and then finishes. With `may_block` false, raises WouldBlock rather than
        wait on the network."""
        stage = STAGED[operation]
        self._handler(operation)
        request = contract.validate_input(operation, {} if params is None else params)
        try:
            return stage(self.context, request, may_block=may_block)
        except WouldBlock:
            raise
        except Exception as error:
            raise self.failure(operation, error, last_try=True) or error from error

    def prediction_target(self, detector_id: str, version_id: str | None) -> realtime.Target:
        """The detector version GetEventPrediction would evaluate for these parameters, and its event
        type (what the REST API fills a request's defaults from); the same checks and errors."""
        contract.validate_members("GetEventPrediction", {"detectorId": detector_id, "detectorVersionId": version_id})
        try:
            return realtime.target(self.context, detector_id, version_id)
        except Exception as error:
            raise self.failure("GetEventPrediction", error, last_try=True) or error from error

    def failure(self, operation: str, error: BaseException, *, last_try: bool) -> FraudhawkError | None:
        """The error to answer for a failure, or None when trying again may succeed."""
        if isinstance(error, FraudhawkError):
            return error
        if driver_error(error) is not None:
            # A concurrent request wrote the same rows between our check and our write, or the
            # database was busy: the transaction rolled back whole, so running it again is safe.
            kind = fault(error)
            if kind not in _CONFLICTS and kind not in _BUSY:
                log.error("%s failed in the database", operation, exc_info=error)
                return InternalError(f"{operation} failed: internal database error")
            if not last_try:
                return None
            if kind in _CONFLICTS:
                return ConflictError(f"{operation} conflicted with a concurrent change; try again")
            return ThrottlingError("The database is busy; try again shortly")
        log.error("%s failed", operation, exc_info=error)
        return InternalError(f"{operation} failed: internal error")

    def is_quick(self, operation: str) -> bool:
        """True for calls that never wait on a lock or the network: reads of an embedded SQLite store,
        which WAL mode lets proceed beside any writer."""
        return self.db.is_sqlite and operation.startswith(_READ_PREFIXES) and operation in OPERATIONS

    def warm(self) -> None:
        """Load what predictions will need (the active detectors' plans and models) ahead of them."""
        started = time.monotonic()
        try:
            loaded = plan.warm(self.context)
        except Exception:  # closed while loading, or the database went away: requests load what they need
            log.warning("could not load the active detectors' plans ahead of requests", exc_info=True)
            return
        if loaded:
            log.info("loaded %d active detector plan(s) in %.1fs", loaded, time.monotonic() - started)

    def close(self) -> None:
        workers = [w for w in (self.pipelines, self.trainer, self.worker) if w is not None]
        for worker in workers:
            worker.halt()  # both at once: neither goes on working while the other winds down
        for worker in workers:
            worker.stop()
        self.context.invoker.close()
        self.db.dispose()
