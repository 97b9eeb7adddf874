"""The SQL schema as SQLAlchemy Core tables. Migrations under `migrations/` must build exactly this.

Times are integer milliseconds since the epoch (UTC): identical on SQLite and PostgreSQL, and cheap
to compare and format.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NAME = 64
DESCRIPTION = 128


def _timestamps() -> list[Column[int]]:
    return [
        Column("created_ms", BigInteger, nullable=False),
        Column("updated_ms", BigInteger, nullable=False),
    ]


def _named(table: str, *columns: Column[object]) -> Table:
    return Table(
        table,
        metadata,
        Column("name", String(NAME), primary_key=True),
        Column("description", String(DESCRIPTION)),
        *columns,
        *_timestamps(),
    )


entity_types = _named("entity_types")
labels = _named("labels")
outcomes = _named("outcomes")

variables = _named(
    "variables",
    Column("data_type", String(16), nullable=False),
    Column("data_source", String(32), nullable=False),
    Column("default_value", Text, nullable=False),
    Column("variable_type", String(NAME)),
)

event_types = _named(
    "event_types",
    Column("event_ingestion", String(16), nullable=False),
    Column("event_bridge_enabled", Boolean, nullable=False),
)


def _event_type_link(table: str, column: str, target: str) -> Table:
    return Table(
        table,
        metadata,
        Column("event_type", String(NAME), ForeignKey("event_types.name", ondelete="CASCADE"), nullable=False),
        Column(column, String(NAME), ForeignKey(f"{target}.name"), nullable=False),
        Column("position", Integer, nullable=False),
        PrimaryKeyConstraint("event_type", column),
        Index(None, column),
    )


event_type_variables = _event_type_link("event_type_variables", "variable", "variables")
event_type_labels = _event_type_link("event_type_labels", "label", "labels")
event_type_entity_types = _event_type_link("event_type_entity_types", "entity_type", "entity_types")

lists = _named("lists", Column("variable_type", String(NAME)))

list_elements = Table(
    "list_elements",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("list_name", String(NAME), ForeignKey("lists.name", ondelete="CASCADE"), nullable=False),
    Column("element", String(320), nullable=False),
    UniqueConstraint("list_name", "element"),
    Index(None, "list_name", "id"),
)

tags = Table(
    "tags",
    metadata,
    Column("resource_arn", String(256), nullable=False),
    Column("key", String(128), nullable=False),
    Column("value", String(256), nullable=False),
    PrimaryKeyConstraint("resource_arn", "key"),
)

service_settings = Table(
    "service_settings",
    metadata,
    Column("key", String(NAME), primary_key=True),
    Column("value", Text, nullable=False),
)
