"""Card payments in the raw layout of Kaggle's credit-card fraud data (Sparkov's `fraudTrain.csv`):
what users of the transaction walk-through start from, before any transform to AFD's layout.

The payments are `datagen.transactions`' (the same habits and compromised cards, so a model has
something to learn); each card gets a holder (name, address, job, birth date) and the columns come in
Kaggle's order, with its unnamed index column, local `trans_date_trans_time`, `unix_time` and `is_fraud`.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HEADER = [
    "",
    "trans_date_trans_time",
    "cc_num",
    "merchant",
    "category",
    "amt",
    "first",
    "last",
    "gender",
    "street",
    "city",
    "state",
    "zip",
    "lat",
    "long",
    "city_pop",
    "job",
    "dob",
    "trans_num",
    "unix_time",
    "merch_lat",
    "merch_long",
    "is_fraud",
]
_FIRST = ("Ann", "Brian", "Carla", "David", "Erin", "Frank", "Grace", "Henry", "Iris", "Jason", "Kelly", "Luis")
_LAST = ("Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Lopez", "Wilson", "Moore", "Clark")
_CITIES = (  # city, state, zip, lat, long, population
    ("Dallas", "TX", "75201", 32.78, -96.80, 1_300_000),
    ("Columbus", "OH", "43004", 39.96, -83.00, 900_000),
    ("Fresno", "CA", "93650", 36.74, -119.79, 540_000),
    ("Boise", "ID", "83702", 43.62, -116.20, 235_000),
    ("Moab", "UT", "84532", 38.57, -109.55, 5_300),
    ("Utica", "NY", "13501", 43.10, -75.23, 60_000),
)
_JOBS = ("Nurse", "Teacher", "Engineer", "Accountant", "Chef", "Designer", "Pilot", "Librarian")


def kaggle_transactions(path: Path, cards: int = 200, days: int = 120, seed: int = 0, start: str = "2019-01-01") -> int:
    """Write Kaggle-layout card payments to `path` (plain CSV); returns the number of rows."""
    from fraudhawk.datagen import transactions

    rng = np.random.default_rng(seed + 1)
    with tempfile.TemporaryDirectory() as scratch:
        afd = Path(scratch) / "afd.csv"
        count = transactions(afd, cards=cards, days=days, seed=seed, start=start)
        holders: dict[str, list[str]] = {}
        with afd.open(newline="") as source, path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(HEADER)
            for index, row in enumerate(csv.DictReader(source)):
                card = row["ENTITY_ID"]
                if card not in holders:
                    holders[card] = _holder(rng, len(holders))
                number, first, last, gender, street, city, state, zip_, lat, long, population, job, dob = holders[card]
                moment = datetime.strptime(row["EVENT_TIMESTAMP"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                writer.writerow(
                    [
                        index,
                        moment.strftime("%Y-%m-%d %H:%M:%S"),
                        number,
                        f"fraud_{row['merchant']}",
                        row["category"],
                        row["amt"],
                        first,
                        last,
                        gender,
                        street,
                        city,
                        state,
                        zip_,
                        lat,
                        long,
                        population,
                        job,
                        dob,
                        f"{index:032x}",
                        int(moment.timestamp()),
                        f"{float(lat) + rng.uniform(-1, 1):.6f}",
                        f"{float(long) + rng.uniform(-1, 1):.6f}",
                        1 if row["EVENT_LABEL"] == "fraud" else 0,
                    ]
                )
    return count


def _holder(rng: np.random.Generator, index: int) -> list[str]:
    city, state, zip_, lat, long, population = _CITIES[int(rng.integers(len(_CITIES)))]
    born = datetime(1950, 1, 1) + (datetime(2001, 1, 1) - datetime(1950, 1, 1)) * float(rng.random())
    return [
        str(4_000_000_000_000_000 + index * 7919),
        str(rng.choice(_FIRST)),
        str(rng.choice(_LAST)),
        str(rng.choice(["F", "M"])),
        f"{int(rng.integers(1, 9999))} Main St",
        city,
        state,
        zip_,
        f"{lat:.4f}",
        f"{long:.4f}",
        str(population),
        str(rng.choice(_JOBS)),
        born.strftime("%Y-%m-%d"),
    ]
