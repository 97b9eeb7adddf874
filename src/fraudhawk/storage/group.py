"""Group commit: many requests' small writes share one transaction and one commit.

A request's write is committed before `submit` returns, so its answer is as durable as with its own
transaction. Whoever submits when no one is writing becomes the leader and commits what is waiting,
its own write included, in its own thread (no hand-off to another thread when the load is light);
writes that arrive meanwhile wait and go together in the next transaction, led by one of them. Each
write runs in its own savepoint: one that fails is rolled back alone and its caller gets the error,
while the others commit.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from fraudhawk.storage import raw

T = TypeVar("T")
MAX_GROUP = 256  # writes per transaction: enough to amortise the commit, short enough to keep latency low


@dataclass
class _Write(Generic[T]):
    run: Callable[[Connection], T]
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupWriter:
    """`submit(fn)` runs `fn(conn)` in a transaction shared with concurrent submitters."""

    def __init__(self, begin: Callable[[], Any]) -> None:
        self._begin = begin  # the database's write() context manager factory
        self._pending: deque[_Write[Any]] = deque()
        self._cond = threading.Condition()
        self._leading = False

    def submit(self, run: Callable[[Connection], T]) -> T:
        write: _Write[T] = _Write(run)
        with self._cond:
            self._pending.append(write)
            while not write.done and self._leading:
                self._cond.wait()
            if not write.done:
                self._leading = True
        if not write.done:
            self._lead(write)
        if write.error is not None:
            raise write.error
        result: T = write.result
        return result

    def _lead(self, own: _Write[Any]) -> None:
        try:
            while not own.done:
                with self._cond:
                    group = [self._pending.popleft() for _ in range(min(len(self._pending), MAX_GROUP))]
                self._commit(group)
                with self._cond:
                    for write in group:
                        write.done = True
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()  # a waiting writer takes over what is pending

    def _commit(self, group: list[_Write[Any]]) -> None:
        try:
            with self._begin() as conn:
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
        except BaseException as error:
            # the transaction itself failed (the commit, or the database went away): nothing of this
            # group is stored, and every caller hears why
            for write in group:
                if write.error is None:
                    write.error = error
                write.result = None
