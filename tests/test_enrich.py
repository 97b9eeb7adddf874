"""Per-value enrichment by AFD variable type: what each enricher derives, and that a column and a single
value always get the same features."""

from __future__ import annotations

import math
import random

import polars as pl
import pytest

from fraudhawk.catalog.variable_types import VARIABLE_TYPES
from fraudhawk.features.enrich import (
    ENRICHERS,
    Enricher,
    Output,
    Value,
    derive_batch,
    derive_one,
    enrichers_for,
    ip_country,
    same_place,
)
from fraudhawk.features.enrich.batch import WHITESPACE

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

# A few raw values per variable type, including ones each enricher must reject gracefully.
SAMPLES: dict[str, list[str]] = {
    "EMAIL_ADDRESS": ["john.smith@gmail.com", "xk3q9vz81@mailinator.com", "a@b", "no at sign", "@x.com", "x@"],
    "IP_ADDRESS": ["8.8.8.8", "192.168.1.1", "2001:4860:4860::8888", "not an ip", "::ffff:1.1.1.1"],
    "PHONE_NUMBER": ["+44 20 7946 0958", "(415) 555-2671", "abc", "12", "+999 1234"],
    "USERAGENT": [CHROME_WINDOWS, SAFARI_IPHONE, GOOGLEBOT, "x"],
    "CARD_BIN": ["411111", "4111 1111 1111 1111", "4111", "abc", "6011000"],
    "PRICE": ["12.99", "100", "-5", "abc", "nan", "1e3"],
    "BILLING_ADDRESS_L1": ["123 Main St", "PO Box 123", "Flat", "!!!"],
    "BILLING_ZIP": ["12345", "SW1A 1AA", "12345-6789", "--"],
    "BILLING_NAME": ["John Smith", "O'Brien", "asdf123", "..."],
    "FREE_FORM_TEXT": ["Hello WORLD http://x.com", "mail me a@b.co", "日本語 123", "?"],
}


def one(variable_type: str, value: str | None) -> dict[str, Value]:
    """All outputs of the variable type's enrichers for one value, by output name."""
    derived: dict[str, Value] = {}
    for enricher in enrichers_for(variable_type, "STRING"):
        derived.update(zip((o.name for o in enricher.outputs), derive_one(enricher, value), strict=True))
    return derived


# --- email ---------------------------------------------------------------------------------------


def test_email_providers() -> None:
    gmail, throwaway, corporate = (
        one("EMAIL_ADDRESS", v) for v in ("John.Smith@Gmail.com", "qa@mailinator.com", "ann@acme-corp.com")
    )
    assert (gmail["domain"], gmail["tld"], gmail["is_free_provider"], gmail["is_disposable"]) == (
        "gmail.com",
        "com",
        1.0,
        0.0,
    )
    assert (throwaway["is_free_provider"], throwaway["is_disposable"]) == (0.0, 1.0)
    assert (corporate["is_free_provider"], corporate["is_disposable"], corporate["is_valid"]) == (0.0, 0.0, 1.0)
    assert one("EMAIL_ADDRESS", "x@mx1.mailinator.com")["is_disposable"] == 1.0
    assert one("EMAIL_ADDRESS", "x@yahoo.co.uk")["is_free_provider"] == 1.0
    assert one("EMAIL_ADDRESS", "x@yahoo.mycorp.example")["is_free_provider"] == 0.0


