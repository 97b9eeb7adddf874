"""Simulated logins for Account Takeover Insights: customers' own logins with account takeover
attempts mixed in, written as an AFD CSV plus a ground-truth file beside it.

The CSV is what a model may see: only a labelled subset of the successful takeovers carries the
`fraud` label (labels are optional in AFD's ATI data); every other row has no label. The truth file
(`<path>.truth.csv`) gives for every row its attack kind (empty for the owners' own logins), the
country and network its address was drawn from, the kind of that network (home, mobile, office,
hotel, roaming, vpn, foreign_mobile, hosting, residential) and the account owner's home country: for
benchmarks and tests; a model never reads it.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fraudhawk.datagen import networks, people
from fraudhawk.datagen.attacks import KINDS, Accounts, generate
from fraudhawk.datagen.declare import declare
from fraudhawk.datagen.people import DAY, NETWORK_KINDS, Rows, World

LOGIN_VARIABLES = {
    "ip_address": ("STRING", "IP_ADDRESS"),
    "user_agent": ("STRING", "USERAGENT"),
    "fingerprint": ("STRING", "FINGERPRINT"),
    "session_id": ("STRING", "SESSION_ID"),
    "credentials_valid": ("BOOLEAN", "ARE_CREDENTIALS_VALID"),
}
# Logins per customer per day: lognormal, so most log in every few days and a few many times a day
# (about 1.6 a day on average, typos included: 10,000 customers over 60 days make about a million).
_RATE_MU, _RATE_SIGMA, _RATE_CAP = -0.16, 1.1, 40.0
_FAMILY_SHARE = 0.06  # accounts two people log in to


@dataclass(frozen=True)
class LoginSummary:
    """What a run wrote: counts for a benchmark's report, and where the ground truth is."""

    events: int
    users: int
    attacks: dict[str, int]  # attack events (attempts and successes) by kind
    attacked_accounts: int  # accounts with at least one successful takeover login
    labelled: int  # rows labelled fraud
    truth: Path


