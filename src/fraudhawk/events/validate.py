"""Checking a batch of CSV records against an event type, a whole column at a time.

Every row gets the first reason it fails, or none; the good rows come out in segment layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from fraudhawk.catalog.event_types import EventTypeSpec
from fraudhawk.eventdata import layout
from fraudhawk.eventdata.timestamps import parse_series
from fraudhawk.events.csvsource import LINE, Rejected

ID_PATTERN = r"^[0-9a-z_-]{1,64}$"
MAX_VALUE_CHARS = 8192  # AFD's limit on a variable's value (variableValue in its service model), as the API checks
ENTITY_PATTERN = r"^[0-9A-Za-z_.@+-]{1,256}$"
REASON = "__reason__"


@dataclass(frozen=True)
class Columns:
    """How a file's header maps onto the event type."""

    metadata: dict[str, str]  # AFD column -> header name as written
    variables: list[str]  # the event type's variables present in the file
    ignored: list[str]  # columns that are neither


def map_header(spec: EventTypeSpec, header: list[str]) -> Columns:
    metadata: dict[str, str] = {}
    variables: list[str] = []
    ignored: list[str] = []
    for name in header:
        upper = name.upper()
        if upper in layout.METADATA and upper not in metadata:
            metadata[upper] = name
        elif name in spec.variables and name not in variables:
            variables.append(name)
        else:
            ignored.append(name)
    return Columns(metadata, variables, ignored)


def missing_required(columns: Columns) -> list[str]:
    return [name for name in layout.REQUIRED if name not in columns.metadata]


def _text(name: str | None) -> pl.Expr:
    return pl.col(name).str.strip_chars() if name else pl.lit(None, dtype=pl.String)


def _quoted(expr: pl.Expr) -> pl.Expr:
    return pl.lit("'") + expr.str.slice(0, 80) + pl.lit("'")


def _value_check(name: str, data_type: str, column: pl.Expr) -> pl.Expr | None:
    """An expression that is a reason where the value does not fit its data type."""
    present = column.is_not_null() & (column != "")
    if data_type == "INTEGER":
        bad = present & ~column.str.contains(r"^[+-]?[0-9]{1,18}$")
        kind = "an INTEGER"
    elif data_type == "FLOAT":
        number = column.cast(pl.Float64, strict=False)
        bad = present & (number.is_null() | number.is_infinite() | number.is_nan())
        kind = "a FLOAT"
    elif data_type == "BOOLEAN":
        bad = present & ~column.str.to_lowercase().is_in(["true", "false"])
        kind = "a BOOLEAN (true or false)"
    else:
        return None
    return pl.when(bad).then(pl.lit(f"{name} ") + _quoted(column) + pl.lit(f" is not {kind}"))


def _may_hold_nul(column: pa.Array) -> bool:
    """Whether the text column's data has a zero byte (its whole buffer: a slice's neighbours may
    answer yes, never no wrongly)."""
    data = column.buffers()[-1]
    return data is not None and data.size > 0 and int(np.frombuffer(data, dtype=np.uint8).min()) == 0


