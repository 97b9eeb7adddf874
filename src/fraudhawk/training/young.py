"""Young entities in training: copies of events computed as if their entity had just appeared.

A store meets new customers every day, but training data holds few of them: most entities were there
long before the data begins, and an entity's first events at the data's start have a short history
only because the data starts there. A model fitted on such data has almost never seen an entity with
no past, and scores one by guesswork (measured on a Sparkov run: an ordinary purchase of a card the
store had never seen scored 913).

So training adds *young copies*: for a seeded sample of (entity, moment) pairs, the entity's next
events (up to `YOUNG_EVENTS`) with their history computed by the one history engine
(`features.history`) as if the entity had first appeared at that moment, each copy under an entity
id of its own. The copies keep
their events' labels, so the model learns what fraud and legitimate activity look like for an entity
with no or little past. Moments are drawn only from `START_GRACE_MS` after the data's first event on:
what came before an entity's first event there is not absence but the edge of the data, and a copy
starting there would not be young. The entity's own events (including those at the data's start) stay
in training unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.features import history as hist
from fraudhawk.features.history.units import DAY_MS

#: events of a copy: its entity's first ones as a new entity, up to the history's count cap (an
#: entity with fewer earlier events still differs from a known one); lengths are drawn evenly on a
#: log scale, so short copies are many and every history length up to the cap is covered
YOUNG_EVENTS = 100
MEAN_EVENTS = (YOUNG_EVENTS - 1) / math.log(YOUNG_EVENTS)  # the mean of that draw
COPY_SHARE = 0.15  # copied events fitted on, at most this share of the training events
COPIES_PER_ENTITY = 24  # and at most this many copies of one entity on average
#: copies of validation events (scored, never fitted on: they fit the young score curves and measure
#: how new entities fare), up to this many or one per validation event. They are made of every
#: entity's validation events: keeping a tenth of the entities out of fitting for them (so that the
#: curves came from entities the model had never seen) stopped paying once the variables describing
#: the entity were left out, and cost the model their events (docs/modelling.md)
VALIDATION_COPIES = 4000
START_GRACE_MS = 7 * DAY_MS
#: ENTITY_ID of a copy: the entity's own and this mark (a control character, never in a stored id)
COPY_MARK = "\x01young"


@dataclass
class YoungCopies:
    rows: np.ndarray  # the copied rows of the frame, in the copies' order
    history: pl.DataFrame  # their history features as young entities, in the same order


def training_copies(
    spec: hist.HistorySpec, frame: pl.DataFrame, data_start_ms: int, end: int, seed: int
) -> YoungCopies:
    """Young copies of the events of `frame`'s first `end` rows, to fit on."""
    entities = frame.head(end)[layout.ENTITY_ID].n_unique()
    wanted = min(int(end * COPY_SHARE / MEAN_EVENTS), entities * COPIES_PER_ENTITY)
    return copies(spec, frame, data_start_ms, seed, 0, end, wanted)


def validation_copies(
    spec: hist.HistorySpec, frame: pl.DataFrame, data_start_ms: int, start: int, seed: int
) -> YoungCopies:
    """Young copies of the events from row `start` on (the validation events)."""
    return copies(spec, frame, data_start_ms, seed + 1, start, frame.height, VALIDATION_COPIES)


def copies(
    spec: hist.HistorySpec,
    frame: pl.DataFrame,
    data_start_ms: int,
    seed: int,
    begin: int,
    end: int,
    wanted: int,
) -> YoungCopies:
    """Up to `wanted` young copies starting at rows `begin` to `end` (exclusive) of `frame` and made of
    rows before `end` (ENTITY_ID, EVENT_MS and the spec's variables as text, sorted by time);
    `data_start_ms`: the first event of all the data the history saw."""
    empty = YoungCopies(
        np.zeros(0, dtype=np.int64), pl.DataFrame(schema=dict.fromkeys(spec.feature_names(), pl.Float64))
    )
    entity = frame[layout.ENTITY_ID]
    if frame.height == 0 or entity.null_count() == frame.height:
        return empty
    # rows by (entity, time); events without an entity have no history to copy
    order = (
        pl.DataFrame({"e": entity, "row": np.arange(frame.height, dtype=np.int64)})
        .filter(pl.col("e").is_not_null())
        .sort(["e", "row"])
    )
    order = order.filter(pl.col("row") < end)
    rows = order["row"].to_numpy()
    if not len(rows):
        return empty
    is_start = np.ones(len(rows), dtype=bool)
    is_start[1:] = (order["e"][1:] != order["e"][:-1]).to_numpy()
    group = np.cumsum(is_start) - 1
    ends = np.append(np.flatnonzero(is_start)[1:], len(rows))[group]
    ms = frame[layout.EVENT_MS].cast(pl.Int64).to_numpy()
    eligible = np.flatnonzero((ms[rows] >= data_start_ms + START_GRACE_MS) & (rows >= begin))
    wanted = min(wanted, len(eligible))
    if wanted <= 0:
        return empty
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.choice(eligible, size=wanted, replace=False))
    drawn = np.exp(rng.uniform(0.0, math.log(YOUNG_EVENTS), size=len(starts)))
    lengths = np.minimum(ends[starts] - starts, np.maximum(np.round(drawn).astype(np.int64), 1))
    copy_of = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    positions = starts[copy_of] + np.arange(len(copy_of)) - offsets[copy_of]
    picked = rows[positions]
    copied = frame[picked]
    ids = pl.Series(copy_of).cast(pl.String)
    copied = copied.with_columns((copied[layout.ENTITY_ID].cast(pl.String) + COPY_MARK + ids).alias(layout.ENTITY_ID))
    features, _ = hist.compute(spec, copied)
    return YoungCopies(picked, features)