def logins(
    path: Path,
    users: int = 2000,
    days: int = 60,
    seed: int = 0,
    start: str = "2024-01-01",
    attack_share: float = 0.01,
    attacks: Mapping[str, float] | None = None,
    labelled_share: float = 0.5,
    fingerprint: bool = True,
    session: bool = True,
) -> LoginSummary:
    """Write `users` customers' logins over `days` days from `start` to `path` (AFD CSV layout) and
    the ground truth to `<path>.truth.csv`; `attack_share` of the events are takeover attempts, shared
    between the kinds of `attacks` (kind -> relative weight; default all alike)."""
    mix = dict.fromkeys(KINDS, 1.0) if attacks is None else dict(attacks)
    unknown = sorted(set(mix) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown attack kinds {unknown}; known: {', '.join(KINDS)}")
    if users < 1 or days < 1 or not 0 <= attack_share < 1 or not 0 <= labelled_share <= 1:
        raise ValueError("need users >= 1, days >= 1, 0 <= attack_share < 1 and 0 <= labelled_share <= 1")
    rng = np.random.default_rng(seed)
    begin = int(datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp())
    world = World(rng, networks.pools(), begin, days)
    countries = _customers(world, users)
    own = world.rows.done()
    accounts = Accounts(own, np.searchsorted(own["user"], np.arange(users + 1)), countries)
    world.rows = Rows()
    total = round(attack_share * len(own["time"]) / (1 - attack_share))
    generate(world, accounts, total, mix)
    rows = own if not world.rows.time else _joined(own, world.rows.done())
    order = np.argsort(rows["time"], kind="stable")
    rows = {name: column[order] for name, column in rows.items()}

    attack = rows["attack"]
    taken = (attack > 0) & rows["valid"]
    attacked = np.unique(rows["user"][taken])
    informed = attacked[rng.random(len(attacked)) < labelled_share]
    labelled = taken & np.isin(rows["user"], informed)
    label_time = rows["time"] + rng.integers(DAY, 7 * DAY, size=len(attack))

    truth = path.with_name(path.name + ".truth.csv")
    _write(path, world, rows, labelled, label_time, fingerprint, session)
    _write_truth(truth, world, rows, countries)
    counts = np.bincount(attack, minlength=len(KINDS) + 1)
    return LoginSummary(
        events=len(attack),
        users=users,
        attacks={kind: int(counts[i + 1]) for i, kind in enumerate(KINDS) if counts[i + 1]},
        attacked_accounts=len(attacked),
        labelled=int(labelled.sum()),
        truth=truth,
    )


def declare_logins(client: Any, event_type: str = "login") -> None:
    """Create what `logins` data needs (its variables, the fraud and legit labels, the customer entity
    type and an event type storing events) through any AFD client: boto3's or fraudhawk's."""
    declare(client, LOGIN_VARIABLES, "customer", event_type)


def _customers(world: World, users: int) -> list[str]:
    """Every customer's own logins into the world's rows; returns each customer's home country."""
    rng = world.rng
    homes = world.home_countries
    shares = np.array([c.users for c in homes])
    where = rng.choice(len(homes), size=users, p=shares / shares.sum())
    rates = np.minimum(rng.lognormal(_RATE_MU, _RATE_SIGMA, size=users), _RATE_CAP)
    counts = np.maximum(2, rng.poisson(rates * world.days))
    countries = []
    for user in range(users):
        country = homes[int(where[user])]
        city, offset = country.cities[int(rng.integers(len(country.cities)))]
        countries.append(country.code)
        owner = people.person(world, country.code, city)
        count = int(counts[user])
        if count >= 4 and rng.random() < _FAMILY_SHARE:
            theirs = int(np.clip(rng.binomial(count, rng.uniform(0.2, 0.5)), 1, count - 1))
            # mostly under one roof; sometimes elsewhere (a partner working away, a student)
            shared = owner.home if rng.random() < 0.7 else None
            other_city = city if shared else country.cities[int(rng.integers(len(country.cities)))][0]
            other = people.person(world, country.code, other_city, shared)
            people.logins(world, user, other, theirs, offset, people.trips(world, country.code))
            count -= theirs
        people.logins(world, user, owner, count, offset, people.trips(world, country.code))
    return countries


def _joined(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([first[name], second[name]]) for name in first}


def _iso(seconds: np.ndarray) -> list[str]:
    text: list[str] = np.char.add(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"), "Z").tolist()
    return text


def _hex(values: np.ndarray) -> list[str]:
    return [f"{value:016x}" for value in values.tolist()]


def _write(
    path: Path,
    world: World,
    rows: dict[str, np.ndarray],
    labelled: np.ndarray,
    label_time: np.ndarray,
    fingerprint: bool,
    session: bool,
) -> None:
    header = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "ip_address", "user_agent"]
    header += ["fingerprint"] * fingerprint + ["session_id"] * session
    header += ["credentials_valid", "EVENT_LABEL", "LABEL_TIMESTAMP"]
    names = [f"customer_{u:06d}" for u in range(int(rows["user"].max()) + 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for part in _parts(len(labelled)):
            columns: list[list[str]] = [
                _event_ids(part),
                _iso(rows["time"][part]),
                [names[u] for u in rows["user"][part].tolist()],
                ["customer"] * (part.stop - part.start),
                world.address_text(rows["ip"][part]),
                [world.agents[a] for a in rows["agent"][part].tolist()],
            ]
            if fingerprint:
                columns.append(_hex(rows["fingerprint"][part]))
            if session:
                columns.append(_hex(rows["session"][part]))
            flagged = labelled[part]
            stamps = np.full(len(flagged), "", dtype=object)
            stamps[flagged] = _iso(label_time[part][flagged])
            columns += [
                np.where(rows["valid"][part], "true", "false").tolist(),
                np.where(flagged, "fraud", "").tolist(),
                stamps.tolist(),
            ]
            writer.writerows(zip(*columns, strict=True))


def _write_truth(path: Path, world: World, rows: dict[str, np.ndarray], countries: list[str]) -> None:
    kinds = ["", *KINDS]
    places = [(n.country, n.name) for n in world.networks]
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["EVENT_ID", "attack", "ip_country", "ip_network", "network", "home_country"])
        for part in _parts(len(rows["attack"])):
            writer.writerows(
                (event_id, kinds[attack], *places[net], NETWORK_KINDS[kind], countries[user])
                for event_id, attack, net, kind, user in zip(
                    _event_ids(part),
                    rows["attack"][part].tolist(),
                    rows["net"][part].tolist(),
                    rows["net_kind"][part].tolist(),
                    rows["user"][part].tolist(),
                    strict=True,
                )
            )


def _parts(count: int, size: int = 100_000) -> list[slice]:
    """Rows are written a part at a time: a million rows' strings at once would take gigabytes."""
    return [slice(first, min(first + size, count)) for first in range(0, count, size)]


def _event_ids(part: slice) -> list[str]:
    return [f"login_{i:08d}" for i in range(part.start, part.stop)]
