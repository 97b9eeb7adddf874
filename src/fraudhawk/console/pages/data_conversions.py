"""Raw files being converted for an import started on the mapping form. Converting a large file takes
a while, so it runs on a thread of its own and the browser goes straight to the job's page, which
says "converting" until the batch import job exists (or why the conversion failed)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fraudhawk.errors import FraudhawkError

log = logging.getLogger("fraudhawk.console")


@dataclass
class Conversion:
    job_id: str
    source: str  # the raw file's s3:// URI
    event_type: str
    started: float
    problem: str | None = None

    @property
    def seconds(self) -> int:
        return int(time.monotonic() - self.started)


_running: dict[str, Conversion] = {}
_lock = threading.Lock()


def begin(job_id: str, source: str, event_type: str, work: Callable[[], None]) -> None:
    """Run `work` (convert, then create the job `job_id`) on its own thread."""
    conversion = Conversion(job_id, source, event_type, time.monotonic())
    with _lock:
        _running[job_id] = conversion

    def run() -> None:
        try:
            work()
        except FraudhawkError as error:
            conversion.problem = error.message
            return
        except Exception:
            log.exception("converting %s for import %s failed", source, job_id)
            conversion.problem = "The file could not be converted; the server's log says why."
            return
        with _lock:
            _running.pop(job_id, None)  # the job exists now: its page shows it

    threading.Thread(target=run, name=f"convert-{job_id}", daemon=True).start()


def find(job_id: str) -> Conversion | None:
    with _lock:
        return _running.get(job_id)
