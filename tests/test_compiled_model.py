"""The compiled model must give LightGBM's raw scores to the last bit: real boosters trained here
with NaNs, zeros, categorical features (one-hot and many-vs-many splits, multi-word bitsets), every
missing type (None, Zero, NaN) and both default directions, scored on rows full of edge values (NaN,
+-inf, -0.0, values around LightGBM's zero threshold, thresholds and their neighbours, negative,
fractional, unseen and out-of-int-range categories); plus building, reuse, staleness and clean
failures."""

from __future__ import annotations

import hashlib
import math
import shutil
import threading
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from fraudhawk.scoring import compiled, treecode
from fraudhawk.scoring.compiled import CompiledModel, CompileError

ROWS = 4000
FEATURES = 12
CATEGORICAL = [0, 1]  # 0: 10 categories, 1: 80 categories (a bitset of 3 words)
ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold
BASE = {
    "objective": "binary",
    "learning_rate": 0.2,
    "num_leaves": 31,
    "min_data_in_leaf": 5,
    "min_data_per_group": 5,
    "cat_smooth": 1,
    "cat_l2": 1,
    "max_cat_to_onehot": 4,
    "max_cat_threshold": 64,
    "seed": 7,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbosity": -1,
}


def training_data(seed: int, nan: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, FEATURES))
    x[:, 0] = rng.integers(0, 10, ROWS)
    x[:, 1] = rng.integers(0, 80, ROWS)
    x[:, 2] = np.where(rng.random(ROWS) < 0.4, 0.0, x[:, 2])  # many exact zeros
    x[:, 3] = np.round(x[:, 3] * 2)  # a few distinct values, zero among them
    if nan:
        x[:, 4:8][rng.random((ROWS, 4)) < 0.15] = np.nan
        x[:, 2][rng.random(ROWS) < 0.1] = np.nan
    signal = (
        np.isin(x[:, 0], [1, 4, 7]) * 1.2
        + (x[:, 1] % 5 == 2) * 1.0
        + (x[:, 2] == 0) * 0.8
        + np.nan_to_num(x[:, 4], nan=1.5)
        + np.where(np.isnan(x[:, 5]), -1.0, np.sin(np.nan_to_num(x[:, 5]) * 2))
        + 0.5 * x[:, 8] * x[:, 9]
        + x[:, 3] * 0.3
    )
    y = (signal + rng.normal(size=ROWS) > 0.8).astype(np.float64)
    return x, y


def train(params: dict[str, Any], rounds: int, seed: int = 1, nan: bool = True) -> lgb.Booster:
    x, y = training_data(seed, nan)
    data = lgb.Dataset(x, label=y, categorical_feature=CATEGORICAL, params={"verbosity": -1})
    return lgb.train({**BASE, **params}, data, num_boost_round=rounds)


CASES: dict[str, tuple[dict[str, Any], int, bool]] = {
    "nan-missing": ({}, 60, True),
    "zero-as-missing": ({"zero_as_missing": True}, 60, True),
    "no-missing-in-training": ({}, 60, False),
    "use-missing-off": ({"use_missing": False}, 40, True),
    "many-trees": ({"num_leaves": 15, "learning_rate": 0.05, "max_cat_to_onehot": 16}, 300, True),
}


@pytest.fixture(scope="module")
def boosters() -> dict[str, lgb.Booster]:
    return {name: train(params, rounds, nan=nan) for name, (params, rounds, nan) in CASES.items()}


@pytest.fixture(scope="module")
def models(boosters: dict[str, lgb.Booster], tmp_path_factory: pytest.TempPathFactory) -> dict[str, CompiledModel]:
    folder = tmp_path_factory.mktemp("compiled")
    out: dict[str, CompiledModel] = {}
    patch = pytest.MonkeyPatch()
    try:
        for name, booster in boosters.items():
            # the big one in several C files compiled in parallel, as a big model would be
            patch.setattr(compiled, "_NODES_PER_FILE", 1000 if name == "many-trees" else 6000)
            out[name] = CompiledModel.build(booster.model_to_string(), folder / name, timeout_s=120)
    finally:
        patch.undo()
    return out


