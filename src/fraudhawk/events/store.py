"""Reading and writing stored events: segments for imports, rows for single events, one index.

All functions take an open connection so that callers put a whole step (a batch and its job
progress, an event and its statistics) in one transaction.
"""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, delete, func, insert, select, update

from fraudhawk.caching import LoadingCache
from fraudhawk.context import now_ms
from fraudhawk.eventdata import layout
from fraudhawk.storage import schema

_index = schema.event_index
_labels = schema.event_labels
_segments = schema.event_segments
_streamed = schema.streamed_events
_stats = schema.event_stats
_LOOKUP_CHUNK = 10_000


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    event_type: str
    event_ms: int
    entity_type: str
    entity_id: str
    variables: dict[str, str]
    label: str | None
    label_ms: int | None


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


# --- segments -------------------------------------------------------------------------------------


def encode_segment(frame: pl.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(frame.to_arrow(), sink, compression="zstd", row_group_size=16384)
    return sink.getvalue()


class SegmentCache:
    """Decoded segments, most recently used first, so repeated GetEvent calls stay cheap.

    One per service (`Context.segments`), keyed by segment id: segment ids are never reused within
    a database, and a segment never changes once written, so an entry cannot go stale.
    """

    def __init__(self, size: int = 4) -> None:
        self._cache: LoadingCache[int, pa.Table] = LoadingCache(size)

    def get(self, conn: Connection, segment_id: int) -> pa.Table:
        def load() -> pa.Table:
            data = conn.execute(select(_segments.c.data).where(_segments.c.id == segment_id)).scalar_one()
            return pq.read_table(io.BytesIO(data))

        return self._cache.get(segment_id, load)


def existing_ids(conn: Connection, event_type: str, ids: list[str]) -> set[str]:
    """Which of `ids` are already stored for the event type."""
    found: set[str] = set()
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        query = select(_index.c.event_id).where(_index.c.event_type == event_type, _index.c.event_id.in_(chunk))
        found.update(conn.execute(query).scalars())
    return found


@dataclass(frozen=True)
class Segment:
    """A batch of new events made ready to store: encoded, measured, its index keys sorted.

    Built off the database thread (see imports), so storing it is only writing.
    """

    frame: pl.DataFrame
    sizes: pl.Series
    data: bytes
    low: int
    high: int
    total: int
    ids: list[str]  # sorted: sorted keys touch each index page once per batch, twice as fast as random
    rows: list[int]


def prepare_segment(frame: pl.DataFrame, sizes: pl.Series) -> Segment:
    if frame.height == 0:
        return Segment(frame, sizes, b"", 0, 0, 0, [], [])
    event_ms = frame[layout.EVENT_MS]
    keys = pl.DataFrame({"id": frame[layout.EVENT_ID]}).with_row_index("row").sort("id")
    return Segment(
        frame=frame,
        sizes=sizes,
        data=encode_segment(frame),
        low=int(event_ms.min()),  # type: ignore[arg-type]
        high=int(event_ms.max()),  # type: ignore[arg-type]
        total=int(sizes.sum()),
        ids=keys["id"].to_list(),
        rows=keys["row"].to_list(),
    )


def store_batch(conn: Connection, event_type: str, segment: Segment) -> list[str]:
    """Store a batch of new events (ids unique within it) as one segment.

    Returns the ids that were already stored, which are left out. The common case, no such id, costs
    no look-up: the index insert skips conflicts and its row count says whether any occurred.
    """
    if segment.frame.height == 0:
        return []
    with conn.begin_nested() as savepoint:
        if _append_segment(conn, event_type, segment):
            return []
        savepoint.rollback()
    taken = existing_ids(conn, event_type, segment.ids)
    keep = ~segment.frame[layout.EVENT_ID].is_in(list(taken))
    if keep.any():
        rest = prepare_segment(segment.frame.filter(keep), segment.sizes.filter(keep))
        if not _append_segment(conn, event_type, rest):
            raise RuntimeError("events were stored concurrently by another import; retry")
    return sorted(taken)


def _append_segment(conn: Connection, event_type: str, segment: Segment) -> bool:
    """Write the segment and index its rows; False if some id was already indexed."""
    segment_id = conn.execute(
        insert(_segments)
        .values(
            event_type=event_type,
            row_count=segment.frame.height,
            min_ms=segment.low,
            max_ms=segment.high,
            size_bytes=segment.total,
            data=segment.data,
            created_ms=now_ms(),
        )
        .returning(_segments.c.id)
    ).scalar_one()
    rows = list(
        zip(
            itertools.repeat(event_type),
            segment.ids,
            itertools.repeat(segment_id),
            segment.rows,
            strict=False,
        )
    )
    mark = _placeholder(conn)
    result = conn.exec_driver_sql(
        "INSERT INTO event_index (event_type, event_id, segment_id, row_index) "
        f"VALUES ({', '.join([mark] * 4)}) ON CONFLICT DO NOTHING",
        rows,
    )
    if result.rowcount != segment.frame.height:
        return False
    bump_stats(conn, event_type, segment.frame.height, segment.total, segment.low, segment.high)
    return True


# --- statistics -----------------------------------------------------------------------------------


def bump_stats(conn: Connection, event_type: str, count: int, size: int, low: int | None, high: int | None) -> None:
    """Add stored events to the event type's statistics (negative counts remove them)."""
    stamp = now_ms()
    row = conn.execute(select(_stats).where(_stats.c.event_type == event_type)).first()
    if row is None:
        conn.execute(
            insert(_stats).values(
                event_type=event_type,
                number_of_events=count,
                size_bytes=size,
                least_recent_ms=low,
                most_recent_ms=high,
                updated_ms=stamp,
            )
        )
        return
    least, most = row.least_recent_ms, row.most_recent_ms
    if count > 0:
        least = low if least is None or (low is not None and low < least) else least
        most = high if most is None or (high is not None and high > most) else most
    elif low is not None and (low == least or high == most):
        # The oldest or newest event went: find the new bounds from the segments' (kept exact by
        # delete_event) and the single events'.
        in_segments = conn.execute(
            select(func.min(_segments.c.min_ms), func.max(_segments.c.max_ms)).where(
                _segments.c.event_type == event_type
            )
        ).one()
        single = conn.execute(
            select(func.min(_streamed.c.event_ms), func.max(_streamed.c.event_ms)).where(
                _streamed.c.event_type == event_type
            )
        ).one()
        lows = [v for v in (in_segments[0], single[0]) if v is not None]
        highs = [v for v in (in_segments[1], single[1]) if v is not None]
        least, most = (min(lows) if lows else None), (max(highs) if highs else None)
    conn.execute(
        update(_stats)
        .where(_stats.c.event_type == event_type)
        .values(
            number_of_events=row.number_of_events + count,
            size_bytes=row.size_bytes + size,
            least_recent_ms=least,
            most_recent_ms=most,
            updated_ms=stamp,
        )
    )


# --- single events --------------------------------------------------------------------------------


def event_size(event_id: str, entity_id: str, variables: dict[str, str]) -> int:
    return len(event_id.encode()) + len(entity_id.encode()) + sum(len(v.encode()) for v in variables.values())


def insert_single(conn: Connection, event_type: str, event: StoredEvent) -> None:
    size = event_size(event.event_id, event.entity_id, event.variables)
    conn.execute(
        insert(_streamed).values(
            event_type=event_type,
            event_id=event.event_id,
            event_ms=event.event_ms,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            variables=json.dumps(event.variables, separators=(",", ":")),
            label=event.label,
            label_ms=event.label_ms,
            size_bytes=size,
        )
    )
    conn.execute(insert(_index).values(event_type=event_type, event_id=event.event_id, segment_id=None, row_index=None))
    bump_stats(conn, event_type, 1, size, event.event_ms, event.event_ms)


def get_event(conn: Connection, segments: SegmentCache, event_type: str, event_id: str) -> StoredEvent | None:
    entry = conn.execute(select(_index).where(_index.c.event_type == event_type, _index.c.event_id == event_id)).first()
    if entry is None:
        return None
    if entry.segment_id is None:
        row = conn.execute(
            select(_streamed).where(_streamed.c.event_type == event_type, _streamed.c.event_id == event_id)
        ).one()
        entity_type, entity_id, variables = row.entity_type, row.entity_id, json.loads(row.variables)
        label, label_ms, event_ms = row.label, row.label_ms, row.event_ms
    else:
        record = segments.get(conn, entry.segment_id).slice(entry.row_index, 1).to_pylist()[0]
        entity_type, entity_id, event_ms = record[layout.ENTITY_TYPE], record[layout.ENTITY_ID], record[layout.EVENT_MS]
        label, label_ms = record[layout.EVENT_LABEL], record[layout.LABEL_MS]
        skip = set(layout.SEGMENT_METADATA)
        variables = {k: v for k, v in record.items() if k not in skip and v is not None}
    changed = conn.execute(
        select(_labels.c.label, _labels.c.label_ms).where(
            _labels.c.event_type == event_type, _labels.c.event_id == event_id
        )
    ).first()
    if changed is not None:
        label, label_ms = changed.label, changed.label_ms
    return StoredEvent(
        event_id=event_id,
        event_type=event_type,
        event_ms=event_ms,
        entity_type=entity_type,
        entity_id=entity_id,
        variables=variables,
        label=label,
        label_ms=label_ms,
    )


def set_label(conn: Connection, event_type: str, event_id: str, label: str, label_ms: int) -> bool:
    """Record a stored event's new label; False if no such event is stored."""
    stored = select(_index.c.event_id).where(_index.c.event_type == event_type, _index.c.event_id == event_id)
    if conn.execute(stored).first() is None:
        return False
    _drop_label(conn, event_type, [event_id])
    conn.execute(insert(_labels).values(event_type=event_type, event_id=event_id, label=label, label_ms=label_ms))
    return True


def _drop_label(conn: Connection, event_type: str, ids: list[str] | None) -> None:
    query = delete(_labels).where(_labels.c.event_type == event_type)
    conn.execute(query if ids is None else query.where(_labels.c.event_id.in_(ids)))


def delete_event(conn: Connection, segments: SegmentCache, event_type: str, event_id: str) -> bool:
    """Remove one event; its segment row stays but is no longer indexed, so scans skip it."""
    event = get_event(conn, segments, event_type, event_id)
    if event is None:
        return False
    segment_id = conn.execute(
        select(_index.c.segment_id).where(_index.c.event_type == event_type, _index.c.event_id == event_id)
    ).scalar()
    conn.execute(delete(_index).where(_index.c.event_type == event_type, _index.c.event_id == event_id))
    if segment_id is not None:
        _refresh_bounds(conn, segments, event_type, segment_id, event.event_ms)
    conn.execute(delete(_streamed).where(_streamed.c.event_type == event_type, _streamed.c.event_id == event_id))
    _drop_label(conn, event_type, [event_id])
    size = event_size(event.event_id, event.entity_id, event.variables)
    bump_stats(conn, event_type, -1, -size, event.event_ms, event.event_ms)
    return True


def _refresh_bounds(
    conn: Connection, segments: SegmentCache, event_type: str, segment_id: int, removed_ms: int
) -> None:
    """Keep a segment's time bounds exact after one of its events went; drop it once none is left."""
    bounds = conn.execute(select(_segments.c.min_ms, _segments.c.max_ms).where(_segments.c.id == segment_id)).one()
    if removed_ms not in (bounds.min_ms, bounds.max_ms):
        return
    table = segments.get(conn, segment_id)
    ids = table.column(layout.EVENT_ID).to_pylist()
    alive: set[str] = set()
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        alive.update(
            conn.execute(
                select(_index.c.event_id).where(
                    _index.c.event_type == event_type, _index.c.event_id.in_(chunk), _index.c.segment_id == segment_id
                )
            ).scalars()
        )
    times = [
        ms for event_id, ms in zip(ids, table.column(layout.EVENT_MS).to_pylist(), strict=True) if event_id in alive
    ]
    if not times:
        conn.execute(delete(_segments).where(_segments.c.id == segment_id))
        return
    conn.execute(update(_segments).where(_segments.c.id == segment_id).values(min_ms=min(times), max_ms=max(times)))


def delete_some(conn: Connection, event_type: str, limit: int) -> int:
    """Delete up to `limit` stored events of a type (whole segments first); return how many went."""
    segment = conn.execute(
        select(_segments.c.id, _segments.c.row_count).where(_segments.c.event_type == event_type).limit(1)
    ).first()
    if segment is not None:
        conn.execute(delete(_index).where(_index.c.event_type == event_type, _index.c.segment_id == segment.id))
        conn.execute(delete(_segments).where(_segments.c.id == segment.id))
        return int(segment.row_count)
    ids = (
        conn.execute(select(_streamed.c.event_id).where(_streamed.c.event_type == event_type).limit(limit))
        .scalars()
        .all()
    )
    if ids:
        conn.execute(delete(_streamed).where(_streamed.c.event_type == event_type, _streamed.c.event_id.in_(ids)))
        conn.execute(delete(_index).where(_index.c.event_type == event_type, _index.c.event_id.in_(ids)))
    return len(ids)


def clear_stats(conn: Connection, event_type: str) -> None:
    """After every event of a type went: drop its statistics and changed labels."""
    conn.execute(delete(_stats).where(_stats.c.event_type == event_type))
    _drop_label(conn, event_type, None)
