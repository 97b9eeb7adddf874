"""Customers logging in to their own accounts: where they live, what they log in with, when.

Each customer has a home (a residential ISP of their country, whose address DHCP renews now and then,
mostly nearby), a mobile carrier, maybe an office, a VPN and trips abroad; one or two people use the
account (a shared family account), each with their own devices. Logins follow each person's habits:
the hours of their local day, weekdays over weekends, and how often, from rarely to many times a day.
A login picks a device by where the person is, and a network by device and place; typos add a failed
attempt minutes before a success, and a device keeps its session for a few logins now and then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fraudhawk.datagen import agents
from fraudhawk.datagen.networks import Network, Network6, Pools, text, text6
from fraudhawk.datagen.places import BY_CODE, COUNTRIES, DESTINATIONS

DAY = 86_400
HOUR = 3_600
SESSION_HOURS = 6  # a session kept longer than this is not reused
NETWORK_KINDS = ("home", "mobile", "office", "hotel", "roaming", "vpn", "foreign_mobile", "hosting", "residential")
HOME, MOBILE, OFFICE, HOTEL, ROAMING, VPN, FOREIGN_MOBILE, HOSTING, RESIDENTIAL = range(len(NETWORK_KINDS))
_AT_HOME, _AT_WORK, _ABROAD = 0, 1, 2
# How likely each kind of device is picked in each place, before a person's own preferences:
# rows home, work, abroad; columns desktop, phone, tablet, work laptop.
_PLACE_DEVICE = np.array([[1.0, 1.0, 1.0, 0.3], [0.15, 0.5, 0.05, 3.0], [0.02, 3.0, 0.5, 0.6]])
_DEVICE_SALT = 0x2545F4914F6CDD1D
_VPN_COUNTRIES = ("NL", "US", "DE", "GB", "SE", "CH", "SG", "FR", "CA", "JP")


@dataclass
class Rows:
    """Columns of login events, appended in blocks; concatenated once at the end."""

    time: list[np.ndarray] = field(default_factory=list)
    user: list[np.ndarray] = field(default_factory=list)
    ip: list[np.ndarray] = field(default_factory=list)
    net: list[np.ndarray] = field(default_factory=list)
    net_kind: list[np.ndarray] = field(default_factory=list)
    agent: list[np.ndarray] = field(default_factory=list)
    fingerprint: list[np.ndarray] = field(default_factory=list)
    session: list[np.ndarray] = field(default_factory=list)
    valid: list[np.ndarray] = field(default_factory=list)
    attack: list[np.ndarray] = field(default_factory=list)

    def add(self, attack: int, **columns: np.ndarray | int | bool) -> None:
        count = len(np.asarray(columns["time"]))
        for name, value in columns.items():
            getattr(self, name).append(np.broadcast_to(np.asarray(value), (count,)).copy())
        self.attack.append(np.full(count, attack, dtype=np.int8))

    def done(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(getattr(self, name)) for name in self.__dataclass_fields__}


class World:
    """What every simulated login refers to: the time span, the networks, and the tables that turn
    user agents and networks into small integers (in the order first used: deterministic)."""

    def __init__(self, rng: np.random.Generator, pools: Pools, begin: int, days: int) -> None:
        self.rng = rng
        self.pools = pools
        self.begin = begin
        self.days = days
        self.end = begin + days * DAY
        self.agents: list[str] = []
        self._agent_ids: dict[str, int] = {}
        self.networks: list[Network] = []
        self._network_ids: dict[tuple[str, str], int] = {}
        self._anchors: dict[tuple[str, str, str], np.ndarray] = {}
        self._vpn_exits: dict[tuple[str, str], np.ndarray] = {}
        self.rows = Rows()
        self.v6: list[str] = []  # IPv6 addresses: rows hold -1 - their index here
        self.home_countries = [c for c in COUNTRIES if c.users > 0 and len(pools.isps.get(c.code, ())) >= 2]
        self.vpns = [n for n in pools.hosting if n.country in _VPN_COUNTRIES]

    def agent_id(self, text: str) -> int:
        found = self._agent_ids.get(text)
        if found is None:
            found = self._agent_ids[text] = len(self.agents)
            self.agents.append(text)
        return found

    def network_id(self, network: Network) -> int:
        key = (network.country, network.name)
        found = self._network_ids.get(key)
        if found is None:
            found = self._network_ids[key] = len(self.networks)
            self.networks.append(network)
        return found

    def v6_ids(self, uppers: list[int], lowers: list[int] | None = None) -> np.ndarray:
        """Row values for IPv6 addresses in the given /64s, with the given interface ids (random
        ones by default)."""
        if lowers is None:
            lowers = self.rng.integers(0, np.iinfo(np.int64).max, size=len(uppers)).tolist()
        first = len(self.v6)
        self.v6.extend(text6(upper, lower) for upper, lower in zip(uppers, lowers, strict=True))
        return -1 - np.arange(first, first + len(uppers), dtype=np.int64)

    def address_text(self, ips: np.ndarray) -> list[str]:
        found = text(np.maximum(ips, 0))
        for index in np.flatnonzero(ips < 0).tolist():
            found[index] = self.v6[-1 - int(ips[index])]
        return found

    def ids(self, count: int) -> np.ndarray:
        """Random 63-bit identifiers (sessions, fingerprints)."""
        return self.rng.integers(0, np.iinfo(np.int64).max, size=count, dtype=np.int64)

    def pick(self, networks: tuple[Network, ...] | list[Network], power: float = 0.8) -> Network:
        """A network, bigger ones likelier (softened: small ISPs have customers too)."""
        weights = np.array([n.hits for n in networks], dtype=float) ** power
        return networks[int(self.rng.choice(len(networks), p=weights / weights.sum()))]

    def anchors(self, country: str, city: str, isp: Network) -> np.ndarray:
        """The few /16s an ISP serves a city from: neighbours share them."""
        key = (country, city, isp.name)
        found = self._anchors.get(key)
        if found is None:
            found = self._anchors[key] = isp.addresses(self.rng, 3)
        return found

    def vpn_exits(self, provider: Network) -> np.ndarray:
        """A VPN provider's exit addresses, shared by all its simulated customers."""
        key = (provider.country, provider.name)
        found = self._vpn_exits.get(key)
        if found is None:
            found = self._vpn_exits[key] = provider.addresses(self.rng, 24)
        return found


