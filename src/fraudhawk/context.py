"""What every operation needs: the database, the ARN builder and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fraudhawk.arns import Arns
from fraudhawk.settings import Settings
from fraudhawk.storage import clock
from fraudhawk.storage.database import Database

now_ms = clock.now_ms  # the store's clock, here too because most operations need it with the context


def iso_time(ms: int) -> str:
    """AFD's time strings: ISO-8601 UTC with milliseconds, e.g. 2026-11-22T21:00:00.123Z."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _nothing() -> None:
    return None


@dataclass
class Context:
    settings: Settings
    db: Database
    arns: Arns = field(init=False)
    wake_jobs: Callable[[], None] = _nothing  # tells the background worker that a job is waiting
    wake_training: Callable[[], None] = _nothing  # the same for the training worker

    def __post_init__(self) -> None:
        self.arns = Arns(region=self.settings.region, account_id=self.settings.account_id)
