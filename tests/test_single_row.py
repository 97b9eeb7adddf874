"""The real-time scoring path must give the polars path's numbers to the last bit: SingleRowPlan
against FeaturePlan.transform on plans fitted to synthetic data, FastBooster against
Booster.predict, and entity states' faster JSON against what json.dumps always wrote."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudhawk import datagen
from fraudhawk.eventdata import layout
from fraudhawk.eventdata.timestamps import FORMATS, parse_iso_column, parse_series, parse_with
from fraudhawk.features import history as hist
from fraudhawk.features.plan import FeaturePlan, VariableInfo, role_of
from fraudhawk.features.seen import Seen
from fraudhawk.features.single import SingleRowPlan, history_inputs, parse_ms, text_of, to_float
from fraudhawk.scoring.fastpredict import FastBooster

SETTINGS = settings(
    derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow], max_examples=120
)
SPEC = hist.HistorySpec(
    amounts=("amt",), categories=("merchant", "ip_address", "category"), amount_groups=("category",)
)


def assert_same_bits(actual: np.ndarray, expected: np.ndarray, names: list[str]) -> None:
    """Equal doubles, bit for bit (0.0 is not -0.0); NaN where the other has NaN."""
    assert actual.dtype == np.float64
    assert actual.shape == expected.shape == (len(names),)
    nan = np.isnan(expected)
    same = (np.isnan(actual) == nan) & ((actual.view(np.uint64) == expected.view(np.uint64)) | nan)
    wrong = [(names[i], actual[i], expected[i]) for i in np.flatnonzero(~same)]
    assert not wrong, wrong


def one_row(variables: dict[str, str | None], event_ms: int, names: list[str]) -> pl.DataFrame:
    """The frame the prediction engine builds for one event: every variable as text or null."""
    return pl.DataFrame(
        {layout.EVENT_MS: [event_ms], layout.ENTITY_ID: ["e1"], **{n: [variables.get(n)] for n in names}},
        schema={layout.EVENT_MS: pl.Int64, layout.ENTITY_ID: pl.String, **dict.fromkeys(names, pl.String)},
    )


# --- synthetic training data with every kind of variable --------------------------------------------

WIDE_VARIABLES = {
    **datagen.REGISTRATION_VARIABLES,
    "signup_date": ("DATETIME", "FREE_FORM_TEXT"),
    "verified": ("BOOLEAN", "CATEGORICAL"),
    "creds_ok": ("STRING", "ARE_CREDENTIALS_VALID"),
    "amount": ("FLOAT", "PRICE"),
    "price_text": ("STRING", "PRICE"),
    "quantity": ("INTEGER", "NUMERIC"),
    "card_bin": ("INTEGER", "CARD_BIN"),
    "billing_zip": ("STRING", "BILLING_ZIP"),
    "shipping_zip": ("STRING", "SHIPPING_ZIP"),
    "billing_country": ("STRING", "BILLING_COUNTRY"),
    "shipping_country": ("STRING", "SHIPPING_COUNTRY"),
    "shipping_state": ("STRING", "SHIPPING_STATE"),
    "billing_phone": ("STRING", "BILLING_PHONE"),
    "shipping_phone": ("STRING", "SHIPPING_PHONE"),
    "billing_address_l1": ("STRING", "BILLING_ADDRESS_L1"),
    "shipping_address_l1": ("STRING", "SHIPPING_ADDRESS_L1"),
    "billing_name": ("STRING", "BILLING_NAME"),
    "shipping_name": ("STRING", "SHIPPING_NAME"),
    "billing_city": ("STRING", "BILLING_CITY"),
    "shipping_city": ("STRING", "SHIPPING_CITY"),
    "comment": ("STRING", "FREE_FORM_TEXT"),
    "merchant": ("STRING", "CATEGORICAL"),
    "fingerprint": ("STRING", "FINGERPRINT"),
    "left_out": ("STRING", "CATEGORICAL"),
}
COUNTRIES = ["US", "GB", "DE", "FR", "BR", "us", " gb", "United States", "São Paulo"]
CITIES = ["London", "london", "Paris", "São Paulo", "Sao Paulo", "NYC", "Berlin"]
TIMES = [
    "2019-04-10T11:05:00Z",
    "4/10/2019 11:05",
    "2019/11/30 1:01:01 PM",
    "11/30/19 13:01:01",
    "1969-12-31T23:59:59.9999Z",
]


def _wide_columns(rows: int, rng: np.random.Generator) -> dict[str, list[str | None]]:
    def pick(values: list[str], missing: float = 0.05) -> list[str | None]:
        chosen = [values[int(i)] for i in rng.integers(0, len(values), rows)]
        return [None if rng.random() < missing else v for v in chosen]

    merchants = [f"shop_{int(i):03d}" for i in rng.zipf(1.3, rows) % 400]
    return {
        "signup_date": pick(TIMES + [f"2023-{m:02d}-{d:02d}T08:00:00Z" for m in range(1, 13) for d in (1, 15)]),
        "verified": pick(["true", "false", "TRUE", "0", "1", "yes", "no", "maybe", ""]),
        "creds_ok": pick(["t", "f", "True", "False"]),
        "amount": [f"{x:.2f}" for x in rng.lognormal(3, 1, rows)],
        "price_text": pick(["12.00", "5", "1e3", "abc", " 7 "]),
        "quantity": pick([str(i) for i in range(1, 9)]),
        "card_bin": pick(["411111", "550000", "378282", "601100", "4532 1100", "12", "x"]),
        "billing_zip": pick(["SW1A 1AA", "10001", "94105", "75008", "sw1a1aa"]),
        "shipping_zip": pick(["SW1A 1AA", "10001", "94105", "02139"]),
        "billing_country": pick(COUNTRIES),
        "shipping_country": pick(COUNTRIES),
        "shipping_state": pick(["CA", "NY", "TX", "ca"]),
        "billing_phone": pick(["+1 212 555 0100", "+44 7700 900123", "555-0100", "2125550100"]),
        "shipping_phone": pick(["+1 212 555 0100", "(212) 555-0100", "+33 1 23 45 67 89"]),
        "billing_address_l1": pick(["1 Main St", "PO Box 12", "Flat 3, 10 High Street", "x"]),
        "shipping_address_l1": pick(["1 Main St", "P.O. Box 9", "22 Rue de Rivoli"]),
        "billing_name": pick(["John Smith", "MARY JONES", "x1y2", "Ann"]),
        "shipping_name": pick(["John Smith", "mary jones", "Bob"]),
        "billing_city": pick(CITIES),
        "shipping_city": pick(CITIES),
        "comment": pick(["great", "Call me at 555 0100 www.example.com", "ПРИВЕТ", "ok ok", "", "me@x.com"]),
        "merchant": [m if rng.random() > 0.03 else None for m in merchants],
        "fingerprint": pick([f"fp{i}" for i in range(30)]),
        "left_out": pick(["a", "b"]),
    }


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[FeaturePlan, pl.DataFrame]:
    """An OFI-like plan over every variable type, fitted as training fits it."""
    source = tmp_path_factory.mktemp("wide") / "reg.csv"
    datagen.registrations(source, events=2500, seed=3)
    frame = pl.read_csv(source, infer_schema=False)
    extra = _wide_columns(frame.height, np.random.default_rng(5))
    frame = frame.with_columns(
        parse_series(frame[layout.EVENT_TIMESTAMP]).alias(layout.EVENT_MS),
        pl.lit(None, pl.String).alias(layout.ENTITY_ID),
        *(pl.Series(name, values, dtype=pl.String) for name, values in extra.items()),
    )
    plan = FeaturePlan([VariableInfo(n, d, t) for n, (d, t) in WIDE_VARIABLES.items()])
    plan.excluded["left_out"] = "left out by the checks"
    plan.raw_dropped.add("billing_city")  # used only through the billing/shipping city match
    plan.fit(frame, None, fit_rows=2000)
    return plan, frame


@pytest.fixture(scope="module")
def tfi(tmp_path_factory: pytest.TempPathFactory) -> tuple[FeaturePlan, pl.DataFrame]:
    """A TFI-like plan: card payments with each card's history."""
    source = tmp_path_factory.mktemp("tfi") / "txn.csv"
    datagen.transactions(source, cards=60, days=30, seed=4)
    frame = pl.read_csv(source, infer_schema=False)
    frame = frame.with_columns(parse_series(frame[layout.EVENT_TIMESTAMP]).alias(layout.EVENT_MS))
    frame = frame.sort(layout.EVENT_MS, maintain_order=True)
    plan = FeaturePlan([VariableInfo(n, d, t) for n, (d, t) in datagen.TRANSACTION_VARIABLES.items()])
    plan.fit(frame, SPEC, fit_rows=int(frame.height * 0.85))
    return plan, frame


