"""Email addresses: the provider says who could sign up cheaply, the handle says whether a person chose it.

Throwaway and free providers cost a fraudster nothing; machine-generated handles (digit runs, no
vowels) are typical of accounts created in bulk. Domain facts are cached per domain, since a column
of a million addresses holds only a few thousand domains.
"""

from __future__ import annotations

import re
from functools import lru_cache

from disposable_email_domains import blocklist

from fraudhawk.features.enrich.base import Enricher, Value, categorical, flag, numeric

FREE_PROVIDERS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "rocketmail.com", "hotmail.com",
        "outlook.com", "live.com", "msn.com", "aol.com", "aim.com", "icloud.com", "me.com", "mac.com",
        "protonmail.com", "proton.me", "pm.me", "tutanota.com", "tuta.io", "gmx.com", "gmx.net", "gmx.de",
        "web.de", "t-online.de", "mail.com", "email.com", "zoho.com", "zohomail.com", "yandex.com",
        "yandex.ru", "ya.ru", "mail.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru", "qq.com", "163.com",
        "126.com", "yeah.net", "sina.com", "sohu.com", "naver.com", "daum.net", "hanmail.net", "rediffmail.com",
        "libero.it", "orange.fr", "laposte.net", "free.fr", "wp.pl", "o2.pl", "onet.pl", "seznam.cz",
        "hushmail.com", "fastmail.com", "inbox.com", "lycos.com",
    }
)  # fmt: skip
# Providers with a site per country (yahoo.co.uk, hotmail.fr, outlook.com.br, ...).
_FREE_BRANDS = frozenset({"yahoo", "hotmail", "outlook", "live", "aol", "gmx", "yandex", "msn", "windowslive"})

OUTPUTS = categorical(domain="email domain", tld="ending of the email domain: .com, .ru...") + numeric(
    is_free_provider="whether the email is from a free provider",
    is_disposable="whether the email is from a throwaway provider",
    handle_length="length of the email's handle, before the @",
    handle_digits="digits in the email's handle",
    handle_digit_share="share of digits in the email's handle",
    handle_has_dot_or_plus="whether the email's handle has a dot or plus",
    handle_has_name_like_pattern="whether the email's handle looks like a person's name",
    handle_max_digit_run="longest run of digits in the email's handle",
    is_valid="whether the email address is well formed",
)

_HANDLE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})")
_DIGIT_RUN = re.compile(r"[0-9]+")
# Words separated by . _ -, then an optional number: "john.smith", "jsmith12", "mary_jones_1985". Every
# handle of this shape is also syntactically valid, which saves checking it twice.
_NAME_SHAPE = re.compile(r"[a-z]+(?:[._-][a-z]+)*(?:[._-]?[0-9]+)?", re.IGNORECASE | re.ASCII)
_CONSONANT_RUN = re.compile(rb"[b-df-hj-np-tv-xz]{5,}")
_MALFORMED: tuple[Value, ...] = (None,) * (len(OUTPUTS) - 1) + (0.0,)
_NOT_LETTERS = b"._-0123456789"
_NOT_CONSONANTS = b"aeiouy" + _NOT_LETTERS


def _is_free(domain: str) -> bool:
    if domain in FREE_PROVIDERS:
        return True
    brand, _, suffix = domain.partition(".")
    return brand in _FREE_BRANDS and all(len(label) <= 3 for label in suffix.split("."))


def _is_disposable(domain: str) -> bool:
    """The domain or any parent of it (mx1.mailinator.com) is a known throwaway provider."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in blocklist for i in range(len(labels) - 1))


@lru_cache(maxsize=65_536)
def _domain_facts(raw: str) -> tuple[str, str | None, float, float, bool] | None:
    """(domain, tld, is_free_provider, is_disposable, is syntactically valid), or None when empty."""
    domain = raw.lower().rstrip(".")
    if not domain:
        return None
    tld = domain.rpartition(".")[2] if "." in domain else None
    return domain, tld, flag(_is_free(domain)), flag(_is_disposable(domain)), _DOMAIN.fullmatch(domain) is not None


def _name_like(base: str) -> float:
    """Whether a person plausibly chose this name-shaped handle: enough vowels, no long consonant runs."""
    lowered = base.lower().encode()
    letters = len(lowered.translate(None, _NOT_LETTERS))
    vowels = letters - len(lowered.translate(None, _NOT_CONSONANTS))
    plausible = letters >= 2 and 0.15 * letters <= vowels <= 0.75 * letters
    return 1.0 if plausible and _CONSONANT_RUN.search(lowered) is None else 0.0


def derive(value: str) -> tuple[Value, ...]:
    handle, at, raw_domain = value.rpartition("@")
    facts = _domain_facts(raw_domain) if at and handle else None
    if facts is None:
        return _MALFORMED
    domain, tld, free, disposable, valid = facts
    length = len(handle)
    runs = _DIGIT_RUN.findall(handle)
    digits = sum(map(len, runs)) if runs else 0
    tagged = "+" in handle
    base = handle.partition("+")[0] if tagged else handle
    if _NAME_SHAPE.fullmatch(base) is None:
        name_like = 0.0
        valid = valid and _HANDLE.fullmatch(handle) is not None
    else:
        name_like = _name_like(base)
        valid = valid and (not tagged or _HANDLE.fullmatch(handle) is not None)
    return (
        domain,
        tld,
        free,
        disposable,
        float(length),
        float(digits),
        digits / length,
        1.0 if tagged or "." in handle else 0.0,
        name_like,
        float(max(map(len, runs))) if runs else 0.0,
        1.0 if valid and length <= 64 else 0.0,
    )


ENRICHER = Enricher("email", OUTPUTS, derive)
