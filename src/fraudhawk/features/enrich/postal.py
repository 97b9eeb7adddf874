"""Postal codes: format and the 3-character prefix, which names a region without one category per code."""

from __future__ import annotations

from fraudhawk.features.enrich.base import Enricher, Value, categorical, flag, numeric

OUTPUTS = numeric(zip_length="length of the postal code", zip_is_numeric="whether the postal code is all digits") + (
    categorical(zip3="area of the postal code, its first 3 characters")
)


def derive(value: str) -> tuple[Value, ...]:
    compact = "".join(c for c in value if c.isalnum()).upper()
    return (
        float(len(compact)),
        flag(compact.isascii() and compact.isdigit()),
        compact[:3] or None,
    )


ENRICHER = Enricher("zip", OUTPUTS, derive)
