"""Account takeover attempts, in five kinds, against the simulated customers.

* `credential_stuffing`: a bot on a few datacenter addresses tries many accounts in bursts, with a
  scripted or stale user agent and a new fingerprint each time; most credentials are wrong.
* `targeted_takeover`: phished credentials used from the attacker's own device in another country.
* `residential_proxy`: phished credentials through a residential ISP of the victim's own country (not
  the victim's), sending the victim's exact user agent; only the fingerprint and network are new.
* `session_hijack`: a stolen session id of one of the victim's recent logins, replayed from another
  network and device.
* `impossible_travel`: valid credentials from another continent minutes after the owner's own login.

Once in, an attacker often comes back over the following hours and days from the same device and
mostly the same address: so one earlier sighting must not make an attacker look familiar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fraudhawk.datagen import agents
from fraudhawk.datagen.networks import Network
from fraudhawk.datagen.people import HOME, HOSTING, HOUR, MOBILE, RESIDENTIAL, SESSION_HOURS, World
from fraudhawk.datagen.places import ATTACKERS, BY_CODE

KINDS = ("credential_stuffing", "targeted_takeover", "residential_proxy", "session_hijack", "impossible_travel")


@dataclass(frozen=True)
class Accounts:
    """The owners' own logins (columns, contiguous per user) and where each user lives."""

    rows: dict[str, np.ndarray]
    bounds: np.ndarray  # user u's rows are bounds[u]:bounds[u + 1]
    countries: list[str]

    def own(self, user: int) -> np.ndarray:
        """Indexes of the user's own successful logins, in time order."""
        found = np.arange(self.bounds[user], self.bounds[user + 1])
        found = found[self.rows["valid"][found]]
        ordered: np.ndarray = found[np.argsort(self.rows["time"][found], kind="stable")]
        return ordered

    def networks(self, user: int) -> set[int]:
        """The user's home ISPs and mobile carriers (network ids)."""
        found = slice(self.bounds[user], self.bounds[user + 1])
        kinds = self.rows["net_kind"][found]
        return {int(n) for n in np.unique(self.rows["net"][found][(kinds == HOME) | (kinds == MOBILE)])}


def generate(world: World, accounts: Accounts, total: int, mix: dict[str, float]) -> None:
    """About `total` attack events, shared between the kinds by `mix` (relative weights)."""
    weights = sum(mix.values())
    for kind in KINDS:
        budget = round(total * mix.get(kind, 0.0) / weights) if weights > 0 else 0
        made = misses = 0
        while made < budget and misses < 1000:  # a campaign finds no victim fit for it now and then
            added = _CAMPAIGNS[kind](world, accounts, KINDS.index(kind) + 1, budget - made)
            made += added
            misses += added == 0


def _stuffing(world: World, accounts: Accounts, code: int, budget: int) -> int:
    rng = world.rng
    users = len(accounts.countries)
    count = min(budget, int(rng.integers(80, 800)))
    hosts = [world.pick(world.pools.hosting, 0.5) for _ in range(int(rng.integers(1, 4)))]
    owners = [hosts[int(rng.integers(len(hosts)))] for _ in range(int(rng.integers(2, 13)))]
    ips = np.array([int(owner.addresses(rng, 1)[0]) for owner in owners], dtype=np.int64)
    nets = np.array([world.network_id(owner) for owner in owners], dtype=np.int64)
    style = rng.random()
    if style < 0.45:
        texts = [agents.SCRIPTED[int(rng.integers(len(agents.SCRIPTED)))]]
    elif style < 0.8:  # one browser string copied long ago
        texts = [agents.agent(agents.family(rng, agents.DESKTOP), -int(rng.integers(6, 24)), int(rng.integers(40)))]
    else:  # rotating through a list of browser strings
        texts = [
            agents.agent(agents.family(rng, int(rng.integers(0, 2))), -int(rng.integers(0, 6)), int(rng.integers(40)))
            for _ in range(8)
        ]
    pool = np.array([world.agent_id(text) for text in texts], dtype=np.int64)
    bursts = int(rng.integers(1, 6))
    starts = rng.integers(world.begin, world.end - 3 * HOUR, size=bursts)
    burst = rng.integers(bursts, size=count)
    sizes = np.bincount(burst, minlength=bursts)
    gap = rng.uniform(1.0, 20.0)  # seconds between attempts of a burst
    times = starts[burst] + (rng.random(count) * sizes[burst] * gap).astype(np.int64)
    which = rng.integers(len(ips), size=count)
    valid = rng.random(count) < rng.uniform(0.01, 0.05)
    agent = pool[rng.integers(len(pool), size=count)]
    fingerprint = world.ids(count)
    targets = rng.choice(users, size=count, replace=count > users)
    world.rows.add(
        code, time=times, user=targets, ip=ips[which], net=nets[which], net_kind=HOSTING, agent=agent,
        fingerprint=fingerprint, session=world.ids(count), valid=valid,
    )  # fmt: skip
    made: int = count
    for i in np.flatnonzero(valid).tolist():
        made += _return(
            world, code, int(targets[i]), int(times[i]), owners[which[i]], int(ips[which[i]]), HOSTING,
            int(agent[i]), int(fingerprint[i]),
        )  # fmt: skip
    return made


