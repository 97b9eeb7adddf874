"""The one-event engine of the login profile: an entity's running summary of its logins, which
answers the login features of its next event and then advances by it (real-time prediction,
SendEvent, imports, batch prediction; and the reference the vectorised engine is tested against).

What it keeps: per dimension, each value's successful uses that have settled (older than
`SETTLE_MS` when the profile last advanced): how many, first and last (`ValueTable`); the successful
logins not yet settled, with their values; the recent failed attempts; where and when the last
successful login was.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from fraudhawk.features.history.login_formulas import age_days, capped, share, speed_kmh
from fraudhawk.features.history.login_spec import COUNTRY, FAIL_KEEP, FAIL_WINDOWS, LOGIN_CAP, SETTLE_MS
from fraudhawk.features.history.login_table import ValueTable
from fraudhawk.features.history.login_values import km_between

_NAN = float("nan")


@dataclass
class LoginProfile:
    # per dimension: each value's settled successful logins (uses, first ms, last ms)
    settled: list[ValueTable] = field(default_factory=list)
    settled_n: int = 0
    # successful logins not settled yet, in time order: [ms, values of every dimension]
    recent: list[list[Any]] = field(default_factory=list)
    failed_ms: list[int] = field(default_factory=list)  # the last LOGIN_CAP failures within FAIL_KEEP
    last_valid_ms: int | None = None
    last_valid_country: str | None = None

    @classmethod
    def empty(cls, dimensions: int) -> LoginProfile:
        return cls(settled=[ValueTable() for _ in range(dimensions)])

    def features(self, event_ms: int, values: list[str | None]) -> list[Any]:
        cut = event_ms - SETTLE_MS
        # recent successful logins that count as settled for this event
        ripe = self.recent[: bisect.bisect_right(self.recent, cut, key=_first)]
        total = self.settled_n + len(ripe)
        failures = self.failed_ms
        end = bisect.bisect_right(failures, event_ms)
        out: list[Any] = [capped(total)]
        out += [capped(end - bisect.bisect_right(failures, event_ms - ms)) for _, ms in FAIL_WINDOWS]
        km = None
        here, there, then = values[COUNTRY], self.last_valid_country, self.last_valid_ms
        if here is not None and there is not None and then is not None:
            km = km_between(here, there)
        if km is None or then is None:
            out += [_NAN, _NAN]
        else:
            out += [km, speed_kmh(km, event_ms, then)]
        for d, table in enumerate(self.settled):
            value = values[d]
            extra = {v[d] for _, v in ripe if v[d] is not None and table.get(v[d]) is None}
            distinct = capped(len(table) + len(extra))
            if value is None:
                out += [_NAN, _NAN, _NAN, _NAN, distinct]
                continue
            entry = table.get(value)
            uses, first, last = (entry[0], entry[1], entry[2]) if entry is not None else (0, 0, 0)
            for ms, row in ripe:
                if row[d] == value:
                    first = ms if uses == 0 else min(first, ms)
                    last = ms if uses == 0 else max(last, ms)
                    uses += 1
            if uses:
                out += [capped(uses), share(uses, total), age_days(event_ms, last), age_days(event_ms, first)]
            else:
                out += [0.0, share(0, total) if total else _NAN, _NAN, _NAN]
            out.append(distinct)
        return out

    def advance(self, event_ms: int, values: list[str | None], valid: bool) -> None:
        if valid:
            bisect.insort_right(self.recent, [event_ms, list(values)], key=_first)
            if self.last_valid_ms is None or event_ms >= self.last_valid_ms:
                self.last_valid_ms = event_ms
                self.last_valid_country = values[COUNTRY]
        else:
            bisect.insort_right(self.failed_ms, event_ms)
        keep = bisect.bisect_right(self.failed_ms, event_ms - FAIL_KEEP)
        if keep or len(self.failed_ms) > LOGIN_CAP:
            del self.failed_ms[: max(keep, len(self.failed_ms) - LOGIN_CAP)]
        ripe = bisect.bisect_right(self.recent, event_ms - SETTLE_MS, key=_first)
        for ms, row in self.recent[:ripe]:
            settle(self.settled, ms, row)
        self.settled_n += ripe
        del self.recent[:ripe]

    def to_wire(self) -> list[Any]:
        settled = [table.encode() for table in self.settled]
        return [settled, self.settled_n, self.recent, self.failed_ms, self.last_valid_ms, self.last_valid_country]

    @classmethod
    def from_wire(cls, data: list[Any]) -> LoginProfile:
        settled, settled_n, recent, failed_ms, last_ms, last_country = data
        tables = [ValueTable.decode(table) for table in settled]
        return cls(tables, settled_n, recent, failed_ms, last_ms, last_country)

    def copy(self) -> LoginProfile:
        return LoginProfile(
            [table.copy() for table in self.settled],
            self.settled_n,
            [[ms, row.copy()] for ms, row in self.recent],
            self.failed_ms.copy(),
            self.last_valid_ms,
            self.last_valid_country,
        )


def settle(settled: list[ValueTable], ms: int, values: list[str | None]) -> None:
    """Count one successful login at `ms` among the settled uses of its values."""
    for table, value in zip(settled, values, strict=False):
        if value is not None:
            table.add(value, ms)


def _first(item: list[Any]) -> int:
    ms: int = item[0]
    return ms