@dataclass
class Home:
    isp: Network
    since: np.ndarray  # times from which each address holds
    addresses: np.ndarray
    subnet6: int | None  # upper 64 bits of the home's IPv6 /64, for dual-stack homes
    day_ids: np.ndarray  # a random interface id per day

    def at(self, times: np.ndarray) -> np.ndarray:
        return self.addresses[np.searchsorted(self.since, times, side="right") - 1]


def home(world: World, country: str, city: str) -> Home:
    rng = world.rng
    isp = world.pick(world.pools.isps[country])
    anchors = world.anchors(country, city, isp)
    address = isp.near(rng, int(anchors[rng.integers(len(anchors))]), 16)
    # mean days between address changes: some weekly, most every month or months, some never
    every = float(rng.choice([7.0, 20.0, 45.0, 120.0, np.inf], p=[0.1, 0.25, 0.25, 0.2, 0.2]))
    changes = int(rng.poisson(world.days / every)) if np.isfinite(every) else 0
    since = np.concatenate([[0], np.sort(rng.integers(world.begin, world.end, size=changes))])
    addresses = [address]
    for _ in range(changes):
        step = rng.random()
        if step < 0.5:
            address = isp.near(rng, address, 24)
        elif step < 0.85:
            address = isp.near(rng, address, 16)
        else:
            address = isp.near(rng, int(anchors[rng.integers(len(anchors))]), 16)
        addresses.append(address)
    isp6 = world.pools.v6.get((country, isp.name))
    subnet6 = isp6.subnets(rng, 1)[0] if isp6 is not None and rng.random() < 0.7 else None
    day_ids = world.ids(world.days + 1)
    return Home(isp, since.astype(np.int64), np.array(addresses, dtype=np.int64), subnet6, day_ids)


