"""Reading CSV records with their line numbers: compared with Python's csv module on random files,
read in blocks far smaller than a record (so values, lines and quoted newlines straddle blocks),
plain and compressed."""

from __future__ import annotations

import csv
import gzip
import io
import lzma
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudhawk.events import csvsource
from fraudhawk.events.csvsource import read_csv

HEADER = ["a", "b", "c"]
cell = st.one_of(
    st.sampled_from(
        ["", "x", "1.5", "two words", 'say "hi"', "a,b", "line\nbreak", "crlf\r\ninside", "cr\ralone", "  padded "]
    ),
    st.text(alphabet='ab ,"\n\té', max_size=8),
)
record = st.lists(cell, min_size=3, max_size=3)


def expected(text: str) -> list[tuple[int, list[str]]]:
    """(line the record starts on, values) for each record, as Python's csv module reads them."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    out, start = [], reader.line_num + 1
    for row in reader:
        if row:
            out.append((start, row))
        start = reader.line_num + 1
    return out


def read_all(data: bytes) -> tuple[list[tuple[int, list[str]]], list[csvsource.Rejected]]:
    records = read_csv(io.BytesIO(data))
    assert records.header == HEADER
    rows = []
    for batch in records.batches():
        for line, *values in zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True):
            rows.append((line, [v if v is not None else "" for v in values]))
    return rows, records.rejected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(record, max_size=25),
    crlf=st.booleans(),
    quote_all=st.booleans(),
    read_bytes=st.sampled_from([1, 7, 64, 1 << 20]),
    compression=st.sampled_from(["plain", "gzip", "xz"]),
)
def test_records_and_line_numbers_match_the_csv_module(
    monkeypatch: pytest.MonkeyPatch,
    rows: list[list[str]],
    crlf: bool,
    quote_all: bool,
    read_bytes: int,
    compression: str,
) -> None:
    monkeypatch.setattr(csvsource, "READ_BYTES", read_bytes)
    text = io.StringIO(newline="")
    writer = csv.writer(
        text, lineterminator="\r\n" if crlf else "\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    )
    writer.writerow(HEADER)
    writer.writerows(rows)
    data = text.getvalue().encode("utf-8")
    packed = {"plain": data, "gzip": gzip.compress(data), "xz": lzma.compress(data)}[compression]
    got, rejected = read_all(packed)
    # An empty line is no record. The csv module leaves a lone \r in a value unquoted when lines end
    # in \n, and both readers then end the line there: what follows is a record of its own, with
    # the wrong number of fields, reported by its line.
    want = [(line, values) for line, values in expected(text.getvalue()) if values != [""]]
    assert got == [(line, values) for line, values in want if len(values) == 3]
    assert [r.line for r in rejected] == [line for line, values in want if len(values) != 3]


def test_malformed_rows_are_reported_by_line_and_the_rest_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvsource, "READ_BYTES", 5)
    data = b'a,b,c\n1,2,3\n4,5\n"multi\nline",x,y\n6,7,8,9\n10,11,12\n'
    rows, rejected = read_all(gzip.compress(data))
    assert rows == [(2, ["1", "2", "3"]), (4, ["multi\nline", "x", "y"]), (7, ["10", "11", "12"])]
    assert [(r.line, r.reason) for r in rejected] == [
        (3, "expected 3 fields, found 2"),
        (6, "expected 3 fields, found 4"),
    ]


def test_a_damaged_compressed_file_fails_with_its_error() -> None:
    data = gzip.compress(b"a,b,c\n" + b"1,2,3\n" * 100_000)
    damaged = data[: len(data) // 2]
    with pytest.raises((EOFError, OSError)):
        read_all(damaged)


def test_the_read_ahead_thread_ends_with_its_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvsource, "READ_BYTES", 1024)  # the thread fills its queue, then waits
    data = gzip.compress(b"a,b,c\n" + b"1,2,3\n" * 200_000)
    before = threading.active_count()
    stream = csvsource.open_binary(io.BytesIO(data))
    assert stream.read(6) == b"a,b,c\n"
    assert threading.active_count() == before + 1
    stream.close()  # abandoned half read: the thread, blocked on a full queue, stops
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_lines_ending_in_carriage_returns_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Old Mac files end lines with \\r alone: every record keeps its line number (none is lost)."""
    monkeypatch.setattr(csvsource, "READ_BYTES", 3)  # a \r at the end of a read may precede a \n
    data = b'a,b,c\r1,2,3\r"x\ry",5,6\r\n7,8\r9,10,11'
    rows, rejected = read_all(data)
    assert rows == [(2, ["1", "2", "3"]), (3, ["x\ry", "5", "6"]), (6, ["9", "10", "11"])]
    assert [(r.line, r.reason) for r in rejected] == [(5, "expected 3 fields, found 2")]


