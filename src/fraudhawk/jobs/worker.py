"""The background worker: a thread that runs the jobs of the kinds registered with it, and plain
periodic tasks, in turn, until there is nothing to do; `wake()` makes it look again at once.

Jobs live in the database, so every server process (and replica) runs a worker and any of them may
run any job. Whoever builds the worker (the service) registers the kinds it runs: nothing is
registered at import time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from fraudhawk.jobs.claim import STALE_MS, release
from fraudhawk.jobs.kind import Kind, run_pending
from fraudhawk.jobs.owner import new_owner_id
from fraudhawk.storage.database import Database

log = logging.getLogger("fraudhawk.worker")

#: Periodic work that is no claimed job: given this worker's id and a "should I stop" probe, do what
#: is due and say whether anything was done.
Task = Callable[[str, Callable[[], bool]], bool]


class Worker(threading.Thread):
    def __init__(self, db: Database, name: str = "fraudhawk-worker", *, stale_ms: int = STALE_MS) -> None:
        super().__init__(name=name, daemon=True)
        self.db = db
        self.owner = new_owner_id()
        self.stale_ms = stale_ms
        self.kinds: list[Kind] = []
        self._tasks: list[Task] = []
        self._wake = threading.Event()
        self._halt = threading.Event()

    def register(self, kind: Kind) -> None:
        """Run jobs of `kind`, after the kinds and tasks registered before it."""
        self._before_start()
        self.kinds.append(kind)
        self._tasks.append(partial(self._run_kind, kind))

    def every(self, task: Task) -> None:
        """Run `task` on every round, after what was registered before it."""
        self._before_start()
        self._tasks.append(task)

    def _before_start(self) -> None:
        if self.is_alive():
            raise RuntimeError("register kinds and tasks before the worker starts")

    def _run_kind(self, kind: Kind, owner: str, stopping: Callable[[], bool]) -> bool:
        return run_pending(kind, self.db, owner, stopping, self.stale_ms)

    def wake(self) -> None:
        self._wake.set()

    def halt(self) -> None:
        """Ask the worker to stop after its current step, without waiting for it."""
        self._halt.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._halt.is_set()

    def stop(self, timeout: float = 30) -> None:
        """Stop after the current step and give back unfinished resumable jobs, so that any worker
        resumes them at once (a kind that cannot resume has ended its job itself)."""
        self.halt()
        if self.is_alive():
            self.join(timeout)
        if self.is_alive():
            return  # still inside a step: its claim goes stale and another worker takes over
        try:
            for kind in self.kinds:
                if kind.resumable:
                    release(self.db, kind.table, self.owner)
        except Exception:
            log.warning("could not release this worker's jobs; they resume once the claim goes stale", exc_info=True)

    def run(self) -> None:
        while not self._halt.is_set():
            worked = False
            for task in self._tasks:
                try:
                    worked = task(self.owner, self._halt.is_set) or worked
                except Exception:
                    log.exception("background job runner failed")
                if self._halt.is_set():
                    return
            if not worked:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
