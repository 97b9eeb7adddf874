"""How often an entity has used each value of a category (its merchants, e-mail domains, devices...).

An entity can use thousands of distinct values, and its state is read, advanced and stored for every
event. Holding the values themselves would make each of those steps touch every string the entity
ever used; `Seen` holds a 64-bit key per value (BLAKE2b of its UTF-8 bytes) in a sorted array, with
the counts in a parallel array: a copy or an encoding is one memory copy, a lookup a binary search.
Two values share a key with probability 2**-64 per pair; the state then counts them together.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import sys
from array import array
from collections.abc import Iterable, Mapping

_LITTLE = sys.byteorder == "little"


@functools.lru_cache(maxsize=1 << 16)
def value_key(text: str) -> int:
    """The value's key: stable across processes, versions and platforms (unlike `hash`)."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def to_le(values: array) -> bytes:  # type: ignore[type-arg]
    if _LITTLE:
        return values.tobytes()
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped.tobytes()


def from_le(typecode: str, data: bytes) -> array:  # type: ignore[type-arg]
    values = array(typecode)
    values.frombytes(data)
    if not _LITTLE:
        values.byteswap()
    return values


class Seen:
    """Counts per value: `get(text)`, `add(text)`; `copy()` is independent."""

    __slots__ = ("counts", "keys")

    def __init__(self, keys: array | None = None, counts: array | None = None) -> None:  # type: ignore[type-arg]
        self.keys = keys if keys is not None else array("Q")  # sorted
        self.counts = counts if counts is not None else array("Q")

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Seen:
        """From value -> count (values with equal keys are counted together)."""
        merged: dict[int, int] = {}
        for text, count in counts.items():
            key = value_key(text)
            merged[key] = merged.get(key, 0) + count
        ordered = sorted(merged)
        return cls(array("Q", ordered), array("Q", [merged[k] for k in ordered]))

    @classmethod
    def counting(cls, values: Iterable[str | None]) -> Seen:
        counts: dict[str, int] = {}
        for text in values:
            if text is not None:
                counts[text] = counts.get(text, 0) + 1
        return cls.of(counts)

    def get(self, text: str) -> int:
        key = value_key(text)
        i = bisect.bisect_left(self.keys, key)
        return self.counts[i] if i < len(self.keys) and self.keys[i] == key else 0

    def add(self, text: str) -> None:
        key = value_key(text)
        i = bisect.bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            self.counts[i] += 1
        else:
            self.keys.insert(i, key)
            self.counts.insert(i, 1)

    def copy(self) -> Seen:
        return Seen(array("Q", self.keys), array("Q", self.counts))

    def __len__(self) -> int:
        return len(self.keys)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Seen) and self.keys == other.keys and self.counts == other.counts

    def __repr__(self) -> str:
        return f"Seen({len(self)} values, {sum(self.counts)} uses)"

    def encode(self) -> list[bytes]:
        return [to_le(self.keys), to_le(self.counts)]

    @classmethod
    def decode(cls, data: object) -> Seen:
        """What `encode` wrote, or (states stored before) a JSON object of value -> count."""
        if isinstance(data, Mapping):
            return cls.of(data)
        assert isinstance(data, list | tuple)
        assert len(data) == 2
        keys: object = data[0]
        counts: object = data[1]
        if isinstance(keys, list) and isinstance(counts, list):  # the JSON form of encode()'s arrays
            return cls(array("Q", keys), array("Q", counts))
        assert isinstance(keys, bytes)
        assert isinstance(counts, bytes)
        return cls(from_le("Q", keys), from_le("Q", counts))
