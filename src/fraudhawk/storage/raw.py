"""Plain DBAPI statements for the few hot paths where SQLAlchemy's per-statement work (building,
compiling and wrapping each statement) costs more than the database does.

Statements are written with `?` placeholders and sent as they are to SQLite, with `%s` to psycopg.
They run on the connection's own DBAPI connection, so they belong to its transaction and savepoints.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection


@functools.lru_cache(maxsize=256)
def _for_postgres(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def execute(conn: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """Run one statement; returns the DBAPI cursor (fetchone/fetchall/rowcount)."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    if conn.dialect.name == "sqlite":
        return dbapi.execute(sql, params)
    cursor = dbapi.cursor()
    cursor.execute(_for_postgres(sql), params)
    return cursor


def one(conn: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first row of a query, or None."""
    return execute(conn, sql, params).fetchone()
