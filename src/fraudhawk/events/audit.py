"""Removing recorded predictions (the audit history): with each record go its outcome rows, the
index a search by outcome reads. One definition for DeleteEvent's `deleteAuditHistory` and for the
pruning of records past their retention."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, tuple_

from fraudhawk.storage import schema

OUTCOME_SEPARATOR = "|"  # predictions.outcomes holds "|block|review|": each outcome between separators


def outcomes_text(outcomes: list[str]) -> str:
    """A record's outcomes as stored beside it (each once, in order)."""
    return OUTCOME_SEPARATOR + OUTCOME_SEPARATOR.join(dict.fromkeys(outcomes)) + OUTCOME_SEPARATOR


def outcomes_of(text: str | None) -> list[str]:
    return [name for name in (text or "").split(OUTCOME_SEPARATOR) if name]


def delete_predictions(conn: Connection, *conditions: Any) -> int:
    """Delete the prediction records matching `conditions`, and their outcome rows; returns how many."""
    predictions, outcomes = schema.predictions, schema.prediction_outcomes
    rows = conn.execute(
        select(predictions.c.id, predictions.c.prediction_ms, predictions.c.outcomes).where(*conditions)
    ).all()
    if not rows:
        return 0
    keys = [(name, row.prediction_ms, row.id) for row in rows for name in outcomes_of(row.outcomes)]
    key = tuple_(outcomes.c.outcome, outcomes.c.prediction_ms, outcomes.c.prediction_id)
    for start in range(0, len(keys), 500):  # bound the statement's parameters
        conn.execute(delete(outcomes).where(key.in_(keys[start : start + 500])))
    ids = [row.id for row in rows]
    for start in range(0, len(ids), 500):
        conn.execute(delete(predictions).where(predictions.c.id.in_(ids[start : start + 500])))
    return len(ids)
