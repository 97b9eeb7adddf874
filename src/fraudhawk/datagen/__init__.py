"""Synthetic event data in AFD's CSV layout, for tests, demos and benchmarks that must not depend on
anyone's real data.

* `transactions`: card payments in the spirit of the Sparkov simulator. Each card has habits (its
  usual amounts, hours and merchants); some cards are compromised for a few days, during which
  bursts of larger, mostly night-time purchases replace the owner's activity.
* `kaggle_transactions`: the same payments in the raw layout of Kaggle's credit-card fraud data.
* `registrations`: account sign-ups where fraud leans on throwaway email providers, random-looking
  handles, some IP ranges and mismatched phone numbers; optionally with unlabeled events (cold start).
* `logins`: customers' logins with account takeover attempts of five kinds mixed in, for Account
  Takeover Insights (`datagen.logins`: the simulation; the ground truth goes to a file beside it).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fraudhawk.datagen.declare import declare
from fraudhawk.datagen.kaggle import kaggle_transactions
from fraudhawk.datagen.logins import LOGIN_VARIABLES, LoginSummary, declare_logins, logins

__all__ = [
    "CATEGORIES",
    "LOGIN_VARIABLES",
    "REGISTRATION_VARIABLES",
    "TRANSACTION_VARIABLES",
    "LoginSummary",
    "declare_logins",
    "declare_transactions",
    "kaggle_transactions",
    "logins",
    "registrations",
    "transactions",
]
CATEGORIES = ("grocery_pos", "gas_transport", "shopping_net", "shopping_pos", "food_dining", "misc_net", "travel")
_CATEGORY_MEAN = np.array([60.0, 55.0, 80.0, 70.0, 40.0, 60.0, 120.0])
_FRAUD_CATEGORY_MEAN = np.array([300.0, 12.0, 900.0, 800.0, 120.0, 800.0, 15.0])
_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Mobile Safari/537.36",
)
TRANSACTION_VARIABLES = {
    "amt": ("FLOAT", "PRICE"),
    "category": ("STRING", "PRODUCT_CATEGORY"),
    "merchant": ("STRING", "CATEGORICAL"),
    "card_bin": ("INTEGER", "CARD_BIN"),
    "ip_address": ("STRING", "IP_ADDRESS"),
}
REGISTRATION_VARIABLES = {
    "email_address": ("STRING", "EMAIL_ADDRESS"),
    "ip_address": ("STRING", "IP_ADDRESS"),
    "phone_number": ("STRING", "PHONE_NUMBER"),
    "user_agent": ("STRING", "USERAGENT"),
    "billing_state": ("STRING", "BILLING_STATE"),
}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def transactions(
    path: Path, cards: int = 200, days: int = 120, seed: int = 0, start: str = "2024-01-01", fraud_share: float = 0.15
) -> int:
    """Write card transactions to `path`; returns the number of events."""
    rng = np.random.default_rng(seed)
    begin = int(datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp() * 1000)
    day_ms = 86_400_000
    merchants = [f"merchant_{i:03d}" for i in range(150)]
    rows: list[list[str]] = []
    for card in range(cards):
        card_id = f"card_{card:05d}"
        bin_ = str(int(rng.choice([411111, 550000, 378282, 601100, 453211])))
        home_ip = f"{rng.integers(20, 200)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 254)}"
        per_day = rng.uniform(0.5, 4.0)
        scale = rng.lognormal(0.0, 0.4)
        favourites = rng.choice(len(merchants), size=12, replace=False)
        weights = rng.dirichlet(np.ones(len(CATEGORIES)))
        peak = rng.uniform(9, 20)
        compromised = rng.random() < fraud_share
        fraud_start = begin + int(rng.uniform(days * 0.1, days - 1) * day_ms) if compromised else None
        fraud_end = fraud_start + int(rng.uniform(1, 4) * day_ms) if fraud_start is not None else None
        count = rng.poisson(per_day * days)
        times = np.sort(begin + rng.uniform(0, days * day_ms, size=count)).astype(np.int64)
        for t in times:
            if fraud_start is not None and fraud_end is not None and fraud_start <= t < fraud_end:
                continue  # the owner's own activity stops while the card is in a fraudster's hands
            day_start = t - t % day_ms
            hour = float(np.clip(rng.normal(peak, 3.0), 6, 23.5))
            moment = int(day_start + hour * 3_600_000)
            c = int(rng.choice(len(CATEGORIES), p=weights))
            amount = max(1.0, rng.lognormal(np.log(_CATEGORY_MEAN[c] * scale), 0.5))
            merchant = merchants[int(rng.choice(favourites))] if rng.random() < 0.8 else merchants[rng.integers(150)]
            rows.append(_txn(card_id, moment, amount, c, merchant, bin_, home_ip, "legit", rng))
        if fraud_start is not None and fraud_end is not None:
            t = fraud_start
            while t < fraud_end:
                t += int(rng.exponential(3 * 3_600_000))
                night = rng.random() < 0.8
                hour = rng.uniform(22, 28) % 24 if night else rng.uniform(8, 22)
                moment = int(t - t % day_ms + hour * 3_600_000)
                c = int(rng.choice([0, 2, 3, 5]))
                amount = max(1.0, rng.normal(_FRAUD_CATEGORY_MEAN[c], _FRAUD_CATEGORY_MEAN[c] * 0.3))
                ip = f"{rng.integers(20, 200)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 254)}"
                rows.append(_txn(card_id, moment, amount, c, merchants[rng.integers(150)], bin_, ip, "fraud", rng))
    rows.sort(key=lambda r: r[1])
    header = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "EVENT_LABEL", "LABEL_TIMESTAMP"]
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*header, *TRANSACTION_VARIABLES])
        for i, row in enumerate(rows):
            writer.writerow([f"t{i:08d}", _iso(int(row[1])), *row[2:]])
    return len(rows)


def _txn(
    card: str,
    ms: int,
    amount: float,
    category: int,
    merchant: str,
    bin_: str,
    ip: str,
    label: str,
    rng: np.random.Generator,
) -> list[str]:
    del rng
    return [
        "",
        str(ms),
        card,
        "card",
        label,
        _iso(ms),
        f"{amount:.2f}",
        CATEGORIES[category],
        merchant,
        bin_,
        ip,
    ]


def registrations(
    path: Path, events: int = 3000, seed: int = 0, unlabeled_share: float = 0.0, fraud_rate: float = 0.08
) -> int:
    """Write account registrations (no entity history needed: OFI's kind of data) to `path`."""
    rng = np.random.default_rng(seed)
    begin = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    free = ("gmail.com", "yahoo.com", "outlook.com")
    work = ("acme.com", "example.org", "contoso.com", "globex.net")
    throwaway = ("mailinator.com", "guerrillamail.com", "10minutemail.com")
    first = ("john", "mary", "alex", "sam", "lee", "kim", "pat", "chris")
    last = ("smith", "jones", "brown", "taylor", "wilson", "davis")
    states = ("CA", "NY", "TX", "WA", "FL", "IL")
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["EVENT_TIMESTAMP", "EVENT_LABEL", *REGISTRATION_VARIABLES])
        for i in range(events):
            ms = begin + int(i * (180 * 86_400_000 / events) + rng.uniform(0, 60_000))
            fraud = rng.random() < fraud_rate
            # each signal is only a tendency: fraud and legit overlap on every variable
            odd_handle = rng.random() < (0.55 if fraud else 0.06)
            if odd_handle:
                handle = "".join(rng.choice(list("bcdfghjklmnpqrstvwxz0123456789"), size=int(rng.integers(8, 14))))
            else:
                handle = f"{rng.choice(first)}.{rng.choice(last)}{rng.integers(0, 99) if rng.random() < 0.4 else ''}"
            pick = rng.random()
            if pick < (0.35 if fraud else 0.03):
                domain = str(rng.choice(throwaway))
            elif pick < 0.85:
                domain = str(rng.choice(free))
            else:
                domain = str(rng.choice(work))
            if rng.random() < (0.4 if fraud else 0.03):
                ip = f"185.{rng.integers(100, 110)}.{rng.integers(0, 255)}.{rng.integers(1, 254)}"
            else:
                ip = f"{rng.integers(20, 180)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 254)}"
            if rng.random() < (0.3 if fraud else 0.04):
                phone = f"+44 7{rng.integers(100, 999)} {rng.integers(100000, 999999)}"
            else:
                phone = f"+1 {rng.integers(201, 989)} {rng.integers(200, 999)} {rng.integers(1000, 9999)}"
            label = "fraud" if fraud else "legit"
            if rng.random() < unlabeled_share:
                label = ""
            writer.writerow(
                [
                    _iso(ms),
                    label,
                    f"{handle}@{domain}",
                    ip,
                    phone,
                    _AGENTS[int(rng.integers(len(_AGENTS)))],
                    str(rng.choice(states)),
                ]
            )
    return events


def declare_transactions(client: Any, event_type: str = "txn") -> None:
    """Create what `transactions` data needs (its variables, the fraud and legit labels, the card entity
    type and an event type storing events) through any AFD client: boto3's or fraudhawk's."""
    declare(client, TRANSACTION_VARIABLES, "card", event_type)
