"""Training data as one table: a CSV file (EXTERNAL_EVENTS) or an event type's stored events
(INGESTED_EVENTS), with times as epoch milliseconds and every variable as text.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow.parquet as pq
from sqlalchemy import Connection, func, select

from fraudhawk.eventdata import layout
from fraudhawk.eventdata.timestamps import parse_series
from fraudhawk.events import paths
from fraudhawk.events.csvsource import LINE, MAX_RECORD_BYTES, read_csv
from fraudhawk.storage import schema
from fraudhawk.training.messages import Messages

LABEL = "LABEL"  # the event's label as given (text), null when unlabeled
_CHUNK = 5000
_streamed_table = schema.streamed_events
_STREAMED = (
    _streamed_table.c.event_id,
    _streamed_table.c.event_ms,
    _streamed_table.c.entity_id,
    _streamed_table.c.label,
    _streamed_table.c.variables,
)


@dataclass
class TrainingData:
    """Rows in no particular order: EVENT_ID, EVENT_MS, ENTITY_ID (null when unknown), LABEL and the
    variables (text). For stored events, `segment_ids` and `streamed_ids` say what the scan saw, so
    events stored while the model trains can be caught up (see `later_events`)."""

    frame: pl.DataFrame
    segment_ids: set[int] = field(default_factory=set)
    streamed_ids: set[str] = field(default_factory=set)


def _empty(variables: list[str]) -> pl.DataFrame:
    schema_ = {layout.EVENT_ID: pl.String, layout.EVENT_MS: pl.Int64, layout.ENTITY_ID: pl.String, LABEL: pl.String}
    return pl.DataFrame(schema={**schema_, **dict.fromkeys(variables, pl.String)})


def from_csv(
    location: paths.Location, variables: list[str], messages: Messages, max_record_bytes: int = MAX_RECORD_BYTES
) -> TrainingData:
    """Read a training CSV; unreadable lines and unparsable timestamps are reported and left out."""
    with paths.open_input(location) as raw:
        records = read_csv(raw, max_record_bytes)
        header = records.header
        if layout.EVENT_TIMESTAMP not in header:
            messages.file_error(
                "Missing EVENT_TIMESTAMP", "The training data has no EVENT_TIMESTAMP column: every event needs its time"
            )
        if layout.EVENT_LABEL not in header:
            messages.file_error(
                "Missing EVENT_LABEL",
                "The training data has no EVENT_LABEL column: fraud models learn from labelled events",
            )
        missing = [v for v in variables if v not in header]
        if missing:
            messages.file_error(
                "Missing variables",
                f"The training data has no column for the model variable(s) {', '.join(missing)}",
            )
        if messages.has_errors:
            return TrainingData(_empty(variables))
        wanted = [c for c in (*layout.METADATA, *variables) if c in header]
        batches: list[pl.DataFrame] = []
        for batch in records.batches():
            part = pl.from_arrow(batch.select([LINE, *wanted]))
            assert isinstance(part, pl.DataFrame)
            batches.append(part)
    if records.rejected:
        first = ", ".join(str(r.line) for r in records.rejected[:5])
        messages.file_warning(
            "Unreadable lines",
            f"{len(records.rejected)} line(s) of the training data could not be read and were left out "
            f"(first lines: {first})",
        )
    frame = pl.concat(batches, how="vertical") if batches else _empty(variables)
    frame = frame.with_columns(pl.col(c).str.strip_chars() for c in wanted)
    event_ms = parse_series(frame[layout.EVENT_TIMESTAMP]) if frame.height else pl.Series([], dtype=pl.Int64)
    bad = event_ms.is_null()
    if bad.any():
        lines = frame.filter(bad)[LINE].head(5).to_list()
        messages.field_warning(
            layout.EVENT_TIMESTAMP,
            "Invalid timestamps",
            f"{int(bad.sum())} event(s) have a missing or unparsable EVENT_TIMESTAMP and were left out "
            f"(first lines: {', '.join(map(str, lines))})",
        )
    frame = frame.with_columns(event_ms.alias(layout.EVENT_MS)).filter(~bad)
    columns = {
        layout.EVENT_ID: _column(frame, layout.EVENT_ID),
        layout.EVENT_MS: frame[layout.EVENT_MS],
        layout.ENTITY_ID: _column(frame, layout.ENTITY_ID),
        LABEL: _column(frame, layout.EVENT_LABEL),
        **{v: _column(frame, v) for v in variables},
    }
    return TrainingData(pl.DataFrame(columns))


def _column(frame: pl.DataFrame, name: str) -> pl.Series:
    if name not in frame.columns:
        return pl.Series(name, [None] * frame.height, dtype=pl.String)
    text = frame[name]
    return pl.select(pl.when(text.str.len_chars() > 0).then(text).alias(name)).to_series()


def from_store(conn: Connection, event_type: str, variables: list[str]) -> TrainingData:
    """Every stored event of the type, labels as last updated. The caller picks the training window;
    the rest is history for entity features."""
    segments = schema.event_segments
    streamed = schema.streamed_events
    index = schema.event_index
    counted = conn.execute(
        select(schema.event_stats.c.number_of_events).where(schema.event_stats.c.event_type == event_type)
    ).scalar()
    segment_rows = conn.execute(
        select(func.coalesce(func.sum(segments.c.row_count), 0)).where(segments.c.event_type == event_type)
    ).scalar_one()
    streamed_rows = conn.execute(
        select(func.count()).select_from(streamed).where(streamed.c.event_type == event_type)
    ).scalar_one()
    # Deleting an imported event drops its index row but leaves its segment as it is: only when
    # the counts disagree do we need the index to know which segment rows still stand.
    live: pl.DataFrame | None = None
    if (counted or 0) != segment_rows + streamed_rows:
        pairs = conn.execute(
            select(index.c.segment_id, index.c.row_index).where(
                index.c.event_type == event_type, index.c.segment_id.is_not(None)
            )
        ).all()
        live = pl.DataFrame(pairs, schema={"segment_id": pl.Int64, "row_index": pl.Int64}, orient="row")
    parts: list[pl.DataFrame] = []
    seen: set[int] = set()
    for segment_id, data in conn.execute(
        select(segments.c.id, segments.c.data).where(segments.c.event_type == event_type).order_by(segments.c.id)
    ):
        seen.add(segment_id)
        part = _segment_frame(data, variables)
        if live is not None:
            rows = live.filter(pl.col("segment_id") == segment_id)["row_index"]
            part = part.with_row_index("__row").filter(pl.col("__row").is_in(rows.implode())).drop("__row")
        parts.append(part)
    singles = conn.execute(
        select(*_STREAMED)
        .where(streamed.c.event_type == event_type)
        .order_by(streamed.c.event_ms, streamed.c.event_id)  # a stable order for events at the same time
    ).all()
    parts.append(_streamed_frame(singles, variables))
    frame = pl.concat(parts, how="vertical") if parts else _empty(variables)
    labels = schema.event_labels
    changed = conn.execute(select(labels.c.event_id, labels.c.label).where(labels.c.event_type == event_type)).all()
    if changed:
        updates = pl.DataFrame(changed, schema={layout.EVENT_ID: pl.String, "__label": pl.String}, orient="row")
        frame = (
            frame.join(updates, on=layout.EVENT_ID, how="left")
            .with_columns(pl.coalesce("__label", LABEL).alias(LABEL))
            .drop("__label")
        )
    return TrainingData(frame, seen, {row.event_id for row in singles})


def later_events(conn: Connection, event_type: str, data: TrainingData, variables: list[str]) -> pl.DataFrame:
    """Events of the type stored after `data` was read from the store (imports and single events)."""
    segments = schema.event_segments
    streamed = schema.streamed_events
    # by id set, not by the highest id: concurrent imports may commit their segments out of id order
    ids = conn.execute(select(segments.c.id).where(segments.c.event_type == event_type)).scalars()
    new = sorted(set(ids) - data.segment_ids)
    query = select(segments.c.data).where(segments.c.id.in_(new)).order_by(segments.c.id)
    parts = [_segment_frame(blob, variables) for (blob,) in conn.execute(query)]
    names = conn.execute(select(streamed.c.event_id).where(streamed.c.event_type == event_type)).scalars()
    fresh = sorted(set(names) - data.streamed_ids)
    for start in range(0, len(fresh), _CHUNK):
        chunk = fresh[start : start + _CHUNK]
        where = (streamed.c.event_type == event_type, streamed.c.event_id.in_(chunk))
        parts.append(_streamed_frame(conn.execute(select(*_STREAMED).where(*where)).all(), variables))
    return pl.concat(parts, how="vertical") if parts else _empty(variables)


def _segment_frame(data: bytes, variables: list[str]) -> pl.DataFrame:
    part = pl.from_arrow(pq.read_table(io.BytesIO(data)))
    assert isinstance(part, pl.DataFrame)
    return _normalise(part, variables)


def _streamed_frame(rows: Sequence[Any], variables: list[str]) -> pl.DataFrame:
    """Single events (rows of _STREAMED) in the training table's layout."""
    values = [json.loads(row.variables) for row in rows]
    return pl.DataFrame(
        {
            layout.EVENT_ID: [row.event_id for row in rows],
            layout.EVENT_MS: [row.event_ms for row in rows],
            layout.ENTITY_ID: [row.entity_id for row in rows],
            LABEL: [row.label for row in rows],
            **{v: [value.get(v) for value in values] for v in variables},
        },
        schema=_empty(variables).schema,
    )


def _normalise(part: pl.DataFrame, variables: list[str]) -> pl.DataFrame:
    columns = {
        layout.EVENT_ID: part[layout.EVENT_ID],
        layout.EVENT_MS: part[layout.EVENT_MS].cast(pl.Int64),
        layout.ENTITY_ID: part[layout.ENTITY_ID],
        LABEL: part[layout.EVENT_LABEL],
    }
    for v in variables:
        columns[v] = part[v].cast(pl.String) if v in part.columns else pl.Series(v, [None] * part.height, pl.String)
    return pl.DataFrame(columns, schema=_empty(variables).schema)