def probe_rows(booster: lgb.Booster, count: int, seed: int) -> np.ndarray:
    """Training-like rows where a quarter of the values are edge cases."""
    rng = np.random.default_rng(seed)
    x, _ = training_data(seed + 100, nan=True)
    rows = x[rng.integers(0, ROWS, count)]
    model = treecode.parse(booster.model_to_string())
    thresholds: dict[int, list[float]] = {}
    for tree in model.trees:
        for node, feature in enumerate(tree.split_feature):
            if not (tree.decision_type[node] & 1 and tree.num_cat > 0):
                thresholds.setdefault(feature, []).append(tree.threshold[node])
    special = [math.nan, math.inf, -math.inf, -0.0, 0.0, ZERO, -ZERO, math.nextafter(ZERO, 1), 1e-36, -1e-36]
    special += [5e-324, -5e-324, 1e300, -1e300]
    categories = [-1.0, -0.5, -0.0, 0.5, 3.7, 9.0, 10.0, 79.0, 80.0, 95.0, 127.0, 1000.0, -7.0]
    categories += [2.0**31 - 1, 2.0**31 - 0.5, 2.0**31, 2.0**32 + 3, 1e10, -1e10, -(2.0**31), -(2.0**31) - 1]
    for feature in range(FEATURES):
        mask = rng.random(count) < 0.25
        pool = list(special)
        if feature in CATEGORICAL:
            pool += categories
        for threshold in thresholds.get(feature, [])[:50]:
            pool += [threshold, math.nextafter(threshold, math.inf), math.nextafter(threshold, -math.inf)]
        rows[mask, feature] = rng.choice(np.array(pool), int(mask.sum()))
    return rows


def bits(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)


@pytest.mark.parametrize("name", list(CASES))
def test_batch_and_single_rows_equal_lightgbm_bit_for_bit(
    name: str, boosters: dict[str, lgb.Booster], models: dict[str, CompiledModel]
) -> None:
    booster, model = boosters[name], models[name]
    rows = probe_rows(booster, 20_000, seed=len(name))
    expected = np.asarray(booster.predict(rows, raw_score=True), dtype=np.float64)
    np.testing.assert_array_equal(bits(model.raw_batch(rows, threads=2)), bits(expected))
    np.testing.assert_array_equal(bits(model.raw_batch(rows[:3000], threads=1)), bits(expected[:3000]))
    single = np.array([model.raw_one(row) for row in rows[:1500]])
    np.testing.assert_array_equal(bits(single), bits(expected[:1500]))
    # the model text read back by LightGBM scores the same
    reloaded = lgb.Booster(model_str=booster.model_to_string())
    again = np.asarray(reloaded.predict(rows[:2000], raw_score=True), dtype=np.float64)
    np.testing.assert_array_equal(bits(again), bits(expected[:2000]))


def test_the_cases_cover_every_kind_of_split(boosters: dict[str, lgb.Booster]) -> None:
    kinds: set[tuple[str, int, bool]] = set()
    words: set[int] = set()
    for booster in boosters.values():
        for tree in treecode.parse(booster.model_to_string()).trees:
            for node, decision in enumerate(tree.decision_type):
                if tree.num_cat > 0 and decision & 1:
                    k = int(tree.threshold[node])
                    words.add(tree.cat_boundaries[k + 1] - tree.cat_boundaries[k])
                    kinds.add(("categorical", 0, False))
                else:
                    kinds.add(("numerical", (decision >> 2) & 3, bool(decision & 2)))
    assert {("numerical", 0, True), ("numerical", 2, True), ("numerical", 2, False)} <= kinds
    assert {("numerical", 1, True), ("numerical", 1, False)} <= kinds  # missing type Zero
    assert ("categorical", 0, False) in kinds
    assert max(words) >= 3  # categories past 64