def test_email_handles() -> None:
    person, robot, numbered = (
        one("EMAIL_ADDRESS", v) for v in ("john.smith@x.com", "xk3q9vz81@x.com", "jsmith12@x.com")
    )
    assert person["handle_has_name_like_pattern"] == 1.0
    assert robot["handle_has_name_like_pattern"] == 0.0
    assert numbered["handle_has_name_like_pattern"] == 1.0
    assert one("EMAIL_ADDRESS", "qwrtzxcv@x.com")["handle_has_name_like_pattern"] == 0.0
    assert (robot["handle_length"], robot["handle_digits"], robot["handle_max_digit_run"]) == (9.0, 4.0, 2.0)
    assert robot["handle_digit_share"] == pytest.approx(4 / 9)
    assert (person["handle_has_dot_or_plus"], robot["handle_has_dot_or_plus"]) == (1.0, 0.0)
    tagged = one("EMAIL_ADDRESS", "mary.jones+shop@x.com")
    assert (tagged["handle_has_dot_or_plus"], tagged["handle_has_name_like_pattern"], tagged["is_valid"]) == (
        1.0,
        1.0,
        1.0,
    )


def test_malformed_emails() -> None:
    for value in ("no at sign", "@x.com", "x@"):
        derived = one("EMAIL_ADDRESS", value)
        assert derived["is_valid"] == 0.0
        assert all(v is None for name, v in derived.items() if name != "is_valid")
    for value in ("john smith@gmail.com", "a@b", "john..smith@x.com", ".john@x.com", "a@-x.com"):
        assert one("EMAIL_ADDRESS", value)["is_valid"] == 0.0, value
    assert one("EMAIL_ADDRESS", "john smith@gmail.com")["domain"] == "gmail.com"


# --- ip ------------------------------------------------------------------------------------------


def test_ip_addresses() -> None:
    assert one("IP_ADDRESS", "8.8.8.8") == {
        "ip_version": 4.0,
        "is_private": 0.0,
        "ip_country": "US",
        "ip_asn": "GOOGLE",
        "ip_is_valid": 1.0,
    }
    assert one("IP_ADDRESS", "192.168.1.1") == {
        "ip_version": 4.0,
        "is_private": 1.0,
        "ip_country": None,
        "ip_asn": None,
        "ip_is_valid": 1.0,
    }
    invalid = one("IP_ADDRESS", "not an ip")
    assert invalid["ip_is_valid"] == 0.0
    assert all(v is None for name, v in invalid.items() if name != "ip_is_valid")
    google6 = one("IP_ADDRESS", "2001:4860:4860::8888")
    assert (google6["ip_version"], google6["ip_country"], google6["ip_asn"]) == (6.0, "US", "GOOGLE")
    for private in ("127.0.0.1", "10.1.2.3", "169.254.1.1", "100.64.0.1", "224.0.0.1", "0.0.0.0", "::1", "fe80::1"):
        assert one("IP_ADDRESS", private)["is_private"] == 1.0, private
    assert one("IP_ADDRESS", "::ffff:8.8.8.8")["ip_country"] == "US"


def test_ip_country() -> None:
    assert ip_country("8.8.8.8") == "US"
    assert ip_country(" 81.2.69.142 ") == "GB"
    assert ip_country("192.168.1.1") is None
    assert ip_country("garbage") is None
    assert ip_country(None) is None


# --- phone ---------------------------------------------------------------------------------------


def test_phones() -> None:
    london = one("PHONE_NUMBER", "+44 20 7946 0958")
    assert london == {
        "phone_country": "GB",
        "phone_is_valid": 1.0,
        "phone_is_possible": 1.0,
        "phone_type": "fixed_line",
        "phone_digits": 12.0,
    }
    assert one("BILLING_PHONE", "+44 7400 123456")["phone_type"] == "mobile"
    us = one("SHIPPING_PHONE", "(201) 555-0123")
    assert (us["phone_country"], us["phone_is_valid"], us["phone_type"]) == ("US", 1.0, "fixed_or_mobile")
    assert one("PHONE_NUMBER", "+1 800 555 1212")["phone_type"] == "toll_free"
    assert one("PHONE_NUMBER", "abc") == {
        "phone_country": None,
        "phone_is_valid": 0.0,
        "phone_is_possible": 0.0,
        "phone_type": None,
        "phone_digits": None,
    }


# --- user agent ----------------------------------------------------------------------------------


