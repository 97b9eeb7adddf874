"""DETECTORPL against a hand-written corpus (tests/fixtures/rules_corpus.json), plus the behaviours
a corpus line cannot express: limits, timing, value normalisation, the public API's contract."""

from __future__ import annotations

import json
import pickle
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from fraudhawk.errors import ValidationError
from fraudhawk.rules import CompiledRule, RuleEnv, RuleError, Timestamp, Value, coerce, compile_rule

CORPUS: dict[str, Any] = json.loads((Path(__file__).parent / "fixtures" / "rules_corpus.json").read_text("utf-8"))
ENV = RuleEnv(CORPUS["env"]["variables"], CORPUS["env"]["lists"])


def _id(case: dict[str, Any]) -> str:
    return str(case["expression"])[:60].replace("\n", "\\n")


def _values(raw: dict[str, str | None]) -> dict[str, Any]:
    return {name: coerce(ENV.variables[name], text) for name, text in raw.items()}


@pytest.mark.parametrize("case", CORPUS["valid"], ids=_id)
def test_valid_expression(case: dict[str, Any]) -> None:
    rule = compile_rule(case["expression"], ENV)
    values = _values(case["values"])
    lists = {name: frozenset(elements) for name, elements in case["lists"].items()}
    assert rule.evaluate(values, lists) is case["matches"]
    if "with_values" in case:
        assert rule.with_values(values) == case["with_values"]


@pytest.mark.parametrize("case", CORPUS["invalid"], ids=_id)
def test_invalid_expression(case: dict[str, Any]) -> None:
    with pytest.raises(RuleError) as caught:
        compile_rule(case["expression"], ENV)
    error = caught.value
    assert case["message"] in error.problem
    assert (error.line, error.column) == (case["line"], case["column"]), error.message
    assert error.message == f"expression: line {error.line}, column {error.column}: {error.problem}"


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS["valid"]) + len(CORPUS["invalid"]) >= 120


def test_rule_error_is_a_validation_exception() -> None:
    with pytest.raises(ValidationError) as caught:
        compile_rule("$nope > 1", ENV)
    assert caught.value.code == "ValidationException"
    assert caught.value.to_wire()["message"].startswith("expression: line 1, column 1: unknown variable $nope")


def test_rule_error_survives_pickling() -> None:
    with pytest.raises(RuleError) as caught:
        compile_rule("$qty >", ENV)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.line, copy.column, copy.problem, copy.message) == (
        caught.value.line,
        caught.value.column,
        caught.value.problem,
        caught.value.message,
    )


def test_referenced_names() -> None:
    rule = compile_rule("$amt > 5 and ($email in @bad_domains or $amt < 1) and $qty not in @numbers", ENV)
    assert rule.variables == frozenset({"amt", "email", "qty"})
    assert rule.lists == frozenset({"bad_domains", "numbers"})
    assert rule.expression == "$amt > 5 and ($email in @bad_domains or $amt < 1) and $qty not in @numbers"
    assert isinstance(rule, CompiledRule)