def test_the_plans_cover_every_feature_kind(wide: tuple[FeaturePlan, pl.DataFrame]) -> None:
    plan, _ = wide
    roles = {role_of(v) for v in plan.used}
    assert roles == {"numeric", "boolean", "datetime", "enriched", "category"}
    names = set(plan.feature_names)
    assert {
        "merchant",
        "merchant.freq",
        "signup_date.days_before_event",
        "ip_address~billing_country.same_country",
    } <= names
    assert {"billing_zip~shipping_zip.same", "billing_phone~shipping_phone.same"} <= names
    assert "billing_city~shipping_city.same" in names
    assert "billing_city" not in names
    assert "shipping_address_l1" not in names  # a novelty type: never a raw category
    assert not any(n.startswith("left_out") for n in names)


# --- values as they arrive: known, padded, blank, odd ---------------------------------------------

WHITESPACE = st.text(alphabet=" \t\n\u3000\xa0\x1c\x1f\u2028", max_size=3)
ODD_NUMBERS = [" 12 ", "1e3", "1E-3", "inf", "-Infinity", "NaN", "-nan", "0x10", "1_000", "1,5", ".5", "5.", "-0"]
ODD_NUMBERS += [
    "+3",
    "1e400",
    "\u0661\u0662",
    "\uff11\uff12",
    "\x1c7",
    "1e",
    "--1",
    "0.1",
    "123456789012345678901234567890",
]
ODD_BOOLEANS = ["TRUE", " yes ", "T", "f", "No", "2", "\x1ctrue", "truee", "Yes", "İ", "\u212a"]
ODD_TEXT = ["", " ", "\u3000", "\x1c", "unknown-value", "\uff3a", "null", "other", "10.0.0.1", "::ffff:8.8.8.8"]
ODD_TEXT += ["2001:db8::1", "8.8.8.8", "not-an-ip", "a@b", "@x.com", "john.smith@gmail.com", "+44 7700 900123"]
ODD_TEXT += ["555-0100", "US", "us", "Brazil", "411111111111", "4111-1111", "Mozilla/5.0 (bot)", "SW1A1AA"]


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """Mostly strings in the shapes parse_series knows, valid or not."""
    n = draw(st.integers(0, 9999))
    year4 = f"{n:04d}" if draw(st.booleans()) else str(draw(st.integers(1890, 2100)))
    month = str(draw(st.integers(0, 13))).zfill(draw(st.sampled_from([1, 2])))
    day = str(draw(st.integers(0, 32))).zfill(draw(st.sampled_from([1, 2])))
    hour = str(draw(st.integers(0, 25))).zfill(draw(st.sampled_from([1, 2])))
    minute = f"{draw(st.integers(0, 60)):02d}"
    second = f":{draw(st.integers(0, 61)):02d}" if draw(st.booleans()) else ""
    if second and draw(st.booleans()):
        second += "." + draw(st.text(alphabet="0123456789", min_size=1, max_size=10))
    half = draw(st.sampled_from(["", "", " AM", " pm", "PM", "aM", " XM"]))
    sep = draw(st.sampled_from([" ", "T", "T", "  ", "t"]))
    dash = draw(st.sampled_from(["-", "/", "-", "/", "."]))
    zone = draw(st.sampled_from(["Z", "", "+05:30", "-0800", "+2400", "+2359", "z", "+0560"]))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return f"{year4}-{month.zfill(2)}-{day.zfill(2)}T{hour.zfill(2)}:{minute}{second or ':00'}{zone}"
    if kind == 1:
        return f"{year4}{dash}{month}{dash}{day}{sep}{hour}:{minute}{second}{half}"
    year = year4 if kind == 2 else year4[-2:]
    return f"{month}{dash}{day}{dash}{year}{sep}{hour}:{minute}{second}{half}"


