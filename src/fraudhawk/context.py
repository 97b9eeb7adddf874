"""What every operation needs: the database, the ARN builder, a clock, and the state its service
keeps between requests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fraudhawk.arns import Arns
from fraudhawk.settings import Settings
from fraudhawk.storage import clock
from fraudhawk.storage.database import Database

now_ms = clock.now_ms  # the store's clock, here too because most operations need it with the context

if TYPE_CHECKING:  # made by the service (`service/dispatcher.py`): nothing here imports them at run time
    from fraudhawk.catalog.tags import Taggable
    from fraudhawk.events.store import SegmentCache
    from fraudhawk.predictions.ingest import TrackedVersions
    from fraudhawk.predictions.plan import PlanCache
    from fraudhawk.predictions.records import PruneClock
    from fraudhawk.scoring.external import ExternalInvoker
    from fraudhawk.scoring.model import ModelCache
    from fraudhawk.scoring.state_cache import StateCache


def iso_time(ms: int) -> str:
    """AFD's time strings: ISO-8601 UTC with milliseconds, e.g. 2026-11-22T21:00:00.123Z."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _nothing() -> None:
    return None


@dataclass
class Context:
    """One per service. Its caches belong to its database alone: two services in one process (two
    data directories, say) never see each other's entries. They are attributes, not keyed look-ups,
    as the real-time prediction path reaches them on every request."""

    settings: Settings
    db: Database
    taggable: Mapping[str, Taggable]  # resource type in an ARN -> does (conn, path) name a resource
    models: ModelCache  # loaded model versions
    plans: PlanCache  # detector versions made ready to evaluate
    states: StateCache  # entity histories, checked against their rows' tokens
    tracked: TrackedVersions  # which TFI versions each event type's events advance
    segments: SegmentCache  # decoded segments of stored events (GetEvent)
    invoker: ExternalInvoker  # calls external model endpoints, over a pool of kept-alive connections
    pruning: PruneClock  # when old prediction records were last pruned
    arns: Arns = field(init=False)
    wake_jobs: Callable[[], None] = _nothing  # tells the background worker that a job is waiting
    wake_training: Callable[[], None] = _nothing  # the same for the training worker

    def __post_init__(self) -> None:
        self.arns = Arns(region=self.settings.region, account_id=self.settings.account_id)
