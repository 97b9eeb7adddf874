"""One dimension of a login profile: each value's settled successful uses (how many, first, last).

A profile is read, advanced and stored for every login, and read back by another server process
whenever that one wrote it last. Held as text in nested lists it cost hundreds of microseconds to
decode (a mobile user has hundreds of addresses, every login a new session id); held like `Seen`, as
a 64-bit key per value in a sorted array with parallel arrays of uses, first and last use, a copy or
an encoding is a memory copy and a decoding takes no time at all.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence

from fraudhawk.features.seen import from_le, to_le, value_key

Entry = tuple[int, int, int]  # uses, first use (ms), last use (ms)


class ValueTable:
    """Settled uses per value: `get(text)`, `add(text, ms)`; `copy()` is independent."""

    __slots__ = ("first", "keys", "last", "uses")

    def __init__(
        self,
        keys: array | None = None,  # type: ignore[type-arg]
        uses: array | None = None,  # type: ignore[type-arg]
        first: array | None = None,  # type: ignore[type-arg]
        last: array | None = None,  # type: ignore[type-arg]
    ) -> None:
        self.keys = keys if keys is not None else array("Q")  # sorted
        self.uses = uses if uses is not None else array("Q")
        self.first = first if first is not None else array("q")
        self.last = last if last is not None else array("q")

    @classmethod
    def of_sorted(
        cls, keys: Sequence[int], uses: Sequence[int], first: Sequence[int], last: Sequence[int]
    ) -> ValueTable:
        """From parallel sequences already sorted by key, without repeated keys."""
        return cls(array("Q", keys), array("Q", uses), array("q", first), array("q", last))

    def get(self, text: str) -> Entry | None:
        key = value_key(text)
        i = bisect.bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            return self.uses[i], self.first[i], self.last[i]
        return None

    def add(self, text: str, ms: int) -> None:
        """One more settled use of `text`, at `ms`."""
        key = value_key(text)
        i = bisect.bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            self.uses[i] += 1
            self.first[i] = min(self.first[i], ms)
            self.last[i] = max(self.last[i], ms)
        else:
            self.keys.insert(i, key)
            self.uses.insert(i, 1)
            self.first.insert(i, ms)
            self.last.insert(i, ms)

    def copy(self) -> ValueTable:
        return ValueTable(array("Q", self.keys), array("Q", self.uses), array("q", self.first), array("q", self.last))

    def __len__(self) -> int:
        return len(self.keys)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ValueTable)
            and self.keys == other.keys
            and self.uses == other.uses
            and self.first == other.first
            and self.last == other.last
        )

    def __repr__(self) -> str:
        return f"ValueTable({len(self)} values, {sum(self.uses)} uses)"

    def encode(self) -> list[bytes]:
        return [to_le(self.keys), to_le(self.uses), to_le(self.first), to_le(self.last)]

    @classmethod
    def decode(cls, data: Sequence[bytes]) -> ValueTable:
        keys, uses, first, last = data
        return cls(from_le("Q", keys), from_le("Q", uses), from_le("q", first), from_le("q", last))
