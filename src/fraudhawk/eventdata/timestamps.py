"""Timestamps in the forms AFD accepts, parsed a whole column at a time.

The API takes ISO-8601 UTC only. CSV files may also use the formats AFD's importer accepted
(`4/10/2019 11:05`, `2019/11/30 1:01:01 PM`, `11/30/19 13:01:01`, ...). Each format is tried only
where a regular expression says its shape fits, so a 2-digit year is never read as year 19.
"""

from __future__ import annotations

import re

import polars as pl

# (shape, chrono formats to try); times without a zone are taken as UTC, as AFD does.
_DATE_TIME = r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?( ?[AaPp][Mm])?$"
_FORMATS: list[tuple[str, list[str]]] = [
    (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$", ["%Y-%m-%dT%H:%M:%S%.fZ"]),
    (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?$", ["%Y-%m-%dT%H:%M:%S%.f"]),
    (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?[+-]\d{2}:?\d{2}$", ["%Y-%m-%dT%H:%M:%S%.f%z"]),
]
for _sep, _year in (("-", "%Y-%m-%d"), ("/", "%Y/%m/%d")):
    _FORMATS.append((r"^\d{4}" + _sep + r"\d{1,2}" + _sep + r"\d{1,2}" + _DATE_TIME, [_year]))
for _sep in ("/", "-"):
    _FORMATS.append((r"^\d{1,2}" + _sep + r"\d{1,2}" + _sep + r"\d{4}" + _DATE_TIME, [f"%m{_sep}%d{_sep}%Y"]))
    _FORMATS.append((r"^\d{1,2}" + _sep + r"\d{1,2}" + _sep + r"\d{2}" + _DATE_TIME, [f"%m{_sep}%d{_sep}%y"]))
# ISO forms polars parses several times faster than with `%.f` (500k values: 0.07-0.08 s against
# 0.25 s): whole seconds, and milliseconds.
_FAST = [
    (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", "%Y-%m-%dT%H:%M:%SZ"),
    (r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", "%Y-%m-%dT%H:%M:%S.%3fZ"),
]
_TIMES = ["%H:%M:%S%.f", "%H:%M", "%I:%M:%S%.f %p", "%I:%M %p", "%I:%M:%S%.f%p", "%I:%M%p"]


def _all_formats() -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for shape, formats in _FORMATS:
        for date_format in formats:
            if "%H" in date_format:
                pairs.append((shape, date_format))
            else:
                pairs += [(shape, f"{date_format}{sep}{t}") for sep in (" ", "T") for t in _TIMES]
    return pairs


FORMATS = _all_formats()  # (shape, chrono format) pairs tried after the ISO form, in order


def parse_with(column: pl.Expr, shape: str, fmt: str) -> pl.Expr:
    """Epoch milliseconds of the texts that have `shape` and parse with `fmt`, else null."""
    parsed = column.str.to_datetime(fmt, strict=False, time_unit="ms", time_zone="UTC")
    return pl.when(column.str.contains(shape)).then(parsed).dt.epoch(time_unit="ms")


def _first_fitting(value: str) -> tuple[str, str] | None:
    probe = pl.DataFrame({"t": [value]})
    for shape, fmt in FORMATS:
        if probe.select(parse_with(pl.col("t"), shape, fmt))[0, 0] is not None:
            return shape, fmt
    return None


def parse_series(values: pl.Series) -> pl.Series:
    """Milliseconds since the epoch (Int64), or null where the text is no accepted timestamp.

    The common ISO form is parsed for the whole column at once (by a faster format when the first
    value has whole seconds or milliseconds); only what it leaves unparsed is tried against the other
    formats, so a clean file costs one pass.
    """
    frame = pl.DataFrame({"t": values})
    fast_form = _fast_form(values)
    first = parse_iso_column(pl.col("t")) if fast_form is None else parse_with(pl.col("t"), *fast_form)
    fast = frame.select(first.alias("ms"))["ms"]
    pending = fast.is_null() & values.is_not_null()
    if fast_form is not None and pending.any():
        iso = frame.filter(pending).select(parse_iso_column(pl.col("t")).alias("ms"))["ms"]
        fast = fast.scatter(pending.arg_true(), iso)
        pending = fast.is_null() & values.is_not_null()
    if not pending.any():
        return fast
    rest = frame.filter(pending).select(pl.col("t").str.strip_chars())["t"]
    # Files use one format throughout: find the one that fits the first value, apply it to all, and
    # try every format only on what that leaves.
    parsed = pl.Series("ms", [None] * len(rest), dtype=pl.Int64)
    fitting = _first_fitting(rest[0])
    if fitting is not None:
        parsed = pl.DataFrame({"t": rest}).select(parse_with(pl.col("t"), *fitting).alias("ms"))["ms"]
    still = parsed.is_null()
    if still.any():
        others = pl.DataFrame({"t": rest.filter(still)}).select(
            pl.coalesce([parse_with(pl.col("t"), shape, fmt) for shape, fmt in FORMATS]).alias("ms")
        )["ms"]
        parsed = parsed.scatter(still.arg_true(), others)
    return fast.scatter(pending.arg_true(), parsed)


def _fast_form(values: pl.Series) -> tuple[str, str] | None:
    """The form of `_FAST` the column's first value has, if any."""
    present = values.drop_nulls()
    first = present[0] if len(present) else ""
    return next(((shape, fmt) for shape, fmt in _FAST if re.fullmatch(shape, first)), None)


def parse_iso_column(column: pl.Expr) -> pl.Expr:
    """The API's strict form: ISO-8601 in UTC ending in Z, as milliseconds, or null."""
    shape, formats = _FORMATS[0]
    parsed = column.str.to_datetime(formats[0], strict=False, time_unit="ms", time_zone="UTC")
    return pl.when(column.str.contains(shape)).then(parsed).dt.epoch(time_unit="ms")
