"""Applying an enricher to a whole column (training) or to one value (real-time prediction).

Both strip the same characters and then call the enricher's `derive`, so a value gets exactly the same
features at training and at prediction time. A column is enriched once per distinct value and gathered
back: fraud data repeats values heavily (a few thousand user agents or BINs over millions of events).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter

import polars as pl

from fraudhawk.features.enrich.base import Enricher, Value

CACHE_SIZE = 65_536
# Exactly what str.strip() removes, spelled out so polars strips the same characters in a column.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_KEY = "value"
_ROW = "row"
_caches: dict[Callable[[str], tuple[Value, ...]], Callable[[str | None], tuple[Value, ...]]] = {}
_caches_lock = threading.Lock()


def _cached(enricher: Enricher) -> Callable[[str | None], tuple[Value, ...]]:
    cached = _caches.get(enricher.derive)
    if cached is None:
        with _caches_lock:
            cached = _caches.get(enricher.derive)
            if cached is None:
                missing = (None,) * len(enricher.outputs)
                derive = enricher.derive

                def derive_raw(value: str | None) -> tuple[Value, ...]:
                    text = value.strip(WHITESPACE) if value is not None else ""
                    return derive(text) if text else missing

                cached = lru_cache(maxsize=CACHE_SIZE)(derive_raw)
                _caches[enricher.derive] = cached
    return cached


def derive_one(enricher: Enricher, value: str | None) -> tuple[Value, ...]:
    """The enricher's outputs for one raw value; all None when it is missing or blank."""
    return _cached(enricher)(value)


def _table(enricher: Enricher, values: list[str | None], prefix: str) -> pl.DataFrame:
    derive = enricher.derive
    missing = (None,) * len(enricher.outputs)
    derived = [missing if value is None else derive(value) for value in values]
    return pl.DataFrame(
        [
            pl.Series(
                prefix + output.name,
                list(map(itemgetter(index), derived)),
                dtype=pl.Float64 if output.kind == "numeric" else pl.String,
                strict=False,
            )
            for index, output in enumerate(enricher.outputs)
        ]
    )


def derive_batch(enricher: Enricher, values: pl.Series, prefix: str) -> pl.DataFrame:
    """The enricher's outputs for a column of raw text, one column per output named prefix + output name."""
    raw = values if values.dtype == pl.String else values.cast(pl.String)
    stripped = raw.str.strip_chars(WHITESPACE)
    cleaned = pl.select(pl.when(stripped != "").then(stripped)).to_series()
    present = cleaned.drop_nulls()
    if present.n_unique() == len(present):
        return _table(enricher, cleaned.to_list(), prefix)
    distinct = present.unique()
    table = _table(enricher, distinct.to_list(), prefix)
    lookup = pl.DataFrame({_KEY: distinct, _ROW: pl.int_range(len(distinct), dtype=pl.UInt32, eager=True)})
    rows = pl.DataFrame({_KEY: cleaned}).join(lookup, on=_KEY, how="left", maintain_order="left")
    return table[rows[_ROW]]
