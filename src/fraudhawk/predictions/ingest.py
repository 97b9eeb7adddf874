"""What a real-time prediction writes, as one unit of a group commit: with ingestion, the event and
its entity's history for every TFI version of its event type; always, the prediction's record.

Plain statements on purpose (see `storage.raw`): this runs for every prediction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import Connection

from fraudhawk.catalog.activity import DELETION_ACTIVE
from fraudhawk.context import Context, now_ms
from fraudhawk.events import audit, store
from fraudhawk.features.history import EntityState, HistorySpec
from fraudhawk.features.single import history_inputs
from fraudhawk.predictions import records
from fraudhawk.predictions.engine import Prediction
from fraudhawk.scoring import states
from fraudhawk.scoring.state_cache import Key, StateCache
from fraudhawk.storage import raw

_INSERT_INDEX = (
    "INSERT INTO event_index (event_type, event_id, segment_id, row_index) VALUES (?, ?, NULL, NULL) "
    "ON CONFLICT DO NOTHING"
)
_DELETING = "SELECT status FROM event_deletions WHERE event_type = ?"
_INSERT_EVENT = (
    "INSERT INTO streamed_events (event_type, event_id, event_ms, entity_type, entity_id, variables, label, "
    "label_ms, size_bytes) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?)"
)
_BUMP_STATS = (
    "UPDATE event_stats SET number_of_events = number_of_events + 1, size_bytes = size_bytes + ?, "
    "least_recent_ms = CASE WHEN least_recent_ms IS NULL OR least_recent_ms > ? THEN ? ELSE least_recent_ms END, "
    "most_recent_ms = CASE WHEN most_recent_ms IS NULL OR most_recent_ms < ? THEN ? ELSE most_recent_ms END, "
    "updated_ms = ? WHERE event_type = ?"
)
_INSERT_STATS = (
    "INSERT INTO event_stats (event_type, number_of_events, size_bytes, least_recent_ms, most_recent_ms, "
    "updated_ms) VALUES (?, 1, ?, ?, ?, ?)"
)
_SHARE_EVENT_TYPE = "SELECT name FROM event_types WHERE name = ? FOR SHARE"
_INSERT_STATE = "INSERT INTO entity_states (model_id, major, minor, entity_id, state, seq) VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_STATE_NEW = _INSERT_STATE + " ON CONFLICT DO NOTHING"
_UPDATE_STATE_IF = (
    "UPDATE entity_states SET state = ?, seq = ? "
    "WHERE model_id = ? AND major = ? AND minor = ? AND entity_id = ? AND seq = ?"
)
_UPDATE_STATE = (
    "UPDATE entity_states SET state = ?, seq = ? WHERE model_id = ? AND major = ? AND minor = ? AND entity_id = ?"
)
_INSERT_RECORD = (
    "INSERT INTO predictions (event_type, event_id, detector_id, detector_version, prediction_ms, event_ms, "
    "record, vectors, entity_type, entity_id, outcomes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_INSERT_OUTCOME = "INSERT INTO prediction_outcomes (outcome, prediction_ms, prediction_id) VALUES (?, ?, ?)"


@dataclass
class Written:
    stored: bool = False
    states: list[tuple[Key, int, EntityState]] = field(default_factory=list)  # to cache once committed
    prediction_ms: int = 0  # the record's time: GetEventPredictionMetadata's predictionTimestamp


def _store_event(conn: Connection, prediction: Prediction, prepared: Prepared) -> bool:
    event = prediction.event
    deleting = raw.one(conn, _DELETING, (event.event_type,))
    if deleting is not None and deleting[0] in DELETION_ACTIVE:
        return False
    # the index row claims the id: an id stored earlier (by this or another call) is stored once
    if raw.execute(conn, _INSERT_INDEX, (event.event_type, event.event_id)).rowcount != 1:
        return False
    assert prepared.event_row is not None, "prepared for an ingesting event type"
    variables, size = prepared.event_row
    raw.execute(
        conn,
        _INSERT_EVENT,
        (event.event_type, event.event_id, event.event_ms, event.entity_type, event.entity_id, variables, size),
    )
    ms, stamp = event.event_ms, now_ms()
    if raw.execute(conn, _BUMP_STATS, (size, ms, ms, ms, ms, stamp, event.event_type)).rowcount == 0:
        raw.execute(conn, _INSERT_STATS, (event.event_type, size, ms, ms, stamp))
    return True


class TrackedVersions:
    """By event type, the TFI versions whose entity history its events advance, and whether any
    version of the event type is training (its completion catches up on events: they must lock
    against it). Valid for one catalog generation; each service has its own (`Context.tracked`)."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, int], tuple[list[states.Tracked], bool]] = {}

    def get(self, conn: Connection, event_type: str, generation: int) -> tuple[list[states.Tracked], bool]:
        key = (event_type, generation)
        found = self._found.get(key)
        if found is None:
            scorable = states.tracked_versions(conn, event_type)
            any_kind = bool(states.tracked_versions(conn, event_type, training=True))
            found = (scorable, any_kind)
            if len(self._found) > 256:
                self._found.clear()
            self._found[key] = found
        return found


