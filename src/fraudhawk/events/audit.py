"""Recorded predictions' housekeeping: the keys a search by entity or by outcome walks, and removing
records with their keys. One definition for the real-time write (which writes no key), the background
worker (which adds keys in bulk), DeleteEvent's `deleteAuditHistory` and the pruning of old records.

Keys lag the records on purpose: an index kept on the records themselves cost every real-time
prediction 0.2-0.4 ms in process (measured), while keys added a few thousand at a time cost little.
Records newer than the keys (`id > last_id`) are few and are searched by their own columns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_, update

from fraudhawk.storage import schema

OUTCOME_SEPARATOR = "|"  # predictions.outcomes holds "|block|review|": each outcome between separators
ENTITY, OUTCOME = "entity", "outcome"  # the kinds of key
PROGRESS = "keys"  # the progress row's name
SETTLE_MS = 5_000  # keys stop this far behind the newest records: a record still being committed elsewhere
# (another server process, PostgreSQL) may hold a smaller id than one already committed
CHUNK = 20_000  # records given keys per transaction

_records, _keys, _progress = schema.predictions, schema.prediction_keys, schema.prediction_keys_progress


def outcomes_text(outcomes: list[str]) -> str:
    """A record's outcomes as stored beside it (each once, in order)."""
    return OUTCOME_SEPARATOR + OUTCOME_SEPARATOR.join(dict.fromkeys(outcomes)) + OUTCOME_SEPARATOR


def outcomes_of(text: str | None) -> list[str]:
    return [name for name in (text or "").split(OUTCOME_SEPARATOR) if name]


def has_outcome(outcome: str) -> Any:
    """The condition on a record's own columns that it gave `outcome` (for records without keys yet)."""
    return _records.c.outcomes.contains(OUTCOME_SEPARATOR + outcome + OUTCOME_SEPARATOR, autoescape=True)


def _keys_of(row: Any) -> list[dict[str, Any]]:
    keys = [
        {"kind": OUTCOME, "value": name, "prediction_ms": row.prediction_ms, "prediction_id": row.id}
        for name in outcomes_of(row.outcomes)
    ]
    if row.entity_id is not None:
        keys.append(
            {"kind": ENTITY, "value": row.entity_id, "prediction_ms": row.prediction_ms, "prediction_id": row.id}
        )
    return keys


def last_keyed(conn: Connection) -> int:
    """Every record with an id up to this one has its keys."""
    value = conn.execute(select(_progress.c.last_id).where(_progress.c.name == PROGRESS)).scalar()
    return int(value or 0)


def add_keys(conn: Connection, before_ms: int) -> bool:
    """Give keys to the next records (up to CHUNK, none newer than `before_ms`); True when more remain.
    The progress row is locked first, so two server processes never add the same keys."""
    last = conn.execute(select(_progress.c.last_id).where(_progress.c.name == PROGRESS).with_for_update()).scalar()
    if last is None:
        conn.execute(insert(_progress).values(name=PROGRESS, last_id=0))
        last = 0
    rows = conn.execute(
        select(_records.c.id, _records.c.prediction_ms, _records.c.entity_id, _records.c.outcomes)
        .where(_records.c.id > last)
        .order_by(_records.c.id)
        .limit(CHUNK)
    ).all()
    settled = []
    for row in rows:
        if row.prediction_ms >= before_ms:
            break  # ids and times rise together: the rest are newer still
        settled.append(row)
    if not settled:
        return False
    keys = [key for row in settled for key in _keys_of(row)]
    if keys:
        conn.execute(insert(_keys), keys)
    conn.execute(update(_progress).where(_progress.c.name == PROGRESS).values(last_id=settled[-1].id))
    return len(settled) == CHUNK


def delete_predictions(conn: Connection, *conditions: Any) -> int:
    """Delete the prediction records matching `conditions`, and their keys; returns how many."""
    rows = conn.execute(
        select(_records.c.id, _records.c.prediction_ms, _records.c.entity_id, _records.c.outcomes).where(*conditions)
    ).all()
    if not rows:
        return 0
    keys = [(k["kind"], k["value"], k["prediction_ms"], k["prediction_id"]) for row in rows for k in _keys_of(row)]
    key = tuple_(_keys.c.kind, _keys.c.value, _keys.c.prediction_ms, _keys.c.prediction_id)
    for start in range(0, len(keys), 500):  # bound the statement's parameters
        conn.execute(delete(_keys).where(key.in_(keys[start : start + 500])))
    ids = [row.id for row in rows]
    for start in range(0, len(ids), 500):
        conn.execute(delete(_records).where(_records.c.id.in_(ids[start : start + 500])))
    return len(ids)