def test_user_agents() -> None:
    chrome = one("USERAGENT", CHROME_WINDOWS)
    assert (chrome["ua_browser"], chrome["ua_os"], chrome["ua_browser_major"]) == ("Chrome", "Windows", 120.0)
    assert (chrome["ua_is_mobile"], chrome["ua_is_bot"], chrome["ua_length"]) == (0.0, 0.0, float(len(CHROME_WINDOWS)))
    iphone = one("USERAGENT", SAFARI_IPHONE)
    assert (iphone["ua_browser"], iphone["ua_os"], iphone["ua_device"]) == ("Mobile Safari", "iOS", "iPhone")
    assert (iphone["ua_is_mobile"], iphone["ua_is_bot"]) == (1.0, 0.0)
    bot = one("USERAGENT", GOOGLEBOT)
    assert (bot["ua_device"], bot["ua_is_bot"]) == ("Spider", 1.0)
    assert one("USERAGENT", "curl/8.4.0")["ua_is_bot"] == 1.0
    unknown = one("USERAGENT", "x")
    assert (unknown["ua_browser"], unknown["ua_browser_major"], unknown["ua_is_bot"]) == ("Other", None, 0.0)


# --- card ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bin_", "brand"),
    [
        ("411111", "visa"),
        ("550000", "mastercard"),
        ("222100", "mastercard"),
        ("378282", "amex"),
        ("601100", "discover"),
        ("650000", "discover"),
        ("353011", "jcb"),
        ("305693", "diners"),
        ("620000", "unionpay"),
        ("676112", "maestro"),
        ("999999", "other"),
    ],
)
def test_card_brands(bin_: str, brand: str) -> None:
    assert one("CARD_BIN", bin_) == {"bin6": bin_, "card_brand": brand, "bin_length": 6.0, "bin_is_valid": 1.0}


def test_card_bin_shapes() -> None:
    assert one("CARD_BIN", "4111-1111 1111-1111") == {
        "bin6": "411111",
        "card_brand": "visa",
        "bin_length": 16.0,
        "bin_is_valid": 0.0,
    }
    assert one("CARD_BIN", "60110000")["bin_is_valid"] == 1.0
    assert one("CARD_BIN", "4111") == {"bin6": None, "card_brand": None, "bin_length": 4.0, "bin_is_valid": 0.0}
    assert one("CARD_BIN", "41x111")["bin_is_valid"] == 0.0


# --- price ---------------------------------------------------------------------------------------


def test_prices() -> None:
    assert one("PRICE", "12.99") == {
        "log_amount": pytest.approx(math.log1p(12.99)),
        "cents": 99.0,
        "is_round": 0.0,
        "is_negative": 0.0,
    }
    assert one("PRICE", "100") == {"log_amount": math.log1p(100), "cents": 0.0, "is_round": 1.0, "is_negative": 0.0}
    assert one("PRICE", "7")["is_round"] == 0.0
    assert one("PRICE", "-5") == {"log_amount": 0.0, "cents": 0.0, "is_round": 1.0, "is_negative": 1.0}
    for unparsable in ("abc", "nan", "inf"):
        assert set(one("PRICE", unparsable).values()) == {None}


# --- address, zip, name, text --------------------------------------------------------------------


def test_addresses() -> None:
    assert one("SHIPPING_ADDRESS_L1", "123 Main St") == {
        "addr_has_digits": 1.0,
        "addr_is_po_box": 0.0,
        "addr_length": 11.0,
        "addr_tokens": 3.0,
    }
    for box in ("PO Box 123", "P.O. Box 45", "p o box 9", "Post Office Box 7", "POBOX 12"):
        assert one("BILLING_ADDRESS_L1", box)["addr_is_po_box"] == 1.0, box
    assert one("BILLING_ADDRESS_L2", "Boxwood Lane 5")["addr_is_po_box"] == 0.0