@dataclass
class Device:
    family: int
    model: int
    work: bool  # an employer's laptop: used at the office
    weight: float
    start: int
    stop: int
    delay: int  # seconds after a release until this device runs it
    lag: int
    frozen: bool  # never updates
    first_release: int
    fingerprints: np.ndarray  # by release - first_release: a new one now and then on an update

    @property
    def kind(self) -> int:
        return 3 if self.work else agents.kind_of(self.family)

    def releases(self, times: np.ndarray) -> np.ndarray:
        return agents.releases(self.family, times, self.delay, self.lag, self.start if self.frozen else None)


def device(world: World, kind: int, start: int, stop: int, work: bool = False, family: int | None = None) -> Device:
    rng = world.rng
    chosen = agents.family(rng, kind) if family is None else family
    lag = int(rng.choice([0, 0, 0, 1, 2]))
    frozen = bool(rng.random() < 0.06)
    delay = int(rng.exponential(6.0) * DAY)
    span = agents.releases(chosen, np.array([start, stop], dtype=np.int64), delay, lag, start if frozen else None)
    first, last = int(span[0]), int(span[1])
    # browsers mostly keep their fingerprint through an update; some updates change what it measures
    epochs = np.concatenate([[0], np.cumsum(rng.random(last - first) < 0.1)])
    weight = float(rng.gamma(2.0, 0.5)) * (1.0 if kind != agents.TABLET else 0.5)
    return Device(
        family=chosen,
        model=int(rng.integers(0, 40)),
        work=work,
        weight=weight,
        start=start,
        stop=stop,
        delay=delay,
        lag=lag,
        frozen=frozen,
        first_release=first,
        fingerprints=world.ids(int(epochs[-1]) + 1)[epochs],
    )


def devices(world: World, has_office: bool) -> list[Device]:
    """A person's devices over the period; one now and then replaced by a new one (a new fingerprint,
    often the same browser) or joined by another."""
    rng = world.rng
    begin, end = world.begin - 400 * DAY, world.end
    kinds = [
        k for k, share in ((agents.PHONE, 0.92), (agents.DESKTOP, 0.72), (agents.TABLET, 0.25)) if rng.random() < share
    ]
    found = [device(world, kind, begin, end) for kind in kinds or [agents.PHONE]]
    if has_office and rng.random() < 0.6:
        found.append(device(world, agents.DESKTOP, begin, end, work=True))
    for old in list(found):
        if rng.random() < world.days / 600:
            when = int(rng.integers(world.begin, world.end))
            old.stop = when
            family = old.family if rng.random() < 0.7 else None
            replacement = device(world, agents.kind_of(old.family), when, end, work=old.work, family=family)
            replacement.weight = old.weight
            found.append(replacement)
    if rng.random() < world.days / 1500:
        found.append(device(world, agents.PHONE, int(rng.integers(world.begin, world.end)), end))
    return found


@dataclass
class Trips:
    starts: np.ndarray
    stops: np.ndarray
    hotels: np.ndarray  # (trip, 2) addresses
    hotel_networks: list[Network]
    carriers: list[Network]

    def during(self, times: np.ndarray) -> np.ndarray:
        """The trip each time falls in, or -1."""
        if len(self.starts) == 0:
            return np.full(len(times), -1)
        index = np.searchsorted(self.starts, times, side="right") - 1
        inside = (index >= 0) & (times < self.stops[np.maximum(index, 0)])
        return np.where(inside, index, -1)


def trips(world: World, country: str) -> Trips:
    rng = world.rng
    rate = 0.0 if rng.random() < 0.55 else float(rng.lognormal(np.log(1 / 60), 0.7))
    count = int(rng.poisson(rate * world.days))
    starts = np.sort(rng.integers(world.begin, world.end, size=count))
    stops = starts + (1 + rng.geometric(0.2, size=count)) * DAY
    stops = np.minimum(stops, np.concatenate([starts[1:], [world.end + 30 * DAY]]))
    here = BY_CODE[country].continent
    places = [c for c in DESTINATIONS if c != country and c in world.pools.isps]
    near = [c for c in places if BY_CODE[c].continent == here]
    hotels, hotel_networks, carriers = [], [], []
    for _ in range(count):
        choices = near if near and rng.random() < 0.5 else places
        where = choices[int(rng.integers(len(choices)))]
        network = world.pick(world.pools.isps[where])
        hotels.append(network.addresses(rng, 2))
        hotel_networks.append(network)
        carriers.append(world.pick(world.pools.carriers[where]))
    return Trips(starts, stops, np.array(hotels, dtype=np.int64).reshape(count, 2), hotel_networks, carriers)


