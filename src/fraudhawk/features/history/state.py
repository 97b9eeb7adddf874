"""The one-event engine: an entity's running summary, which answers the history features of its
next event and then advances by it (real-time prediction, SendEvent, imports; and the reference the
vectorised engine is tested against).

Every feature of an event uses only the entity's earlier events (earlier in time; ties in arrival
order). Sums are running sums taken in event order and window sums are differences of those running
sums, as in the vectorised engine, so both do the same floating-point operations.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import msgspec

# the formulas by name, not through their module: this is the real-time path
from fraudhawk.features.history.formulas import (
    MIN_DAYS,
    days_between,
    hour_of,
    mean,
    neighbour_hours,
    odd_hour,
    per_day,
    rate_ratio,
    rate_vs_usual,
    ratio,
    share,
    since_seconds,
    variance,
    zscore,
)
from fraudhawk.features.history.login_profile import LoginProfile
from fraudhawk.features.history.login_values import VALID
from fraudhawk.features.history.spec import COUNT_CAP, LONGEST, WINDOWS, HistorySpec
from fraudhawk.features.seen import Seen

# entity (None: none), time (ms), amounts, categories (then, with a login profile, its inputs:
# `HistorySpec.followed`)
Event = tuple[str | None, int, list[Any], list[Any]]


@dataclass
class EntityState:
    """One entity's running summary; `features` then `advance` for each new event, in time order."""

    n: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    # per amount: running sum, running sum of squares, count of values, largest value
    sums: list[float] = field(default_factory=list)
    squares: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    maxima: list[float | None] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)  # per category: how often each value was used
    # events of the last LONGEST ms: their times and the running sums just before each
    recent_ms: list[int] = field(default_factory=list)
    recent_sums: list[list[float]] = field(default_factory=list)
    recent_amounts: list[list[float | None]] = field(default_factory=list)
    # and each one's hour habit (its `hour_counts`) and, per category, 1 if its value was new
    recent_hours: list[list[int]] = field(default_factory=list)
    recent_new: list[list[int]] = field(default_factory=list)
    last_amounts: list[float | None] = field(default_factory=list)
    last_hour_share: float | None = None
    # per (amount, group): group value -> [running sum, count of values]
    by_group: list[dict[str, list[float]]] = field(default_factory=list)
    login: LoginProfile | None = None  # Account Takeover Insights: the entity's login profile

    @classmethod
    def empty(cls, spec: HistorySpec) -> EntityState:
        k = len(spec.amounts)
        return cls(
            sums=[0.0] * k,
            squares=[0.0] * k,
            counts=[0] * k,
            maxima=[None] * k,
            seen=[Seen() for _ in spec.categories],
            last_amounts=[None] * k,
            by_group=[{} for _ in range(k * len(spec.amount_groups))],
            login=None if spec.login is None else LoginProfile.empty(len(spec.login.dimensions())),
        )

    def features(
        self, event_ms: int, amounts: list[float | None], categories: list[str | None], groups: list[int]
    ) -> list[Any]:
        n = self.n
        # Normally every event is newer than the state; a late one sees only what came before it
        # in time (as retraining would), where the recent events allow.
        end = bisect.bisect_right(self.recent_ms, event_ms)
        late = end < len(self.recent_ms)
        previous_ms = self.last_ms if not late else (self.recent_ms[end - 1] if end else None)
        out: list[Any] = [None if previous_ms is None else since_seconds(event_ms, previous_ms)]
        starts = [min(bisect.bisect_right(self.recent_ms, event_ms - ms), end) for _, ms in WINDOWS]
        counts = [end - s for s in starts]
        out += counts
        out += [min(n, COUNT_CAP), rate_ratio(counts[1], counts[2])]
        out.append(self.hour_share(event_ms))
        days = None
        if n and self.first_ms is not None:
            days = max(days_between(event_ms, self.first_ms), MIN_DAYS)
            out.append(rate_vs_usual(counts[1], n, days))
        else:
            out.append(None)
        out += self.hours_of_day(starts[1], end)
        for i, x in enumerate(amounts):
            current = self.recent_sums[end][i] if late else self.sums[i]
            window_sums = [current - self.recent_sums[s][i] if s < end else 0.0 for s in starts]
            out += window_sums
            n_values = self.counts[i]
            average = mean(self.sums[i], n_values) if n_values else None
            out.append(ratio(x, average))
            z = None
            if x is not None and average is not None and n_values >= 2:
                spread = math.sqrt(max(variance(self.squares[i], n_values, average), 0.0))
                z = zscore(x, average, spread) if spread > 0 else None
            out.append(z)
            out.append(ratio(x, self.maxima[i]))
            out.append(ratio(x, mean(window_sums[1], counts[1]) if counts[1] else None))
            day = [amount for v in self.recent_amounts[starts[1] : end] if (amount := v[i]) is not None]
            top_day = max(day) if day else None
            out.append(ratio(x, top_day))
            out.append(ratio(self.last_amounts[i], average))
            for g, position in enumerate(groups):
                value = categories[position]
                stats = None if value is None else self.by_group[i * len(groups) + g].get(value)
                out.append(ratio(x, mean(stats[0], stats[1]) if stats and stats[1] else None))
            out.append(ratio(top_day, average))
            usual = per_day(self.sums[i], days) if n_values and days is not None else None
            out.append(ratio(window_sums[1], usual))
        for j in range(len(self.seen)):
            value = categories[j]
            new_day = sum(flags[j] for flags in self.recent_new[starts[1] : end])
            if value is None:
                out += [None, None, new_day]
            else:
                seen = self.seen[j].get(value)
                out += [seen, share(seen, n) if n else None, new_day]
        if self.login is not None:
            out += self.login.features(event_ms, categories[len(self.seen) : -1])
        return out

    def hours_of_day(self, start: int, end: int) -> list[Any]:
        """The burst's hour features over the recent events `start:end` (the last 24h): the previous
        event's hour share, the lowest, the pooled share of all and how many were at odd hours."""
        window = [(near, n) for near, n in self.recent_hours[start:end] if n]
        shares = [share(near, n) for near, n in window]
        n_total = sum(n for _, n in window)
        pooled = share(sum(near for near, _ in window), n_total) if n_total else None
        odd = sum(1 for v in shares if odd_hour(v))
        return [self.last_hour_share, min(shares) if shares else None, pooled, odd]

    def hour_counts(self, event_ms: int) -> list[int]:
        """How many of the entity's earlier events were at about the hour of `event_ms`, and of how many."""
        before, at, after = neighbour_hours(hour_of(event_ms))
        hours = self.hours
        return [hours[before] + hours[at] + hours[after], self.n]

    def hour_share(self, event_ms: int) -> float | None:
        """Share of the entity's earlier events at about the hour of `event_ms` (None: it has none)."""
        near, n = self.hour_counts(event_ms)
        return share(near, n) if n else None

    def advance(
        self, event_ms: int, amounts: list[float | None], categories: list[str | None], groups: list[int]
    ) -> None:
        hours = self.hour_counts(event_ms)
        new = [
            int(value is not None and not table.get(value))
            for table, value in zip(self.seen, categories[: len(self.seen)], strict=True)
        ]
        self.first_ms = event_ms if self.first_ms is None else min(self.first_ms, event_ms)
        position = bisect.bisect_right(self.recent_ms, event_ms)
        late = position < len(self.recent_ms)
        if late:
            # keep the recent events in time order: the later ones now have this event before them
            self.recent_ms.insert(position, event_ms)
            self.recent_sums.insert(position, list(self.recent_sums[position]))
            self.recent_amounts.insert(position, list(amounts))
            self.recent_hours.insert(position, hours)
            self.recent_new.insert(position, new)
            for later in self.recent_sums[position + 1 :]:
                for i, x in enumerate(amounts):
                    later[i] = later[i] + (0.0 if x is None else x)
        else:
            self.recent_ms.append(event_ms)
            self.recent_sums.append(list(self.sums))
            self.recent_amounts.append(list(amounts))
            self.recent_hours.append(hours)
            self.recent_new.append(new)
            self.last_hour_share = share(hours[0], hours[1]) if hours[1] else None
        for i, x in enumerate(amounts):
            value = 0.0 if x is None else x
            if not late:
                self.last_amounts[i] = x
            for g, position in enumerate(groups):
                key = categories[position]
                if key is not None:
                    entry = self.by_group[i * len(groups) + g].setdefault(key, [0.0, 0])
                    entry[0] = entry[0] + value
                    entry[1] += 0 if x is None else 1
            self.sums[i] = self.sums[i] + value
            self.squares[i] = self.squares[i] + value * value
            if x is not None:
                self.counts[i] += 1
                previous = self.maxima[i]
                self.maxima[i] = x if previous is None else max(previous, x)
        for j in range(len(self.seen)):
            value_text = categories[j]
            if value_text is not None:
                self.seen[j].add(value_text)
        if self.login is not None:
            self.login.advance(event_ms, categories[len(self.seen) : -1], categories[-1] == VALID)
        self.hours[hour_of(event_ms)] += 1
        self.n += 1
        self.last_ms = event_ms if self.last_ms is None else max(self.last_ms, event_ms)
        cut = bisect.bisect_right(self.recent_ms, max(self.recent_ms) - LONGEST)
        if cut:
            del self.recent_ms[:cut]
            del self.recent_sums[:cut]
            del self.recent_amounts[:cut]
            del self.recent_hours[:cut]
            del self.recent_new[:cut]

    def to_bytes(self) -> bytes:
        """MessagePack of the fields: floats as exact doubles (NaN and infinities included), each
        category's counts as two little-endian arrays. A lone surrogate in a group value (which
        UTF-8 cannot hold) makes it JSON instead, which `from_bytes` also reads."""
        fields = dict(self.__dict__)
        fields["seen"] = [table.encode() for table in self.seen]
        fields["login"] = None if self.login is None else self.login.to_wire()
        try:
            return _ENCODE(fields)
        except UnicodeEncodeError:
            fields["seen"] = [[list(table.keys), list(table.counts)] for table in self.seen]
            return json.dumps(fields, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> EntityState:
        """A state `to_bytes` wrote, or one stored as JSON before (values -> counts then)."""
        decoded = json.loads(data) if data[:1] == b"{" else _DECODE(data)
        decoded["seen"] = [Seen.decode(table) for table in decoded["seen"]]
        login = decoded.get("login")
        if login is not None:
            decoded["login"] = LoginProfile.from_wire(login)
        if "recent_new" not in decoded:  # stored before the burst features: its recent events had none
            decoded["recent_hours"] = [[0, 0] for _ in decoded["recent_ms"]]
            decoded["recent_new"] = [[0] * len(decoded["seen"]) for _ in decoded["recent_ms"]]
        if tuple(decoded) == _FIELDS:
            state = cls.__new__(cls)  # every field given: skip __init__'s defaults
            state.__dict__.update(decoded)
            return state
        return cls(**decoded)

    def copy(self) -> EntityState:
        """An independent copy (what from_bytes(to_bytes()) gives, without the JSON)."""
        state = EntityState.__new__(EntityState)
        state.__dict__.update(
            n=self.n,
            first_ms=self.first_ms,
            last_ms=self.last_ms,
            hours=self.hours.copy(),
            sums=self.sums.copy(),
            squares=self.squares.copy(),
            counts=self.counts.copy(),
            maxima=self.maxima.copy(),
            seen=[table.copy() for table in self.seen],
            recent_ms=self.recent_ms.copy(),
            recent_sums=[row.copy() for row in self.recent_sums],
            recent_amounts=[row.copy() for row in self.recent_amounts],
            recent_hours=[row.copy() for row in self.recent_hours],
            recent_new=[row.copy() for row in self.recent_new],
            last_amounts=self.last_amounts.copy(),
            last_hour_share=self.last_hour_share,
            by_group=[{key: entry.copy() for key, entry in table.items()} for table in self.by_group],
            login=None if self.login is None else self.login.copy(),
        )
        return state


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder().decode
_FIELDS = tuple(item.name for item in fields(EntityState))


def replay(
    spec: HistorySpec, states: dict[str, EntityState], events: Iterable[Event], features: bool = True
) -> list[list[Any]]:
    """Features of each event (if asked), advancing `states` one event at a time. An event without
    an entity has no history: it stands alone and keeps no state."""
    out = []
    groups = spec.group_index()
    for entity, event_ms, amounts, categories in events:
        if entity is None:
            state = EntityState.empty(spec)
        else:
            known = states.get(entity)
            if known is None:
                known = states[entity] = EntityState.empty(spec)
            state = known
        if features:
            out.append(state.features(event_ms, amounts, categories, groups))
        state.advance(event_ms, amounts, categories, groups)
    return out
