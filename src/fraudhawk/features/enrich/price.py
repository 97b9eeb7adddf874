"""Prices: order size, and whether the amount looks typed by hand.

Card testers and gift-card fraud favour small probes and round amounts (50, 100, 500), while real
baskets end in .99 and odd cents. `is_round` means a whole multiple of 5; whole amounts that are not
multiples of 5 are still visible as `cents` == 0.
"""

from __future__ import annotations

import math

from fraudhawk.features.enrich.base import Enricher, Value, flag, numeric

OUTPUTS = numeric(
    log_amount="size of the amount, as a logarithm",
    cents="cents of the amount",
    is_round="whether the amount is a round multiple of 5",
    is_negative="whether the amount is negative",
)
_UNPARSABLE: tuple[Value, ...] = (None, None, None, None)


def derive(value: str) -> tuple[Value, ...]:
    try:
        amount = float(value)
    except ValueError:
        return _UNPARSABLE
    if not math.isfinite(amount):
        return _UNPARSABLE
    hundredths = round(abs(amount) * 100)
    return (
        math.log1p(max(amount, 0.0)),
        float(hundredths % 100),
        flag(hundredths % 500 == 0 and hundredths > 0),
        flag(amount < 0),
    )


ENRICHER = Enricher("price", OUTPUTS, derive)
