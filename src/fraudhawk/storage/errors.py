"""Database failures by kind, read from the driver's own error codes: SQLite's result codes
(`sqlite_errorcode`, extended codes included) and PostgreSQL's SQLSTATE (psycopg's `sqlstate`).

Never from a message's text, which differs between drivers, versions and locales. Every caller that
needs to tell one database failure from another asks `fault`.
"""

from __future__ import annotations

import enum
import sqlite3

from sqlalchemy.exc import DBAPIError


class Fault(enum.Enum):
    UNIQUE_VIOLATION = "unique violation"  # a primary key or unique constraint
    FOREIGN_KEY_VIOLATION = "foreign key violation"
    NOT_NULL_VIOLATION = "not-null violation"
    CHECK_VIOLATION = "check violation"
    BUSY = "busy"  # another transaction holds a lock this one needs
    SERIALIZATION_FAILURE = "serialization failure"  # what this transaction read changed before it wrote
    DEADLOCK = "deadlock"


# SQLite reports an extended code (a kind of constraint, a kind of busy) whose low byte is the primary one.
_SQLITE_EXTENDED = {
    sqlite3.SQLITE_CONSTRAINT_UNIQUE: Fault.UNIQUE_VIOLATION,
    sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY: Fault.UNIQUE_VIOLATION,
    sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: Fault.FOREIGN_KEY_VIOLATION,
    sqlite3.SQLITE_CONSTRAINT_NOTNULL: Fault.NOT_NULL_VIOLATION,
    sqlite3.SQLITE_CONSTRAINT_CHECK: Fault.CHECK_VIOLATION,
    # a WAL read transaction that tries to write after another connection committed: its snapshot is stale
    sqlite3.SQLITE_BUSY_SNAPSHOT: Fault.SERIALIZATION_FAILURE,
}
_SQLITE_PRIMARY = {sqlite3.SQLITE_BUSY: Fault.BUSY, sqlite3.SQLITE_LOCKED: Fault.BUSY}
_SQLSTATE = {
    "23505": Fault.UNIQUE_VIOLATION,
    "23503": Fault.FOREIGN_KEY_VIOLATION,
    "23502": Fault.NOT_NULL_VIOLATION,
    "23514": Fault.CHECK_VIOLATION,
    "55P03": Fault.BUSY,  # lock_not_available (NOWAIT, lock_timeout)
    "40001": Fault.SERIALIZATION_FAILURE,
    "40P01": Fault.DEADLOCK,
}


def driver_error(error: BaseException) -> BaseException | None:
    """The driver's exception behind `error`, or None when `error` did not come from the database.
    SQLAlchemy wraps the driver's exception (`orig`); plain statements (`storage.raw`) raise it as is."""
    if isinstance(error, DBAPIError):
        return error.orig
    if isinstance(error, sqlite3.Error) or hasattr(error, "sqlstate"):  # every psycopg error has one
        return error
    return None


def fault(error: BaseException) -> Fault | None:
    """What kind of database failure `error` is, by its driver's code; None for any other failure
    (or a database failure of a kind not named here)."""
    cause = driver_error(error)
    if isinstance(cause, sqlite3.Error):
        code = getattr(cause, "sqlite_errorcode", None)
        if code is None:
            return None
        return _SQLITE_EXTENDED.get(code) or _SQLITE_PRIMARY.get(code & 0xFF)
    state = getattr(cause, "sqlstate", None)
    return _SQLSTATE.get(state) if isinstance(state, str) else None