@dataclass
class Person:
    home: Home
    carrier: Network
    carrier_gateways: np.ndarray  # addresses in the /16s the carrier serves the person's city from
    carrier_locality: float  # share of mobile logins through those
    carrier6: Network6 | None  # the carrier's IPv6 blocks, when it and the phone use IPv6
    v6_share: float  # of logins over IPv6 where both ends have it (browsers prefer it, not always)
    devices: list[Device]
    office: Network | None
    office_addresses: np.ndarray
    vpn: Network | None
    vpn_share: float
    wifi_share: float  # of phone logins at home that go through the home network
    typo_rate: float
    session_reuse: float


def person(world: World, country: str, city: str, shared_home: Home | None = None) -> Person:
    rng = world.rng
    place = shared_home if shared_home is not None else home(world, country, city)
    carriers = world.pools.carriers[country]
    carrier = world.pick(carriers)
    offices = world.pools.offices.get(country, ())
    office = world.pick(offices, 0.5) if offices and rng.random() < 0.35 else None
    office_addresses = office.addresses(rng, int(rng.integers(1, 5))) if office else np.zeros(0, dtype=np.int64)
    vpn = None
    if world.vpns and rng.random() < 0.06:
        abroad = [n for n in world.vpns if n.country != country]
        vpn = world.pick(abroad if abroad and rng.random() < 0.7 else world.vpns, 0.5)
    return Person(
        home=place,
        carrier=carrier,
        carrier_gateways=world.anchors(country, city, carrier),
        carrier_locality=float(rng.uniform(0.5, 0.95)),
        carrier6=world.pools.v6.get((country, carrier.name)) if rng.random() < 0.8 else None,
        v6_share=float(rng.uniform(0.4, 0.95)),
        devices=devices(world, office is not None),
        office=office,
        office_addresses=office_addresses,
        vpn=vpn,
        vpn_share=float(rng.uniform(0.3, 1.0)),
        wifi_share=float(rng.uniform(0.3, 0.9)),
        typo_rate=float(rng.beta(1.2, 40.0)),
        session_reuse=float(rng.uniform(0.0, 0.35)) if rng.random() < 0.7 else 0.0,
    )


