"""An event type's schema suggested from a CSV file's header and first rows, as AFD's console does
when it creates an event type "from a CSV file".

Only the start of the file is read (the header and a few rows with Python's csv module, so a huge
file costs nothing); each column gets a variable suggested by `raw.suggest`, the one typing rule the
`fraudhawk import` command also uses. AFD's reserved columns are recognised and not offered as
variables; the EVENT_LABEL and ENTITY_TYPE values seen are offered as labels and entity types.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import IO

import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.events import raw
from fraudhawk.events.csvsource import open_binary

SAMPLE_ROWS = 20  # rows the types are suggested from
LABEL_ROWS = 5_000  # rows read for label values: a file's first 20 rows may all be legit
MAX_HEADER_BYTES = 1 << 20  # a header (or row) longer than this is not a CSV header
MAX_COLUMNS = 500


@dataclass(frozen=True)
class Column:
    column: str
    variable: str
    data_type: str
    variable_type: str
    sample: str  # the first non-empty value, to show beside the suggestion


@dataclass
class Header:
    columns: list[Column] = field(default_factory=list)  # one per column that may become a variable
    reserved: list[str] = field(default_factory=list)  # AFD's metadata columns found in the file
    labels: list[str] = field(default_factory=list)  # EVENT_LABEL values seen
    entity_types: list[str] = field(default_factory=list)  # ENTITY_TYPE values seen
    rows: int = 0  # rows read


class HeaderError(ValueError):
    """The file has no usable CSV header."""


def read_header(stream: IO[bytes]) -> Header:
    """The suggestion for a CSV (plain, gzip or xz) read from `stream`; HeaderError when it is not one."""
    text = io.TextIOWrapper(
        io.BufferedReader(_Capped(open_binary(stream))), encoding="utf-8-sig", errors="replace", newline=""
    )
    csv.field_size_limit(MAX_HEADER_BYTES)
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if not header or not any(name.strip() for name in header):
            raise HeaderError("The file is empty: its first line should be a header naming the columns")
        if len(header) > MAX_COLUMNS:
            raise HeaderError(f"The file has {len(header)} columns; an event type takes at most {MAX_COLUMNS}")
        if len(set(header)) != len(header):
            twice = sorted({name for name in header if header.count(name) > 1})
            raise HeaderError(f"The header names these columns more than once: {', '.join(twice)}")
        rows: list[list[str]] = []
        labels: dict[str, None] = {}
        entity_types: dict[str, None] = {}
        reserved = {name.strip().upper(): position for position, name in enumerate(header)}
        label_at = reserved.get(layout.EVENT_LABEL)
        entity_at = reserved.get(layout.ENTITY_TYPE)
        for count, row in enumerate(reader, start=1):
            if len(rows) < SAMPLE_ROWS:
                rows.append(row)
            for at, seen in ((label_at, labels), (entity_at, entity_types)):
                if at is not None and at < len(row) and row[at].strip():
                    seen.setdefault(row[at].strip())
            if count >= LABEL_ROWS or (label_at is None and entity_at is None and len(rows) >= SAMPLE_ROWS):
                break
    except (csv.Error, UnicodeError, OSError, EOFError) as error:
        raise HeaderError(f"The file cannot be read as CSV: {error}") from None
    return _suggest(header, rows, list(labels), list(entity_types))


def _suggest(header: list[str], rows: list[list[str]], labels: list[str], entity_types: list[str]) -> Header:
    metadata = set(layout.METADATA)
    reserved = [name for name in header if name.strip().upper() in metadata]
    at = {name: position for position, name in enumerate(header)}
    offered = [name for name in header if name.strip().upper() not in metadata and name.strip()]
    values = {name: [row[at[name]] if at[name] < len(row) else "" for row in rows] for name in offered}
    sample = pl.DataFrame({name: pl.Series(name, values[name], dtype=pl.String) for name in offered})
    suggestions = raw.suggest(sample, offered) if offered else []
    columns = [
        Column(s.column, s.variable, s.data_type, s.variable_type, next((v for v in values[s.column] if v.strip()), ""))
        for s in suggestions
    ]
    return Header(columns, reserved, labels, entity_types, len(rows))


class _Capped(io.RawIOBase):
    """A stream that fails on a line longer than MAX_HEADER_BYTES, so a file with no line ends (or not
    a CSV at all) is refused instead of read whole."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.since_newline = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.inner.read(min(len(buffer), 64 * 1024))
        if not chunk:
            return 0
        last = chunk.rfind(b"\n")
        self.since_newline = len(chunk) - last - 1 if last >= 0 else self.since_newline + len(chunk)
        if self.since_newline > MAX_HEADER_BYTES:
            raise HeaderError(f"A line of the file is longer than {MAX_HEADER_BYTES // 1024} KB: is it a CSV file?")
        buffer[: len(chunk)] = chunk
        return len(chunk)