def _values(info: VariableInfo, known: list[str]) -> st.SearchStrategy[str | None]:
    role = role_of(info)
    odd = {"numeric": ODD_NUMBERS, "boolean": ODD_BOOLEANS}.get(role, ODD_TEXT)
    base = st.sampled_from(known) if known else st.just("")
    padded = st.tuples(WHITESPACE, base, WHITESPACE).map("".join)
    options = [st.none(), base, padded, st.sampled_from(odd), st.text(max_size=8)]
    if role == "datetime":
        options.append(timestamps())
    return st.one_of(*options)


def _events(plan: FeaturePlan, frame: pl.DataFrame) -> st.SearchStrategy[tuple[dict[str, str | None], int]]:
    known = {v.name: frame[v.name].drop_nulls().unique(maintain_order=True).head(60).to_list() for v in plan.variables}
    variables = st.fixed_dictionaries({v.name: _values(v, known[v.name]) for v in plan.variables})
    times = st.one_of(
        st.integers(1_700_000_000_000, 1_800_000_000_000), st.integers(-(2**41), 2**42), st.sampled_from([0, -1])
    )
    return st.tuples(variables, times)


def test_vector_equals_transform_on_every_kind_of_variable(wide: tuple[FeaturePlan, pl.DataFrame]) -> None:
    plan, frame = wide
    single = SingleRowPlan.of(plan)
    assert SingleRowPlan.of(plan) is single
    names = [v.name for v in plan.variables]

    @settings(SETTINGS, max_examples=160)
    @given(_events(plan, frame))
    def check(event: tuple[dict[str, str | None], int]) -> None:
        variables, event_ms = event
        expected = plan.transform(one_row(variables, event_ms, names))[0]
        assert_same_bits(single.vector(variables, event_ms), expected, plan.feature_names)

    check()


