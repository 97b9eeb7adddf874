"""Stored events: the event index, columnar segments, streamed events, statistics, deletions and
batch import jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_index",
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=True),
        sa.Column("row_index", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("event_type", "event_id", name="pk_event_index"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "event_labels",
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("label_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_type", "event_id", name="pk_event_labels"),
    )
    op.create_table(
        "event_segments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("min_ms", sa.BigInteger(), nullable=False),
        sa.Column("max_ms", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_segments"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_event_segments_event_type_id", "event_segments", ["event_type", "id"])
    op.create_table(
        "streamed_events",
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_ms", sa.BigInteger(), nullable=False),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(256), nullable=False),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("label_ms", sa.BigInteger(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_type", "event_id", name="pk_streamed_events"),
    )
    op.create_index("ix_streamed_events_event_type_event_ms", "streamed_events", ["event_type", "event_ms"])
    op.create_table(
        "event_stats",
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("number_of_events", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("least_recent_ms", sa.BigInteger(), nullable=True),
        sa.Column("most_recent_ms", sa.BigInteger(), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_type", name="pk_event_stats"),
    )
    op.create_table(
        "event_deletions",
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("requested_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("event_type", name="pk_event_deletions"),
    )
    op.create_table(
        "batch_imports",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("input_path", sa.String(512), nullable=False),
        sa.Column("output_path", sa.String(512), nullable=False),
        sa.Column("iam_role_arn", sa.String(256), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("completion_ms", sa.BigInteger(), nullable=True),
        sa.Column("processed", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("records_done", sa.BigInteger(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name="pk_batch_imports"),
    )
    op.create_table(
        "batch_import_failures",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["batch_imports.job_id"],
            name="fk_batch_import_failures_job_id_batch_imports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "line", name="pk_batch_import_failures"),
    )


def downgrade() -> None:
    for table in (
        "batch_import_failures",
        "batch_imports",
        "event_deletions",
        "event_stats",
        "streamed_events",
        "event_segments",
        "event_labels",
        "event_index",
    ):
        op.drop_table(table)