def validate_batch(
    spec: EventTypeSpec, columns: Columns, batch: pa.RecordBatch
) -> tuple[pl.DataFrame, pl.Series, list[Rejected]]:
    """Split a batch into good rows (segment layout) with their sizes, and rejected rows."""
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    meta = columns.metadata
    event_id = _text(meta[layout.EVENT_ID])
    entity_id = _text(meta[layout.ENTITY_ID])
    entity_type = _text(meta[layout.ENTITY_TYPE])
    label = _text(meta.get(layout.EVENT_LABEL))
    event_ms = parse_series(frame[meta[layout.EVENT_TIMESTAMP]])
    label_text = frame[meta[layout.LABEL_TIMESTAMP]] if layout.LABEL_TIMESTAMP in meta else None
    label_ms = parse_series(label_text) if label_text is not None else pl.Series([None] * frame.height, dtype=pl.Int64)
    frame = frame.with_columns(event_ms.alias(layout.EVENT_MS), label_ms.alias(layout.LABEL_MS))

    checks: list[pl.Expr] = [
        pl.when(event_id.is_null() | (event_id == "")).then(pl.lit("EVENT_ID is missing")),
        pl.when(~event_id.str.contains(ID_PATTERN)).then(
            pl.lit("EVENT_ID ") + _quoted(event_id) + pl.lit(" must be 1 to 64 of a-z, 0-9, _ and -")
        ),
        pl.when(pl.col(meta[layout.EVENT_TIMESTAMP]).is_null()).then(pl.lit("EVENT_TIMESTAMP is missing")),
        pl.when(pl.col(layout.EVENT_MS).is_null()).then(
            pl.lit("EVENT_TIMESTAMP ")
            + _quoted(pl.col(meta[layout.EVENT_TIMESTAMP]))
            + pl.lit(" is not a timestamp (use ISO-8601 UTC such as 2019-11-30T13:01:01Z)")
        ),
        pl.when(entity_id.is_null() | (entity_id == "")).then(pl.lit("ENTITY_ID is missing")),
        pl.when(~entity_id.str.contains(ENTITY_PATTERN)).then(
            pl.lit("ENTITY_ID ") + _quoted(entity_id) + pl.lit(" must be 1 to 256 of A-Z, a-z, 0-9 and _.@+-")
        ),
        pl.when(entity_type.is_null() | ~entity_type.is_in(list(spec.entity_types))).then(
            pl.lit("ENTITY_TYPE ")
            + _quoted(entity_type.fill_null(""))
            + pl.lit(f" is not an entity type of event type {spec.name} ({', '.join(spec.entity_types)})")
        ),
    ]
    if layout.EVENT_LABEL in meta:
        has_label = label.is_not_null() & (label != "")
        checks.append(
            pl.when(has_label & ~label.is_in(list(spec.labels))).then(
                pl.lit("EVENT_LABEL ")
                + _quoted(label)
                + pl.lit(f" is not a label of event type {spec.name} ({', '.join(spec.labels) or 'it has none'})")
            )
        )
        label_given = pl.col(meta[layout.LABEL_TIMESTAMP]).is_not_null() if label_text is not None else pl.lit(False)
        checks.append(pl.when(has_label & ~label_given).then(pl.lit("LABEL_TIMESTAMP is required with EVENT_LABEL")))
        if label_text is not None:
            checks.append(
                pl.when(label_given & pl.col(layout.LABEL_MS).is_null()).then(
                    pl.lit("LABEL_TIMESTAMP ")
                    + _quoted(pl.col(meta[layout.LABEL_TIMESTAMP]))
                    + pl.lit(" is not a timestamp")
                )
            )
    for name in columns.variables:
        # What every API request refuses, an import refuses too. Checked per value only where the
        # column may hold such a value (a NUL byte in its data, a value longer in bytes than the
        # limit in characters): most files have neither, and the checks then cost nothing.
        if _may_hold_nul(batch.column(batch.schema.get_field_index(name))):
            checks.append(
                pl.when(pl.col(name).str.contains("\x00", literal=True)).then(
                    pl.lit(f"{name} holds a NUL character (\\u0000), which no field accepts")
                )
            )
        longest = frame[name].str.len_bytes().max()
        if isinstance(longest, int) and longest > MAX_VALUE_CHARS:
            checks.append(
                pl.when(pl.col(name).str.len_chars() > MAX_VALUE_CHARS).then(
                    pl.lit(f"{name} is longer than {MAX_VALUE_CHARS} characters")
                )
            )
        check = _value_check(name, spec.variables[name], pl.col(name))
        if check is not None:
            checks.append(check)
    checks.append(
        pl.when(~event_id.is_first_distinct()).then(
            pl.lit("EVENT_ID ") + _quoted(event_id) + pl.lit(" is repeated in the file")
        )
    )
    frame = frame.with_columns(pl.coalesce(checks).alias(REASON))

    bad = frame.filter(pl.col(REASON).is_not_null())
    record = pl.concat_str([pl.col(name).fill_null("") for name in bad.columns[1 : batch.num_columns]], separator=",")
    rejected = [
        Rejected(int(line), reason, raw[:1000])
        for line, reason, raw in bad.select(LINE, REASON, record.alias("raw")).iter_rows()
    ]
    good = frame.filter(pl.col(REASON).is_null())
    has_label_col = layout.EVENT_LABEL in meta
    segment = good.select(
        event_id.alias(layout.EVENT_ID),
        pl.col(layout.EVENT_MS),
        entity_type.alias(layout.ENTITY_TYPE),
        entity_id.alias(layout.ENTITY_ID),
        (pl.when(label != "").then(label) if has_label_col else pl.lit(None, dtype=pl.String)).alias(
            layout.EVENT_LABEL
        ),
        pl.when(label.is_not_null() & (label != ""))
        .then(pl.col(layout.LABEL_MS))
        .otherwise(None)
        .alias(layout.LABEL_MS)
        if has_label_col
        else pl.lit(None, dtype=pl.Int64).alias(layout.LABEL_MS),
        *[pl.when(pl.col(name) != "").then(pl.col(name)).alias(name) for name in columns.variables],
        pl.col(LINE),
    )
    sizes = segment.select(
        pl.sum_horizontal(
            [pl.col(c).str.len_bytes().fill_null(0) for c in (layout.EVENT_ID, layout.ENTITY_ID, *columns.variables)]
        )
    ).to_series()
    return segment, sizes, rejected
