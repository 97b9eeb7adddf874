"""Real public IPv4 networks, grouped by country and owner, for simulated logins.

A simulated address is only useful if enrichment places it where the simulation meant it to be, so
the networks come from the same offline database that enrichment reads (`enrich.geo`): a fixed-seed
sample of random public addresses is looked up once, and each hit contributes the block around it
that the database gives one country and one owner (the narrower of its country range and its ASN
range), so any address inside the block resolves the same way. Owners are sorted into hosting
providers (by name), residential and mobile ISPs (each country's largest remaining networks) and
other networks (businesses, universities: offices). Sampling uniformly over the address space weights
each owner by its address space, which is roughly how many people sit behind it.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass

import numpy as np

from fraudhawk.features.enrich.geo import country_and_network, country_network_and_block

SAMPLES = 250_000
V6_SAMPLES = 120_000
# The first 16 bits of IPv6 space the registries hand out: the /12s of APNIC, ARIN, LACNIC, RIPE and
# AFRINIC, and 2001::/16 and 2003::/16 (early allocations, Deutsche Telekom). Elsewhere a random
# address is almost never allocated.
_V6_REGIONS = (0x2400, 0x2600, 0x2800, 0x2A00, 0x2C00)
_V6_SIXTEENS = (0x2001, 0x2003)
_SEED = 20240101  # fixed: the pools are the same whatever seed a simulation runs with
_FIRST, _LAST = 1 << 24, 224 << 24  # 1.0.0.0 up to the multicast range
HOSTING = re.compile(
    r"amazon|\baws\b|google(?!-fiber)|microsoft|azure|digitalocean|digital ocean|\bovh|hetzner|linode|akamai|"
    r"vultr|choopa|"
    r"constant|alibaba|aliyun|tencent|m247|leaseweb|contabo|oracle|cloudflare|fastly|hostinger|hosting|datacenter|"
    r"data center|datacamp|cdn77|scaleway|ionos|godaddy|rackspace|softlayer|colocrossing|psychz|quadranet|"
    r"hostwinds|server|cloud|\bvps|dedicated|selectel|timeweb|g-core|gcore|zenlayer|huawei|baidu|upcloud",
    re.IGNORECASE,
)
# Large networks that no household connects through: governments, armies, universities, banks,
# companies holding legacy blocks and transit backbones. Offices, not homes.
_NOT_RESIDENTIAL = re.compile(
    r"dnic|\bdod\b|department|defen[cs]e|army|navy|air force|universi|college|school|educa|research|institut|"
    r"academ|\bgov|government|ministr|bank|apple|mercedes|\bibm\b|hewlett|\bford\b|boeing|merck|prudential|postal|"
    r"usps|xerox|halliburton|iana|cogent|level3|level 3|uunet|zayo|\bgtt\b|hurricane|\bucsd\b|backbone|"
    r"\bnic\b|network information|interoute|telia carrier|\bntt america|tata communications|verisign|"
    r"\bjanet\b|\bdfn\b|renater|\bgarr\b|rediris|\bsurf|\baarnet|\bcanarie|\brnp\b|jisc|verein zur|province|"
    r"scientific|publica|ministe|\bswitch\b|ensino|tenet|samsungsds|\bpost\b|migros",
    re.IGNORECASE,
)
_MOBILE = re.compile(
    r"mobile|wireless|cellco|cellular|vodafone|telefonica|movistar|claro|\btim\b|\bvivo\b|orange|\bsfr\b|bouygues|"
    r"\bo2\b|\bee\b|hutchison|\bthree\b|airtel|jio|reliance|telstra|optus|rogers|telus|softbank|kddi|docomo|"
    r"movil|celular|\bcell\b|cell-c|sk telecom|tele2|telenor|swisscom|turkcell|vodacom|\bmtn\b|telcel|\bwind\b|"
    r"\bplay\b|polkomtel|\bp4\b",
    re.IGNORECASE,
)
ISPS_PER_COUNTRY = 8  # the largest residential networks of a country people are spread over
_MIN_HITS = 3  # fewer sampled hits than this: too little address space known to build on


@dataclass(frozen=True)
class Network:
    """One owner's known blocks in one country: any address inside a block resolves to both."""

    country: str
    name: str
    starts: np.ndarray  # int64 first address of each block, ascending
    sizes: np.ndarray  # int64 addresses in each block
    hits: int  # sampled addresses that fell in it: its share of the address space

    def addresses(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """`count` addresses spread over the blocks by their size (a bigger block, more users)."""
        ends = np.cumsum(self.sizes)
        offsets = rng.integers(0, int(ends[-1]), size=count)
        block = np.searchsorted(ends, offsets, side="right")
        addresses = self.starts[block] + offsets - (ends[block] - self.sizes[block])
        return _no_edge_octet(addresses, self.starts[block], self.sizes[block])

    def near(self, rng: np.random.Generator, address: int, mask: int) -> int:
        """Another address of the block holding `address`, inside its /mask when the block is wider
        (a DHCP lease renewed on the same street cabinet)."""
        return int(self.around(rng, np.array([address], dtype=np.int64), mask)[0])

    def around(self, rng: np.random.Generator, addresses: np.ndarray, mask: int) -> np.ndarray:
        """For each of `addresses` (of this network), another one of its block and /mask."""
        block = np.searchsorted(self.starts, addresses, side="right") - 1
        starts, sizes = self.starts[block], self.sizes[block]
        span = 1 << (32 - mask)
        low = np.maximum(starts, addresses & ~(span - 1))
        high = np.minimum(starts + sizes, low + span)
        chosen = low + (rng.random(len(addresses)) * (high - low)).astype(np.int64)
        return _no_edge_octet(chosen, starts, sizes)


def _no_edge_octet(addresses: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Hosts rarely end in .0 or .255; moved inside the /24 where the block covers all of it."""
    last = addresses & 255
    whole = (sizes >= 256) & ((last == 0) | (last == 255))
    fixed = (addresses & ~255) | np.clip(last, 1, 254)
    return np.where(whole, fixed, addresses).astype(np.int64)


@dataclass(frozen=True)
class Network6:
    """An owner's known IPv6 blocks in one country, counted in /64 subnets (what one home or one
    phone's connection gets): `starts` are the upper 64 bits of each block's first address."""

    country: str
    name: str
    starts: tuple[int, ...]
    sizes: tuple[int, ...]

    def subnets(self, rng: np.random.Generator, count: int) -> list[int]:
        """Upper 64 bits of `count` /64s spread over the blocks by their size."""
        weights = np.array(self.sizes, dtype=float)
        blocks = rng.choice(len(self.sizes), size=count, p=weights / weights.sum()).tolist()
        fractions = rng.random(count).tolist()
        return [self.starts[b] + int(f * self.sizes[b]) for b, f in zip(blocks, fractions, strict=True)]


def text6(upper: int, lower: int) -> str:
    return str(ipaddress.IPv6Address((upper << 64) | lower))


@dataclass(frozen=True)
class Pools:
    isps: dict[str, tuple[Network, ...]]  # country -> residential ISPs, largest first
    carriers: dict[str, tuple[Network, ...]]  # country -> mobile carriers (ISPs when none is named so)
    offices: dict[str, tuple[Network, ...]]  # country -> every other non-hosting network
    hosting: tuple[Network, ...]  # datacenters and clouds of every country
    by_name: dict[tuple[str, str], Network]
    v6: dict[tuple[str, str], Network6]  # (country, name) -> the same owner's IPv6 blocks, where known


_built: dict[int, Pools] = {}
_lock = threading.Lock()


def pools() -> Pools:
    """The networks, built on first use (about 1.5 seconds) and kept for the process."""
    found = _built.get(SAMPLES)
    if found is None:
        with _lock:
            found = _built.get(SAMPLES)
            if found is None:
                found = _built[SAMPLES] = _build()
    return found


def text(addresses: np.ndarray) -> list[str]:
    return [f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}" for a in addresses.tolist()]


def _build() -> Pools:
    rng = np.random.default_rng(_SEED)
    sample = np.unique(rng.integers(_FIRST, _LAST, size=SAMPLES, dtype=np.int64))
    blocks: dict[tuple[str, str], dict[int, int]] = {}
    hits: dict[tuple[str, str], int] = {}
    for address, dotted in zip(sample.tolist(), text(sample), strict=True):
        country, name, block = country_network_and_block(dotted, 4)
        if country is None or name is None or block is None:
            continue
        prefix = int(block.rsplit("/", 1)[1])
        if prefix < 8:
            continue
        size = 1 << (32 - prefix)
        key = (country, name)
        blocks.setdefault(key, {})[address & ~(size - 1)] = size
        hits[key] = hits.get(key, 0) + 1
    networks = []
    for key in sorted(blocks):
        if hits[key] < _MIN_HITS:
            continue
        starts = np.array(sorted(blocks[key]), dtype=np.int64)
        sizes = np.array([blocks[key][int(s)] for s in starts], dtype=np.int64)
        networks.append(Network(key[0], key[1], starts, sizes, hits[key]))
    return _classify(networks, _build6())


def _build6() -> dict[tuple[str, str], Network6]:
    rng = np.random.default_rng(_SEED + 6)
    regions = np.array(_V6_REGIONS)[rng.integers(len(_V6_REGIONS), size=V6_SAMPLES)] + rng.integers(16, size=V6_SAMPLES)
    sixteens = np.array(_V6_SIXTEENS)[rng.integers(len(_V6_SIXTEENS), size=V6_SAMPLES)]
    first = np.where(rng.random(V6_SAMPLES) < 0.8, regions, sixteens)
    rest = rng.integers(0, 1 << 48, size=V6_SAMPLES)
    uppers = sorted({(f << 48) | r for f, r in zip(first.tolist(), rest.tolist(), strict=True)})
    blocks: dict[tuple[str, str], dict[int, int]] = {}
    for upper in uppers:
        country, name, block = country_network_and_block(text6(upper, 0), 6)
        if country is None or name is None or block is None or not 16 <= int(block.rsplit("/", 1)[1]) <= 64:
            continue
        size = 1 << (64 - int(block.rsplit("/", 1)[1]))
        blocks.setdefault((country, name), {})[upper & ~(size - 1)] = size
    return {
        key: Network6(key[0], key[1], tuple(sorted(found)), tuple(found[s] for s in sorted(found)))
        for key, found in sorted(blocks.items())
    }


def _classify(networks: list[Network], v6: dict[tuple[str, str], Network6]) -> Pools:
    by_size = sorted(networks, key=lambda n: (-n.hits, n.country, n.name))
    hosting = tuple(n for n in by_size if HOSTING.search(n.name))
    isps: dict[str, list[Network]] = {}
    offices: dict[str, list[Network]] = {}
    for network in by_size:
        if HOSTING.search(network.name):
            continue
        homes = isps.setdefault(network.country, [])
        if not _NOT_RESIDENTIAL.search(network.name) and len(homes) < ISPS_PER_COUNTRY:
            homes.append(network)
        else:
            offices.setdefault(network.country, []).append(network)
    carriers = {
        country: tuple(n for n in found if _MOBILE.search(n.name)) or tuple(found[:3])
        for country, found in isps.items()
    }
    return Pools(
        isps={c: tuple(found) for c, found in isps.items() if found},
        carriers={c: found for c, found in carriers.items() if found},
        offices={c: tuple(found) for c, found in offices.items()},
        hosting=hosting,
        by_name={(n.country, n.name): n for n in networks},
        v6=v6,
    )


def resolve(address: str) -> tuple[str | None, str | None]:
    """Where enrichment places an address (what the simulation's choices are checked against)."""
    return country_and_network(address, 6 if ":" in address else 4)
