"""Per-entity history kept in the store for Transaction Fraud Insights model versions.

Every stored event (SendEvent, batch import, and predictions with ingestion) advances the state of
its entity for each TFI version of its event type that can score, in the same transaction as the
event itself: the event and its effect on the entity's history are committed together or not at all.
"""

from __future__ import annotations

import functools
import json
import os
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, delete, insert, select

from fraudhawk.eventdata import layout
from fraudhawk.features.history import EntityState, HistorySpec, events_of, replay
from fraudhawk.features.single import history_inputs
from fraudhawk.storage import schema

_states = schema.entity_states
_versions = schema.model_versions
_models = schema.models
#: model types whose versions keep a history per entity (TFI: its transactions; ATI: its login profile)
HISTORY_MODEL_TYPES = ("TRANSACTION_FRAUD_INSIGHTS", "ACCOUNT_TAKEOVER_INSIGHTS")
SCORABLE = (
    "TRAINING_COMPLETE",
    "ACTIVATE_REQUESTED",
    "ACTIVATE_IN_PROGRESS",
    "ACTIVE",
    "INACTIVATE_REQUESTED",
    "INACTIVATE_IN_PROGRESS",
)


def new_token() -> int:
    """A value for `entity_states.seq` that no earlier write of the row had (random: unique, not
    secret, so a generator seeded from the OS, without a system call per token)."""
    return _TOKENS.getrandbits(62)


_TOKENS = random.Random(secrets.randbits(128))
# a forked process must not draw the same tokens as its parent
os.register_at_fork(after_in_child=lambda: _TOKENS.seed(secrets.randbits(128)))


@dataclass(frozen=True)
class Tracked:
    model_id: str
    major: int
    minor: int
    spec: HistorySpec


def tracked_versions(conn: Connection, event_type: str, training: bool = False) -> list[Tracked]:
    """TFI versions of the event type that keep entity state (and, if `training`, those still training,
    with an empty spec)."""
    statuses = [*SCORABLE, "TRAINING_IN_PROGRESS"] if training else list(SCORABLE)
    rows = conn.execute(
        select(_versions.c.model_id, _versions.c.major, _versions.c.minor, _versions.c.history_spec)
        .join(_models, _models.c.model_id == _versions.c.model_id)
        .where(
            _models.c.event_type == event_type,
            _models.c.model_type.in_(HISTORY_MODEL_TYPES),
            _versions.c.status.in_(statuses),
        )
    ).all()
    return [
        Tracked(row.model_id, row.major, row.minor, _spec(row.history_spec) if row.history_spec else HistorySpec())
        for row in rows
        if row.history_spec or training
    ]


@functools.lru_cache(maxsize=256)
def _spec(text: str) -> HistorySpec:
    return HistorySpec.from_json(json.loads(text))


def load_states(conn: Connection, version: Tracked, entities: Sequence[str]) -> dict[str, EntityState]:
    found: dict[str, EntityState] = {}
    unique = sorted(set(entities))
    for start in range(0, len(unique), 5000):
        chunk = unique[start : start + 5000]
        for row in conn.execute(
            select(_states.c.entity_id, _states.c.state).where(
                _states.c.model_id == version.model_id,
                _states.c.major == version.major,
                _states.c.minor == version.minor,
                _states.c.entity_id.in_(chunk),
            )
        ):
            found[row.entity_id] = EntityState.from_bytes(row.state)
    return found


def save_states(conn: Connection, version: Tracked, states: dict[str, EntityState]) -> None:
    keys = {"model_id": version.model_id, "major": version.major, "minor": version.minor}
    names = sorted(states)
    for start in range(0, len(names), 5000):
        chunk = names[start : start + 5000]
        conn.execute(
            delete(_states).where(
                _states.c.model_id == version.model_id,
                _states.c.major == version.major,
                _states.c.minor == version.minor,
                _states.c.entity_id.in_(chunk),
            )
        )
    if names:
        conn.execute(
            insert(_states),
            [{**keys, "entity_id": n, "state": states[n].to_bytes(), "seq": new_token()} for n in names],
        )


def catch_up(spec: HistorySpec, states: dict[str, EntityState], frame: pl.DataFrame) -> None:
    """Advance in-memory states by the events of `frame`, in time order."""
    replay(spec, states, events_of(spec, frame.sort(layout.EVENT_MS, maintain_order=True)), features=False)


def advance(conn: Connection, event_type: str, frame: pl.DataFrame) -> None:
    """Advance entity states by the events of `frame` (ENTITY_ID, EVENT_MS, variables as text)."""
    if frame.height == 0 or not tracked_versions(conn, event_type, training=True):
        return  # no TFI version keeps or will keep state: a training started later reads these events
    # A training that completes takes this row for update before it catches up on events stored
    # meanwhile: with the share lock, an event is either caught up by it or sees it complete.
    event_types = schema.event_types
    conn.execute(select(event_types.c.name).where(event_types.c.name == event_type).with_for_update(read=True))
    versions = tracked_versions(conn, event_type)
    if not versions:
        return
    entities = frame[layout.ENTITY_ID].cast(pl.String).to_list()
    for version in versions:
        states = load_states(conn, version, entities)
        catch_up(version.spec, states, frame)
        save_states(conn, version, states)


def advance_one(conn: Connection, event_type: str, entity_id: str, event_ms: int, variables: dict[str, Any]) -> None:
    """`advance` for a single event, without building a frame."""
    if not tracked_versions(conn, event_type, training=True):
        return
    event_types = schema.event_types
    conn.execute(select(event_types.c.name).where(event_types.c.name == event_type).with_for_update(read=True))
    text = {name: None if value is None else str(value) for name, value in variables.items()}
    for version in tracked_versions(conn, event_type):
        states = load_states(conn, version, [entity_id])
        state = states.get(entity_id) or EntityState.empty(version.spec)
        amounts, categories = history_inputs(version.spec, text)
        state.advance(event_ms, amounts, categories, version.spec.group_index())
        save_states(conn, version, {entity_id: state})
