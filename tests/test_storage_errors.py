"""Database failures are told apart by the driver's codes: real violations on real SQLite and
PostgreSQL, raised through SQLAlchemy and through plain DBAPI statements, each named right."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from fraudhawk.errors import ConflictError, InternalError, ThrottlingError
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings
from fraudhawk.storage.errors import Fault, fault

_TABLES = (
    "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, name TEXT UNIQUE, parent INTEGER REFERENCES parent (id), "
    "size INTEGER NOT NULL, positive INTEGER CHECK (positive > 0))",
    "INSERT INTO parent (id) VALUES (1)",
    "INSERT INTO child (id, name, parent, size, positive) VALUES (1, 'one', 1, 1, 1)",
)
VIOLATIONS = {
    "INSERT INTO child (id, name, parent, size, positive) VALUES (1, 'two', 1, 1, 1)": Fault.UNIQUE_VIOLATION,
    "INSERT INTO child (id, name, parent, size, positive) VALUES (2, 'one', 1, 1, 1)": Fault.UNIQUE_VIOLATION,
    "INSERT INTO child (id, name, parent, size, positive) VALUES (2, 'two', 9, 1, 1)": Fault.FOREIGN_KEY_VIOLATION,
    "INSERT INTO child (id, name, parent, size, positive) VALUES (2, 'two', 1, NULL, 1)": Fault.NOT_NULL_VIOLATION,
    "INSERT INTO child (id, name, parent, size, positive) VALUES (2, 'two', 1, 1, 0)": Fault.CHECK_VIOLATION,
    "SELEKT 1": None,  # a database error of no kind named here
}


@pytest.fixture
def engine(backend_url: str) -> Iterator[Engine]:
    """An engine on an empty database (a fresh schema on PostgreSQL) holding the two tables."""
    if backend_url.startswith("sqlite"):
        Path(backend_url.removeprefix("sqlite:///")).parent.mkdir(parents=True)
        made = create_engine(backend_url, connect_args={"timeout": 0})  # busy at once, not after a wait

        @_on_connect(made)
        def _setup(dbapi: Any) -> None:
            dbapi.isolation_level = None  # transactions begin where the tests say
            dbapi.execute("PRAGMA journal_mode=WAL")
            dbapi.execute("PRAGMA foreign_keys=ON")

    else:
        made = create_engine(backend_url)
    with made.begin() as conn:
        for statement in _TABLES:
            conn.execute(text(statement))
    yield made
    made.dispose()


def _on_connect(engine: Engine) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    from sqlalchemy import event

    def register(setup: Callable[[Any], None]) -> Callable[[Any], None]:
        event.listen(engine, "connect", lambda dbapi, _record: setup(dbapi))
        return setup

    return register


def _raised(run: Callable[[], object]) -> BaseException:
    with pytest.raises((DBAPIError, sqlite3.Error, psycopg.Error)) as caught:
        run()
    return caught.value


def _begin(conn: Connection, *, write: bool = False) -> None:
    """Open a transaction now. psycopg opens one by itself at the first statement; SQLite (in
    autocommit here) is told, as an immediate one for a writer."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _hold_write_lock(conn: Connection) -> None:
    _begin(conn, write=True)
    conn.exec_driver_sql("UPDATE parent SET id = 1 WHERE id = 1")


