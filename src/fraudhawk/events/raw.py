"""Raw CSV files in, AFD-layout event data out: the step AFD's walk-throughs needed a Glue job for.

A column mapping says which column is the label (and which of its values mean fraud), the event
time (and its format), the entity and the event id. Every other column becomes a variable whose
type is suggested from its name and values.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from fraudhawk.eventdata import layout
from fraudhawk.eventdata.timestamps import parse_series
from fraudhawk.events.csvsource import LINE, read_csv

FRAUD, LEGIT = "fraud", "legit"
UNKNOWN_ENTITY = "unknown"  # AFD's entity id for events whose entity is not known
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_IPV4 = r"^\d{1,3}(\.\d{1,3}){3}$"
# name fragments -> variable type, checked in order; the first that the column's name contains wins
_BY_NAME: list[tuple[tuple[str, ...], str]] = [
    (("credentials", "credential", "successful", "success"), "ARE_CREDENTIALS_VALID"),
    (("fingerprint", "device_id", "deviceid", "fp"), "FINGERPRINT"),
    (("session_id", "sessionid", "session"), "SESSION_ID"),
    (("email",), "EMAIL_ADDRESS"),
    (("ip_address", "ipaddress", "ip_addr", "client_ip", "ip"), "IP_ADDRESS"),
    (("phone",), "PHONE_NUMBER"),
    (("user_agent", "useragent"), "USERAGENT"),
    (("card_bin", "bin"), "CARD_BIN"),
    (("currency",), "CURRENCY_CODE"),
    (("amt", "amount", "price", "total", "value"), "PRICE"),
    (("street", "address"), "BILLING_ADDRESS_L1"),
    (("city",), "BILLING_CITY"),
    (("state",), "BILLING_STATE"),
    (("zip", "postal", "postcode"), "BILLING_ZIP"),
    (("country",), "BILLING_COUNTRY"),
]
_NUMERIC_TYPES = {"PRICE"}
_BOOLEAN_TYPES = {"ARE_CREDENTIALS_VALID"}  # named so only when the values are true/false
_BOOLEAN_VALUES = ["true", "false", "1", "0", "yes", "no", "t", "f"]
# Types a name suggests only for text: a numeric "city_pop" is a number, not a city.
_TEXT_TYPES = {"BILLING_CITY", "BILLING_STATE", "BILLING_COUNTRY", "BILLING_ADDRESS_L1", "CURRENCY_CODE"}


@dataclass(frozen=True)
class Mapping:
    event_time: str
    entity_id: str  # "": no entity column, every event's entity is "unknown"
    event_id: str | None = None  # None: ids are generated from the file and line
    time_format: str | None = None  # a chrono format, "unix" or "unix_ms"; None: any AFD format
    label: str | None = None
    fraud_values: tuple[str, ...] = ("1", "true", "fraud", "yes")
    entity_type: str = "customer"
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    column: str
    variable: str
    data_type: str
    variable_type: str


@dataclass
class Conversion:
    rows: int = 0


def variable_name(column: str, position: int) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", column.strip().lower()).strip("_")
    return name[:64] if name else f"column_{position}"


def _by_name(name: str) -> str | None:
    tokens = set(name.split("_"))
    for fragments, variable_type in _BY_NAME:
        if any(f in tokens or (len(f) > 3 and f in name) for f in fragments):
            return variable_type
    return None


def suggest(sample: pl.DataFrame, columns: list[str]) -> list[Suggestion]:
    """A variable for each column, typed from its name first and its values second."""
    suggestions = []
    for position, column in enumerate(columns, start=1):
        name = variable_name(column, position)
        values = sample[column].drop_nulls().str.strip_chars()
        values = values.filter(values != "")
        numeric = len(values) > 0 and values.cast(pl.Float64, strict=False).null_count() == 0
        variable_type = _by_name(name)
        if variable_type is None and len(values) and values.str.contains(_EMAIL).mean() > 0.9:  # type: ignore[operator]
            variable_type = "EMAIL_ADDRESS"
        if variable_type is None and len(values) and values.str.contains(_IPV4).mean() > 0.9:  # type: ignore[operator]
            variable_type = "IP_ADDRESS"
        boolean = len(values) > 0 and bool(values.str.to_lowercase().is_in(_BOOLEAN_VALUES).all())
        if (
            (variable_type in _NUMERIC_TYPES and not numeric)
            or (variable_type in _TEXT_TYPES and numeric)
            or (variable_type in _BOOLEAN_TYPES and not boolean)
        ):
            variable_type = None
        if variable_type is None:
            variable_type = "NUMERIC" if numeric else "CATEGORICAL"
        data_type = "FLOAT" if variable_type in ("NUMERIC", "PRICE") else "STRING"
        if variable_type == "CARD_BIN":
            data_type = "STRING"
        if variable_type in _BOOLEAN_TYPES:
            data_type = "BOOLEAN"
        suggestions.append(Suggestion(column, name, data_type, variable_type))
    return suggestions


def sample_rows(stream: IO[bytes], rows: int = 20_000) -> tuple[list[str], pl.DataFrame]:
    records = read_csv(stream)
    batches = []
    taken = 0
    for batch in records.batches():
        batches.append(batch)
        taken += batch.num_rows
        if taken >= rows:
            break
    frame = pl.from_arrow(pa.Table.from_batches(batches)) if batches else pl.DataFrame()
    assert isinstance(frame, pl.DataFrame)
    return records.header, frame.head(rows)


def _event_ms(values: pl.Series, time_format: str | None) -> pl.Series:
    if time_format in ("unix", "unix_ms"):
        number = values.cast(pl.Float64, strict=False)
        return (number * (1000 if time_format == "unix" else 1)).round(0).cast(pl.Int64)
    if time_format:
        parsed = pl.DataFrame({"t": values}).select(
            pl.col("t").str.strip_chars().str.to_datetime(time_format, strict=False, time_unit="ms", time_zone="UTC")
        )["t"]
        return parsed.dt.epoch(time_unit="ms")
    return parse_series(values)


def _iso(ms: pl.Expr) -> pl.Expr:
    return pl.from_epoch(ms, time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


def _entity(column: str) -> pl.Expr:
    """The entity id column, made a valid AFD entity id; no column (""): AFD's "unknown" entity."""
    if not column:
        return pl.lit(UNKNOWN_ENTITY)
    return pl.col(column).str.strip_chars().str.replace_all(r"[^0-9A-Za-z_.@+-]", "_")