def _attacker_network(world: World, country: str, residential: float) -> tuple[Network, int]:
    rng = world.rng
    hosting = [n for n in world.pools.hosting if n.country == country]
    if rng.random() < residential or not hosting:
        return world.pick(world.pools.isps[country]), RESIDENTIAL
    return world.pick(hosting, 0.5), HOSTING


def _attacker_agent(world: World, at: int) -> int:
    """The attacker's own browser, current or nearly."""
    rng = world.rng
    family = agents.family(rng, agents.DESKTOP if rng.random() < 0.7 else agents.PHONE)
    release = int(agents.releases(family, np.array([at]), 0, 0, None)[0]) - int(rng.integers(0, 3))
    return world.agent_id(agents.agent(family, release, int(rng.integers(40))))


def _elsewhere(world: World, country: str) -> str:
    origins = [c for c in ATTACKERS if c != country and c in world.pools.isps]
    return origins[int(world.rng.integers(len(origins)))]


def _targeted(world: World, accounts: Accounts, code: int, budget: int) -> int:
    rng = world.rng
    victim = int(rng.integers(len(accounts.countries)))
    network, kind = _attacker_network(world, _elsewhere(world, accounts.countries[victim]), 0.6)
    at = int(rng.integers(world.begin + min(86_400, (world.end - world.begin) // 4), world.end - HOUR))
    ip = _address(world, network, kind, 0.3)
    agent, fingerprint = _attacker_agent(world, at), int(world.ids(1)[0])
    made = _failures(world, code, victim, at, network, [ip], kind, agent, fingerprint, 0.3)
    return made + _success(world, code, victim, at, network, ip, kind, agent, fingerprint, None)


def _residential(world: World, accounts: Accounts, code: int, budget: int) -> int:
    rng = world.rng
    victim = int(rng.integers(len(accounts.countries)))
    own = accounts.own(victim)
    times = accounts.rows["time"][own]
    if len(own) == 0 or times[0] >= world.end - 2 * HOUR:
        return 0
    at = int(rng.integers(int(times[0]) + HOUR, world.end))
    copied = int(accounts.rows["agent"][own[np.searchsorted(times, at, side="right") - 1]])
    country = accounts.countries[victim]
    theirs = accounts.networks(victim)
    others = [n for n in world.pools.isps[country] if world.network_id(n) not in theirs]
    if not others:
        return 0
    network = world.pick(others)
    ips = network.addresses(rng, 4)  # a rotating proxy changes address between attempts
    fingerprint = int(world.ids(1)[0])
    made = _failures(world, code, victim, at, network, ips[1:].tolist(), RESIDENTIAL, copied, fingerprint, 0.25)
    return made + _success(world, code, victim, at, network, int(ips[0]), RESIDENTIAL, copied, fingerprint, None)


def _hijack(world: World, accounts: Accounts, code: int, budget: int) -> int:
    rng = world.rng
    victim = int(rng.integers(len(accounts.countries)))
    own = accounts.own(victim)
    if len(own) == 0:
        return 0
    stolen = int(own[rng.integers(len(own))])
    at = int(accounts.rows["time"][stolen]) + int(rng.integers(300, 8 * HOUR))
    if at >= world.end:
        return 0
    country = accounts.countries[victim]
    roll = rng.random()
    if roll < 0.5:
        network, kind = world.pick(world.pools.hosting, 0.5), HOSTING
    elif roll < 0.75:
        network, kind = world.pick(world.pools.isps[_elsewhere(world, country)]), RESIDENTIAL
    else:
        theirs = accounts.networks(victim)
        others = [n for n in world.pools.isps[country] if world.network_id(n) not in theirs]
        network, kind = world.pick(others or list(world.pools.hosting)), RESIDENTIAL
    agent = _attacker_agent(world, at)
    while agent == int(accounts.rows["agent"][stolen]):
        agent = _attacker_agent(world, at)
    session = int(accounts.rows["session"][stolen])
    ip = _address(world, network, kind, 0.3)
    return _success(world, code, victim, at, network, ip, kind, agent, int(world.ids(1)[0]), session)


def _travel(world: World, accounts: Accounts, code: int, budget: int) -> int:
    rng = world.rng
    victim = int(rng.integers(len(accounts.countries)))
    own = accounts.own(victim)
    if len(own) == 0:
        return 0
    seen = int(own[rng.integers(len(own))])
    at = int(accounts.rows["time"][seen]) + int(rng.integers(120, HOUR))
    if at >= world.end:
        return 0
    continent = BY_CODE[accounts.countries[victim]].continent
    far = sorted(c for c in world.pools.isps if c in BY_CODE and BY_CODE[c].continent != continent)
    network, kind = _attacker_network(world, far[int(rng.integers(len(far)))], 0.7)
    agent = int(accounts.rows["agent"][seen]) if rng.random() < 0.3 else _attacker_agent(world, at)
    ip = _address(world, network, kind, 0.3)
    return _success(world, code, victim, at, network, ip, kind, agent, int(world.ids(1)[0]), None)


def _address(world: World, network: Network, kind: int, v6: float) -> int:
    """An attacker's address in `network`: over IPv6 now and then where a residential ISP offers it."""
    blocks = world.pools.v6.get((network.country, network.name))
    if kind == RESIDENTIAL and blocks is not None and world.rng.random() < v6:
        return int(world.v6_ids(blocks.subnets(world.rng, 1))[0])
    return int(network.addresses(world.rng, 1)[0])


def _like(world: World, network: Network, address: int, count: int) -> np.ndarray:
    """New addresses of `network` of the same IP version as `address` (rows hold IPv6 as negatives)."""
    blocks = world.pools.v6.get((network.country, network.name))
    if address < 0 and blocks is not None:
        return world.v6_ids(blocks.subnets(world.rng, count))
    return network.addresses(world.rng, count)


def _failures(
    world: World,
    code: int,
    victim: int,
    at: int,
    network: Network,
    ips: list[int],
    kind: int,
    agent: int,
    fingerprint: int,
    chance: float,
) -> int:
    """Wrong passwords tried shortly before the right one, now and then."""
    rng = world.rng
    if rng.random() >= chance:
        return 0
    count = int(rng.integers(1, 4))
    times = at - np.cumsum(rng.exponential(90.0, size=count).astype(np.int64) + 5)
    addresses = np.array(ips, dtype=np.int64)[rng.integers(len(ips), size=count)]
    world.rows.add(
        code, time=times, user=victim, ip=addresses, net=world.network_id(network), net_kind=kind, agent=agent,
        fingerprint=fingerprint, session=world.ids(count), valid=False,
    )  # fmt: skip
    return count


def _success(
    world: World,
    code: int,
    victim: int,
    at: int,
    network: Network,
    ip: int,
    kind: int,
    agent: int,
    fingerprint: int,
    session: int | None,
) -> int:
    world.rows.add(
        code, time=np.array([at]), user=victim, ip=ip, net=world.network_id(network), net_kind=kind, agent=agent,
        fingerprint=fingerprint, session=int(world.ids(1)[0]) if session is None else session, valid=True,
    )  # fmt: skip
    return 1 + _return(world, code, victim, at, network, ip, kind, agent, fingerprint, session)


def _return(
    world: World,
    code: int,
    victim: int,
    at: int,
    network: Network,
    ip: int,
    kind: int,
    agent: int,
    fingerprint: int,
    session: int | None = None,
) -> int:
    """The attacker's later visits: same device, mostly the same address; a hijacked session is
    replayed while it lasts."""
    rng = world.rng
    if rng.random() >= 0.6:
        return 0
    count = min(1 + int(rng.geometric(0.45)), 6)
    times = at + np.cumsum(rng.exponential(8 * HOUR, size=count).astype(np.int64) + 60)
    times = times[times < world.end]
    count = len(times)
    if count == 0:
        return 0
    same = rng.random(count) < 0.75
    ips = np.where(same, ip, _like(world, network, ip, count))
    sessions = world.ids(count)
    if session is not None:
        sessions = np.where((times - at < SESSION_HOURS * HOUR) & (rng.random(count) < 0.7), session, sessions)
    world.rows.add(
        code, time=times, user=victim, ip=ips, net=world.network_id(network), net_kind=kind, agent=agent,
        fingerprint=fingerprint, session=sessions, valid=True,
    )  # fmt: skip
    return count


_CAMPAIGNS: dict[str, Callable[[World, Accounts, int, int], int]] = {
    "credential_stuffing": _stuffing,
    "targeted_takeover": _targeted,
    "residential_proxy": _residential,
    "session_hijack": _hijack,
    "impossible_travel": _travel,
}
