"""Free-form text: shape signals that survive without understanding the words.

Spam and scripted submissions carry links and contact details, shouting, or text in another script
than the customer base's. Digits and case are counted on ASCII characters through bytes.translate,
which keeps a 500-character text at a few microseconds; the non-ASCII share covers other scripts.
"""

from __future__ import annotations

import re
import string

from fraudhawk.features.enrich.base import Enricher, Value, flag, numeric

OUTPUTS = numeric(
    text_length="length of the text",
    text_words="words in the text",
    text_digit_share="share of digits in the text",
    text_upper_share="share of capital letters in the text",
    text_non_ascii_share="share of non-ASCII characters in the text",
    text_has_url="whether the text has a web address",
    text_has_email="whether the text has an email address",
)
_DIGITS = string.digits.encode()
_LETTERS = string.ascii_letters.encode()
_UPPER = string.ascii_uppercase.encode()
# Both start with a literal, so the regex engine skips ahead to candidate positions instead of trying each one.
_BARE_DOMAIN = re.compile(r"\.(?<=[a-z0-9-]\.)(?:com|net|org|io|ru|cn|info|biz|xyz|top)\b")
_EMAIL = re.compile(r"@(?<=[\w.+-]@)[\w-]+\.[\w.-]+")


def _count(encoded: bytes, characters: bytes) -> int:
    return len(encoded) - len(encoded.translate(None, characters))


def derive(value: str) -> tuple[Value, ...]:
    length = len(value)
    encoded = value.encode()
    letters = _count(encoded, _LETTERS)
    lowered = value.lower()
    return (
        float(length),
        float(len(value.split())),
        _count(encoded, _DIGITS) / length,
        _count(encoded, _UPPER) / letters if letters else None,
        (length - len(value.encode("ascii", "ignore"))) / length,
        flag("://" in lowered or "www." in lowered or _BARE_DOMAIN.search(lowered) is not None),
        flag("@" in value and _EMAIL.search(value) is not None),
    )


ENRICHER = Enricher("text", OUTPUTS, derive)
