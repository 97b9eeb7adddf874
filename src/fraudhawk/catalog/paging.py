"""nextToken/maxResults pagination over a table ordered by a unique key (keyset, stable under writes)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.sql import ColumnElement

from fraudhawk.errors import ResourceNotFoundError, ValidationError


def encode_token(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": key}).encode()).decode()


def decode_token(token: str, kind: type) -> Any:
    """The key a token resumes after; it must be of the key column's type (and range)."""
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        after = None
    valid = type(after) is kind
    if isinstance(after, int) and valid:
        valid = -(2**63) <= after < 2**63
    if isinstance(after, str) and valid:
        try:
            after.encode("utf-8")
            valid = "\x00" not in after
        except UnicodeEncodeError:
            valid = False
    if not valid:
        raise ValidationError("The nextToken is not valid: pass the nextToken of a previous response")
    return after


def page(
    conn: Connection,
    query: Select[Any],
    key: ColumnElement[Any],
    next_token: str | None,
    max_results: int | None,
    default_size: int,
) -> tuple[Sequence[Any], str | None]:
    """One page of `query` ordered by `key`, and the token for the next page (None on the last)."""
    size = max_results or default_size
    if next_token:
        query = query.where(key > decode_token(next_token, key.type.python_type))
    rows = conn.execute(query.order_by(key).limit(size + 1)).all()
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    return rows, encode_token(rows[-1]._mapping[key])


def one_or_page(
    conn: Connection, query: Select[Any], key: ColumnElement[Any], req: dict[str, Any], id_field: str, missing: str
) -> tuple[Sequence[Any], str | None]:
    """The row whose `key` is `req[id_field]` (ResourceNotFoundError `missing` if none), or, without
    an id, a page of 50 as `page` gives it (the Get operations of jobs)."""
    if id_field in req:
        rows = conn.execute(query.where(key == req[id_field])).all()
        if not rows:
            raise ResourceNotFoundError(missing)
        return rows, None
    return page(conn, query, key, req.get("nextToken"), req.get("maxResults"), 50)


def with_token(result: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        result["nextToken"] = token
    return result
