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
    LargeBinary,
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

# --- Stored events ------------------------------------------------------------------------------
# Imported events live in immutable columnar segments (Parquet, zstd) stored as blobs, so an import
# writes a few large values instead of a row per event, and training scans read columns. Every
# stored event, imported or sent singly, has one narrow row in `event_index`: it enforces unique
# event ids and finds an event for GetEvent. A label changed after storing goes to `event_labels`.

event_index = Table(
    "event_index",
    metadata,
    Column("event_type", String(NAME), nullable=False),
    Column("event_id", String(NAME), nullable=False),
    Column("segment_id", BigInteger),  # null: the event is in streamed_events
    Column("row_index", Integer),
    PrimaryKeyConstraint("event_type", "event_id"),
    sqlite_with_rowid=False,
)

event_labels = Table(
    "event_labels",
    metadata,
    Column("event_type", String(NAME), nullable=False),
    Column("event_id", String(NAME), nullable=False),
    Column("label", String(NAME), nullable=False),
    Column("label_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("event_type", "event_id"),
)

event_segments = Table(
    "event_segments",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_type", String(NAME), nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("min_ms", BigInteger, nullable=False),
    Column("max_ms", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index(None, "event_type", "id"),
    sqlite_autoincrement=True,  # ids are never reused, so a cached segment is never mistaken for another
)

streamed_events = Table(
    "streamed_events",
    metadata,
    Column("event_type", String(NAME), nullable=False),
    Column("event_id", String(NAME), nullable=False),
    Column("event_ms", BigInteger, nullable=False),
    Column("entity_type", String(NAME), nullable=False),
    Column("entity_id", String(256), nullable=False),
    Column("variables", Text, nullable=False),  # JSON object of the values as sent
    Column("label", String(NAME)),
    Column("label_ms", BigInteger),
    Column("size_bytes", Integer, nullable=False),
    PrimaryKeyConstraint("event_type", "event_id"),
    Index(None, "event_type", "event_ms"),
)

event_stats = Table(
    "event_stats",
    metadata,
    Column("event_type", String(NAME), primary_key=True),
    Column("number_of_events", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("least_recent_ms", BigInteger),
    Column("most_recent_ms", BigInteger),
    Column("updated_ms", BigInteger, nullable=False),
)

event_deletions = Table(
    "event_deletions",
    metadata,
    Column("event_type", String(NAME), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("failure_reason", Text),
    Column("requested_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("owner", String(NAME)),
    Column("heartbeat_ms", BigInteger),
)

batch_imports = Table(
    "batch_imports",
    metadata,
    Column("job_id", String(NAME), primary_key=True),
    Column("event_type", String(NAME), nullable=False),
    Column("input_path", String(512), nullable=False),
    Column("output_path", String(512), nullable=False),
    Column("iam_role_arn", String(256), nullable=False),
    Column("status", String(32), nullable=False),
    Column("failure_reason", Text),
    Column("start_ms", BigInteger, nullable=False),
    Column("completion_ms", BigInteger),
    Column("processed", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("records_done", BigInteger, nullable=False),  # resume point: data records consumed so far
    Column("cancel_requested", Boolean, nullable=False),
    Column("owner", String(NAME)),
    Column("heartbeat_ms", BigInteger),
)

# A batch import's rejected rows, written beside its committed progress so a resumed job reports
# every bad line exactly once.
batch_import_failures = Table(
    "batch_import_failures",
    metadata,
    Column("job_id", String(NAME), ForeignKey("batch_imports.job_id", ondelete="CASCADE"), nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text),
    PrimaryKeyConstraint("job_id", "line"),
)

# --- models ----------------------------------------------------------------------------------------

models = Table(
    "models",
    metadata,
    Column("model_id", String(NAME), primary_key=True),  # one id, one type: its score variable is per id
    Column("model_type", String(32), nullable=False),
    Column("event_type", String(NAME), ForeignKey("event_types.name"), nullable=False),
    Column("description", String(DESCRIPTION)),
    *_timestamps(),
)

# A model version and its training job. The request is kept as sent (JSON), the training result as
# AFD's trainingResult / trainingResultV2 (JSON); the job columns follow the batch import's.
model_versions = Table(
    "model_versions",
    metadata,
    Column("model_id", String(NAME), ForeignKey("models.model_id"), nullable=False),
    Column("major", Integer, nullable=False),
    Column("minor", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("training_source", String(32), nullable=False),
    Column("training_schema", Text, nullable=False),
    Column("external_detail", Text),
    Column("ingested_detail", Text),
    Column("training_result", Text),
    Column("progress", Text),  # what the training job is doing now, for people watching it
    Column("artifact_sha256", String(64)),
    Column("compiled_sha256", String(64)),  # the native library built at activation, checked when loaded
    Column("history_spec", Text),  # TFI: what entity history the version keeps (JSON), read on every event
    Column("cancel_requested", Boolean, nullable=False),
    Column("owner", String(NAME)),
    Column("heartbeat_ms", BigInteger),
    *_timestamps(),
    PrimaryKeyConstraint("model_id", "major", "minor"),
)

# Per-entity history for Transaction Fraud Insights, one row per (model version, entity): what the
# model's history features need, advanced by every stored event of the model's event type.
entity_states = Table(
    "entity_states",
    metadata,
    Column("model_id", String(NAME), nullable=False),
    Column("major", Integer, nullable=False),
    Column("minor", Integer, nullable=False),
    Column("entity_id", String(256), nullable=False),
    # A fresh random token on every write, so a process that caches states knows when another changed
    # one. Before the state: reading it then needs no pass over a large state's overflow pages (and
    # the table keeps its rowid for the same reason: SQLite stores WITHOUT ROWID rows in the key's tree).
    Column("seq", BigInteger, nullable=False, server_default="0"),
    Column("state", LargeBinary, nullable=False),
    PrimaryKeyConstraint("model_id", "major", "minor", "entity_id"),
)

# --- detectors, rules, external models -------------------------------------------------------------

detectors = Table(
    "detectors",
    metadata,
    Column("detector_id", String(NAME), primary_key=True),
    Column("event_type", String(NAME), ForeignKey("event_types.name"), nullable=False),
    Column("description", String(DESCRIPTION)),
    *_timestamps(),
    Index(None, "event_type"),
)

# A rule version: (detector, rule id, version) never changes once a detector version uses it.
rules = Table(
    "rules",
    metadata,
    Column("detector_id", String(NAME), ForeignKey("detectors.detector_id"), nullable=False),
    Column("rule_id", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", String(DESCRIPTION)),
    Column("expression", Text, nullable=False),
    Column("language", String(16), nullable=False),
    *_timestamps(),
    PrimaryKeyConstraint("detector_id", "rule_id", "version"),
)

rule_outcomes = Table(
    "rule_outcomes",
    metadata,
    Column("detector_id", String(NAME), nullable=False),
    Column("rule_id", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("outcome", String(NAME), ForeignKey("outcomes.name"), nullable=False),
    PrimaryKeyConstraint("detector_id", "rule_id", "version", "position"),
    Index(None, "outcome"),
)

detector_versions = Table(
    "detector_versions",
    metadata,
    Column("detector_id", String(NAME), ForeignKey("detectors.detector_id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("description", String(DESCRIPTION)),
    Column("rule_execution_mode", String(16), nullable=False),
    *_timestamps(),
    PrimaryKeyConstraint("detector_id", "version"),
)

# What a detector version uses, one row per reference, so that deleting a rule version, a model
# version or an external model can be refused while a detector version needs it.
detector_version_rules = Table(
    "detector_version_rules",
    metadata,
    Column("detector_id", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("rule_id", String(NAME), nullable=False),
    Column("rule_version", Integer, nullable=False),
    PrimaryKeyConstraint("detector_id", "version", "position"),
    Index(None, "detector_id", "rule_id", "rule_version"),
)

detector_version_models = Table(
    "detector_version_models",
    metadata,
    Column("detector_id", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("model_id", String(NAME), nullable=False),
    Column("major", Integer, nullable=False),
    Column("minor", Integer, nullable=False),
    PrimaryKeyConstraint("detector_id", "version", "position"),
    Index(None, "model_id", "major", "minor"),
)

detector_version_external = Table(
    "detector_version_external",
    metadata,
    Column("detector_id", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("endpoint", String(NAME), nullable=False),
    PrimaryKeyConstraint("detector_id", "version", "position"),
    Index(None, "endpoint"),
)

external_models = Table(
    "external_models",
    metadata,
    Column("endpoint", String(NAME), primary_key=True),
    Column("model_source", String(32), nullable=False),
    Column("role_arn", String(256), nullable=False),
    Column("input_configuration", Text, nullable=False),  # JSON, as sent
    Column("output_configuration", Text, nullable=False),  # JSON, as sent
    Column("status", String(32), nullable=False),
    *_timestamps(),
)

# --- predictions -----------------------------------------------------------------------------------
# Every GetEventPrediction is recorded with what it saw and decided (`record`, JSON). The model
# inputs are kept as float64 vectors (`vectors`): explanations are computed from them when read,
# which keeps SHAP off the real-time path and gives the same numbers every time.

predictions = Table(
    "predictions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_type", String(NAME), nullable=False),
    Column("event_id", String(NAME), nullable=False),
    Column("detector_id", String(NAME), nullable=False),
    Column("detector_version", Integer, nullable=False),
    Column("prediction_ms", BigInteger, nullable=False),
    Column("event_ms", BigInteger, nullable=False),
    Column("record", Text, nullable=False),
    Column("vectors", LargeBinary),
    Column("entity_type", String(NAME)),
    Column("entity_id", String(256)),
    Column("outcomes", Text),  # "|block|review|" (events/audit.py)
    Index(None, "prediction_ms", "id"),
    Index(None, "event_id", "event_type"),
    # a search by entity walks its own index newest first (migration 0005). Every index is written by
    # every prediction: searches by detector or event type walk the time index instead (measured: the
    # two more indexes cost 15-30 us per prediction; such a search over 100,000 records stays fast).
    Index(None, "entity_id", "prediction_ms", "id"),
)

# Each outcome of a recorded prediction, keyed for the search by outcome (newest first within one
# outcome): one b-tree, no rowid, so a prediction pays one small insert per outcome.
prediction_outcomes = Table(
    "prediction_outcomes",
    metadata,
    Column("outcome", String(NAME), nullable=False),
    Column("prediction_ms", BigInteger, nullable=False),
    Column("prediction_id", BigInteger, nullable=False),
    PrimaryKeyConstraint("outcome", "prediction_ms", "prediction_id"),
    sqlite_with_rowid=False,
)

batch_predictions = Table(
    "batch_predictions",
    metadata,
    Column("job_id", String(NAME), primary_key=True),
    Column("event_type", String(NAME), nullable=False),
    Column("detector_id", String(NAME), nullable=False),
    Column("detector_version", Integer, nullable=False),
    Column("input_path", String(512), nullable=False),
    Column("output_path", String(512), nullable=False),
    Column("iam_role_arn", String(256), nullable=False),
    Column("status", String(32), nullable=False),
    Column("failure_reason", Text),
    Column("output_file", Text),  # where the results were written, once COMPLETE
    Column("start_ms", BigInteger, nullable=False),
    Column("completion_ms", BigInteger),
    Column("processed", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False, server_default="0"),  # records not evaluated (migration 0005)
    Column("cancel_requested", Boolean, nullable=False),
    Column("owner", String(NAME)),
    Column("heartbeat_ms", BigInteger),
)

# One row whose value database triggers (migration 0004) raise on every change to what a compiled
# detector version depends on, so every server replica notices a change with one primary-key read.
catalog_generation = Table(
    "catalog_generation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)

# --- pipelines (migration 0006) --------------------------------------------------------------------

# A pipeline watches a prefix for CSV files and runs one action per new or changed file. The transform
# (a raw-CSV mapping) and the action are JSON in the workspace file's shape (`pipelines/declared.py`).
pipelines = Table(
    "pipelines",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("source", String(512), nullable=False),
    Column("pattern", String(256), nullable=False),
    Column("transform", Text),
    Column("action", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    *_timestamps(),
)

# One file seen by a pipeline, and the job that processes it. The unique (pipeline, file, checksum) is
# the exactly-once guard: whoever inserts the row first owns the file's run; a changed file (same key,
# new content) is a new run. The run is a job of the job framework (claim, beat, stale takeover).
pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("run_id", String(NAME), primary_key=True),
    Column("pipeline", String(NAME), nullable=False),
    Column("file_key", String(1024), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("checksum", String(64), nullable=False),  # SHA-256 of the file's content
    Column("mtime_ms", BigInteger),
    Column("action", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("stage", String(32), nullable=False),  # how far the run got: its resume point
    Column("detail", Text),  # what the run is doing or waiting for, for people watching it
    Column("result", Text, nullable=False),  # JSON: the job, model version, output, activation decision
    Column("failure_reason", Text),
    Column("attempts", Integer, nullable=False),
    Column("cancel_requested", Boolean, nullable=False),  # seen by the run at its next step or claim
    Column("created_ms", BigInteger, nullable=False),
    Column("started_ms", BigInteger),
    Column("ended_ms", BigInteger),
    Column("owner", String(NAME)),
    Column("heartbeat_ms", BigInteger),
    UniqueConstraint("pipeline", "file_key", "checksum"),
    Index(None, "pipeline", "created_ms"),
)