def test_expression_length_limit() -> None:
    clause = "$qty > 1 or "
    text = clause * (4200 // len(clause)) + "$vip"
    assert len(text) > 4096
    with pytest.raises(RuleError) as caught:
        compile_rule(text, ENV)
    assert (caught.value.line, caught.value.column) == (1, 4097)
    assert "at most 4096" in caught.value.problem
    fits = clause * (4000 // len(clause)) + "$vip"
    assert compile_rule(fits, ENV).evaluate({"qty": 2}, {}) is True


@pytest.mark.parametrize(
    "text",
    ["(" * 150 + "$vip" + ")" * 150, "!" * 300 + "$vip", "-" * 300 + "$qty > 1", "1" + " + 1" * 200 + " > $qty"],
)
def test_deep_nesting_is_a_rule_error(text: str) -> None:
    with pytest.raises(RuleError, match="nests more than 100 levels"):
        compile_rule(text, ENV)


def test_long_flat_chains_are_fine() -> None:
    text = " or ".join(f"$qty == {i}" for i in range(250))
    rule = compile_rule(text, ENV)
    assert rule.evaluate({"qty": 249}, {}) is True
    assert rule.evaluate({"qty": 250}, {}) is False
    assert rule.evaluate({}, {}) is False


def test_catastrophic_regex_is_linear() -> None:
    rule = compile_rule('regex_match("(a+)+$", $email) or regex_match("(x+x+)+y", $email)', ENV)
    started = time.perf_counter()
    assert rule.evaluate({"email": "a" * 100_000 + "!"}, {}) is False
    assert rule.evaluate({"email": "x" * 100_000}, {}) is False
    assert time.perf_counter() - started < 1.0


def test_regex_is_compiled_once_and_shared_across_threads() -> None:
    rule = compile_rule(r'regex_match(".*@gmail\.com", lowercase($email))', ENV)
    results: list[bool] = []

    def work() -> None:
        for i in range(2000):
            results.append(rule.evaluate({"email": f"U{i}@GMAIL.COM" if i % 2 else f"u{i}@mail.com"}, {}))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == results.count(False) == 4000


@pytest.mark.parametrize(
    ("data_type", "text", "expected"),
    [
        ("STRING", " x ", " x "),
        ("STRING", "", ""),
        ("STRING", None, None),
        ("INTEGER", "42", 42),
        ("INTEGER", " -7 ", -7),
        ("INTEGER", "+3", 3),
        ("INTEGER", "4.0", None),
        ("INTEGER", "", None),
        ("INTEGER", "9223372036854775807", 2**63 - 1),
        ("INTEGER", "9223372036854775808", None),
        ("FLOAT", "4.01", 4.01),
        ("FLOAT", "5", 5.0),
        ("FLOAT", "1e3", 1000.0),
        ("FLOAT", "nan", None),
        ("FLOAT", "inf", None),
        ("FLOAT", "x", None),
        ("BOOLEAN", "True", True),
        ("BOOLEAN", "false", False),
        ("BOOLEAN", "yes", None),
        ("BOOLEAN", "", None),
        ("DATETIME", "2019-11-30T13:01:01Z", Timestamp(1575118861000)),
        ("DATETIME", "2019-11-30T13:01:01.5Z", Timestamp(1575118861500)),
        ("DATETIME", "2019-11-30 13:01:01", None),
        ("DATETIME", "", None),
    ],
)
def test_coerce(data_type: str, text: str | None, expected: object) -> None:
    value = coerce(data_type, text)
    assert value == expected
    assert type(value) is type(expected)


def test_coerce_rejects_unknown_types() -> None:
    with pytest.raises(ValueError, match="unknown data type"):
        coerce("DECIMAL", "1")


def test_timestamp_text_and_order() -> None:
    first = Timestamp.parse("2024-01-01T00:00:00Z")
    assert first is not None
    assert str(first) == "2024-01-01T00:00:00Z"
    assert str(Timestamp(first.epoch_ms + 7)) == "2024-01-01T00:00:00.007Z"
    assert first < Timestamp(first.epoch_ms + 1)
    assert Timestamp.of(datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == first
    assert Timestamp.of(datetime(2024, 1, 1)) == first  # naive is UTC


def test_evaluate_treats_wrongly_typed_values_as_missing() -> None:
    rule = compile_rule('$qty > 1 or $amt > 1 or $vip or $email == "a" or $ts > $signup', ENV)
    assert rule.evaluate({"qty": "5", "amt": "5", "vip": "true", "email": 1, "ts": "2024"}, {}) is False
    assert rule.evaluate({"amt": float("nan")}, {}) is False
    assert rule.evaluate({"amt": float("inf")}, {}) is False
    assert rule.evaluate({"qty": True}, {}) is False  # a bool is not an INTEGER
    # What converts safely is accepted: a whole float for an INTEGER, an int for a FLOAT, a datetime.
    assert compile_rule("$qty == 5", ENV).evaluate({"qty": 5.0}, {}) is True
    assert compile_rule("$amt / 2 == 2.5", ENV).evaluate({"amt": 5}, {}) is True
    moment: Any = datetime(2024, 1, 1, tzinfo=UTC)  # not a Value, but an aware datetime converts safely
    assert compile_rule("hour_of_day($ts) == 0", ENV).evaluate({"ts": moment}, {}) is True
    with_values = compile_rule("$qty == 5 and $email == $country", ENV).with_values({"qty": 5.0, "email": 3})
    assert with_values == "5 == 5 and null == null"


class _Hostile(dict[str, Any]):
    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")


def test_evaluate_never_raises() -> None:
    rule = compile_rule("$qty > 1 and $email in @bad_domains", ENV)
    assert rule.evaluate(_Hostile(), {}) is False
    assert rule.evaluate({"qty": 2, "email": "a"}, _Hostile()) is False
    assert rule.evaluate({"qty": 2, "email": "a"}, {"bad_domains": frozenset({"a"})}) is True
    assert rule.with_values(_Hostile()) == "null > 1 and null in @bad_domains"


def test_stored_list_conversion_follows_the_list_object() -> None:
    rule = compile_rule("$qty in @numbers", ENV)
    first = frozenset({"1", "2"})
    assert rule.evaluate({"qty": 2}, {"numbers": first}) is True
    assert rule.evaluate({"qty": 3}, {"numbers": first}) is False
    assert rule.evaluate({"qty": 3}, {"numbers": frozenset({"3"})}) is True
    assert rule.evaluate({"qty": 2}, {"numbers": frozenset({"3"})}) is False


def test_with_values_keeps_the_text_around_variables() -> None:
    text = "  ($amt  >  500)\n and\t$email in @bad_domains "
    rule = compile_rule(text, ENV)
    assert rule.with_values({"amt": 710.25, "email": "a@b.com"}) == (
        '  (710.25  >  500)\n and\t"a@b.com" in @bad_domains '
    )


def test_an_environment_without_names() -> None:
    env = RuleEnv({})
    assert compile_rule("1 < 2", env).evaluate({}, {}) is True
    with pytest.raises(RuleError, match=r"unknown variable \$a \(this event type has no variables\)"):
        compile_rule("$a > 1", env)
    with pytest.raises(RuleError, match=r"unknown list @l \(there are no lists\)"):
        compile_rule('"a" in @l', env)


def test_typical_rule_is_fast() -> None:
    rule = compile_rule(
        r'$amt > 500 and $email_domain in @bad_domains or regex_match(".*@gmail\.com", lowercase($email))', ENV
    )
    values: dict[str, Value] = {"amt": 710.25, "email_domain": "x.io", "email": "Someone@Example.com"}
    lists = {"bad_domains": frozenset({"y.io"})}
    rounds = 20_000
    started = time.perf_counter()
    for _ in range(rounds):
        rule.evaluate(values, lists)
    per_call = (time.perf_counter() - started) / rounds
    assert per_call < 50e-6  # typically ~1.2 us; generous for slow CI machines
