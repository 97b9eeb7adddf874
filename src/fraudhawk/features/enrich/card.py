"""Card BINs: the issuer prefix of a payment card, and the network it belongs to.

The BIN itself is a high-cardinality categorical (prepaid and virtual-card issuers stand out); the
brand groups rare BINs so they still inform the model. BINs may arrive as INTEGER text, or as a
whole card number, which is cut to its first 6 digits.
"""

from __future__ import annotations

from fraudhawk.features.enrich.base import Enricher, Value, categorical, flag, numeric

OUTPUTS = categorical(
    bin6="the card's first 6 digits: its issuer", card_brand="card network: Visa, Mastercard..."
) + numeric(bin_length="digits given of the card number", bin_is_valid="whether it reads as a card BIN")
_NOT_DIGITS: tuple[Value, ...] = (None, None, None, 0.0)


def card_brand(digits: str) -> str:
    """The network by IIN range, from at least the first 4 digits."""
    p1, p2, p3, p4 = int(digits[:1]), int(digits[:2]), int(digits[:3]), int(digits[:4])
    if p2 in (34, 37):
        return "amex"
    if 3528 <= p4 <= 3589:
        return "jcb"
    if 300 <= p3 <= 305 or p2 in (36, 38):
        return "diners"
    if p1 == 4:
        return "visa"
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return "mastercard"
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65:
        return "discover"
    if p2 == 62:
        return "unionpay"
    if p2 in (50, 56, 57, 58) or p4 in (6304, 6759, 6761, 6762, 6763):
        return "maestro"
    return "other"


def derive(value: str) -> tuple[Value, ...]:
    digits = value.replace(" ", "").replace("-", "")
    if not (digits.isascii() and digits.isdigit()):
        return _NOT_DIGITS
    length = len(digits)
    if length < 6:
        return None, None, float(length), 0.0
    return digits[:6], card_brand(digits), float(length), flag(length <= 8)


ENRICHER = Enricher("card", OUTPUTS, derive)