Known = dict[tuple[str, int, int], tuple[int | None, EntityState]]  # version -> (row token, state) as read


@dataclass
class Prepared:
    """What the write will most likely store, computed before it (outside the write lock): each
    known state advanced by the event, with its bytes, and the record."""

    states: dict[tuple[str, int, int], tuple[HistorySpec, EntityState, bytes]]  # version -> (its spec, ...)
    record: tuple[str, bytes | None]
    record_stored: bool
    event_row: tuple[str, int] | None  # an ingesting type's event: its variables as JSON, and its size


def prepare(prediction: Prediction, known: Known) -> Prepared:
    event = prediction.event
    ready: dict[tuple[str, int, int], tuple[HistorySpec, EntityState, bytes]] = {}
    for model in prediction.plan.models:
        version = (model.model_id, model.major, model.minor)
        if model.history is None or version not in known:
            continue
        amounts, categories = history_inputs(model.history, event.variables)
        advanced = known[version][1].copy()
        advanced.advance(event.event_ms, amounts, categories, model.history.group_index())
        ready[version] = (model.history, advanced, advanced.to_bytes())
    stored = prediction.plan.spec.ingestion_enabled  # the usual case: a new event of an ingesting type
    event_row = None
    if stored:
        size = store.event_size(event.event_id, event.entity_id, event.variables)
        event_row = (json.dumps(event.variables, separators=(",", ":")), size)
    return Prepared(ready, records.encode(prediction, stored), stored, event_row)


def _advance(
    conn: Connection,
    cache: StateCache,
    prediction: Prediction,
    versions: list[states.Tracked],
    known: Known,
    prepared: Prepared,
    written: Written,
) -> None:
    """Advance the entity's state of each version. The state read for scoring is usually still the
    stored one: the write is then conditional on its token and needs no read; otherwise the row is
    read (locked) and advanced afresh."""
    event = prediction.event
    for version in versions:
        key: Key = (version.model_id, version.major, version.minor, event.entity_id)
        fresh = states.new_token()
        seen = known.get((version.model_id, version.major, version.minor))
        ready = prepared.states.get((version.model_id, version.major, version.minor))
        if seen is not None and ready is not None and ready[0] == version.spec:
            token = seen[0]
            _, advanced, data = ready
            if token is None:
                done = raw.execute(conn, _INSERT_STATE_NEW, (*key, data, fresh)).rowcount == 1
            else:
                done = raw.execute(conn, _UPDATE_STATE_IF, (data, fresh, *key, token)).rowcount == 1
            if done:
                written.states.append((key, fresh, advanced))
                continue
        token, current = cache.current(conn, key, version.spec, lock=True)
        amounts, categories = history_inputs(version.spec, event.variables)
        advanced = current.copy()
        advanced.advance(event.event_ms, amounts, categories, version.spec.group_index())
        data = advanced.to_bytes()
        if token is None:
            raw.execute(conn, _INSERT_STATE, (*key, data, fresh))
        else:
            raw.execute(conn, _UPDATE_STATE, (data, fresh, *key))
        written.states.append((key, fresh, advanced))


_GENERATION = "SELECT value FROM catalog_generation WHERE id = 1"


def write(
    conn: Connection, ctx: Context, prediction: Prediction, known: Known, prepared: Prepared, prediction_ms: int
) -> Written:
    written = Written(prediction_ms=prediction_ms)
    event = prediction.event
    if prediction.plan.spec.ingestion_enabled:
        written.stored = _store_event(conn, prediction, prepared)
        if written.stored:
            generation = int(raw.one(conn, _GENERATION)[0])
            versions, any_kind = ctx.tracked.get(conn, event.event_type, generation)
            if any_kind and conn.dialect.name != "sqlite":
                # A training completing takes this row for update before catching up on events stored
                # meanwhile: each event is either caught up by it or sees it complete (and then the
                # versions it must advance are read again, after the lock).
                raw.one(conn, _SHARE_EVENT_TYPE, (event.event_type,))
                generation = int(raw.one(conn, _GENERATION)[0])
                versions, any_kind = ctx.tracked.get(conn, event.event_type, generation)
            if versions:
                _advance(conn, ctx.states, prediction, versions, known, prepared, written)
    if written.stored == prepared.record_stored:
        record, vectors = prepared.record
    else:
        record, vectors = records.encode(prediction, written.stored)
    recorded = raw.one(
        conn,
        _INSERT_RECORD,
        (
            event.event_type,
            event.event_id,
            prediction.plan.detector_id,
            prediction.plan.version,
            prediction_ms,
            event.event_ms,
            record,
            vectors,
            event.entity_type,
            event.entity_id,
            audit.outcomes_text(prediction.outcomes),
        ),
    )
    # one row per outcome, so that a search by outcome reads its own keys, not every record
    for outcome in dict.fromkeys(prediction.outcomes):
        raw.execute(conn, _INSERT_OUTCOME, (outcome, prediction_ms, recorded[0]))
    return written
