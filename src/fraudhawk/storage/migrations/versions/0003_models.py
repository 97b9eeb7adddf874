"""Models, model versions with their training jobs, and per-entity history for TFI.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[int]]:
    return [
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("model_type", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("description", sa.String(128), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("model_id", name="pk_models"),
        sa.ForeignKeyConstraint(["event_type"], ["event_types.name"], name="fk_models_event_type_event_types"),
    )
    op.create_table(
        "model_versions",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("major", sa.Integer(), nullable=False),
        sa.Column("minor", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("training_source", sa.String(32), nullable=False),
        sa.Column("training_schema", sa.Text(), nullable=False),
        sa.Column("external_detail", sa.Text(), nullable=True),
        sa.Column("ingested_detail", sa.Text(), nullable=True),
        sa.Column("training_result", sa.Text(), nullable=True),
        sa.Column("progress", sa.Text(), nullable=True),
        sa.Column("artifact_sha256", sa.String(64), nullable=True),
        sa.Column("history_spec", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("model_id", "major", "minor", name="pk_model_versions"),
        sa.ForeignKeyConstraint(["model_id"], ["models.model_id"], name="fk_model_versions_model_id_models"),
    )
    op.create_table(
        "entity_states",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("major", sa.Integer(), nullable=False),
        sa.Column("minor", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "major", "minor", "entity_id", name="pk_entity_states"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in ("entity_states", "model_versions", "models"):
        op.drop_table(table)