def test_vector_equals_transform_on_training_rows(wide: tuple[FeaturePlan, pl.DataFrame]) -> None:
    plan, frame = wide
    single = SingleRowPlan.of(plan)
    names = [v.name for v in plan.variables]
    for row in frame.sample(60, seed=1).to_dicts():
        variables = {n: row[n] for n in names}
        expected = plan.transform(one_row(variables, row[layout.EVENT_MS], names))[0]
        assert_same_bits(single.vector(variables, row[layout.EVENT_MS]), expected, plan.feature_names)
    # absent variables are missing, as null columns are
    expected = plan.transform(one_row({}, 0, names))[0]
    assert_same_bits(single.vector({}, 0), expected, plan.feature_names)


HISTORY_VALUES = st.one_of(
    st.none(), st.integers(0, 100), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0])
)


def test_vector_with_history_equals_transform(tfi: tuple[FeaturePlan, pl.DataFrame]) -> None:
    plan, frame = tfi
    single = SingleRowPlan.of(plan)
    names = [v.name for v in plan.variables]
    history_names = SPEC.feature_names()
    assert set(history_names) <= set(plan.feature_names)

    @SETTINGS
    @given(_events(plan, frame), st.lists(HISTORY_VALUES, min_size=len(history_names), max_size=len(history_names)))
    def check(event: tuple[dict[str, str | None], int], history: list[Any]) -> None:
        variables, event_ms = event
        # as ScoringModel.history_of builds it
        rows = pl.DataFrame([history], schema=dict.fromkeys(history_names, pl.Float64), orient="row", strict=False)
        expected = plan.transform(one_row(variables, event_ms, names), rows)[0]
        assert_same_bits(single.vector(variables, event_ms, history), expected, plan.feature_names)
        without = plan.transform(one_row(variables, event_ms, names))[0]
        assert_same_bits(single.vector(variables, event_ms), without, plan.feature_names)

    check()


def _same_values(actual: list[Any], expected: list[Any]) -> bool:
    def norm(values: list[Any]) -> list[Any]:
        return ["nan" if isinstance(v, float) and math.isnan(v) else v for v in values]

    return norm(actual) == norm(expected)


