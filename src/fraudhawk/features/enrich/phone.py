"""Phone numbers: whether the number could be real, where it is registered, and what kind of line it is.

VoIP and premium lines are cheap to obtain in bulk; a country differing from the billing country is a
classic signal. Numbers written without a country code are read as DEFAULT_REGION (US) numbers.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

from fraudhawk.features.enrich.base import Enricher, Value, categorical, flag, numeric

DEFAULT_REGION = "US"
OUTPUTS = (
    categorical(phone_country="country of the phone number")
    + numeric(
        phone_is_valid="whether the number is a valid one", phone_is_possible="whether the number has a possible length"
    )
    + categorical(phone_type="kind of phone line: mobile, fixed, VoIP...")
    + numeric(phone_digits="digits in the phone number")
)
_UNPARSABLE: tuple[Value, ...] = (None, 0.0, 0.0, None, None)
_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium",
    PhoneNumberType.VOIP: "voip",
}


def derive(value: str) -> tuple[Value, ...]:
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return _UNPARSABLE
    possible = phonenumbers.is_possible_number(number)
    region = phonenumbers.region_code_for_number(number)
    if region is None and possible and number.country_code is not None:
        region = phonenumbers.region_code_for_country_code(number.country_code)
    return (
        region if region and region != phonenumbers.UNKNOWN_REGION else None,
        flag(phonenumbers.is_valid_number(number)),
        flag(possible),
        _TYPES.get(phonenumbers.number_type(number), "unknown"),
        float(sum(c.isdigit() for c in value)),
    )


ENRICHER = Enricher("phone", OUTPUTS, derive)
