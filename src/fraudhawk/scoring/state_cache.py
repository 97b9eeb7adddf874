"""Entity states kept in memory between events, checked against the store by their row token.

A TFI prediction needs its entity's history; decoding it from the store for every event would cost
more than the prediction. The cache keeps the decoded state with the token (`entity_states.seq`) of
the row it came from, and a one-column read of that token tells whether another process has
written the row since. States in the cache are never changed in place: a write builds a new state
and puts it in the cache once its transaction has committed, so a reader never sees a half-advanced
history. Each service has its own (`Context.states`), so a key need not name the database.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import Connection

from fraudhawk.features.history import EntityState, HistorySpec
from fraudhawk.storage import raw

Key = tuple[str, int, int, str]  # model id, major, minor, entity id: the row's key

_TOKEN = "SELECT seq FROM entity_states WHERE model_id = ? AND major = ? AND minor = ? AND entity_id = ?"
_ROW = "SELECT seq, state FROM entity_states WHERE model_id = ? AND major = ? AND minor = ? AND entity_id = ?"
_TOKEN_LOCKED = _TOKEN + " FOR UPDATE"


class StateCache:
    def __init__(self, size: int = 100_000) -> None:
        self._size = size
        self._entries: OrderedDict[Key, tuple[int, EntityState]] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, key: Key, token: int) -> EntityState | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != token:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Key, token: int, state: EntityState) -> None:
        with self._lock:
            self._entries[key] = (token, state)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop(self, key: Key) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def current(
        self, conn: Connection | raw.Plain, key: Key, spec: HistorySpec, lock: bool = False
    ) -> tuple[int | None, EntityState]:
        """The entity's stored state and its token (None: no row yet, the state is empty). Do not
        change the state returned: it may be shared."""
        dialect = conn.dialect if isinstance(conn, raw.Plain) else conn.dialect.name
        found = raw.one(conn, _TOKEN_LOCKED if lock and dialect != "sqlite" else _TOKEN, key)
        if found is None:
            return None, EntityState.empty(spec)
        token = int(found[0])
        state = self._cached(key, token)
        if state is None:
            row = raw.one(conn, _ROW, key)
            token, state = int(row[0]), EntityState.from_bytes(bytes(row[1]))
            self.put(key, token, state)
        return token, state
