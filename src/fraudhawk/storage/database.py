"""The database handle: one engine, short transactions, migrations on open.

SQLite runs in WAL mode so readers never block the writer. Write transactions start with
`BEGIN IMMEDIATE`: a writer takes the lock up front and waits (busy_timeout) instead of failing
halfway when a read transaction tries to upgrade. PostgreSQL uses its own MVCC; concurrent
migrations are serialised with an advisory lock.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, make_url, text
from sqlalchemy.engine import Engine

from fraudhawk.storage import raw
from fraudhawk.storage.group import Busy, GroupWriter

MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "fraudhawk_write"
_MIGRATION_LOCK = 0x66726175  # an arbitrary constant: "frau"
_MMAP_BYTES = 1 << 30


class Database:
    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._write_lock: _Lock = threading.Lock() if self.is_sqlite else _NoLock()
        self._checkpointer: _Checkpointer | None = None
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
                self._write_lock = _ProcessWriteLock(Path(self.url.database + ".write-lock"))
                self._checkpointer = _Checkpointer(self.url.database)
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8)
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(self.url, pool_size=8, max_overflow=8, pool_pre_ping=True)
        self.group = GroupWriter(self.write)  # small writes of many requests, committed together

    @contextmanager
    def read(self, snapshot: bool = False) -> Iterator[Connection]:
        """A read transaction; `snapshot` makes every statement in it see the same moment (PostgreSQL's
        REPEATABLE READ; a SQLite read transaction always does)."""
        with self.engine.connect() as connection:
            conn = connection
            if snapshot and not self.is_sqlite:
                conn = connection.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def quick(self) -> Iterator[raw.Plain]:
        """A pooled DBAPI connection for a few independent reads (`storage.raw`), without BEGIN and
        COMMIT: each statement sees the latest commit. For the hot path of real-time predictions,
        where SQLAlchemy's Connection and transaction cost more than the reads themselves."""
        pooled = self.engine.raw_connection()
        try:
            yield raw.Plain(pooled.dbapi_connection, self.engine.dialect.name)
        finally:
            if not self.is_sqlite:
                pooled.rollback()  # psycopg opened a transaction for the reads
            pooled.close()

    @contextmanager
    def write(self, wait: bool = True) -> Iterator[Connection]:
        """One atomic write: everything inside commits together or not at all. With `wait` false,
        raises Busy at once when another writer (of this process or another) holds SQLite's lock."""
        # SQLite has one writer at a time; queueing this process's writers on a lock wakes them at
        # once, where SQLite's busy handler would poll with growing sleeps.
        if not self._write_lock.acquire(wait):
            raise Busy
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        finally:
            self._write_lock.release()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent, safe from several processes)."""
        config = _alembic_config()
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                config.attributes["connection"] = conn
                command.upgrade(config, "head")

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()


class _Checkpointer(threading.Thread):
    """Copies the write-ahead log into the database in the background, so that a commit never has to:
    SQLite otherwise checkpoints inside the commit that crosses the threshold, which stalls that
    writer (and every request waiting on it) while thousands of pages are copied. PASSIVE waits for
    no reader or writer; the commit-time threshold stays as a backstop."""

    INTERVAL_S = 0.5

    def __init__(self, path: str) -> None:
        super().__init__(name="fraudhawk-checkpoint", daemon=True)
        self._path = path
        self._halt = threading.Event()
        self.start()

    def run(self) -> None:
        connection: sqlite3.Connection | None = None
        while not self._halt.wait(self.INTERVAL_S):
            try:
                if connection is None:
                    if not Path(self._path + "-wal").exists():
                        continue
                    connection = sqlite3.connect(self._path, timeout=0.05, check_same_thread=False)
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                continue  # busy or locked this time: the next round, or the commit-time backstop, copies it
        if connection is not None:
            connection.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


class _Lock(Protocol):
    def acquire(self, blocking: bool = ...) -> bool: ...

    def release(self) -> None: ...


class _NoLock:
    """PostgreSQL takes its own row locks: writers need not queue."""

    def acquire(self, blocking: bool = True) -> bool:
        return True

    def release(self) -> None:
        pass


class _ProcessWriteLock:
    """SQLite's one writer at a time, queued by the kernel across processes (several server workers)
    and by a mutex within one: SQLite's own busy handler polls with sleeps of up to 100 ms, which
    under steady writing from two processes shows up as long stalls."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._mutex = threading.Lock()
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        if not self._mutex.acquire(blocking):
            return False
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._mutex.release()
                return False
        except BaseException:
            self._mutex.release()
            raise
        return True

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA page_size=16384")  # before the first table; larger pages suit segment blobs
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # A 32 MiB page cache per connection keeps the event index's hot pages in memory during imports.
        # Checkpointing every 16,384 pages (256 MiB of 16 KiB pages) rather than every 1,000 lets a large
        # import write its batches without stopping to copy them: measured 10.8 s against 13 s on 1.2M
        # events, for up to 256 MiB of WAL on disk.
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.execute("PRAGMA wal_autocheckpoint=16384")
        # Pages read through a memory map, not copied by read(): when several server processes share
        # the file, each transaction finds its page cache stale (the other process wrote since)
        # and would copy its pages in again. Measured: 2 workers went from ~1,400 to ~1,700-2,000
        # predictions/s.
        cursor.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")
