"""Plain DBAPI statements for the few hot paths where SQLAlchemy's per-statement work (building,
compiling and wrapping each statement) costs more than the database does.

Statements are written with `?` placeholders and sent as they are to SQLite, with `%s` to psycopg.
They run on the connection's own DBAPI connection, so they belong to its transaction and savepoints.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection


@functools.lru_cache(maxsize=256)
def _for_postgres(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


@dataclass(frozen=True)
class Plain:
    """A pooled DBAPI connection without SQLAlchemy's Connection around it (see `Database.quick`)."""

    dbapi: Any
    dialect: str


def execute(conn: Connection | Plain, sql: str, params: Sequence[Any] = ()) -> Any:
    """Run one statement; returns the DBAPI cursor (fetchone/fetchall/rowcount)."""
    if isinstance(conn, Plain):
        dbapi, dialect = conn.dbapi, conn.dialect
    else:
        dbapi, dialect = conn.connection.dbapi_connection, conn.dialect.name
    assert dbapi is not None
    if dialect == "sqlite":
        return dbapi.execute(sql, params)
    cursor = dbapi.cursor()
    cursor.execute(_for_postgres(sql), params)
    return cursor


def one(conn: Connection | Plain, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first row of a query, or None."""
    return execute(conn, sql, params).fetchone()