def test_raw_one_from_many_threads(boosters: dict[str, lgb.Booster], models: dict[str, CompiledModel]) -> None:
    booster, model = boosters["many-trees"], models["many-trees"]
    rows = probe_rows(booster, 2000, seed=5)
    expected = bits(np.asarray(booster.predict(rows, raw_score=True), dtype=np.float64))
    failures: list[int] = []

    def work(offset: int) -> None:
        for i in range(offset, len(rows), 4):
            if bits(np.array([model.raw_one(rows[i])]))[0] != expected[i]:
                failures.append(i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_inputs_are_checked_and_coerced(models: dict[str, CompiledModel], boosters: dict[str, lgb.Booster]) -> None:
    model, booster = models["nan-missing"], boosters["nan-missing"]
    rows = probe_rows(booster, 64, seed=9)
    expected = booster.predict(rows, raw_score=True)
    fortran = np.asfortranarray(rows)
    np.testing.assert_array_equal(model.raw_batch(fortran), expected)
    assert model.raw_one(fortran[3]) == expected[3]  # a strided row
    assert model.raw_one(rows[5].astype(np.float32)) == booster.predict(rows[5:6].astype(np.float32), raw_score=True)[0]
    assert model.raw_batch(np.empty((0, FEATURES))).shape == (0,)
    with pytest.raises(ValueError, match="features"):
        model.raw_one(np.zeros(FEATURES + 1))
    with pytest.raises(ValueError, match="features"):
        model.raw_batch(np.zeros((3, FEATURES - 1)))


def test_single_leaf_trees(tmp_path: Path) -> None:
    x = np.random.default_rng(3).normal(size=(200, 3))
    booster = lgb.train(
        {"objective": "regression", "verbosity": -1, "num_threads": 1}, lgb.Dataset(x, label=np.full(200, 0.25)), 5
    )
    text = booster.model_to_string()
    assert "num_leaves=1\n" in text
    model = CompiledModel.build(text, tmp_path)
    rows = np.vstack([x[:10], [[math.nan, math.inf, -0.0]]])
    expected = np.asarray(booster.predict(rows, raw_score=True), dtype=np.float64)
    np.testing.assert_array_equal(bits(model.raw_batch(rows)), bits(expected))


def test_build_reuses_and_load_rejects_stale(boosters: dict[str, lgb.Booster], tmp_path: Path) -> None:
    text = boosters["nan-missing"].model_to_string()
    other = boosters["zero-as-missing"].model_to_string()
    assert CompiledModel.load(tmp_path, text) is None
    first = CompiledModel.build(text, tmp_path)
    assert first.path.parent == tmp_path
    assert hashlib.sha256(text.encode()).hexdigest()[:24] in first.path.name
    assert first.num_features == FEATURES
    assert first.num_trees == boosters["nan-missing"].num_trees()
    stamp = first.path.stat().st_mtime_ns
    again = CompiledModel.build(text, tmp_path)
    assert again.path == first.path
    assert again.path.stat().st_mtime_ns == stamp  # not compiled again
    assert CompiledModel.load(tmp_path, other) is None
    assert CompiledModel.load(tmp_path, text, library_sha256=first.sha256) is not None
    assert CompiledModel.load(tmp_path, text, library_sha256="0" * 64) is None
    # a library of another model under this one's name is refused
    second = CompiledModel.build(other, tmp_path / "other")
    (tmp_path / "impostor").mkdir()
    (tmp_path / "impostor" / first.path.name).write_bytes(second.path.read_bytes())
    assert CompiledModel.load(tmp_path / "impostor", text) is None
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / first.path.name).write_bytes(b"not a library")
    assert CompiledModel.load(tmp_path / "broken", text) is None
    for folder in ("impostor", "broken"):  # building replaces them
        rebuilt = CompiledModel.build(text, tmp_path / folder)
        assert rebuilt.sha256 == first.sha256  # the same compiler makes the same library
        assert CompiledModel.load(tmp_path / folder, text) is not None
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_file()) == [".compile.lock", first.path.name]


def test_concurrent_builds_compile_once(boosters: dict[str, lgb.Booster], tmp_path: Path) -> None:
    text = boosters["use-missing-off"].model_to_string()
    results: list[CompiledModel] = []
    threads = [threading.Thread(target=lambda: results.append(CompiledModel.build(text, tmp_path))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    assert len({model.path for model in results}) == 1
    assert not list(tmp_path.glob(".compiling-*"))


def test_failures_are_clean(boosters: dict[str, lgb.Booster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = boosters["many-trees"].model_to_string()
    with pytest.raises(CompileError, match="too long"):
        CompiledModel.build(text, tmp_path / "slow", timeout_s=0.3)
    assert [path.name for path in (tmp_path / "slow").iterdir()] == [".compile.lock"]

    x, y = training_data(2, nan=True)
    multiclass = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1, "num_threads": 1},
        lgb.Dataset(x, label=(y + (x[:, 8] > 0)).astype(int)),
        2,
    )
    with pytest.raises(CompileError, match="single-output"):
        CompiledModel.build(multiclass.model_to_string(), tmp_path / "multi")
    with pytest.raises(CompileError, match="cannot be compiled"):
        CompiledModel.build("not a model", tmp_path / "garbage")
    small = boosters["use-missing-off"].model_to_string()
    injected = small.replace("threshold=", 'threshold=1);system("id");(', 1)
    with pytest.raises(CompileError, match="non-number"):
        CompiledModel.build(injected, tmp_path / "injected")

    monkeypatch.setattr(shutil, "which", lambda *_: None)
    with pytest.raises(CompileError, match="no C compiler"):
        CompiledModel.build(small, tmp_path / "nocc")
    monkeypatch.undo()
    # the compiler named by CC, the real one made to fail on every file
    broken = tmp_path / "broken-cc"
    broken.write_text(
        f'#!/bin/sh\nexec {shutil.which("gcc") or shutil.which("cc")} -include /nonexistent/fraudhawk.h "$@"\n'
    )
    broken.chmod(0o755)
    monkeypatch.setenv("CC", str(broken))
    with pytest.raises(CompileError, match="compiler failed") as failure:
        CompiledModel.build(small, tmp_path / "bad")
    assert failure.value.detail
    assert [path.name for path in (tmp_path / "bad").iterdir()] == [".compile.lock"]
