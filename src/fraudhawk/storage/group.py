"""Group commit: many requests' small writes share one transaction and one commit.

A request's write is committed before `submit` returns, so its answer is as durable as with its own
transaction. Whoever submits when no one is writing becomes the leader and commits what is waiting,
its own write included, in its own thread (no hand-off to another thread when the load is light);
writes that arrive meanwhile wait and go together in the next transaction, led by one of them. A
write that fails fails alone: its caller gets the error while the others commit (see `_commit`).

Callers that must not block (the server's event loop) queue writes with a callback instead:
`enqueue` then `drain` on their own thread (every write queued meanwhile goes in the same
transaction), or `submit_nowait`, which a writer thread commits. A leader commits until nothing is
pending, so a queued write never waits for a leader that has gone. `drain(wait=False)` does not wait
for another writer either (another server process committing): it leaves the writes queued and says
so, and the caller tries again later.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from fraudhawk.storage import raw

T = TypeVar("T")
log = logging.getLogger("fraudhawk")
MAX_GROUP = 256  # writes per transaction: enough to amortise the commit, short enough to keep latency low


class Busy(Exception):
    """The database's writer lock is held, and the caller asked not to wait for it."""


@dataclass
class _Write(Generic[T]):
    run: Callable[[Connection], T]
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    callback: Callable[[Any, BaseException | None], None] | None = None


class GroupWriter:
    """`submit(fn)` runs `fn(conn)` in a transaction shared with concurrent submitters;
    `submit_nowait(fn, done)` queues it and calls `done(result, error)` once it has committed."""

    def __init__(self, begin: Callable[..., Any]) -> None:
        self._begin = begin  # the database's write(wait=True) context manager factory
        self._pending: deque[_Write[Any]] = deque()
        self._cond = threading.Condition()
        self._leading = False
        self._writer: threading.Thread | None = None
        self._wake = threading.Event()

    def submit(self, run: Callable[[Connection], T]) -> T:
        write: _Write[T] = _Write(run)
        with self._cond:
            self._pending.append(write)
            while not write.done and self._leading:
                self._cond.wait()
            lead = not write.done
            if lead:
                self._leading = True
        if lead:
            self._lead()
        if write.error is not None:
            raise write.error
        result: T = write.result
        return result

    def submit_nowait(self, run: Callable[[Connection], T], done: Callable[[Any, BaseException | None], None]) -> None:
        """For callers that must not block (an event loop): the write joins the current leader's next
        group, or a writer thread leads. `done` runs on the committing thread."""
        with self._cond:
            self._pending.append(_Write(run, callback=done))
            if self._leading:
                return
            self._leading = True
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, name="fraudhawk-group-writer", daemon=True)
                self._writer.start()
        self._wake.set()

    def enqueue(self, run: Callable[[Connection], T], done: Callable[[Any, BaseException | None], None]) -> None:
        with self._cond:
            self._pending.append(_Write(run, callback=done))

    def drain(self, wait: bool = True) -> bool:
        """Commit what is queued, unless another thread leads (it commits it). With `wait` false,
        returns False, the writes still queued, when another writer holds the database's lock."""
        with self._cond:
            if self._leading or not self._pending:
                return True
            self._leading = True
        return self._lead(wait)

    def _write_forever(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self._lead()

    def _lead(self, wait: bool = True) -> bool:
        """Commit groups until nothing is pending (a writer queued meanwhile must not wait for a leader
        that is gone), then give up the lead. Without `wait`, give it up as soon as the database's
        lock is taken (False): the group goes back to the front of the queue."""
        while True:
            with self._cond:
                if not self._pending:
                    self._leading = False
                    self._cond.notify_all()
                    return True
                group = [self._pending.popleft() for _ in range(min(len(self._pending), MAX_GROUP))]
            try:
                self._commit(group, wait)
            except Busy:
                with self._cond:
                    self._pending.extendleft(reversed(group))
                    self._leading = False
                    self._cond.notify_all()  # a blocked submitter may lead (and wait) instead
                return False
            except BaseException:
                self._settle(group)
                raise
            self._settle(group)

    def _settle(self, group: list[_Write[Any]]) -> None:
        with self._cond:
            for write in group:
                write.done = True
            self._cond.notify_all()
        for write in group:
            if write.callback is not None:
                try:
                    write.callback(write.result, write.error)
                except Exception:  # a caller gone (its loop closed) must not stop the others
                    log.exception("a group write's callback failed")

    def _commit(self, group: list[_Write[Any]], wait: bool = True) -> None:
        """The group in one transaction. Writes rarely fail, and a savepoint per write costs a copy
        of every page it changes (SQLite's statement journal): the group first runs without them; if
        a write fails, that transaction is rolled back and the group runs again, each write in its own
        savepoint, so the failing one fails alone."""
        if len(group) > 1:
            try:
                with self._begin(wait) as conn:
                    results = [write.run(conn) for write in group]
            except Busy:
                raise
            except Exception:
                pass  # nothing of it was stored: again, with savepoints
            else:
                for write, result in zip(group, results, strict=True):
                    write.result = result
                return
        self._commit_isolated(group, wait)

    def _commit_isolated(self, group: list[_Write[Any]], wait: bool = True) -> None:
        try:
            with self._begin(wait) as conn:
                if len(group) == 1:  # alone, its failure is the transaction's: no savepoint needed
                    write = group[0]
                    try:
                        write.result = write.run(conn)
                    except BaseException as error:
                        write.error = error
                        raise
                    return
                for index, write in enumerate(group):
                    name = f"w{index}"
                    raw.execute(conn, f"SAVEPOINT {name}")
                    try:
                        write.result = write.run(conn)
                    except BaseException as error:  # the caller's to handle; the others still commit
                        write.error = error
                        raw.execute(conn, f"ROLLBACK TO SAVEPOINT {name}")
                    raw.execute(conn, f"RELEASE SAVEPOINT {name}")
        except Busy:
            raise  # not begun: nothing ran
        except BaseException as error:
            # the transaction itself failed (the commit, or the database went away): nothing of this
            # group is stored, and every caller hears why
            for write in group:
                if write.error is None:
                    write.error = error
                write.result = None