def test_history_features_equal_the_polars_path(tfi: tuple[FeaturePlan, pl.DataFrame]) -> None:
    """history_features(state, ...) is what ScoringModel.history_of gives, and leaves the state alone."""
    plan, frame = tfi
    single = SingleRowPlan.of(plan)
    names = [v.name for v in plan.variables]
    cut = int(frame.height * 0.7)
    _, states = hist.compute(SPEC, frame.head(cut), with_states=True)
    odd_amounts = [" 12 ", "nan", "1e3", "", None, "abc", "-0", "inf"]
    odd_categories = ["", " m ", None, "\x1c", "new"]
    rng = np.random.default_rng(0)
    for i, row in enumerate(frame.slice(cut, 300).to_dicts()):
        variables: dict[str, str | None] = {n: row[n] for n in names}
        if i % 3 == 0:
            variables["amt"] = odd_amounts[int(rng.integers(len(odd_amounts)))]
            variables["merchant"] = odd_categories[int(rng.integers(len(odd_categories)))]
        entity, event_ms = row[layout.ENTITY_ID], row[layout.EVENT_MS]
        if i % 7 == 0:
            event_ms -= 3_600_000 * int(rng.integers(0, 48))  # late events take the other branch
        state = states.get(entity)
        before = state.to_bytes() if state is not None else None
        actual = single.history_features(state, variables, event_ms)
        one = one_row(variables, event_ms, names).with_columns(pl.lit(entity).alias(layout.ENTITY_ID))
        copy = {entity: state.copy() if state is not None else hist.EntityState.empty(SPEC)}
        expected = hist.replay(SPEC, copy, hist.events_of(SPEC, one))[0]
        assert actual is not None
        assert _same_values(actual, expected), (variables, actual, expected)
        amounts, categories = single.history_inputs(variables)
        spec_amounts, spec_categories = history_inputs(SPEC, variables)  # the same without a plan
        assert _same_values(spec_amounts, amounts)
        assert spec_categories == categories
        _, _, polars_amounts, polars_categories = hist.events_of(SPEC, one)[0]
        assert _same_values(amounts, polars_amounts)
        assert categories == polars_categories
        assert (state.to_bytes() if state is not None else None) == before
        if state is None:
            state = states[entity] = hist.EntityState.empty(SPEC)
        state.advance(event_ms, amounts, categories, single.history_groups)


# --- the parsers, on many more values than the plans see ------------------------------------------


def _parse_reference(values: list[str]) -> list[int | None]:
    """parse_series of each value alone: the first of the ISO form and FORMATS that parses it."""
    column = pl.col("t")
    formats = [parse_iso_column(column)] + [parse_with(column, shape, fmt) for shape, fmt in FORMATS]
    frame = pl.DataFrame({"t": pl.Series(values, dtype=pl.String)})
    return frame.select(pl.coalesce(formats).alias("ms"))["ms"].to_list()


@settings(SETTINGS, max_examples=40)
@given(st.lists(st.one_of(timestamps(), st.text(alphabet="0123456789-/: TAPMZ+.", max_size=24)), min_size=100))
def test_timestamps_parse_as_polars_does(values: list[str]) -> None:
    assert [parse_ms(v) for v in values] == _parse_reference(values)


def test_timestamp_reference_is_parse_series_of_one_value() -> None:
    values = [*TIMES, "2019-01-01T23:59:60.5Z", "2019-02-29 1:00", "0000-02-29T00:00:00Z", "1/30/69 1:01 PM"]
    values += ["12/31/2019 11:59:60.999 PM", "2019-01-01T10:00:00+23:59", "2019-01-01 12:00 AM", "11/30/70 13:01"]
    for value in values:
        assert parse_ms(value) == parse_series(pl.Series([value], dtype=pl.String))[0], value
    assert _parse_reference(values) == [parse_ms(v) for v in values]


NUMBERISH = st.text(alphabet="0123456789+-.eE_ ,xinfatyINFATY\u0663", max_size=10)


@SETTINGS
@given(st.lists(st.one_of(NUMBERISH, st.floats().map(repr), st.sampled_from(ODD_NUMBERS)), min_size=50))
def test_numbers_parse_as_polars_casts(values: list[str]) -> None:
    expected = pl.Series(values, dtype=pl.String).cast(pl.Float64, strict=False).to_list()
    for value, polars_value in zip(values, expected, strict=True):
        ours = to_float(value)
        if polars_value is None or ours is None:
            assert ours is polars_value, value
        else:
            assert np.float64(ours).view(np.uint64) == np.float64(polars_value).view(np.uint64), value


def test_trimming_is_polars_trimming() -> None:
    candidates = [chr(c) for c in range(0x3100)] + ["\ufeff", "\u200b", "\u180e"]
    padded = [f"{c}a{c}" for c in candidates]
    expected = pl.Series(padded, dtype=pl.String).str.strip_chars().to_list()
    assert [text_of(p) for p in padded] == expected
    assert text_of("  ") is None
    assert text_of(None) is None
    assert "\x1c".strip() == ""  # where Python's strip() differs
    assert text_of("\x1c") == "\x1c"