def login_times(world: World, count: int, offset_hours: float) -> np.ndarray:
    """`count` login times of one person: their own peak hours of their local day, weekends their way."""
    rng = world.rng
    weekday = (np.arange(world.days) + (world.begin // DAY + 3)) % 7  # 1970-01-01 was a Thursday
    day_weights = np.where(weekday >= 5, rng.uniform(0.3, 1.6), 1.0)
    days = rng.choice(world.days, size=count, p=day_weights / day_weights.sum())
    peaks = rng.uniform(6.5, 23.0, size=int(rng.integers(1, 4)))
    spread = rng.uniform(0.5, 2.5, size=len(peaks))
    which = rng.choice(len(peaks), size=count, p=rng.dirichlet(np.ones(len(peaks))))
    hours = rng.normal(peaks[which], spread[which])
    anywhen = rng.random(count) < 0.05
    hours = np.where(anywhen, rng.uniform(0, 24, size=count), hours)
    local = days * DAY + (hours * HOUR).astype(np.int64)
    times = world.begin + (local - int(offset_hours * HOUR)) % (world.days * DAY)
    return np.sort(times)


def logins(world: World, user: int, who: Person, count: int, offset_hours: float, away: Trips) -> None:
    """Add one person's own logins (and their typos) to the world's rows."""
    rng = world.rng
    times = login_times(world, count, offset_hours)
    trip = away.during(times)
    place = _places(world, who, times, offset_hours, trip)
    chosen = _devices_used(world, who, times, place)
    network_kind = _network_kinds(world, who, place, np.array([d.kind for d in who.devices])[chosen])
    address, network = _addresses(world, who, times, network_kind, trip, away, chosen)
    agent, fingerprint = _agents(world, who, times, chosen)
    session = _sessions(world, times, chosen, who.session_reuse)
    world.rows.add(
        0, time=times, user=user, ip=address, net=network, net_kind=network_kind, agent=agent,
        fingerprint=fingerprint, session=session, valid=True,
    )  # fmt: skip
    typos = np.flatnonzero(rng.random(count) < who.typo_rate)
    if len(typos):
        # one wrong password a moment before the right one, sometimes more; same device and network
        repeat = np.where(rng.random(len(typos)) < 0.8, 1, rng.integers(2, 4, size=len(typos)))
        source = np.repeat(typos, repeat)
        steps = np.concatenate([np.arange(1, r + 1) for r in repeat.tolist()])
        before = np.maximum(rng.exponential(70.0, size=len(source)).astype(np.int64), 8) * steps
        source, before = source[times[source] - before >= world.begin], before[times[source] - before >= world.begin]
        kept_session = rng.random(len(source)) < 0.5
        world.rows.add(
            0, time=times[source] - before, user=user, ip=address[source], net=network[source],
            net_kind=network_kind[source], agent=agent[source], fingerprint=fingerprint[source],
            session=np.where(kept_session, session[source], world.ids(len(source))), valid=False,
        )  # fmt: skip


def _places(world: World, who: Person, times: np.ndarray, offset_hours: float, trip: np.ndarray) -> np.ndarray:
    """Home, work (office hours of weekdays, mostly) or abroad (on a trip), for each login."""
    local = times + int(offset_hours * HOUR)
    hour, weekday = (local % DAY) / HOUR, (local // DAY + 3) % 7  # 1970-01-01 was a Thursday
    place = np.full(len(times), _AT_HOME)
    if who.office is not None:
        at_work = (weekday < 5) & (hour >= 8) & (hour < 18) & (world.rng.random(len(times)) < 0.8)
        place[at_work] = _AT_WORK
    place[trip >= 0] = _ABROAD
    return place


def _devices_used(world: World, who: Person, times: np.ndarray, place: np.ndarray) -> np.ndarray:
    """Which of the person's devices each login comes from: one they have at the time, by where
    they are and which devices they like to use."""
    kinds = np.array([d.kind for d in who.devices])
    weights = np.array([d.weight for d in who.devices])
    starts = np.array([d.start for d in who.devices])
    stops = np.array([d.stop for d in who.devices])
    active = (times[:, None] >= starts) & (times[:, None] < stops)
    score = _PLACE_DEVICE[place][:, kinds] * weights * active
    none = score.sum(axis=1) == 0
    score[none] += active[none] + 1e-9
    cumulative = np.cumsum(score / score.sum(axis=1, keepdims=True), axis=1)
    chosen: np.ndarray = np.minimum((cumulative < world.rng.random(len(times))[:, None]).sum(axis=1), len(kinds) - 1)
    return chosen


def _network_kinds(world: World, who: Person, place: np.ndarray, kind: np.ndarray) -> np.ndarray:
    network_kind = np.full(len(place), HOME)
    phone = kind == agents.PHONE
    roll = world.rng.random(len(place))
    network_kind[(place == _AT_HOME) & phone & (roll > who.wifi_share)] = MOBILE
    network_kind[place == _AT_WORK] = OFFICE
    network_kind[(place == _AT_WORK) & phone & (roll > 0.4)] = MOBILE
    network_kind[place == _ABROAD] = HOTEL
    network_kind[(place == _ABROAD) & phone & (roll > 0.5)] = ROAMING  # through the home carrier
    network_kind[(place == _ABROAD) & phone & (roll > 0.8)] = FOREIGN_MOBILE  # a local SIM
    if who.vpn is not None:
        hidden = world.rng.random(len(place)) < who.vpn_share * np.where(phone, 0.3, 1.0)
        network_kind[hidden] = VPN
    return network_kind


def _addresses(
    world: World,
    who: Person,
    times: np.ndarray,
    network_kind: np.ndarray,
    trip: np.ndarray,
    away: Trips,
    chosen: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The address of each login and the network (id) it was drawn from."""
    address = np.zeros(len(times), dtype=np.int64)
    network = np.zeros(len(times), dtype=np.int64)
    at_home = network_kind == HOME
    address[at_home] = who.home.at(times[at_home])
    network[at_home] = world.network_id(who.home.isp)
    mobile = (network_kind == MOBILE) | (network_kind == ROAMING)
    if mobile.any():
        # a carrier's gateways near the person's city give out most of their addresses; elsewhere
        # in the country (or roaming) any of its gateways might
        count = int(mobile.sum())
        local = who.carrier_gateways[world.rng.integers(len(who.carrier_gateways), size=count)]
        anywhere = who.carrier.addresses(world.rng, count)
        nearby = world.rng.random(count) < who.carrier_locality
        address[mobile] = who.carrier.around(world.rng, np.where(nearby, local, anywhere), 16)
        network[mobile] = world.network_id(who.carrier)
    if who.office is not None:
        _fill(world, address, network, network_kind == OFFICE, who.office, who.office_addresses)
    if who.vpn is not None:
        _fill(world, address, network, network_kind == VPN, who.vpn, world.vpn_exits(who.vpn))
    for index in np.unique(trip[trip >= 0]).tolist():
        staying = trip == index
        hotel = away.hotel_networks[index]
        _fill(world, address, network, staying & (network_kind == HOTEL), hotel, away.hotels[index])
        _fill(world, address, network, staying & (network_kind == FOREIGN_MOBILE), away.carriers[index])
    over_v6 = world.rng.random(len(times)) < who.v6_share
    if who.home.subnet6 is not None:
        # each device of the home picks a new temporary interface id every day (privacy extensions)
        home6 = at_home & over_v6
        day = (times[home6] - world.begin) // DAY
        salt = chosen[home6].astype(np.int64) * _DEVICE_SALT  # wraps around: only needs to differ by device
        lowers = (who.home.day_ids[np.clip(day, 0, len(who.home.day_ids) - 1)] ^ salt) & np.iinfo(np.int64).max
        address[home6] = world.v6_ids([who.home.subnet6] * int(home6.sum()), lowers.tolist())
    if who.carrier6 is not None:
        mobile6 = mobile & over_v6
        address[mobile6] = world.v6_ids(who.carrier6.subnets(world.rng, int(mobile6.sum())))
    return address, network


def _agents(world: World, who: Person, times: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The user agent (id) and fingerprint of each login: its device's, at the release it ran then."""
    agent = np.zeros(len(times), dtype=np.int64)
    fingerprint = np.zeros(len(times), dtype=np.int64)
    for index, used in enumerate(who.devices):
        mask = chosen == index
        if not mask.any():
            continue
        releases = used.releases(times[mask])
        distinct, position = np.unique(releases, return_inverse=True)
        ids = np.array([world.agent_id(agents.agent(used.family, int(r), used.model)) for r in distinct.tolist()])
        agent[mask] = ids[position]
        offset = np.clip(releases - used.first_release, 0, len(used.fingerprints) - 1)
        fingerprint[mask] = used.fingerprints[offset]
    return agent, fingerprint


def _fill(
    world: World,
    address: np.ndarray,
    network: np.ndarray,
    mask: np.ndarray,
    owner: Network,
    pool: np.ndarray | None = None,
) -> None:
    """Addresses of `owner` where `mask`: from its fixed `pool` (an office, a hotel, VPN exits), else
    anywhere in it (a mobile carrier hands out a new address each time)."""
    count = int(mask.sum())
    if count == 0:
        return
    if pool is None:
        address[mask] = owner.addresses(world.rng, count)
    else:
        address[mask] = pool[world.rng.integers(len(pool), size=count)]
    network[mask] = world.network_id(owner)


def _sessions(world: World, times: np.ndarray, device: np.ndarray, reuse: float) -> np.ndarray:
    """A new session per login, except that a device sometimes carries its session on to its next
    login within a few hours."""
    order = np.lexsort((times, device))
    same_device = np.concatenate([[False], device[order][1:] == device[order][:-1]])
    recent = np.concatenate([[False], np.diff(times[order]) < SESSION_HOURS * HOUR])
    carried = same_device & recent & (world.rng.random(len(times)) < reuse)
    group = np.cumsum(~carried) - 1
    session = np.empty(len(times), dtype=np.int64)
    session[order] = world.ids(int(group[-1]) + 1)[group]
    return session