def convert_batches(
    batches: Iterator[pa.RecordBatch], mapping: Mapping, variables: list[Suggestion], source_id: str
) -> Iterator[pa.Table]:
    """Each raw batch as an AFD-layout table (every value text)."""
    for batch in batches:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        event_ms = _event_ms(frame[mapping.event_time], mapping.time_format)
        if mapping.event_id:
            ids = frame[mapping.event_id].str.strip_chars().str.to_lowercase()
        else:
            ids = frame.select(pl.format("{}-{}", pl.lit(source_id), pl.col(LINE)).alias("x"))["x"]
        out = frame.select(
            ids.alias(layout.EVENT_ID),
            _iso(pl.lit(event_ms)).alias(layout.EVENT_TIMESTAMP),
            _entity(mapping.entity_id).alias(layout.ENTITY_ID),
            pl.lit(mapping.entity_type).alias(layout.ENTITY_TYPE),
        )
        if mapping.label:
            fraud = frame[mapping.label].str.strip_chars().str.to_lowercase().is_in(list(mapping.fraud_values))
            out = out.with_columns(
                pl.when(fraud).then(pl.lit(FRAUD)).otherwise(pl.lit(LEGIT)).alias(layout.EVENT_LABEL),
                pl.col(layout.EVENT_TIMESTAMP).alias(layout.LABEL_TIMESTAMP),
            )
        out = out.with_columns([frame[s.column].alias(s.variable) for s in variables])
        yield out.to_arrow()


def write_afd_csv(tables: Iterator[pa.Table], target: Path) -> Conversion:
    """Write the tables as one gzip CSV in AFD's layout; returns how many rows."""
    result = Conversion()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".partial")
    with gzip.open(temporary, "wb", compresslevel=1) as out:
        writer: pacsv.CSVWriter | None = None
        for table in tables:
            if writer is None:
                writer = pacsv.CSVWriter(out, table.schema, write_options=pacsv.WriteOptions(quoting_style="needed"))
            writer.write_table(table)
            result.rows += table.num_rows
        if writer is not None:
            writer.close()
    temporary.replace(target)
    return result


def source_id(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
