"""Streaming CSV records with their line numbers, for imports of any size in bounded memory.

pyarrow parses; a thin reader in front of it prefixes every record with its line number, so each
parsed row, and each row pyarrow rejects, can be reported by line. A quoted value that spans lines
keeps the number of the line its record starts on. Plain, gzip and xz files are read alike.
"""

from __future__ import annotations

import csv
import gzip
import io
import lzma
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

LINE = "__line__"
_FIELD = r'(?:"(?:[^"]|"")*"|[^",\r][^,\r]*|)'
_COMPLETE = rf"^{_FIELD}(?:,{_FIELD})*\r?$"  # a whole record on one line
_CLOSES = rf'^(?:[^"]|"")*"(?:,{_FIELD})*\r?$'  # ends a quoted value opened on an earlier line
BLOCK = 16 << 20


@dataclass
class Rejected:
    line: int
    reason: str
    raw: str | None = None


def open_binary(raw: IO[bytes]) -> IO[bytes]:
    """Undo gzip or xz compression, recognised by the file's first bytes."""
    buffered: Any = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    magic = buffered.peek(6)[:6]
    stream: Any = buffered
    if magic[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=buffered)
    elif magic == b"\xfd7zXZ\x00":
        stream = lzma.LZMAFile(buffered)  # noqa: SIM115 - returned to the caller, who closes it
    result: IO[bytes] = stream
    return result


class _Numbered(io.RawIOBase):
    """Yields the data lines of a CSV stream, each prefixed with `<line number>,`."""

    def __init__(self, source: IO[bytes], first_line: int) -> None:
        self._source = source
        self._line = first_line
        self._in_quotes = False
        self._carry = b""
        self._out = b""
        self._pos = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        chunk = self._source.read(BLOCK)
        if not chunk:
            self._eof = True
            if self._carry:
                self._out += self._number([self._carry])
                self._carry = b""
            return
        lines = (self._carry + chunk).split(b"\n")
        self._carry = lines.pop()
        self._out += self._number(lines)

    def _number(self, lines: list[bytes]) -> bytes:
        """Prefix each line that starts a record with its number, a whole block at a time.

        A line continues the record before it when that record left a quoted value open. As in
        pyarrow's parser, a quote opens a value only at the start of a field (`5" screen` is text).
        """
        count = len(lines)
        if not count:
            return b""
        text = pa.array(lines, type=pa.binary())
        complete = np.asarray(pc.match_substring_regex(text, _COMPLETE).fill_null(False))
        closes = np.asarray(pc.match_substring_regex(text, _CLOSES).fill_null(False))
        starts = np.ones(count, dtype=bool)
        index, inside = 0, self._in_quotes
        while index < count:
            if inside:
                # Find the line that closes the open value; the lines up to it continue the record.
                found = np.flatnonzero(closes[index:])
                stop = index + int(found[0]) if len(found) else count
                starts[index : stop + 1] = False
                index, inside = stop + 1, stop == count
            else:
                found = np.flatnonzero(~complete[index:])
                if not len(found):
                    break
                index += int(found[0]) + 1
                inside = True
        self._in_quotes = inside
        numbers = pc.cast(pa.array(np.arange(self._line, self._line + count)), pa.string()).cast(pa.binary())
        prefixed = pc.binary_join_element_wise(numbers, text, b",")
        chosen = pc.if_else(pa.array(starts), prefixed, text)
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, count], pa.int32()), chosen), b"\n")
        self._line += count
        return bytes(joined[0].as_buffer()) + b"\n"

    def readinto(self, buffer: Any) -> int:
        while self._pos >= len(self._out) and not self._eof:
            self._out, self._pos = b"", 0
            self._fill()
        size = min(len(buffer), len(self._out) - self._pos)
        buffer[:size] = memoryview(self._out)[self._pos : self._pos + size]
        self._pos += size
        return size


@dataclass
class CsvRecords:
    """The header and a stream of record batches (all values text, `__line__` first)."""

    header: list[str]
    rejected: list[Rejected] = field(default_factory=list)
    _reader: Any = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self._reader is None:
            return
        for batch in self._reader:
            yield _clean_utf8(batch, self.rejected)


def read_csv(raw: IO[bytes], batch_rows: int = 65536) -> CsvRecords:
    """Open a CSV stream: parse its header and prepare the record batches behind it."""
    stream = open_binary(raw)
    header_bytes = stream.readline()
    try:
        header_text = header_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("line 1: the header is not valid UTF-8") from None
    if not header_text.strip():
        return CsvRecords(header=[])
    header = [name.strip() for name in next(csv.reader([header_text]))]
    records = CsvRecords(header=header)
    types = {LINE: pa.int64(), **{name: pa.string() for name in header}}

    try:
        records._reader = _open(stream, header, types, records)
    except pa.ArrowInvalid as error:
        if "Empty CSV" not in str(error):
            raise
    return records


def _open(stream: IO[bytes], header: list[str], types: dict[str, Any], records: CsvRecords) -> Any:
    def reject(row: Any) -> str:
        line_text, _, rest = row.text.partition(",")
        line = int(line_text) if line_text.isdigit() else 0
        if rest.strip():
            records.rejected.append(
                Rejected(line, f"expected {len(header)} fields, found {row.actual_columns - 1}", rest[:1000])
            )
        return "skip"

    return pacsv.open_csv(
        _Numbered(stream, first_line=2),
        read_options=pacsv.ReadOptions(column_names=[LINE, *header], block_size=BLOCK),
        parse_options=pacsv.ParseOptions(invalid_row_handler=reject, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=types, check_utf8=False, strings_can_be_null=True, quoted_strings_can_be_null=True
        ),
    )


def _clean_utf8(batch: pa.RecordBatch, rejected: list[Rejected]) -> pa.RecordBatch:
    """Drop rows whose text is not UTF-8 (reported by line); the rest go on."""
    try:
        batch.validate(full=True)
        return batch
    except pa.ArrowInvalid:
        pass
    bad: set[int] = set()
    for index in range(1, batch.num_columns):
        for row, value in enumerate(batch.column(index).cast(pa.binary()).to_pylist()):
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    bad.add(row)
    lines = batch.column(0).to_pylist()
    for row in sorted(bad):
        rejected.append(Rejected(lines[row], "the row is not valid UTF-8 text"))
    keep = pa.array([row not in bad for row in range(batch.num_rows)])
    return batch.filter(keep)
