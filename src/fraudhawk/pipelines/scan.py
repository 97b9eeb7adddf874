"""The periodic scan: every enabled pipeline's source listed, each settled file that has no run yet
for its content recorded as a run (the database's unique key lets exactly one process record it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fraudhawk.context import Context
from fraudhawk.errors import FraudhawkError
from fraudhawk.pipelines import declared, runs, sources

log = logging.getLogger("fraudhawk.pipelines")


class Scanner:
    """A worker task (`Worker.every`): scans every `interval_s` seconds, and says it worked when it
    recorded a run (so the worker runs it at once)."""

    def __init__(self, ctx: Context, interval_s: float) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self.sightings = sources.Sightings()
        self._checksums: dict[tuple[str, int, int], str] = {}  # (uri, size, mtime) -> SHA-256
        self._next = 0.0

    def __call__(self, owner: str, stopping: Callable[[], bool]) -> bool:
        if time.monotonic() < self._next:
            return False
        self._next = time.monotonic() + self.interval_s
        recorded = 0
        for pipeline in declared.list_pipelines(self.ctx.db):
            if stopping():
                break
            if pipeline["enabled"]:
                try:
                    recorded += self.scan(pipeline)
                except (OSError, FraudhawkError) as error:
                    log.warning("pipeline %s: cannot scan %s: %s", pipeline["name"], pipeline["source"], error)
        return recorded > 0

    def scan(self, pipeline: dict[str, Any]) -> int:
        """Record a run for each settled file of `pipeline` not yet processed; how many were recorded."""
        name, source, pattern = str(pipeline["name"]), str(pipeline["source"]), str(pipeline["pattern"])
        files = []
        for seen in sources.listing(self.ctx.settings, source):
            if sources.matches(seen.key, pattern):
                files.append(seen)
            if len(files) >= sources.MAX_FILES:
                break
        settled = self.sightings.settled(name, files)
        if not settled:
            return 0
        done = runs.known(self.ctx.db, name)
        action = declared.action_kind(pipeline)
        recorded = 0
        for seen in settled:
            if (seen.key, seen.size, seen.mtime_ms) in done:
                continue
            checksum = self._checksum(seen)
            if checksum is None or checksum in runs.known_checksums(self.ctx.db, name, seen.key):
                continue
            run_id = runs.record(self.ctx.db, name, seen.key, seen.size, checksum, seen.mtime_ms, action)
            if run_id is not None:
                log.info("pipeline %s: %s (%d bytes) is run %s", name, seen.uri, seen.size, run_id)
                recorded += 1
        return recorded

    def _checksum(self, seen: sources.Seen) -> str | None:
        key = (seen.uri, seen.size, seen.mtime_ms)
        if key not in self._checksums:
            try:
                self._checksums[key] = sources.checksum(self.ctx.settings, seen.uri)
            except (OSError, FraudhawkError):
                return None  # removed or unreadable since listed: the next scan sees
            if len(self._checksums) > 100_000:
                self._checksums.clear()
        return self._checksums[key]