def _wait_for_write_lock(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("SELECT id FROM parent WHERE id = 1 FOR UPDATE NOWAIT")


@pytest.mark.parametrize(("statement", "expected"), list(VIOLATIONS.items()))
def test_violations_through_sqlalchemy_are_named_by_code(engine: Engine, statement: str, expected: Fault) -> None:
    with engine.connect() as conn:
        error = _raised(lambda: conn.execute(text(statement)))
    assert fault(error) is expected


@pytest.mark.parametrize(("statement", "expected"), list(VIOLATIONS.items()))
def test_violations_through_plain_dbapi_are_named_by_code(engine: Engine, statement: str, expected: Fault) -> None:
    pooled = engine.raw_connection()
    try:
        cursor = pooled.cursor()
        error = _raised(lambda: cursor.execute(statement))
        pooled.rollback()
    finally:
        pooled.close()
    assert not isinstance(error, DBAPIError)  # the driver's own exception
    assert fault(error) is expected


def test_a_write_lock_held_elsewhere_is_busy(engine: Engine) -> None:
    with engine.connect() as holder, engine.connect() as waiter:
        _hold_write_lock(holder)
        error = _raised(lambda: _wait_for_write_lock(waiter))
        waiter.rollback()
        holder.rollback()
    assert fault(error) is Fault.BUSY


def test_a_write_after_a_stale_read_is_a_serialization_failure(engine: Engine) -> None:
    """The reader's snapshot was taken before another transaction committed a change: SQLite's WAL
    refuses its upgrade to a writer (SQLITE_BUSY_SNAPSHOT), PostgreSQL's REPEATABLE READ its update."""
    with engine.connect() as plain, engine.connect() as writer:
        reader = plain.execution_options(isolation_level="REPEATABLE READ") if plain.dialect.name != "sqlite" else plain
        _begin(reader)
        assert reader.exec_driver_sql("SELECT size FROM child WHERE id = 1").scalar() == 1
        _begin(writer, write=True)
        writer.exec_driver_sql("UPDATE child SET size = 2 WHERE id = 1")
        writer.commit()
        error = _raised(lambda: reader.exec_driver_sql("UPDATE child SET size = 3 WHERE id = 1"))
        reader.rollback()
    assert fault(error) is Fault.SERIALIZATION_FAILURE


@pytest.mark.postgres
def test_two_transactions_waiting_on_each_other_are_a_deadlock(pg_url: str) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE pair (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO pair (id) VALUES (1), (2)")
    both_hold_one = threading.Barrier(2)
    errors: list[BaseException] = []

    def lock(first: int, second: int) -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT id FROM pair WHERE id = {first} FOR UPDATE")
            both_hold_one.wait()
            try:
                conn.exec_driver_sql(f"SELECT id FROM pair WHERE id = {second} FOR UPDATE")
            except Exception as error:
                errors.append(error)
            conn.rollback()

    threads = [threading.Thread(target=lock, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    engine.dispose()
    assert [fault(error) for error in errors] == [Fault.DEADLOCK]


def test_other_failures_are_no_database_fault() -> None:
    assert fault(ValueError("UNIQUE constraint failed: child.id")) is None
    assert fault(sqlite3.ProgrammingError("Cannot operate on a closed database.")) is None


def test_the_service_answers_each_fault_as_afd_would(backend_url: str, tmp_path: Path) -> None:
    """A conflict with a concurrent write is retried, then answered ConflictException; a busy database
    is retried, then ThrottlingException; any other database failure is an internal error at once."""
    settings = Settings.load(data_dir=tmp_path / "data", database_url=backend_url, environ={})
    service = Service(settings, worker=False)
    try:
        service.call("PutLabel", {"name": "fraud"})
        insert = "INSERT INTO labels (name, created_ms, updated_ms) VALUES ({}, 0, 0)"
        with service.db.engine.connect() as conn:
            conflict = _raised(lambda: conn.exec_driver_sql(insert.format("'fraud'")))
            conn.rollback()
            broken = _raised(lambda: conn.exec_driver_sql(insert.format("NULL")))
            conn.rollback()
        with service.db.write() as holder:  # holds the write lock: of SQLite's file, of PostgreSQL's row
            holder.exec_driver_sql("UPDATE labels SET updated_ms = 1 WHERE name = 'fraud'")
            waiter = service.db.engine.raw_connection()
            try:
                cursor = waiter.cursor()
                if service.db.is_sqlite:
                    cursor.execute("PRAGMA busy_timeout=0")  # busy at once rather than after 30 s
                    busy = _raised(lambda: cursor.execute("BEGIN IMMEDIATE"))
                else:
                    busy = _raised(lambda: cursor.execute("SELECT name FROM labels FOR UPDATE NOWAIT"))
            finally:
                waiter.invalidate()  # not back to the pool, with its changed busy timeout
    finally:
        service.close()
    assert service.failure("PutLabel", conflict, last_try=False) is None
    assert isinstance(service.failure("PutLabel", conflict, last_try=True), ConflictError)
    assert service.failure("PutLabel", busy, last_try=False) is None
    assert isinstance(service.failure("PutLabel", busy, last_try=True), ThrottlingError)
    assert isinstance(service.failure("PutLabel", broken, last_try=False), InternalError)
