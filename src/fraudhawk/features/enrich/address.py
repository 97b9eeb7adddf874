"""Street address lines: shape only, since the text itself is nearly unique per customer.

PO boxes and drop addresses are where reshippers receive goods; lines without a house number or
made of one token are often junk typed to pass a form.
"""

from __future__ import annotations

import re

from fraudhawk.features.enrich.base import Enricher, Value, flag, numeric

OUTPUTS = numeric(
    addr_has_digits="whether the address has digits",
    addr_is_po_box="whether it is a post-office box",
    addr_length="length of the address",
    addr_tokens="words in the address",
)
_PO_BOX = re.compile(
    r"\b(p\.?\s*o\.?\s*b(ox)?|post\s*office\s*box|pobox|postfach|apartado(\s+postal)?|boite\s+postale|bp)\b"
    r"\s*#?\s*\d",
    re.IGNORECASE,
)


def derive(value: str) -> tuple[Value, ...]:
    return (
        flag(any(map(str.isdigit, value))),
        flag(_PO_BOX.search(value) is not None),
        float(len(value)),
        float(len(value.split())),
    )


ENRICHER = Enricher("address", OUTPUTS, derive)
