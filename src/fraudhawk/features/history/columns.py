"""How the history reads its variables from a frame of events (text, as stored): one reader for
each kind, used by both engines, so an amount or a category means the same to training, batch
prediction and the one-event engine (`events_of` hands the same values to `EntityState`)."""

from __future__ import annotations

from typing import Any

import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.features.history.login_values import login_inputs
from fraudhawk.features.history.spec import HistorySpec
from fraudhawk.features.history.state import Event


def _text(frame: pl.DataFrame, name: str) -> pl.Series:
    if name not in frame.columns:  # a variable the event did not carry
        return pl.Series(name, [None] * frame.height, pl.String)
    return frame[name].cast(pl.String).str.strip_chars()


def amounts(frame: pl.DataFrame, name: str) -> pl.Series:
    """A followed amount: the trimmed text as a number, else null (NaN and infinities stay numbers)."""
    return _text(frame, name).cast(pl.Float64, strict=False).alias(name)


def categories(frame: pl.DataFrame, name: str) -> pl.Series:
    """A followed category: the trimmed text, null when empty."""
    text = _text(frame, name)
    return pl.select(pl.when(text.str.len_chars() > 0).then(text).alias(name)).to_series()


def events_of(spec: HistorySpec, frame: pl.DataFrame) -> list[Event]:
    """The rows of `frame` (ENTITY_ID, EVENT_MS, variables as text) as the one-event engine takes
    them, values read as the vectorised engine reads them."""
    entities = frame[layout.ENTITY_ID].cast(pl.String).to_list()
    times = frame[layout.EVENT_MS].cast(pl.Int64).to_list()
    numbers = [amounts(frame, a).to_list() for a in spec.amounts]
    texts = [categories(frame, c).to_list() for c in spec.categories]
    login = spec.login
    login_texts = [categories(frame, c).to_list() for c in login.inputs()] if login is not None else []
    out: list[Event] = []
    for i in range(frame.height):
        values: list[Any] = [a[i] for a in numbers]
        followed = [c[i] for c in texts]
        if login is not None:
            followed += login_inputs(login, [c[i] for c in login_texts])
        out.append((entities[i], times[i], values, followed))
    return out
