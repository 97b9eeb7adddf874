"""Group commit on the real databases: concurrent writers share transactions, each write is
committed before its caller returns, and a failing write takes nothing else down with it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from fraudhawk.storage.database import Database
from fraudhawk.storage.group import GroupWriter


@pytest.fixture
def database(backend_url: str) -> Database:
    db = Database(backend_url)
    with db.write() as conn:
        conn.execute(text("DROP TABLE IF EXISTS group_probe"))
        conn.execute(text("CREATE TABLE group_probe (id INTEGER PRIMARY KEY, who TEXT NOT NULL)"))
    return db


def _insert(key: int, who: str) -> Callable[[Connection], int]:
    def run(conn: Connection) -> int:
        conn.execute(text("INSERT INTO group_probe (id, who) VALUES (:id, :who)"), {"id": key, "who": who})
        return key

    return run


def test_concurrent_writes_commit_and_failures_stay_alone(database: Database) -> None:
    threads = 8
    per_thread = 60
    errors: list[BaseException] = []
    results: list[int] = []
    lock = threading.Lock()

    def worker(number: int) -> None:
        for i in range(per_thread):
            key = number * 1000 + i
            try:
                value = database.group.submit(_insert(key, f"t{number}"))
                with lock:
                    results.append(value)
            except BaseException as error:
                with lock:
                    errors.append(error)
            if i % 10 == 0:  # a duplicate key: this write alone must fail
                try:
                    database.group.submit(_insert(key, "duplicate"))
                except IntegrityError:
                    pass
                else:
                    with lock:
                        errors.append(AssertionError(f"duplicate {key} was accepted"))

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    with database.read() as conn:
        rows = conn.execute(text("SELECT id, who FROM group_probe ORDER BY id")).all()
    assert sorted(results) == [row.id for row in rows]
    assert len(rows) == threads * per_thread
    assert {row.who for row in rows} == {f"t{n}" for n in range(threads)}
    database.dispose()


def test_a_write_is_visible_when_submit_returns(database: Database) -> None:
    database.group.submit(_insert(1, "first"))
    with database.read() as conn:
        assert conn.execute(text("SELECT who FROM group_probe WHERE id = 1")).scalar() == "first"
    with pytest.raises(ZeroDivisionError):
        database.group.submit(lambda conn: 1 // 0)
    database.group.submit(_insert(2, "second"))  # the writer is not wedged by a failure
    with database.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM group_probe")).scalar() == 2
    database.dispose()


def test_writer_needs_no_thread_of_its_own(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    before = threading.active_count()
    writer = GroupWriter(db.write)
    writer.submit(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))
    assert threading.active_count() == before
    db.dispose()


def test_writes_queued_without_waiting_commit_together_with_blocking_ones(database: Database) -> None:
    """An event loop queues writes (`submit_nowait`, or `enqueue` then `drain` on its own thread)
    while threads block in `submit`: every write commits once, its callback hears how, and a failing
    one (a duplicate key) fails alone."""
    outcomes: dict[int, tuple[object, BaseException | None]] = {}
    lock = threading.Lock()
    settled = threading.Semaphore(0)

    def callback(key: int) -> Callable[[object, BaseException | None], None]:
        def done(result: object, error: BaseException | None) -> None:
            with lock:
                outcomes[key] = (result, error)
            settled.release()

        return done

    def blocking(number: int) -> None:
        for i in range(40):
            database.group.submit(_insert(100_000 + number * 1000 + i, "blocking"))

    threads = [threading.Thread(target=blocking, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    queued = 0
    for i in range(200):
        if i % 2:
            database.group.submit_nowait(_insert(i, "nowait"), callback(i))
        else:
            database.group.enqueue(_insert(i, "enqueued"), callback(i))
            if i % 10 == 0:
                database.group.drain()
        queued += 1
    database.group.enqueue(_insert(1, "duplicate"), callback(-1))  # key 1 was queued above
    database.group.drain()
    for t in threads:
        t.join()
    database.group.drain()  # what the loop's last scheduled flush would commit
    for _ in range(queued + 1):
        assert settled.acquire(timeout=30)
    assert all(outcomes[i] == (i, None) for i in range(200))
    result, error = outcomes[-1]
    assert result is None
    assert isinstance(error, IntegrityError)
    with database.read() as conn:
        rows: dict[int, str] = {row.id: row.who for row in conn.execute(text("SELECT id, who FROM group_probe"))}
    assert len(rows) == 200 + 3 * 40
    assert rows[1] == "nowait"
    assert {rows[i] for i in range(0, 200, 2)} == {"enqueued"}
    database.dispose()


def test_a_drain_that_must_not_wait_leaves_its_writes_queued(tmp_path: Path) -> None:
    """The server's loop never waits for another process's commit: its drain gives up at once,
    nothing written and no callback, and commits everything on a later try."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db = Database(url)
    with db.write() as conn:
        conn.execute(text("CREATE TABLE group_probe (id INTEGER PRIMARY KEY, who TEXT NOT NULL)"))
    hold = "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.readline()"  # noqa: E501
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(tmp_path / "x.db.write-lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    assert holder.stdout.readline() == "held\n"
    settled: list[tuple[object, BaseException | None]] = []
    for key in (1, 2):
        db.group.enqueue(_insert(key, "queued"), lambda result, error: settled.append((result, error)))
    started = time.monotonic()
    assert db.group.drain(wait=False) is False
    assert time.monotonic() - started < 1
    assert settled == []
    with db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM group_probe")).scalar() == 0

    # a thread of this process holding the lock is waited for no more than another process
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(timeout=10)
    release = threading.Event()
    holding = threading.Event()

    def hold_in_thread() -> None:
        with db.write():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold_in_thread)
    thread.start()
    assert holding.wait(10)
    assert db.group.drain(wait=False) is False
    release.set()
    thread.join()

    assert db.group.drain(wait=False) is True
    assert settled == [(1, None), (2, None)]
    with db.read() as conn:
        assert [row.id for row in conn.execute(text("SELECT id FROM group_probe ORDER BY id"))] == [1, 2]
    db.dispose()
