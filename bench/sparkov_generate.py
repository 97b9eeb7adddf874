"""Generate one Sparkov run (github.com/namebrandon/Sparkov_Data_Generation) in the Kaggle layout.

    GENERATOR_PYTHON bench/sparkov_generate.py GENERATOR_DIR SEED CUSTOMERS OUT_DIR

Runs the generator's own customer and transaction code in this one process with every random source
(`random`, numpy, Faker) seeded by SEED, so a seed names one data set; the upstream `datagen.py` forks a
pool whose workers share one unseeded state. Transactions span 2019-01-01 to 2020-12-31 like the Kaggle
file; OUT_DIR receives fraudTrain.csv (events before 2020-06-21, the Kaggle file's split) and
fraudTest.csv (the rest), with the Kaggle file's columns. Needs the generator's requirements (Faker,
numpy) in the interpreter that runs it; imports nothing from fraudhawk.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import pathlib
import random
import sys
from datetime import datetime


def _kaggle_columns() -> list[str]:
    """The Kaggle file's columns as the project's own generator writes them (`datagen.kaggle.HEADER`),
    loaded from its file: this script runs in the generator's Python, where fraudhawk is not
    installed (that module needs only numpy at import)."""
    path = pathlib.Path(__file__).resolve().parents[1] / "src" / "fraudhawk" / "datagen" / "kaggle.py"
    spec = importlib.util.spec_from_file_location("_kaggle_layout", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.HEADER)


KAGGLE_COLUMNS = _kaggle_columns()
START, END, SPLIT = datetime(2019, 1, 1), datetime(2020, 12, 31), "2020-06-21"


def _seed(seed: int) -> None:
    import numpy as np
    from faker import Faker  # type: ignore[import-not-found]

    random.seed(seed)
    np.random.seed(seed)
    Faker.seed(seed)


#: the 2020 script filters a pandas table of merchants for every transaction (most of its time); the
#: same draw from a list made once takes the same value from the same random state
SLOW_MERCHANT = """            merch_filtered = merch[merch['category'] == trans_cat]
            random_row = merch_filtered.loc[random.sample(list(merch_filtered.index), 1)]
            ##sw added list
            chosen_merchant = random_row.iloc[0]['merchant_name']"""
FAST_MERCHANT = """            indexes, names = MERCHANTS_BY_CATEGORY[trans_cat]
            chosen_merchant = names[random.sample(indexes, 1)[0]]"""


def _merchants_by_category() -> dict[str, tuple[list[int], dict[int, str]]]:
    import pandas as pd  # type: ignore[import-untyped]

    merchants = pd.read_csv("data/merchants.csv", sep="|")
    out = {}
    for category in merchants["category"].unique():
        chosen = merchants[merchants["category"] == category]
        out[category] = (list(chosen.index), dict(zip(chosen.index, chosen["merchant_name"], strict=True)))
    return out


def _script(path: str, argv: list[str], out: pathlib.Path, seed: int) -> None:
    """Run one of the 2020 generator's scripts as its shell scripts do, its stdout into `out`."""
    _seed(seed)
    source = pathlib.Path(path).read_text()
    globals_: dict[str, object] = {"__name__": "__main__", "__file__": path}
    if SLOW_MERCHANT in source:
        source = source.replace(SLOW_MERCHANT, FAST_MERCHANT)
        globals_["MERCHANTS_BY_CATEGORY"] = _merchants_by_category()
    saved_argv, saved_stdout = sys.argv, sys.stdout
    with out.open("w") as handle:
        sys.argv, sys.stdout = [path, *argv], handle
        try:
            exec(compile(source, path, "exec"), globals_)  # the generator's own script, as `python path`
        finally:
            sys.argv, sys.stdout = saved_argv, saved_stdout


def main() -> None:
    generator, seed, customers, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), pathlib.Path(sys.argv[4])
    out = out.resolve()
    os.chdir(generator)  # the generator opens its profile and demographic files relative to its folder
    sys.path.insert(0, generator)
    parts = out / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    customer_file = parts / "customers.csv"
    config = pathlib.Path("profiles/main_config.json")
    profiles = list(json.loads(config.read_text()))
    if "def main(" in pathlib.Path("datagen_transaction.py").read_text():  # v1.0 and later: callable
        _seed(seed)
        import datagen_customer  # type: ignore[import-not-found]
        import datagen_transaction  # type: ignore[import-not-found]

        datagen_customer.main(customers, seed, config, str(customer_file))
        for profile in profiles:
            part = parts / profile.replace(".json", ".csv")
            datagen_transaction.main(str(customer_file), pathlib.Path("profiles") / profile, START, END, str(part))
            sys.stdout.flush()
    else:  # the 2020 scripts (the Kaggle file's), one run per profile
        _script("datagen_customer.py", [str(customers), str(seed), str(config)], customer_file, seed)
        for index, profile in enumerate(profiles):
            part = parts / profile.replace(".json", ".csv")
            dates = [START.strftime("%m-%d-%Y"), END.strftime("%m-%d-%Y")]
            _script("datagen_transaction.py", [str(customer_file), f"profiles/{profile}", *dates], part, seed + index)
    rows: list[list[str]] = []
    for profile in profiles:
        with (parts / profile.replace(".json", ".csv")).open(newline="") as handle:
            reader = csv.reader(handle, delimiter="|")
            header = next(reader)
            at = {column: header.index(column) for column in header}
            for raw in reader:
                when = f"{raw[at['trans_date']]} {raw[at['trans_time']]}"
                rows.append([when] + [raw[at[column]] for column in KAGGLE_COLUMNS[2:]])
    unix_time = KAGGLE_COLUMNS.index("unix_time") - 1
    rows.sort(key=lambda row: (int(row[unix_time]), row[0], row[1]))
    for name, chosen in (
        ("fraudTrain.csv", [row for row in rows if row[0] < SPLIT]),
        ("fraudTest.csv", [row for row in rows if row[0] >= SPLIT]),
    ):
        partial = out / (name + ".partial")
        with partial.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(KAGGLE_COLUMNS)
            for index, row in enumerate(chosen):
                writer.writerow([index, *row])
        partial.replace(out / name)
    fraud = sum(row[-1] == "1" for row in rows)
    print(f"seed {seed}: {customers} customers, {len(rows):,} transactions, {fraud:,} fraud")


if __name__ == "__main__":
    main()