def test_a_stray_quote_loses_only_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quote opened on line 6 and never closed: that line is reported, every other row is read."""
    monkeypatch.setattr(csvsource, "READ_BYTES", 64)  # the open value runs across many reads
    lines = [",".join(HEADER)] + [f"{i},x{i},y" for i in range(1, 1006)]
    lines[5] = '5,"oops,y'
    rows, rejected = read_all(("\n".join(lines) + "\n").encode())
    assert [(r.line, r.reason, r.raw) for r in rejected] == [(6, "unterminated quoted value", '5,"oops,y')]
    assert [line for line, _ in rows] == [n for n in range(2, 1007) if n != 6]


def test_a_quote_still_open_past_the_longest_record_is_a_stray_quote(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvsource, "READ_BYTES", 100)
    lines = [",".join(HEADER), '1,"never closed,z'] + [f"{i},x,y" for i in range(2, 400)]
    records = read_csv(io.BytesIO(("\n".join(lines) + "\n").encode()), max_record_bytes=500)
    got = sum(batch.num_rows for batch in records.batches())
    assert got == 398
    assert [(r.line, r.reason) for r in records.rejected] == [(2, "unterminated quoted value")]


@pytest.mark.parametrize("read_bytes", [10, 1000, 1 << 20])
def test_records_longer_than_the_cap_are_reported_and_reading_goes_on(
    monkeypatch: pytest.MonkeyPatch, read_bytes: int
) -> None:
    """The same answer wherever the reads end: a long line, and a quoted record whose value closes
    in time but whose last line makes it too long, are each rejected whole; a value still open after
    the cap is a stray quote, its line rejected and the lines after it read as records."""
    monkeypatch.setattr(csvsource, "READ_BYTES", read_bytes)
    quoted = '"' + "line\n" * 10 + '"'
    stray = '"' + "4,5,6\n" * 300
    data = (
        f"a,b,c\n1,2,3\n2,{'x' * 5000},3\n3,{quoted},{'z' * 2000}\n4,5,6\r7,{'y' * 3000},8\r9,10,11\n"
        f"12,{stray}13,14,15\n"
    ).encode()
    records = read_csv(io.BytesIO(data), max_record_bytes=1000)
    rows = [row for batch in records.batches() for row in batch.to_pylist()]
    assert [row["__line__"] for row in rows] == [2, 15, 17, *range(19, 319)]
    assert sorted((r.line, r.reason) for r in records.rejected) == [
        (3, "record longer than 1000 bytes"),
        (4, "record longer than 1000 bytes"),
        (16, "record longer than 1000 bytes"),
        (18, "unterminated quoted value"),
    ]
    assert all(len(r.raw or "") <= 1000 for r in records.rejected)


def test_a_file_without_line_ends_is_refused_at_its_header() -> None:
    with pytest.raises(ValueError, match="line 1: the header is longer than 1000 bytes"):
        read_csv(io.BytesIO(b"a," * 100_000), max_record_bytes=1000)
    assert read_csv(io.BytesIO(b"a,b,c"), max_record_bytes=1000).header == HEADER