def test_zips() -> None:
    assert one("BILLING_ZIP", "02134") == {"zip_length": 5.0, "zip_is_numeric": 1.0, "zip3": "021"}
    assert one("SHIPPING_ZIP", "sw1a 1aa") == {"zip_length": 7.0, "zip_is_numeric": 0.0, "zip3": "SW1"}
    assert one("BILLING_ZIP", "12345-6789")["zip_is_numeric"] == 1.0


def test_names() -> None:
    assert one("BILLING_NAME", "John Smith") == {
        "name_tokens": 2.0,
        "name_length": 10.0,
        "name_has_digits": 0.0,
        "name_non_alpha_share": 0.0,
    }
    mashed = one("SHIPPING_NAME", "asdf123")
    assert mashed["name_has_digits"] == 1.0
    assert mashed["name_non_alpha_share"] == pytest.approx(3 / 7)


def test_free_text() -> None:
    spam = one("FREE_FORM_TEXT", "CALL NOW 555 www.win.example")
    assert (spam["text_words"], spam["text_has_url"], spam["text_has_email"]) == (4.0, 1.0, 0.0)
    assert spam["text_digit_share"] == pytest.approx(3 / 28)
    assert one("FREE_FORM_TEXT", "write to a.b@c.org")["text_has_email"] == 1.0
    foreign = one("FREE_FORM_TEXT", "日本語 ok")
    assert foreign["text_non_ascii_share"] == pytest.approx(3 / 6)
    assert one("FREE_FORM_TEXT", "1234")["text_upper_share"] is None


# --- registry ------------------------------------------------------------------------------------


ENRICHED = {
    "EMAIL_ADDRESS": "email",
    "IP_ADDRESS": "ip",
    "PHONE_NUMBER": "phone",
    "BILLING_PHONE": "phone",
    "SHIPPING_PHONE": "phone",
    "USERAGENT": "useragent",
    "CARD_BIN": "card",
    "PRICE": "price",
    "BILLING_ADDRESS_L1": "address",
    "BILLING_ADDRESS_L2": "address",
    "SHIPPING_ADDRESS_L1": "address",
    "SHIPPING_ADDRESS_L2": "address",
    "BILLING_ZIP": "zip",
    "SHIPPING_ZIP": "zip",
    "BILLING_NAME": "name",
    "SHIPPING_NAME": "name",
    "FREE_FORM_TEXT": "text",
}


@pytest.mark.parametrize("variable_type", sorted(VARIABLE_TYPES))
def test_enrichers_for_every_variable_type(variable_type: str) -> None:
    for data_type in sorted(VARIABLE_TYPES[variable_type]):
        keys = [enricher.key for enricher in enrichers_for(variable_type, data_type)]
        assert keys == ([ENRICHED[variable_type]] if variable_type in ENRICHED else [])
        names = [output.name for enricher in enrichers_for(variable_type, data_type) for output in enricher.outputs]
        assert len(names) == len(set(names))
        assert all(name.isidentifier() and name == name.lower() for name in names)
    assert enrichers_for(variable_type, "DATETIME") == ()


def test_unknown_types_are_used_raw() -> None:
    assert enrichers_for("NOT_A_TYPE", "STRING") == ()
    assert set(ENRICHED) == set(ENRICHERS)


@pytest.mark.parametrize("variable_type", sorted(SAMPLES))
def test_derive_returns_declared_kinds(variable_type: str) -> None:
    for enricher in enrichers_for(variable_type, "STRING"):
        for value in SAMPLES[variable_type]:
            derived = enricher.derive(value)
            assert len(derived) == len(enricher.outputs)
            for output, item in zip(enricher.outputs, derived, strict=True):
                expected = float if output.kind == "numeric" else str
                assert item is None or type(item) is expected, (value, output, item)
                assert not (isinstance(item, float) and math.isnan(item)), (value, output)


# --- batch vs one --------------------------------------------------------------------------------


