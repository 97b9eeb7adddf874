"""Catalog resources: entity types, event types, variables, labels, outcomes, lists, tags, settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[int]]:
    return [
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    ]


def _named(table: str, *columns: sa.Column[object]) -> None:
    op.create_table(
        table,
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(128), nullable=True),
        *columns,
        *_stamps(),
        sa.PrimaryKeyConstraint("name", name=f"pk_{table}"),
    )


def _link(table: str, column: str, target: str) -> None:
    op.create_table(
        table,
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column(column, sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_type"],
            ["event_types.name"],
            name=f"fk_{table}_event_type_event_types",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint([column], [f"{target}.name"], name=f"fk_{table}_{column}_{target}"),
        sa.PrimaryKeyConstraint("event_type", column, name=f"pk_{table}"),
    )
    op.create_index(f"ix_{table}_{column}", table, [column])


def upgrade() -> None:
    _named("entity_types")
    _named("labels")
    _named("outcomes")
    _named(
        "variables",
        sa.Column("data_type", sa.String(16), nullable=False),
        sa.Column("data_source", sa.String(32), nullable=False),
        sa.Column("default_value", sa.Text(), nullable=False),
        sa.Column("variable_type", sa.String(64), nullable=True),
    )
    _named(
        "event_types",
        sa.Column("event_ingestion", sa.String(16), nullable=False),
        sa.Column("event_bridge_enabled", sa.Boolean(), nullable=False),
    )
    _link("event_type_variables", "variable", "variables")
    _link("event_type_labels", "label", "labels")
    _link("event_type_entity_types", "entity_type", "entity_types")
    _named("lists", sa.Column("variable_type", sa.String(64), nullable=True))
    op.create_table(
        "list_elements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("list_name", sa.String(64), nullable=False),
        sa.Column("element", sa.String(320), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_name"], ["lists.name"], name="fk_list_elements_list_name_lists", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_list_elements"),
        sa.UniqueConstraint("list_name", "element", name="uq_list_elements_list_name_element"),
    )
    op.create_index("ix_list_elements_list_name_id", "list_elements", ["list_name", "id"])
    op.create_table(
        "tags",
        sa.Column("resource_arn", sa.String(256), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("resource_arn", "key", name="pk_tags"),
    )
    op.create_table(
        "service_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_service_settings"),
    )


def downgrade() -> None:
    for table in (
        "service_settings",
        "tags",
        "list_elements",
        "lists",
        "event_type_entity_types",
        "event_type_labels",
        "event_type_variables",
        "event_types",
        "variables",
        "outcomes",
        "labels",
        "entity_types",
    ):
        op.drop_table(table)
