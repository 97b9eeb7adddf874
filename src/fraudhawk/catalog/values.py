"""Checks that a text value fits one of AFD's data types (defaults now, event values later)."""

from __future__ import annotations

import math
import re
from datetime import datetime

from fraudhawk.errors import ValidationError

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
#: A FLOAT's text: ASCII decimal digits with an optional fraction and exponent, as imports read it
#: (Python's float() would also take "1_000", " 12 " and digits of other scripts).
FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?Z$")
INT64 = 2**63


def parse_utc_timestamp(text: str) -> datetime | None:
    """An ISO-8601 UTC timestamp ending in Z (AFD accepts no other zone), or None."""
    if not _ISO_UTC.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def utc_ms(text: str, field: str) -> int:
    """Epoch milliseconds of an API timestamp; ValidationException naming `field` if it is not one."""
    moment = parse_utc_timestamp(text)
    if moment is None:
        raise ValidationError(
            f"{field} {text!r} must be an ISO-8601 UTC timestamp such as 2019-11-30T13:01:01Z", field=field
        )
    return int(moment.timestamp() * 1000)


def value_problem(data_type: str, text: str) -> str | None:
    """Why `text` is not a valid `data_type` value, or None when it is."""
    if data_type == "STRING":
        return None
    if data_type == "INTEGER":
        if _INTEGER.fullmatch(text) and -INT64 <= int(text) < INT64:
            return None
        return "an INTEGER value must be a whole number such as 0 or -12"
    if data_type == "FLOAT":
        if FLOAT_TEXT.fullmatch(text) and math.isfinite(float(text)):
            return None
        return "a FLOAT value must be a finite number such as 0.0 or 4.01"
    if data_type == "BOOLEAN":
        return None if text.lower() in ("true", "false") else "a BOOLEAN value must be true or false"
    if data_type == "DATETIME":
        if text == "" or parse_utc_timestamp(text) is not None:
            return None
        return "a DATETIME value must be an ISO-8601 UTC timestamp such as 2019-11-30T13:01:01Z"
    return f"unknown data type {data_type}"
