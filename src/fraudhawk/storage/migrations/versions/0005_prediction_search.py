"""Searching recorded predictions by entity and by outcome: the entity and the outcomes as columns of
the record, each outcome as a row of its own (keyed newest first within the outcome), an index on the
entity ordered like the search, and one on the event id alone. And a batch prediction's count of the
records it could not evaluate.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CHUNK = 5_000


def _backfill() -> None:
    """Records written before this revision keep their entity and outcomes in their JSON: copy them out,
    a chunk of rows at a time, so a large table is never held in memory."""
    conn = op.get_bind()
    predictions = sa.table(
        "predictions",
        sa.column("id", sa.BigInteger()),
        sa.column("prediction_ms", sa.BigInteger()),
        sa.column("record", sa.Text()),
        sa.column("entity_type", sa.String()),
        sa.column("entity_id", sa.String()),
        sa.column("outcomes", sa.Text()),
    )
    outcomes = sa.table(
        "prediction_outcomes",
        sa.column("prediction_id", sa.BigInteger()),
        sa.column("outcome", sa.String()),
        sa.column("prediction_ms", sa.BigInteger()),
    )
    after = -1
    while True:
        rows = conn.execute(
            sa.select(predictions.c.id, predictions.c.prediction_ms, predictions.c.record)
            .where(predictions.c.id > after)
            .order_by(predictions.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        found = []
        for row in rows:
            record = json.loads(row.record)
            conn.execute(
                sa.update(predictions)
                .where(predictions.c.id == row.id)
                .values(
                    entity_type=record["entityType"],
                    entity_id=record["entityId"],
                    outcomes="|" + "|".join(dict.fromkeys(record["outcomes"])) + "|",
                )
            )
            found += [
                {"prediction_id": row.id, "outcome": name, "prediction_ms": row.prediction_ms}
                for name in dict.fromkeys(record["outcomes"])
            ]
        if found:
            conn.execute(sa.insert(outcomes), found)
        after = rows[-1].id


def upgrade() -> None:
    # a batch prediction's count of records it could not evaluate, shown beside its progress
    with op.batch_alter_table("batch_predictions") as batch:
        batch.add_column(sa.Column("failed", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("entity_type", sa.String(64), nullable=True))
        batch.add_column(sa.Column("entity_id", sa.String(256), nullable=True))
        batch.add_column(sa.Column("outcomes", sa.Text(), nullable=True))
    op.create_table(
        "prediction_outcomes",
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("prediction_ms", sa.BigInteger(), nullable=False),
        sa.Column("prediction_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("outcome", "prediction_ms", "prediction_id", name="pk_prediction_outcomes"),
        sqlite_with_rowid=False,
    )
    _backfill()
    op.create_index("ix_predictions_entity_id_prediction_ms_id", "predictions", ["entity_id", "prediction_ms", "id"])
    # by event id alone too (ListEventPredictions' eventId filter); with the type, it finds one event's records
    op.drop_index("ix_predictions_event_type_event_id", "predictions")
    op.create_index("ix_predictions_event_id_event_type", "predictions", ["event_id", "event_type"])


def downgrade() -> None:
    op.drop_index("ix_predictions_event_id_event_type", "predictions")
    op.create_index("ix_predictions_event_type_event_id", "predictions", ["event_type", "event_id"])
    op.drop_index("ix_predictions_entity_id_prediction_ms_id", "predictions")
    op.drop_table("prediction_outcomes")
    with op.batch_alter_table("batch_predictions") as batch:
        batch.drop_column("failed")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("outcomes")
        batch.drop_column("entity_id")
        batch.drop_column("entity_type")
