"""Typed values of rule variables: text from an event turned into Python values, and back into text.

A missing value is None: text that does not parse as the variable's type, an empty non-STRING value,
a score that could not be computed. DATETIME values are `Timestamp`s (UTC epoch milliseconds).
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fraudhawk.catalog.values import FLOAT_TEXT, parse_utc_timestamp

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
DATA_TYPES = ("STRING", "INTEGER", "FLOAT", "BOOLEAN", "DATETIME")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, order=True, slots=True)
class Timestamp:
    """A DATETIME value: milliseconds since 1970-01-01T00:00:00Z. Ordered, hashable, cheap to compare."""

    epoch_ms: int

    @classmethod
    def parse(cls, text: str) -> Timestamp | None:
        """An ISO-8601 UTC timestamp (`2019-11-30T13:01:01Z`, as the API takes them), or None."""
        moment = parse_utc_timestamp(text.strip())
        return None if moment is None else cls.of(moment)

    @classmethod
    def of(cls, moment: datetime) -> Timestamp:
        """A datetime as a Timestamp; a naive one is taken as UTC, as AFD does."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return cls((moment - _EPOCH) // _MS)

    def to_datetime(self) -> datetime:
        return _EPOCH + timedelta(milliseconds=self.epoch_ms)

    def __str__(self) -> str:
        try:
            moment = self.to_datetime()
        except OverflowError:
            return str(self.epoch_ms)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        millis = self.epoch_ms % 1000
        return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


Value = str | int | float | bool | Timestamp | None


def coerce(data_type: str, text: str | None) -> Value:
    """The typed value of an event's text for a variable of `data_type`; None when it is missing or unparsable.

    STRING keeps the text exactly; for the other types surrounding whitespace is ignored and "" is missing.
    """
    if text is None:
        return None
    if data_type == "STRING":
        return text
    text = text.strip()
    if data_type == "INTEGER":
        if not _INTEGER_TEXT.fullmatch(text):
            return None
        number = int(text)
        return number if INT_MIN <= number <= INT_MAX else None
    if data_type == "FLOAT":
        return _finite_float(text)
    if data_type == "BOOLEAN":
        lowered = text.lower()
        return True if lowered == "true" else False if lowered == "false" else None
    if data_type == "DATETIME":
        return Timestamp.parse(text)
    raise ValueError(f"unknown data type {data_type!r}")


def _finite_float(text: str) -> float | None:
    if not FLOAT_TEXT.fullmatch(text):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def list_number(text: str) -> int | float | None:
    """A list element read as a number (ints stay exact, so large INTEGER ids compare correctly)."""
    text = text.strip()
    if _INTEGER_TEXT.fullmatch(text):
        return int(text)
    return _finite_float(text)


# What evaluate accepts for a variable of each type. The hot path only checks the exact class
# (`EXACT`); anything else goes through `NORMALIZE`, which converts what is safely convertible
# (numpy numbers, aware datetimes, a whole float for an INTEGER) and treats the rest as missing.
EXACT: dict[str, type] = {"STRING": str, "INTEGER": int, "FLOAT": float, "BOOLEAN": bool, "DATETIME": Timestamp}


def _as_string(value: object) -> Value:
    return str(value) if isinstance(value, str) else None


def _as_integer(value: object) -> Value:
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        number = operator.index(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():  # 5.0 for an INTEGER; not NaN/inf
        number = int(float(value))
    else:
        return None
    return number if INT_MIN <= number <= INT_MAX else None


def _as_float(value: object) -> Value:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _as_boolean(value: object) -> Value:
    return value if isinstance(value, bool) else None


def _as_timestamp(value: object) -> Value:
    if isinstance(value, Timestamp):
        return value
    if isinstance(value, datetime):
        return Timestamp.of(value)
    return None


NORMALIZE: dict[str, Callable[[object], Value]] = {
    "STRING": _as_string,
    "INTEGER": _as_integer,
    "FLOAT": _as_float,
    "BOOLEAN": _as_boolean,
    "DATETIME": _as_timestamp,
}


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'[\\"\n\r\t]')


def quote(text: str) -> str:
    """A string literal that reads back as `text` (the inverse of the parser's decoding)."""
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()], text) + '"'


def render_value(value: Value) -> str:
    """How `expressionWithValues` shows a value: numbers and booleans bare, text and times quoted, missing null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Timestamp):
        return quote(str(value))
    return quote(value)
