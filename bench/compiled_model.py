"""Compiled model (fraudhawk.scoring.compiled) against LightGBM: compile time, then raw scores per
row (FastBooster.raw_one, LightGBM's C fast path, vs CompiledModel.raw_one) and in batch
(Booster.predict vs CompiledModel.raw_batch, 2 threads), and whether the scores agree bit for bit.

By default it trains a Sparkov-sized model on synthetic data (740 trees of 63 leaves, 100 features of
which 8 categorical, NaNs and zero-heavy features) - a minute or two on 2 cores; `--model` scores an
existing text model instead (e.g. a version's model.txt) on synthetic rows of its width.

    .venv/bin/python bench/compiled_model.py [--rows 503000] [--model path/to/model.txt]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from run import machine

from fraudhawk.scoring import treecode
from fraudhawk.scoring.compiled import CompiledModel
from fraudhawk.scoring.fastpredict import FastBooster

CATEGORIES = [3, 5, 12, 40, 90, 300, 800, 14]  # cardinalities of the categorical features


def synthetic(rows: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Transaction-like features: categories, amounts (log-normal), counts with many zeros, ratios
    with missing values; a label depending on a dozen of them with interactions."""
    rng = np.random.default_rng(seed)
    x = np.empty((rows, features))
    for column in range(features):
        kind = column % 5
        if column < len(CATEGORIES):
            x[:, column] = rng.zipf(1.6, rows) % CATEGORIES[column]
        elif kind == 0:
            x[:, column] = rng.lognormal(3.0, 1.2, rows)
        elif kind == 1:
            x[:, column] = rng.poisson(rng.gamma(0.5, 2.0, rows))
        elif kind == 2:
            x[:, column] = np.where(rng.random(rows) < 0.3, np.nan, rng.normal(size=rows))
        else:
            x[:, column] = rng.normal(size=rows) + 0.3 * x[:, column - 1]
    amount, count, ratio = x[:, 10], x[:, 11], np.nan_to_num(x[:, 12], nan=-2.0)
    risky = np.isin(x[:, 3], [1, 7, 19, 33]) | (x[:, 5] % 17 == 4)
    logit = (
        1.5 * risky
        + 0.8 * np.log1p(amount) * (count == 0)
        + np.sin(ratio * 2)
        + 0.4 * x[:, 13] * x[:, 14]
        + 0.3 * (x[:, 6] % 9 == 2)
        + 0.5 * np.tanh(x[:, 18])
        - 4.5
    )
    y = (logit + rng.logistic(size=rows) > 0).astype(np.float64)
    return x, y


def train(rows: int, features: int, rounds: int, leaves: int) -> lgb.Booster:
    x, y = synthetic(rows, features, seed=1)
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": leaves,
        "min_data_in_leaf": 20,
        "min_sum_hessian_in_leaf": 1e-3,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "scale_pos_weight": 3.0,
        "max_cat_to_onehot": 8,
        "cat_smooth": 10,
        "seed": 1,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbosity": -1,
    }
    data = lgb.Dataset(x, label=y, categorical_feature=list(range(len(CATEGORIES))), params={"verbosity": -1})
    return lgb.train(params, data, num_boost_round=rounds)


def per_row(score: Callable[[np.ndarray], float], rows: np.ndarray) -> str:
    for row in rows[:200]:
        score(row)  # warm up
    samples = []
    for row in rows:
        start = time.perf_counter()
        score(row)
        samples.append(time.perf_counter() - start)
    ordered = sorted(samples)
    mean = sum(samples) / len(samples)
    p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
    return f"mean {mean * 1e6:7.1f} µs   p50 {p50 * 1e6:7.1f} µs   p99 {p99 * 1e6:7.1f} µs"


def best_of(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a LightGBM text model to compile instead of training one")
    parser.add_argument("--rows", type=int, default=503_000, help="rows scored in batch")
    parser.add_argument("--train-rows", type=int, default=40_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--trees", type=int, default=740)
    parser.add_argument("--leaves", type=int, default=63)
    parser.add_argument("--single", type=int, default=5000, help="rows scored one at a time")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"lightgbm {lgb.__version__}, numpy {np.__version__}")
    if args.model:
        text = args.model.read_text()
    else:
        start = time.perf_counter()
        text = train(args.train_rows, args.features, args.trees, args.leaves).model_to_string()
        print(f"trained a synthetic model in {time.perf_counter() - start:.1f} s")
    parsed = treecode.parse(text)
    nodes = sum(tree.num_leaves - 1 for tree in parsed.trees)
    print(f"model: {len(parsed.trees)} trees, {nodes} split nodes, {parsed.num_features} features")
    booster = lgb.Booster(model_str=text)

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        model = CompiledModel.build(text, Path(folder))
        compile_s = time.perf_counter() - start
        print(f"compile: {compile_s:.1f} s (library {model.path.stat().st_size / 2**20:.1f} MiB)")
        start = time.perf_counter()
        CompiledModel.load(Path(folder), text)
        print(f"load of the compiled library: {(time.perf_counter() - start) * 1e3:.1f} ms")

        x, _ = synthetic(args.rows, parsed.num_features, seed=2)
        expected = np.asarray(booster.predict(x[:50_000], raw_score=True, num_threads=2), dtype=np.float64)
        got = model.raw_batch(x[:50_000])
        same = int((got.view(np.uint64) == expected.view(np.uint64)).sum())
        print(f"exactness: {same} of {len(got)} batch scores bit-identical, max |diff| {np.abs(got - expected).max()}")

        lightgbm_s = best_of(2, lambda: booster.predict(x, raw_score=True, num_threads=2))
        compiled_2 = best_of(3, lambda: model.raw_batch(x, threads=2))
        compiled_1 = best_of(2, lambda: model.raw_batch(x, threads=1))
        print(f"batch of {args.rows} rows:")
        print(f"  LightGBM predict, 2 threads  {lightgbm_s:6.2f} s  {args.rows / lightgbm_s:10,.0f} rows/s")
        print(f"  compiled, 2 threads          {compiled_2:6.2f} s  {args.rows / compiled_2:10,.0f} rows/s")
        print(f"  compiled, 1 thread           {compiled_1:6.2f} s  {args.rows / compiled_1:10,.0f} rows/s")

        rows = x[: args.single]
        fast = FastBooster(booster)
        singles = np.array([model.raw_one(row) for row in rows[:1000]])
        fast_singles = np.array([fast.raw_one(row) for row in rows[:1000]])
        agree = bool((singles.view(np.uint64) == fast_singles.view(np.uint64)).all())
        print(f"one row at a time ({len(rows)} different rows; raw_one equal to FastBooster's: {agree}):")
        print(f"  FastBooster.raw_one (LightGBM)  {per_row(fast.raw_one, rows)}")
        print(f"  CompiledModel.raw_one           {per_row(model.raw_one, rows)}")
        print(f"  CompiledModel.raw_one, same row {per_row(model.raw_one, np.repeat(rows[:1], len(rows), 0))}")


if __name__ == "__main__":
    main()