# --- LightGBM ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def boosters() -> tuple[list[lgb.Booster], np.ndarray]:
    rng = np.random.default_rng(0)
    rows, width = 3000, 12
    x = rng.normal(size=(rows, width))
    x[:, 0] = rng.integers(0, 12, rows)  # a categorical feature
    x[:, 1] = np.round(x[:, 1], 1)  # values on split thresholds
    x[rng.random((rows, width)) < 0.15] = np.nan
    logit = np.nan_to_num(x[:, 2]) + (np.nan_to_num(x[:, 0]) % 3 == 0) + np.isnan(x[:, 3]) + rng.normal(size=rows)
    y = (logit > 1).astype(float)
    params = {"objective": "binary", "num_leaves": 15, "min_data_in_leaf": 10, "verbosity": -1, "num_threads": 1}
    data = lgb.Dataset(x[:2400], y[:2400], categorical_feature=[0], free_raw_data=False)
    plain = lgb.train(params, data, num_boost_round=40)
    stopped = lgb.train(params, data, num_boost_round=40)
    stopped.best_iteration = 25  # as early stopping leaves it: predict() then uses the first 25 trees
    loaded = lgb.Booster(model_str=plain.model_to_string())  # as ScoringModel loads models
    return [plain, stopped, loaded], x


VECTOR_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, -1.0, 1e-35, -1e-35, 2.0, 11.0, 12.0, 50.0, -1.0, 2.5]),
    st.floats(-3, 3).map(lambda v: round(v, 1)),
)


def test_fast_booster_equals_predict(boosters: tuple[list[lgb.Booster], np.ndarray]) -> None:
    models, x = boosters
    fast = [FastBooster(b) for b in models]
    for booster, fb in zip(models, fast, strict=True):
        expected = np.asarray(booster.predict(x, raw_score=True, num_threads=1), dtype=np.float64)
        actual = np.array([fb.raw_one(row.copy()) for row in x])
        assert actual.view(np.uint64).tolist() == expected.view(np.uint64).tolist()

    @SETTINGS
    @given(st.lists(VECTOR_VALUES, min_size=12, max_size=12))
    def check(values: list[float]) -> None:
        row = np.array(values, dtype=np.float64)
        for booster, fb in zip(models, fast, strict=True):
            expected = np.asarray(booster.predict(row.reshape(1, -1), raw_score=True, num_threads=1))
            assert np.float64(fb.raw_one(row)).view(np.uint64) == expected.view(np.uint64)[0]

    check()


def test_fast_booster_inputs_threads_and_closing(boosters: tuple[list[lgb.Booster], np.ndarray]) -> None:
    models, x = boosters
    booster = models[0]
    fb = FastBooster(booster)
    expected = np.asarray(booster.predict(x, raw_score=True, num_threads=1), dtype=np.float64).tolist()
    row = x[5]
    assert fb.raw_one(np.ascontiguousarray(row)) == expected[5]
    single = row.astype(np.float32)
    assert fb.raw_one(single) == booster.predict(single.reshape(1, -1), raw_score=True, num_threads=1)[0]
    assert fb.raw_one(x[:, :][5:6]) == expected[5]  # a 1 x n matrix is one row
    wide = np.repeat(x, 2, axis=1)
    assert fb.raw_one(wide[5, ::2]) == expected[5]  # not contiguous: copied
    frozen = x[5].copy()
    frozen.flags.writeable = False
    assert fb.raw_one(frozen) == expected[5]
    with pytest.raises(ValueError, match="expected 12 features"):
        fb.raw_one(np.zeros(11))

    results: dict[int, list[float]] = {}

    def work(k: int) -> None:
        results[k] = [fb.raw_one(x[i].copy()) for i in range(k, len(x), 4)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k, values in results.items():
        assert values == expected[k::4]
    fb.close()
    fb.close()
    with pytest.raises(ValueError, match="closed"):
        fb.raw_one(x[0].copy())
    multi = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1, "num_threads": 1},
        lgb.Dataset(np.nan_to_num(x), np.arange(len(x)) % 3),
        num_boost_round=2,
    )
    with pytest.raises(ValueError, match="single-output"):
        FastBooster(multi)


