"""Detectors, rules, detector versions, external models, recorded predictions and batch predictions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Fixed here, not imported from the schema: a migration must build the same thing whatever the
# application code later becomes.
GENERATION_TABLES = (
    "variables",
    "event_types",
    "event_type_variables",
    "lists",
    "list_elements",
    "rules",
    "rule_outcomes",
    "detector_versions",
    "detector_version_rules",
    "detector_version_models",
    "detector_version_external",
    "model_versions",
    "external_models",
)


def _timestamps() -> list[sa.Column[int]]:
    return [
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
    ]


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False)


def _rebuild_entity_states(with_token: bool) -> None:
    """entity_states with a row token read before the state (upgrade), or as 0003 made it."""
    token = [sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0")] if with_token else []
    op.create_table(
        "entity_states_next",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("major", sa.Integer(), nullable=False),
        sa.Column("minor", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(256), nullable=False),
        *token,
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "major", "minor", "entity_id", name="pk_entity_states_next"),
        sqlite_with_rowid=with_token,
    )
    columns = "model_id, major, minor, entity_id, state"
    op.execute(f"INSERT INTO entity_states_next ({columns}) SELECT {columns} FROM entity_states")
    op.drop_table("entity_states")
    op.rename_table("entity_states_next", "entity_states")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE entity_states RENAME CONSTRAINT pk_entity_states_next TO pk_entity_states")


def upgrade() -> None:
    op.create_table(
        "detectors",
        sa.Column("detector_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("description", sa.String(128), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("detector_id", name="pk_detectors"),
        sa.ForeignKeyConstraint(["event_type"], ["event_types.name"], name="fk_detectors_event_type_event_types"),
    )
    op.create_index("ix_detectors_event_type", "detectors", ["event_type"])
    op.create_table(
        "rules",
        sa.Column("detector_id", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(128), nullable=True),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("detector_id", "rule_id", "version", name="pk_rules"),
        sa.ForeignKeyConstraint(["detector_id"], ["detectors.detector_id"], name="fk_rules_detector_id_detectors"),
    )
    op.create_table(
        "rule_outcomes",
        sa.Column("detector_id", sa.String(64), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("detector_id", "rule_id", "version", "position", name="pk_rule_outcomes"),
        sa.ForeignKeyConstraint(["outcome"], ["outcomes.name"], name="fk_rule_outcomes_outcome_outcomes"),
    )
    op.create_index("ix_rule_outcomes_outcome", "rule_outcomes", ["outcome"])
    op.create_table(
        "detector_versions",
        sa.Column("detector_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.String(128), nullable=True),
        sa.Column("rule_execution_mode", sa.String(16), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("detector_id", "version", name="pk_detector_versions"),
        sa.ForeignKeyConstraint(
            ["detector_id"], ["detectors.detector_id"], name="fk_detector_versions_detector_id_detectors"
        ),
    )
    op.create_table(
        "detector_version_rules",
        sa.Column("detector_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("detector_id", "version", "position", name="pk_detector_version_rules"),
    )
    op.create_index(
        "ix_detector_version_rules_detector_id_rule_id_rule_version",
        "detector_version_rules",
        ["detector_id", "rule_id", "rule_version"],
    )
    op.create_table(
        "detector_version_models",
        sa.Column("detector_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("major", sa.Integer(), nullable=False),
        sa.Column("minor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("detector_id", "version", "position", name="pk_detector_version_models"),
    )
    op.create_index(
        "ix_detector_version_models_model_id_major_minor", "detector_version_models", ["model_id", "major", "minor"]
    )
    op.create_table(
        "detector_version_external",
        sa.Column("detector_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("detector_id", "version", "position", name="pk_detector_version_external"),
    )
    op.create_index("ix_detector_version_external_endpoint", "detector_version_external", ["endpoint"])
    op.create_table(
        "external_models",
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("model_source", sa.String(32), nullable=False),
        sa.Column("role_arn", sa.String(256), nullable=False),
        sa.Column("input_configuration", sa.Text(), nullable=False),
        sa.Column("output_configuration", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("endpoint", name="pk_external_models"),
    )
    op.create_table(
        "predictions",
        _id(),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("detector_id", sa.String(64), nullable=False),
        sa.Column("detector_version", sa.Integer(), nullable=False),
        sa.Column("prediction_ms", sa.BigInteger(), nullable=False),
        sa.Column("event_ms", sa.BigInteger(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("vectors", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
    )
    op.create_index("ix_predictions_prediction_ms_id", "predictions", ["prediction_ms", "id"])
    op.create_index("ix_predictions_event_type_event_id", "predictions", ["event_type", "event_id"])
    op.create_table(
        "batch_predictions",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("detector_id", sa.String(64), nullable=False),
        sa.Column("detector_version", sa.Integer(), nullable=False),
        sa.Column("input_path", sa.String(512), nullable=False),
        sa.Column("output_path", sa.String(512), nullable=False),
        sa.Column("iam_role_arn", sa.String(256), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("output_file", sa.Text(), nullable=True),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("completion_ms", sa.BigInteger(), nullable=True),
        sa.Column("processed", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name="pk_batch_predictions"),
    )

    _rebuild_entity_states(with_token=True)
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("compiled_sha256", sa.String(64), nullable=True))
    op.create_table(
        "catalog_generation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_generation"),
    )
    op.execute("INSERT INTO catalog_generation (id, value) VALUES (1, 0)")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            "CREATE FUNCTION bump_catalog_generation() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN UPDATE catalog_generation SET value = value + 1 WHERE id = 1; RETURN NULL; END $$"
        )
    for table in GENERATION_TABLES:
        for action in ("INSERT", "UPDATE", "DELETE"):
            name = f"gen_{table}_{action.lower()}"
            if postgres:
                op.execute(
                    f"CREATE TRIGGER {name} AFTER {action} ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation()"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {name} AFTER {action} ON {table} FOR EACH ROW "
                    "BEGIN UPDATE catalog_generation SET value = value + 1 WHERE id = 1; END"
                )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in GENERATION_TABLES:
        for action in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS gen_{table}_{action}" + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS bump_catalog_generation()")
    _rebuild_entity_states(with_token=False)
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("compiled_sha256")
    for table in (
        "catalog_generation",
        "batch_predictions",
        "predictions",
        "external_models",
        "detector_version_external",
        "detector_version_models",
        "detector_version_rules",
        "detector_versions",
        "rule_outcomes",
        "rules",
        "detectors",
    ):
        op.drop_table(table)
