"""Comparing two place-like values, for cross-checks such as billing vs shipping or IP vs billing country.

Values are compared after folding case, accents, spaces and punctuation, so "SW1A 1AA" matches
"sw1a1aa" and "São Paulo" matches "Sao Paulo". Phone numbers are compared on their last 10 digits,
which ignores country-code and trunk-prefix differences in how the same number was typed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PHONE = re.compile(r"\+?[\d\s().\-/]+")
_PHONE_DIGITS = 10


@lru_cache(maxsize=65_536)
def normalise(value: str) -> str:
    """The comparable core of a place-like value: the last 10 digits of a number, else letters and digits
    folded. Values made only of digits and phone punctuation compare as numbers either way."""
    if _PHONE.fullmatch(value.strip()):
        return "".join(c for c in value if c.isdigit())[-_PHONE_DIGITS:]
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def same_place(left: str | None, right: str | None) -> float | None:
    """1.0 when both name the same place, 0.0 when they differ, None when either is missing."""
    if left is None or right is None:
        return None
    a, b = normalise(left), normalise(right)
    if not a or not b:
        return None
    return 1.0 if a == b else 0.0
