"""Per-value feature enrichment, chosen by a variable's AFD variable type.

Training builds columns with `derive_batch`; real-time prediction calls `derive_one`, which gives the
same values. Variable types without an enricher (NUMERIC, CATEGORICAL, cities, countries, ...) are
used raw by the pipeline, and DATETIME variables are handled by the pipeline's time features.
"""

from __future__ import annotations

from fraudhawk.features.enrich import address, card, email, ip, names, phone, postal, price, text, useragent
from fraudhawk.features.enrich.base import Enricher, Kind, Output, Value
from fraudhawk.features.enrich.batch import derive_batch, derive_one
from fraudhawk.features.enrich.places import same_place

__all__ = [
    "ENRICHERS",
    "Enricher",
    "Kind",
    "Output",
    "Value",
    "derive_batch",
    "derive_one",
    "enrichers_for",
    "ip_country",
    "same_place",
]

ENRICHERS: dict[str, tuple[Enricher, ...]] = {
    "EMAIL_ADDRESS": (email.ENRICHER,),
    "IP_ADDRESS": (ip.ENRICHER,),
    "PHONE_NUMBER": (phone.ENRICHER,),
    "BILLING_PHONE": (phone.ENRICHER,),
    "SHIPPING_PHONE": (phone.ENRICHER,),
    "USERAGENT": (useragent.ENRICHER,),
    "CARD_BIN": (card.ENRICHER,),
    "PRICE": (price.ENRICHER,),
    "BILLING_ADDRESS_L1": (address.ENRICHER,),
    "BILLING_ADDRESS_L2": (address.ENRICHER,),
    "SHIPPING_ADDRESS_L1": (address.ENRICHER,),
    "SHIPPING_ADDRESS_L2": (address.ENRICHER,),
    "BILLING_ZIP": (postal.ENRICHER,),
    "SHIPPING_ZIP": (postal.ENRICHER,),
    "BILLING_NAME": (names.ENRICHER,),
    "SHIPPING_NAME": (names.ENRICHER,),
    "FREE_FORM_TEXT": (text.ENRICHER,),
}
"""Enrichers by AFD variable type; a type missing here is used raw."""

_IP_COUNTRY = next(i for i, output in enumerate(ip.ENRICHER.outputs) if output.name == "ip_country")


def enrichers_for(variable_type: str, data_type: str) -> tuple[Enricher, ...]:
    """The enrichers that apply to a variable; () when it is used raw or is a DATETIME."""
    if data_type == "DATETIME":
        return ()
    return ENRICHERS.get(variable_type, ())


def ip_country(value: str | None) -> str | None:
    """ISO country code of an IP address; None when private, unknown or not an address."""
    country = derive_one(ip.ENRICHER, value)[_IP_COUNTRY]
    return country if isinstance(country, str) else None