# --- entity states -------------------------------------------------------------------------------


def _typed(value: Any) -> Any:
    """A value with every number's type kept, to compare float 3.0 apart from int 3 (and -0.0 from
    0.0, NaN equal to NaN)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_typed(v) for v in value]
    if isinstance(value, Seen):
        return ["seen", list(value.keys), list(value.counts)]
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


def _fields(state: hist.EntityState) -> Any:
    return _typed(list(state.__dict__.items()))


def _check_state(state: hist.EntityState) -> None:
    data = state.to_bytes()
    restored = hist.EntityState.from_bytes(data)
    assert _fields(restored) == _fields(state)  # same fields, same order, same types and values
    assert restored.to_bytes() == data
    copy = state.copy()
    assert copy is not state
    assert _fields(copy) == _fields(state)


def test_state_bytes_round_trip(tfi: tuple[FeaturePlan, pl.DataFrame]) -> None:
    _, frame = tfi
    _, states = hist.compute(SPEC, frame, with_states=True)
    assert states
    for state in states.values():
        _check_state(state)
    empty = hist.EntityState.empty(SPEC)
    _check_state(empty)
    _check_state(hist.EntityState())


def test_state_bytes_keep_odd_values() -> None:
    groups = SPEC.group_index()
    state = hist.EntityState.empty(SPEC)
    odd: list[tuple[float | None, list[str | None]]] = [
        (3.0, ["m", "1.1.1.1", "a"]),
        (0.0, ["null", "\ud800", "a"]),  # a lone surrogate, which UTF-8 cannot hold
        (None, ["é😀\u2028", None, "b"]),
        (1e-7, ['q"\\', "\x00", "a"]),
        (-0.0, ["m", "x", "a"]),
        (1.7976931348623157e308, ["m", "x", "a"]),  # squares overflow to inf
    ]
    for i, (amount, categories) in enumerate(odd):
        state.advance(1_000 * i, [amount], categories, groups)
        _check_state(state)
    assert state.seen[1].get("\ud800") == 1
    assert state.seen[0].get("m") == 3
    for amount in (float("nan"), float("inf")):
        worse = state.copy()
        worse.advance(10_000, [amount], ["m", "x", "a"], groups)
        _check_state(worse)
    # a group value UTF-8 cannot hold is kept too (the state is then written as JSON)
    surrogate = state.copy()
    surrogate.advance(20_000, [2.5], ["m", "x", "\udfff"], groups)
    assert surrogate.to_bytes()[:1] == b"{"
    _check_state(surrogate)


def test_states_stored_as_json_before_still_load() -> None:
    """States written before the compact encoding held each category's values as JSON objects."""
    groups = SPEC.group_index()
    events: list[tuple[int, float | None, list[str | None]]] = [
        (0, 5.0, ["m1", "ip1", "a"]),
        (60_000, 7.5, ["m2", "ip1", "b"]),
        (120_000, None, ["m1", None, "a"]),
    ]
    state = hist.EntityState.empty(SPEC)
    for ms, amount, categories in events:
        state.advance(ms, [amount], categories, groups)
    old_fields = dict(state.__dict__)
    old_fields["seen"] = [{"m1": 2, "m2": 1}, {"ip1": 2}, {"a": 2, "b": 1}]
    old = json.dumps(old_fields, separators=(",", ":")).encode()
    loaded = hist.EntityState.from_bytes(old)
    assert _fields(loaded) == _fields(state)
    probe: list[str | None] = ["m2", "ip2", "a"]
    assert loaded.features(180_000, [6.0], probe, groups) == state.features(180_000, [6.0], probe, groups)
    # an old state without a field added later still loads, with that field's default
    del old_fields["by_group"]
    assert hist.EntityState.from_bytes(json.dumps(old_fields).encode()).by_group == []


def test_copy_is_independent() -> None:
    groups = SPEC.group_index()
    state = hist.EntityState.empty(SPEC)
    state.advance(0, [5.0], ["m", "ip", "a"], groups)
    before = state.to_bytes()
    copy = state.copy()
    copy.advance(1000, [7.0], ["m", "ip", "a"], groups)
    copy.advance(500, [1.0], ["n", "ip", "b"], groups)  # late: rewrites recent sums in place
    assert state.to_bytes() == before
    assert copy.to_bytes() != before