def _column(samples: list[str], rng: random.Random) -> list[str | None]:
    """Samples repeated, padded with whitespace, mixed with nulls and blanks."""
    pool: list[str | None] = [*samples, None, "", "   ", "\u3000", *(f"  {s}\t" for s in samples)]
    return [rng.choice(pool) for _ in range(200)]


@pytest.mark.parametrize("variable_type", sorted(SAMPLES))
def test_batch_equals_one(variable_type: str) -> None:
    rng = random.Random(variable_type)
    (enricher,) = enrichers_for(variable_type, "STRING")
    for values in (_column(SAMPLES[variable_type], rng), SAMPLES[variable_type] + [None]):
        frame = derive_batch(enricher, pl.Series("raw", values, dtype=pl.String), "v.")
        assert frame.height == len(values)
        assert frame.columns == [f"v.{output.name}" for output in enricher.outputs]
        for output in enricher.outputs:
            assert frame[f"v.{output.name}"].dtype == (pl.Float64 if output.kind == "numeric" else pl.String)
        for value, row in zip(values, frame.iter_rows(), strict=True):
            assert row == derive_one(enricher, value), value
            if value is None or not value.strip():
                assert set(row) == {None}


def test_batch_derives_each_distinct_value_once() -> None:
    seen: list[str] = []

    def derive(value: str) -> tuple[Value, ...]:
        seen.append(value)
        return (float(len(value)), value.upper())

    counting = Enricher("count", (Output("n", "numeric"), Output("up", "categorical")), derive)
    values = pl.Series(["a", " a ", "bb", None, "", "a", "bb"] * 1000)
    frame = derive_batch(counting, values, "")
    assert sorted(seen) == ["a", "bb"]
    assert frame.row(1) == (1.0, "A")
    assert frame.row(3) == (None, None)
    assert frame.row(4) == (None, None)


def test_batch_edge_columns() -> None:
    (card,) = enrichers_for("CARD_BIN", "INTEGER")
    from_integers = derive_batch(card, pl.Series([411111, None, 378282], dtype=pl.Int64), "bin.")
    assert from_integers["bin.card_brand"].to_list() == ["visa", None, "amex"]
    (price,) = enrichers_for("PRICE", "FLOAT")
    empty = derive_batch(price, pl.Series([], dtype=pl.String), "p.")
    assert (empty.height, empty.columns) == (0, ["p.log_amount", "p.cents", "p.is_round", "p.is_negative"])
    nulls = derive_batch(price, pl.Series([None, None], dtype=pl.String), "p.")
    assert nulls.schema == pl.Schema(dict.fromkeys(nulls.columns, pl.Float64))
    assert nulls.null_count().row(0) == (2, 2, 2, 2)


def test_blank_values_are_missing() -> None:
    (email,) = enrichers_for("EMAIL_ADDRESS", "STRING")
    for blank in (None, "", "  ", "\t\n", "\u00a0"):
        assert set(derive_one(email, blank)) == {None}
    assert derive_one(email, " john@x.com\n") == derive_one(email, "john@x.com")


def test_whitespace_is_what_str_strip_removes() -> None:
    assert set(WHITESPACE) == {c for c in map(chr, range(0x110000)) if c.isspace()}


# --- same_place ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("SW1A 1AA", "sw1a1aa", 1.0),
        ("02134", "02134", 1.0),
        ("02134", "02135", 0.0),
        ("New York", "new  york.", 1.0),
        ("São Paulo", "Sao Paulo", 1.0),
        ("US", "us", 1.0),
        ("US", "GB", 0.0),
        ("123 Main St.", "123 main st", 1.0),
        ("+1 (415) 555-2671", "415.555.2671", 1.0),
        ("+1 415 555 2671", "+1 415 555 2672", 0.0),
        ("US", None, None),
        (None, None, None),
        ("", "US", None),
        ("  ", "US", None),
    ],
)
def test_same_place(left: str | None, right: str | None, expected: float | None) -> None:
    assert same_place(left, right) == expected
