"""A second, independent generator of login events, for judging Account Takeover Insights on
traffic it was not built for.

    .venv/bin/python bench/logins_other.py --users 10000 --days 135 --seed 7 --out /tmp/logins.csv

(10,000 users over 135 days make about a million rows; users average 0.75 logins a day.) Benchmarks
import `generate` and declare the five variables from `VARIABLES`: the column names on purpose do not
say what they hold, so the model must find them by variable type.

Writes an AFD events CSV (EVENT_ID, EVENT_TIMESTAMP, ENTITY_ID, ENTITY_TYPE, ip, useragent, fp,
session_id, are_credentials_valid, EVENT_LABEL, LABEL_TIMESTAMP) in time order, and beside it
`<out>.truth.csv` (EVENT_ID, attack_kind, context): the attack behind each row, empty for the owner's
own logins, and how the row came about (home, mobile, work, travel, vpn, shared, typo, forgot, attack).

Written from the structure of public login data (Wiefling et al.'s risk-based-authentication data:
IP, country, ASN, user agent, device, success, attack IP, takeover; Freeman et al., NDSS 2016), not
from fraudhawk's own simulator, so the two cannot share blind spots. Addresses are real public ones,
drawn at random and kept only where fraudhawk's offline database places them, so the model sees the
countries and networks it would see in production.

The traffic: a service with a home market (chosen by the seed) and a worldwide tail. Users have
heavy-tailed activity, a home ISP whose address lease expires now and then (IPv6 households keep a
prefix and rotate privacy addresses daily), a phone and often a computer and a tablet; some are
mobile-first behind carrier NAT, work on a corporate network on weekdays, travel (roaming, hotel
wifi, local SIM), use a privacy VPN, share the account with someone elsewhere, replace a phone, or
mistype passwords. Browsers update themselves on each vendor's release cadence, a few lagging.

Attacks (about `attack_share` of rows):
  stuffing      residential botnet across many countries (some datacenter), a handful of accounts
                per address, stale common browser user agents, mostly invalid credentials;
  phished       valid credentials from a mobile carrier in a neighbouring country, one browser, a
                few logins over days;
  insider       family (the victim's own home address) or colleague (their office, or their ISP),
                a device of their own;
  aitm_session  adversary in the middle: the victim's credentials and session id replayed from a
                hosting provider minutes after the victim's own login, often with the victim's
                user agent relayed;
  travel_jump   valid credentials from a country far away, within an hour of the owner's login.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudhawk.features.enrich.geo import country_and_network

Arr = npt.NDArray[Any]

HEADER = [
    "EVENT_ID",
    "EVENT_TIMESTAMP",
    "ENTITY_ID",
    "ENTITY_TYPE",
    "ip",
    "useragent",
    "fp",
    "session_id",
    "are_credentials_valid",
    "EVENT_LABEL",
    "LABEL_TIMESTAMP",
]
VARIABLES: dict[str, tuple[str, str]] = {
    "ip": ("STRING", "IP_ADDRESS"),
    "useragent": ("STRING", "USERAGENT"),
    "fp": ("STRING", "FINGERPRINT"),
    "session_id": ("STRING", "SESSION_ID"),
    "are_credentials_valid": ("BOOLEAN", "ARE_CREDENTIALS_VALID"),
}
KINDS = ["stuffing", "phished", "insider", "aitm_session", "travel_jump"]
# Share of attack attempts per kind: stuffing is mostly failures, so it takes the largest share of rows.
KIND_SHARE = np.array([0.50, 0.15, 0.08, 0.12, 0.15])
CONTEXTS = ["home", "mobile", "work", "travel", "vpn", "shared", "typo", "forgot", "attack"]
HOME, MOBILE, WORK, TRAVEL, VPN, SHARED, TYPO, FORGOT, ATTACK = range(9)

# The data ends on a fixed day in the past, so every timestamp is history whatever `days` is.
END = datetime(2026, 11, 30, tzinfo=UTC)
DAY = 86_400

# code: latitude, longitude, UTC offset (hours), internet users (millions, rough), neighbours
COUNTRIES: dict[str, tuple[float, float, float, float, str]] = {
    "US": (39.0, -98.0, -6.0, 300, "CA MX"),
    "CA": (50.0, -90.0, -5.0, 35, "US"),
    "MX": (23.0, -102.0, -6.0, 90, "US"),
    "BR": (-15.0, -48.0, -3.0, 165, "AR PY UY CO PE"),
    "AR": (-34.0, -64.0, -3.0, 38, "BR CL UY PY"),
    "CL": (-33.0, -71.0, -4.0, 17, "AR PE"),
    "CO": (4.5, -74.0, -5.0, 38, "PE BR EC"),
    "PE": (-12.0, -77.0, -5.0, 25, "CO BR CL EC"),
    "EC": (-1.5, -78.5, -5.0, 13, "CO PE"),
    "GB": (53.0, -1.5, 0.0, 65, "IE FR"),
    "IE": (53.3, -7.5, 0.0, 5, "GB"),
    "FR": (46.5, 2.5, 1.0, 55, "BE DE ES IT CH"),
    "DE": (51.0, 10.0, 1.0, 78, "NL BE FR CH AT CZ PL DK"),
    "NL": (52.2, 5.3, 1.0, 17, "BE DE"),
    "BE": (50.6, 4.5, 1.0, 11, "NL FR DE"),
    "CH": (47.0, 8.0, 1.0, 8.5, "DE FR IT AT"),
    "AT": (47.6, 14.5, 1.0, 8, "DE CH IT CZ SK HU SI"),
    "IT": (42.5, 12.5, 1.0, 50, "FR CH AT SI"),
    "ES": (40.0, -4.0, 1.0, 43, "PT FR"),
    "PT": (39.5, -8.0, 0.0, 8.5, "ES"),
    "SE": (60.0, 15.0, 1.0, 10, "NO FI DK"),
    "NO": (60.5, 9.0, 1.0, 5.3, "SE FI DK"),
    "DK": (56.0, 10.0, 1.0, 5.8, "DE SE NO"),
    "FI": (62.0, 25.5, 2.0, 5.3, "SE NO EE"),
    "EE": (58.8, 25.5, 2.0, 1.2, "FI LV"),
    "LV": (56.9, 24.6, 2.0, 1.7, "EE LT"),
    "LT": (55.2, 23.9, 2.0, 2.5, "LV PL"),
    "PL": (52.0, 19.5, 1.0, 33, "DE CZ SK UA LT"),
    "CZ": (49.8, 15.5, 1.0, 10, "DE PL SK AT"),
    "SK": (48.7, 19.5, 1.0, 5, "CZ PL HU AT UA"),
    "HU": (47.2, 19.5, 1.0, 8.5, "AT SK RO SI UA"),
    "SI": (46.1, 14.8, 1.0, 2, "IT AT HU"),
    "RO": (45.9, 25.0, 2.0, 16, "HU BG UA MD"),
    "MD": (47.0, 28.8, 2.0, 2, "RO UA"),
    "BG": (42.7, 25.3, 2.0, 5, "RO GR TR"),
    "GR": (39.0, 22.0, 2.0, 8.5, "BG TR"),
    "TR": (39.0, 33.0, 3.0, 72, "GR BG"),
    "UA": (49.0, 31.0, 2.0, 30, "PL SK HU RO MD"),
    "RU": (55.7, 37.6, 3.0, 125, "FI EE LV UA"),
    "IL": (31.5, 34.8, 2.0, 8, "EG"),
    "EG": (30.0, 31.2, 2.0, 75, "IL"),
    "MA": (33.0, -7.0, 0.0, 28, "ES"),
    "ZA": (-27.0, 27.0, 2.0, 42, ""),
    "NG": (9.0, 7.5, 1.0, 100, ""),
    "KE": (-1.3, 36.8, 3.0, 20, ""),
    "AE": (24.5, 54.5, 4.0, 9.5, "SA"),
    "SA": (24.7, 46.7, 3.0, 34, "AE"),
    "IN": (22.0, 78.0, 5.5, 750, "PK BD"),
    "PK": (30.0, 70.0, 5.0, 100, "IN"),
    "BD": (23.8, 90.4, 6.0, 70, "IN"),
    "CN": (32.0, 114.0, 8.0, 1050, "HK VN"),
    "HK": (22.3, 114.2, 8.0, 7, "CN"),
    "TW": (23.7, 121.0, 8.0, 21, "JP"),
    "JP": (36.0, 138.0, 9.0, 115, "KR"),
    "KR": (36.5, 127.8, 9.0, 50, "JP"),
    "VN": (16.0, 106.0, 7.0, 75, "CN TH"),
    "TH": (14.0, 100.5, 7.0, 60, "VN MY"),
    "MY": (3.1, 101.7, 8.0, 30, "SG TH ID"),
    "SG": (1.35, 103.8, 8.0, 5.5, "MY ID"),
    "ID": (-6.2, 106.8, 7.0, 210, "MY SG"),
    "PH": (14.6, 121.0, 8.0, 75, ""),
    "AU": (-33.0, 147.0, 10.0, 25, "NZ"),
    "NZ": (-41.0, 174.0, 12.0, 4.7, "AU"),
}
CODES = list(COUNTRIES)
LAT = np.radians([v[0] for v in COUNTRIES.values()])
LON = np.radians([v[1] for v in COUNTRIES.values()])
OFFSET = np.array([v[2] for v in COUNTRIES.values()])
WEIGHT = np.array([v[3] for v in COUNTRIES.values()], dtype=float)
MARKETS = ["NO", "DE", "US", "BR", "GB", "FR", "JP", "IN", "PL", "AU", "ES", "KR"]

# Network kinds come from ASN names: coarse, but the model is judged on ASNs, not on our labels.
_HOSTING = re.compile(
    r"amazon|aws|google|microsoft|azure|digitalocean|ovh|hetzner|linode|akamai|cloudflare|fastly|host|"
    r"server|data ?cent|datacamp|vultr|choopa|leaseweb|contabo|alibaba|tencent|oracle|m247|cdn|colo|cloud|"
    r"ionos|scaleway|rackspace|softlayer|equinix|psychz|quadranet|worldstream|nforce|hivelocity|zenlayer|"
    r"g-core|gcore|vps|dedicated|clouvider|performive|packethub|31173|xtom|tzulo|hydra comm|baidu|"
    r"facebook|netflix|yandex|selectel|timeweb|aeza|frantech|hostroyale",
    re.IGNORECASE,
)
_VPN = re.compile(
    r"m247|datacamp|clouvider|leaseweb|choopa|vultr|31173|packethub|tzulo|performive|zenlayer|xtom|"
    r"hostroyale|hydra comm|digitalocean|ovh|hetzner|contabo",
    re.IGNORECASE,
)
_INFRASTRUCTURE = re.compile(
    r"cogent|level3|level 3|gtt|uunet|ntt-ltd|hurricane|zayo|lumen|arelion|dnic|gov|ministry|military|"
    r"department|dns|backbone|transit|petroleum|police|defen[cs]e|state-|-state|information cent|registry",
    re.IGNORECASE,
)
# Campus networks are workplaces, not households.
_CAMPUS = re.compile(r"educat|research|universit|academ|school|college|cernet|jisc|surf b|forschung", re.IGNORECASE)
_MOBILE = re.compile(
    r"mobile|wireless|cellco|cellular|movil|telcel|jio|airtel|docomo|sk telecom|tim s|vodafone|three|"
    r"hutchison|ooredoo|mtn|safaricom|celcom|maxis|turkcell|megafon|telkomsel|indosat|axiata|viettel|"
    r"dtac|true move|vivo|claro|entel|wind tre|tele2|t-mobile|telefonica|orange|bouygues|sfr|telenor|"
    r"telia|softbank|kddi|globe|smart comm|vimpelcom|beeline|kyivstar|polkomtel|p4 sp|play|swisscom|"
    r"telstra|optus|singtel|starhub|digi|stc|etisalat|zain|mobily|lg uplus|lg dacom|chunghwa|bharti",
    re.IGNORECASE,
)
_ISP = re.compile(
    r"tele|comcast|charter|att-internet|verizon|cox|spectrum|frontier|centurylink|windstream|broadband|"
    r"cable|communica|internet|fibra|fiber|fibre|net|online|orange|free sas|sfr|bouygues|vodafone|virgin|"
    r"sky|kpn|ziggo|swisscom|proximus|rostelecom|unicom|china mobile|kddi|ntt|softbank|jcom|korea|"
    r"powercomm|optus|tpg|shaw|rogers|bell|videotron|uninet|telmex|claro|vivo|tim|movistar|digi|airtel|"
    r"jio|bsnl|vnpt|viettel|fpt|pldt|globe|true|3bb|singtel|starhub|hinet|chunghwa|data communication|"
    r"pccw|hkbn|hathway|etisalat|stc|te data|saix|mtn|a1 |magyar|upc|liberty|bredband|play|polska|o2|wind|"
    r"iliad|fastweb|tiscali|eir|sunrise|salt|kabel|m-net|ewe|telenet|altice|nos|meo|cosmote|ttnet|beeline|"
    r"mts|er-telecom|kyivstar|volia|sparklight|cableone|mediacom|wow|rcn|astound|brightspeed|ziply|tds|"
    r"starlink|spacex|isp|dsl|provedor|servicos de comunica|ltda|wifi|link",
    re.IGNORECASE,
)


# --- deterministic hashing: the same (seed, key...) always gives the same draw -------------------

_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(*keys: Any) -> Arr:
    """splitmix64 over the keys in turn; a bijection in each key, so distinct indices never collide."""
    with np.errstate(over="ignore"):
        h: Arr = np.asarray(np.uint64(0x243F6A8885A308D3))
        for key in keys:
            k = np.asarray(key)
            k = k.astype(np.int64).astype(np.uint64) if k.dtype.kind in "if" else k.astype(np.uint64)
            z = (h ^ k) * _G + _G
            z = (z ^ (z >> np.uint64(30))) * _M1
            z = (z ^ (z >> np.uint64(27))) * _M2
            h = z ^ (z >> np.uint64(31))
    return h


def _unit(h: Arr) -> Arr:
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _pick(cumulative: Arr, u: Arr) -> Arr:
    """Index drawn from rows of cumulative weights (last column 1) by uniforms u."""
    out: Arr = np.minimum((cumulative < u[:, None]).sum(axis=1), cumulative.shape[1] - 1)
    return out


# --- address pools -----------------------------------------------------------------------------


class Pools:
    """Networks found by random draws, grouped by (country, ASN name); `bases` holds the drawn
    addresses (IPv4 as an int, IPv6 as its upper 64 bits), `start`/`count` a network's slice."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 101])
        found: dict[tuple[int, str, int], list[int]] = {}
        index = {c: i for i, c in enumerate(CODES)}

        def keep(values: Arr, version: int) -> int:
            hits = 0
            for value in values.tolist():
                text = str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value << 64 | 1))
                country, network = country_and_network(text, version)
                if country is None or network is None:
                    continue
                hits += 1
                if country in index:
                    found.setdefault((index[country], network, version), []).append(value)
            return hits

        # IPv4: uniform over unicast space; the database leaves private and unallocated space unplaced.
        keep(rng.integers(1 << 24, 224 << 24, 160_000, dtype=np.uint64), 4)
        # IPv6: uniform in 2000::/3 places one draw in thousands, so draw in two rounds: a few in each
        # of its 512 /12s, then many more in the /12s where the first round found anything.
        prefixes = np.arange(0x200, 0x400, dtype=np.uint64)
        first = np.repeat(prefixes, 48) << np.uint64(52) | rng.integers(0, 1 << 52, 512 * 48, dtype=np.uint64)
        live = [p for p in prefixes.tolist() if keep(first[(first >> np.uint64(52)) == p], 6)]
        for p in live:
            keep(np.uint64(p) << np.uint64(52) | rng.integers(0, 1 << 52, 5_000, dtype=np.uint64), 6)

        keys = sorted(found)
        self.names = [k[1] for k in keys]
        self.country = np.array([k[0] for k in keys])
        self.version = np.array([k[2] for k in keys])
        self.count = np.array([len(found[k]) for k in keys])
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
        self.bases = np.concatenate([np.array(found[k], dtype=np.uint64) for k in keys])

        def matches(pattern: re.Pattern[str]) -> Arr:
            return np.array([bool(pattern.search(n)) for n in self.names])

        v4 = self.version == 4
        hosting = matches(_HOSTING)
        infrastructure = matches(_INFRASTRUCTURE) | hosting
        campus = matches(_CAMPUS)
        mobile = matches(_MOBILE) & ~infrastructure & ~campus
        isp = (matches(_ISP) | mobile) & ~infrastructure & ~campus
        self.kind = {
            "residential4": isp & v4,
            "residential6": isp & ~v4,
            "mobile": mobile & v4,
            "hosting": hosting & v4,
            "vpn": matches(_VPN) & v4,
            "corporate": ~infrastructure & ~isp & v4,
        }

    def has(self, kind: str) -> Arr:
        """Per country: whether it has a network of this kind."""
        return np.bincount(self.country[self.kind[kind]], minlength=len(CODES)) > 0

    def choose(self, kind: str, country: Arr, u: Arr, weighted: bool = True) -> Arr:
        """A network of `kind` in each country, weighted by addresses drawn there (a proxy for its
        share of users) or not; -1 where the country has none."""
        out = np.full(len(country), -1, dtype=np.int64)
        nets = np.flatnonzero(self.kind[kind])
        for c in np.unique(country):
            here = nets[self.country[nets] == c]
            if not len(here):
                continue
            rows = country == c
            weight = self.count[here] if weighted else np.ones(len(here))
            cum = np.cumsum(weight) / weight.sum()
            out[rows] = here[np.minimum(np.searchsorted(cum, u[rows], side="right"), len(here) - 1)]
        return out

    def choose_anywhere(self, kind: str, u: Arr) -> Arr:
        nets = np.flatnonzero(self.kind[kind])
        cum = np.cumsum(self.count[nets]) / self.count[nets].sum()
        return nets[np.minimum(np.searchsorted(cum, u, side="right"), len(nets) - 1)]

    def v4(self, net: Arr, key: Arr) -> Arr:
        """An address in the /24 of one of the network's drawn addresses (a /24 never straddles two
        records of the database), both picked by key."""
        base = self.bases[self.start[net] + (key % self.count[net].astype(np.uint64)).astype(np.int64)]
        out: Arr = (base & np.uint64(0xFFFFFF00)) | (np.uint64(1) + (key >> np.uint64(24)) % np.uint64(254))
        return out

    def v6(self, net: Arr, key: Arr) -> Arr:
        """Upper 64 bits of a /64 in the /40 of one of the network's drawn addresses."""
        base = self.bases[self.start[net] + (key % self.count[net].astype(np.uint64)).astype(np.int64)]
        out: Arr = (base & ~np.uint64(0xFFFFFF)) | ((key >> np.uint64(20)) & np.uint64(0xFFFFFF))
        return out


# --- user agents -------------------------------------------------------------------------------

# (template, family): {v} is the version, {u} the same with underscores (iOS)
TEMPLATES: list[tuple[str, int]] = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36", 0),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} "
        "Safari/537.36 Edg/{v}",
        0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} "
        "Safari/537.36",
        0,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36", 0),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Mobile Safari/537.36", 0),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}) Gecko/20100101 Firefox/{v}", 1),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:{v}) Gecko/20100101 Firefox/{v}", 1),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}) Gecko/20100101 Firefox/{v}", 1),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} "
        "Safari/605.1.15",
        2,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS {u} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/{v} Mobile/15E148 Safari/604.1",
        2,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS {u} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/{v} Mobile/15E148 Safari/604.1",
        2,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/{v} Chrome/130.0.0.0 Mobile Safari/537.36",
        3,
    ),
    ("Hawkbank/{v} CFNetwork/3826.400.120 Darwin/25.2.0", 4),
    ("Hawkbank/{v} (Linux; Android 15; okhttp/4.12.0)", 4),
]
WIN_CHROME, WIN_EDGE, MAC_CHROME, LINUX_CHROME, ANDROID_CHROME = range(5)
WIN_FIREFOX, LINUX_FIREFOX, MAC_FIREFOX, MAC_SAFARI, IPHONE, IPAD, SAMSUNG, APP_IOS, APP_ANDROID = range(5, 14)
FAMILY = np.array([f for _, f in TEMPLATES])
PHONES = (np.array([IPHONE, ANDROID_CHROME, SAMSUNG, APP_IOS, APP_ANDROID]), np.array([0.42, 0.30, 0.08, 0.1, 0.1]))
COMPUTERS = (
    np.array([WIN_CHROME, WIN_EDGE, MAC_SAFARI, MAC_CHROME, WIN_FIREFOX, LINUX_FIREFOX, MAC_FIREFOX, LINUX_CHROME]),
    np.array([0.42, 0.15, 0.12, 0.12, 0.09, 0.05, 0.03, 0.02]),
)
COMMON = (
    np.array([WIN_CHROME, ANDROID_CHROME, IPHONE, MAC_SAFARI, WIN_EDGE, MAC_CHROME, WIN_FIREFOX]),
    np.array([0.36, 0.18, 0.18, 0.08, 0.1, 0.06, 0.04]),
)
# Release cadence per family: (version on the anchor day, anchor, days per release)
_CADENCE = [
    (146, datetime(2026, 3, 10, tzinfo=UTC), 28),  # Chrome / Edge
    (148, datetime(2026, 2, 24, tzinfo=UTC), 28),  # Firefox
    (0, datetime(2025, 9, 15, tzinfo=UTC), 52),  # Safari: 26.0 and then ~7 minors a year
    (29, datetime(2026, 1, 20, tzinfo=UTC), 84),  # Samsung Internet
    (40, datetime(2026, 1, 1, tzinfo=UTC), 14),  # the service's own app, 3.x
]


def _version(template: Arr, abs_day: Arr) -> Arr:
    """Release index of the template's family on an absolute day (days since 1970)."""
    family = FAMILY[template]
    out = np.zeros(len(template), dtype=np.int64)
    for f, (base, anchor, cadence) in enumerate(_CADENCE):
        rows = family == f
        anchor_day = int(anchor.timestamp()) // DAY
        out[rows] = base + np.floor_divide(abs_day[rows] - anchor_day, cadence)
    return out


def _ua_text(template: int, version: int) -> str:
    text, family = TEMPLATES[template]
    if family == 2:
        dotted = f"{26 + version // 7}.{version % 7}"
    elif family in (0, 3):
        dotted = f"{version}.0" + (".0.0" if family == 0 else "")
    elif family == 1:
        dotted = f"{version}.0"
    else:
        dotted = f"3.{version}.0"
    return text.replace("{v}", dotted).replace("{u}", dotted.replace(".", "_"))


def _draw(rng: np.random.Generator, choices: tuple[Arr, Arr], n: int) -> Arr:
    values, weights = choices
    return values[rng.choice(len(values), size=n, p=weights / weights.sum())]


# --- users -------------------------------------------------------------------------------------


def _distance_km(a: Arr, b: Arr) -> Arr:
    cos = np.sin(LAT[a]) * np.sin(LAT[b]) + np.cos(LAT[a]) * np.cos(LAT[b]) * np.cos(LON[a] - LON[b])
    out: Arr = 6371.0 * np.arccos(np.clip(cos, -1.0, 1.0))
    return out


def _neighbour(rng: np.random.Generator, country: Arr, allowed: Arr) -> Arr:
    """A neighbouring country with a network of the needed kind; the nearest such country else."""
    out = np.empty(len(country), dtype=np.int64)
    everyone = np.arange(len(CODES))
    for c in np.unique(country):
        rows = np.flatnonzero(country == c)
        near = [CODES.index(n) for n in COUNTRIES[CODES[c]][4].split() if n in COUNTRIES]
        near = [n for n in near if allowed[n]]
        if not near:
            candidates = everyone[allowed & (everyone != c)]
            near = [int(candidates[np.argmin(_distance_km(np.full(len(candidates), c), candidates))])]
        out[rows] = np.array(near)[rng.integers(0, len(near), len(rows))]
    return out


def _far_country(rng: np.random.Generator, country: Arr, allowed: Arr, min_km: float) -> Arr:
    out = np.empty(len(country), dtype=np.int64)
    everyone = np.arange(len(CODES))
    for c in np.unique(country):
        rows = np.flatnonzero(country == c)
        far = everyone[allowed & (_distance_km(np.full(len(CODES), c), everyone) > min_km)]
        w = WEIGHT[far] ** 0.5
        out[rows] = far[rng.choice(len(far), size=len(rows), p=w / w.sum())]
    return out


def _users(rng: np.random.Generator, pools: Pools, n: int, days: int) -> dict[str, Arr]:
    """Each user's home, activity and habits, as one array per attribute."""
    u: dict[str, Arr] = {}
    has_home = pools.has("residential4")
    weight = np.where(has_home, WEIGHT**0.7, 0.0)
    weight /= weight.sum()
    market = CODES.index(MARKETS[int(rng.integers(len(MARKETS)))])
    home = rng.choice(len(CODES), size=n, p=weight)
    u["country"] = np.where(rng.random(n) < 0.45, market, home) if has_home[market] else home
    u["isp"] = pools.choose("residential4", u["country"], rng.random(n))
    has_v6 = pools.has("residential6")[u["country"]]
    p_v6 = min(0.8, 0.15 / max(has_v6.mean(), 1e-9))
    u["v6"] = has_v6 & (rng.random(n) < p_v6)
    u["isp6"] = np.where(u["v6"], pools.choose("residential6", u["country"], rng.random(n)), -1)
    u["v6"] &= u["isp6"] >= 0
    u["privacy6"] = rng.random(n) < 0.7
    # A DHCP lease: a quarter of households keep one address for the whole period.
    u["lease"] = np.where(rng.random(n) < 0.25, 1e6, rng.lognormal(np.log(12), 1.0, n))
    u["lease6"] = rng.lognormal(np.log(90), 0.7, n)

    # Activity: lognormal body (median a few logins a week) plus a thin Pareto tail of heavy users.
    rate = rng.lognormal(np.log(0.45), 1.0, n)
    heavy = rng.random(n) < 0.015
    u["rate"] = np.minimum(np.where(heavy, 4 + 3 * rng.pareto(1.6, n), rate), 60.0)
    late = rng.random(n) < 0.3
    u["join"] = np.where(late, rng.random(n) * days * 0.9, 0.0)
    dormant = rng.random(n) < 0.08
    u["leave"] = np.where(dormant, u["join"] + rng.random(n) * (days - u["join"]), float(days))
    u["leave"] = np.maximum(u["leave"], u["join"] + 1.0)
    u["weekend"] = rng.uniform(0.3, 1.6, n)
    u["mu1"] = rng.normal(8.5, 1.5, n)
    u["mu2"] = rng.normal(20.5, 1.5, n)
    u["p_first"] = rng.uniform(0.15, 0.75, n)
    u["spread"] = rng.uniform(0.8, 3.0, n)
    u["offset"] = OFFSET[u["country"]] + np.round(rng.normal(0, 0.5, n)) * (WEIGHT[u["country"]] > 200)
    _habits(rng, pools, u, n, days, weight)
    _devices(rng, u, n, days)
    return u


def _habits(rng: np.random.Generator, pools: Pools, u: dict[str, Arr], n: int, days: int, weight: Arr) -> None:
    """Where logins come from besides home: carrier, office, VPN, a sharer, trips."""
    mobile_first = rng.random(n) < 0.25
    u["carrier"] = pools.choose("mobile", u["country"], rng.random(n))
    u["p_mobile"] = np.where(mobile_first, rng.uniform(0.6, 0.95, n), rng.beta(1.2, 5, n))
    u["p_mobile"] = np.where(u["carrier"] >= 0, u["p_mobile"], 0.0)
    corporate = (rng.random(n) < 0.15) & pools.has("corporate")[u["country"]]
    u["work_net"] = np.where(corporate, pools.choose("corporate", u["country"], rng.random(n), weighted=False), -1)
    u["p_work"] = np.where(u["work_net"] >= 0, rng.uniform(0.5, 0.95, n), 0.0)
    u["work_ips"] = rng.integers(1, 5, n)
    u["work_key"] = rng.integers(0, 2**62, n).astype(np.uint64)

    vpn = rng.random(n) < 0.05
    u["p_vpn"] = np.where(vpn, rng.uniform(0.2, 1.0, n), 0.0)
    u["vpn_nets"] = np.stack([pools.choose_anywhere("vpn", rng.random(n)) for _ in range(3)], axis=1)

    shared = rng.random(n) < 0.04
    u["p_share"] = np.where(shared, rng.uniform(0.15, 0.5, n), 0.0)
    elsewhere = rng.random(n) < 0.3
    u["share_country"] = np.where(elsewhere, rng.choice(len(CODES), size=n, p=weight), u["country"])
    u["share_net"] = pools.choose("residential4", u["share_country"], rng.random(n))
    u["p_share"] = np.where(u["share_net"] >= 0, u["p_share"], 0.0)

    # Up to three trips each for a tenth of the users: half to nearby countries, half anywhere.
    trips = 3
    traveller = rng.random(n) < 0.1
    u["trip_start"] = np.where(traveller[:, None], rng.random((n, trips)) * days, 1e9)
    u["trip_start"][:, 1:] = np.where(rng.random((n, trips - 1)) < 0.5, u["trip_start"][:, 1:], 1e9)
    u["trip_end"] = u["trip_start"] + 2 + rng.geometric(0.15, (n, trips))
    nearby = _neighbour(rng, np.repeat(u["country"], trips), pools.has("residential4")).reshape(n, trips)
    anywhere = rng.choice(len(CODES), size=(n, trips), p=weight)
    u["trip_country"] = np.where(rng.random((n, trips)) < 0.5, nearby, anywhere)
    u["trip_carrier"] = pools.choose("mobile", u["trip_country"].ravel(), rng.random(n * trips)).reshape(n, trips)


def _devices(rng: np.random.Generator, u: dict[str, Arr], n: int, days: int) -> None:
    # Device slots: 0 phone, 1 computer, 2 tablet or second computer, 3 work laptop, 4 the sharer's.
    slots = 5
    template = np.empty((n, slots), dtype=np.int64)
    template[:, 0] = _draw(rng, PHONES, n)
    template[:, 1] = _draw(rng, COMPUTERS, n)
    template[:, 2] = np.where(rng.random(n) < 0.5, IPAD, _draw(rng, COMPUTERS, n))
    template[:, 3] = np.where(rng.random(n) < 0.55, WIN_EDGE, WIN_CHROME)
    template[:, 4] = np.where(rng.random(n) < 0.6, _draw(rng, PHONES, n), _draw(rng, COMPUTERS, n))
    u["template"] = template
    owned = np.ones((n, slots), dtype=bool)
    owned[:, 1] = rng.random(n) < 0.8
    owned[:, 2] = rng.random(n) < 0.25
    u["owned"] = owned
    u["acquired"] = np.where(rng.random((n, slots)) < 0.25, rng.random((n, slots)) * days, -1.0)
    u["acquired"][:, 0] = -1.0
    u["replaced"] = np.where(rng.random((n, slots)) < 0.12, rng.random((n, slots)) * days, 1e9)
    u["prefer"] = rng.dirichlet([1.0, 1.5, 0.6], n)
    lag = rng.exponential(5.0, (n, slots))
    lag[:, 3] = rng.uniform(14, 42, n)  # managed laptops update late
    u["lag"] = np.where(rng.random((n, slots)) < 0.04, rng.uniform(60, 400, (n, slots)), lag)
    u["fp_drift"] = rng.random((n, slots)) < 0.2
    u["session_days"] = rng.lognormal(np.log(3), 1.0, (n, slots))
    u["fresh_session"] = rng.beta(2, 5, n)
    u["typo"] = rng.beta(1.2, 30, n)


# --- the owners' own logins ----------------------------------------------------------------------


def _normal(
    rng: np.random.Generator, pools: Pools, u: dict[str, Arr], days: int, seed: int, start_day: int
) -> dict[str, Arr]:
    n_users = len(u["rate"])
    active = u["leave"] - u["join"]
    w = u["weekend"]
    boost = np.maximum(1.0, w) * 7 / (5 + 2 * w)
    user = np.repeat(np.arange(n_users), rng.poisson(u["rate"] * active * boost))
    day = np.floor(u["join"][user] + rng.random(len(user)) * active[user]).astype(np.int64)
    weekend = (start_day + day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    keep = rng.random(len(user)) < np.where(weekend, w[user], 1.0) / np.maximum(1.0, w[user])
    user, day, weekend = user[keep], day[keep], weekend[keep]
    size = len(user)

    first = rng.random(size) < u["p_first"][user]
    hour = rng.normal(np.where(first, u["mu1"][user], u["mu2"][user]), u["spread"][user])
    hour = np.where(rng.random(size) < 0.07, rng.random(size) * 24, hour) % 24

    context = np.full(size, HOME)
    context[rng.random(size) < u["p_mobile"][user]] = MOBILE
    context[(context == HOME) & (rng.random(size) < u["p_vpn"][user])] = VPN
    office = ~weekend & (hour >= 8) & (hour < 18) & (rng.random(size) < u["p_work"][user])
    context[office] = WORK
    trip = np.full(size, -1)
    for k in range(u["trip_start"].shape[1]):
        inside = (day >= u["trip_start"][user, k]) & (day < u["trip_end"][user, k])
        trip[inside] = k
    context[trip >= 0] = TRAVEL
    context[rng.random(size) < u["p_share"][user]] = SHARED

    where = u["country"][user].copy()
    trip_country = u["trip_country"][user, np.maximum(trip, 0)]
    where[context == TRAVEL] = trip_country[context == TRAVEL]
    where[context == SHARED] = u["share_country"][user][context == SHARED]
    offset = np.where((context == TRAVEL) | (context == SHARED), OFFSET[where], u["offset"][user])
    t = (day * DAY + (hour - offset) * 3600).astype(np.int64)

    # Devices: home-like logins pick among the devices owned and already bought on that day.
    prefer = u["prefer"][user] * (u["owned"][user, :3] & (day[:, None] >= u["acquired"][user, :3]))
    prefer[:, 0] += 1e-9
    slot = _pick(np.cumsum(prefer, axis=1) / prefer.sum(axis=1, keepdims=True), rng.random(size))
    slot[context == MOBILE] = 0
    slot[context == WORK] = 3
    slot[context == SHARED] = 4
    laptop = (rng.random(size) < 0.3) & u["owned"][user, 1]
    slot[context == TRAVEL] = np.where(laptop, 1, 0)[context == TRAVEL]

    out: dict[str, Arr] = {"t": t, "user": user, "slot": slot, "context": context}
    out.update(_device(u, user, slot, t, start_day, seed, rng))
    version, hi, lo = _addresses(pools, u, user, slot, t, context, trip, rng.random(size), seed)
    out.update(ver=version, hi=hi, lo=lo)
    inside = (t >= 0) & (t < days * DAY)
    return {k: v[inside] for k, v in out.items()}


def _device(
    u: dict[str, Arr], user: Arr, slot: Arr, t: Arr, start_day: int, seed: int, rng: np.random.Generator
) -> dict[str, Arr]:
    day = t // DAY
    generation = (day >= u["replaced"][user, slot]).astype(np.int64)
    template = u["template"][user, slot]
    version = _version(template, start_day + day - u["lag"][user, slot].astype(np.int64))
    drift = np.where(u["fp_drift"][user, slot], version, 0)
    fp = _mix(seed, 11, user, slot, generation, drift)
    fp[rng.random(len(user)) < 0.005] = 0  # scripts blocked: no fingerprint
    epoch = np.floor((t / DAY + _unit(_mix(seed, 12, user, slot)) * 30) / u["session_days"][user, slot])
    session = _mix(seed, 13, user, slot, generation, epoch)
    fresh = rng.random(len(user)) < u["fresh_session"][user]
    session[fresh] = _mix(seed, 14, np.flatnonzero(fresh), user[fresh])
    return {"template": template, "uaver": version, "fp": fp, "session": session}


def _home(pools: Pools, u: dict[str, Arr], user: Arr, slot: Arr, t: Arr, seed: int) -> tuple[Arr, Arr, Arr]:
    """The household's address at time t: an IPv4 lease, or an IPv6 prefix with daily privacy addresses."""
    days = t / DAY
    epoch = np.floor((days + _unit(_mix(seed, 21, user)) * 40) / u["lease"][user])
    lo = pools.v4(u["isp"][user], _mix(seed, 22, user, epoch))
    hi = np.zeros(len(user), dtype=np.uint64)
    v6 = u["v6"][user]
    if v6.any():
        e6 = np.floor((days[v6] + _unit(_mix(seed, 23, user[v6])) * 90) / u["lease6"][user[v6]])
        hi[v6] = pools.v6(u["isp6"][user[v6]], _mix(seed, 24, user[v6], e6))
        rotation = np.where(u["privacy6"][user[v6]], np.floor(days[v6]), 0)
        lo[v6] = _mix(seed, 25, user[v6], slot[v6], rotation)
    return np.where(v6, 6, 4), hi, lo


def _addresses(
    pools: Pools, u: dict[str, Arr], user: Arr, slot: Arr, t: Arr, context: Arr, trip: Arr, roam: Arr, seed: int
) -> tuple[Arr, Arr, Arr]:
    size = len(user)
    version, hi, lo = _home(pools, u, user, slot, t, seed)
    per_login = _mix(seed, 31, np.arange(size), user)
    day = t // DAY

    rows = context == MOBILE  # carrier-grade NAT: a new address each time, one network
    lo[rows] = pools.v4(u["carrier"][user[rows]], per_login[rows])
    rows = context == WORK
    lo[rows] = _office(pools, u, user[rows], _mix(seed, 32, user[rows], day[rows]))
    rows = context == VPN
    exit_node = _pick(
        np.cumsum(np.tile([0.6, 0.25, 0.15], (rows.sum(), 1)), axis=1), _unit(_mix(seed, 33, user[rows], day[rows]))
    )
    lo[rows] = pools.v4(u["vpn_nets"][user[rows], exit_node], per_login[rows])
    rows = context == SHARED
    lo[rows] = pools.v4(u["share_net"][user[rows]], _mix(seed, 34, user[rows], day[rows] // 20))

    # Travel: roaming keeps the home carrier's address; else hotel wifi or a local SIM.
    travel = np.flatnonzero(context == TRAVEL)
    who, k, when = user[travel], trip[travel], day[travel]
    carrier_home = u["carrier"][who]
    local_sim = u["trip_carrier"][who, k]
    hotel = pools.choose("residential4", u["trip_country"][who, k], _unit(_mix(seed, 35, who, when)))
    r = roam[travel]
    mode = np.where((r < 0.35) & (carrier_home >= 0), 0, np.where((r < 0.55) & (local_sim >= 0), 1, 2))
    net = np.choose(mode, [carrier_home, local_sim, hotel])
    placed = net >= 0
    key = np.where(mode == 2, _mix(seed, 36, who, when), per_login[travel])
    lo[travel[placed]] = pools.v4(net[placed], key[placed])

    moved = (context != HOME) & (context != TRAVEL)
    moved[travel[placed]] = True
    version[moved] = 4
    hi[moved] = 0
    return version, hi, lo


def _office(pools: Pools, u: dict[str, Arr], user: Arr, key: Arr) -> Arr:
    """One of the office's few gateway addresses, all in one /24."""
    base = pools.v4(u["work_net"][user], u["work_key"][user]) & np.uint64(0xFFFFFF00)
    octet = (u["work_key"][user] >> np.uint64(8)) + key % u["work_ips"][user].astype(np.uint64)
    out: Arr = base | (np.uint64(1) + octet % np.uint64(254))
    return out


def _typos(rng: np.random.Generator, rows: dict[str, Arr], u: dict[str, Arr]) -> dict[str, Arr]:
    """Mistyped passwords shortly before a success, and now and then a run of failures with no success."""
    size = len(rows["t"])
    tries = np.where(rng.random(size) < u["typo"][rows["user"]], 1 + rng.binomial(2, 0.15, size), 0)
    forgot = rng.random(size) < 0.003
    tries[forgot] = 2 + rng.integers(0, 4, forgot.sum())
    source = np.repeat(np.arange(size), tries)
    step = np.arange(len(source)) - np.searchsorted(source, source) + 1
    extra = {k: v[source] for k, v in rows.items()}
    extra["t"] = extra["t"] - step * rng.integers(4, 45, len(source))
    extra["context"] = np.where(forgot[source], FORGOT, TYPO)
    extra["valid"] = np.zeros(len(source), dtype=bool)
    rows["valid"] = ~forgot
    rows["context"] = np.where(forgot, FORGOT, rows["context"])
    return {k: np.concatenate([rows[k], extra[k]]) for k in rows}


# --- attacks -----------------------------------------------------------------------------------


def _blank(size: int) -> dict[str, Arr]:
    return {
        "t": np.zeros(size, dtype=np.int64),
        "user": np.zeros(size, dtype=np.int64),
        "slot": np.full(size, -1),
        "context": np.full(size, ATTACK),
        "template": np.zeros(size, dtype=np.int64),
        "uaver": np.zeros(size, dtype=np.int64),
        "fp": np.zeros(size, dtype=np.uint64),
        "session": np.zeros(size, dtype=np.uint64),
        "ver": np.full(size, 4),
        "hi": np.zeros(size, dtype=np.uint64),
        "lo": np.zeros(size, dtype=np.uint64),
        "valid": np.ones(size, dtype=bool),
    }


@dataclass
class _Scene:
    """What every attack needs: the draws, the networks, the users and their own logins."""

    rng: np.random.Generator
    pools: Pools
    u: dict[str, Arr]
    normal: dict[str, Arr]
    seed: int
    start_day: int
    span: int
    eligible: Arr

    def victims(self, n: int) -> Arr:
        """Indices of owner logins to attack after."""
        return self.eligible[self.rng.integers(0, len(self.eligible), n)]

    def browser(self, rows: dict[str, Arr], stale: int = 0) -> None:
        """A common browser, current or up to `stale` releases old."""
        size = len(rows["t"])
        rows["template"] = _draw(self.rng, COMMON, size)
        current = _version(rows["template"], self.start_day + rows["t"] // DAY)
        rows["uaver"] = current - self.rng.integers(0, stale + 1, size)


def _groups(rng: np.random.Generator, sizes: Arr, n: int) -> tuple[Arr, Arr]:
    """Rows cut into groups of the given sizes (the last cut short to n rows): each row's group,
    and the index of its group's first row."""
    group = np.repeat(np.arange(len(sizes)), sizes)[:n]
    return group, np.searchsorted(group, group)


def _elapsed(step: Arr, first: Arr) -> Arr:
    """Time since the group's first row, from the steps between rows."""
    total = np.cumsum(step)
    out: Arr = total - total[first]
    return out


def _stuffing(s: _Scene, n: int) -> dict[str, Arr]:
    """Bots take a handful of accounts each, in campaigns of a few hours."""
    rng, pools = s.rng, s.pools
    bot, first = _groups(rng, 1 + rng.poisson(3, n), n)
    bots = int(bot.max()) + 1
    campaigns = max(1, round(n / 1500))
    c_start = rng.random(campaigns) * (s.span - 2 * DAY)
    c_length = rng.uniform(3, 36, campaigns) * 3600
    which = rng.integers(0, campaigns, bots)
    bot_start = c_start[which] + rng.random(bots) * c_length[which]
    rows = _blank(n)
    rows["t"] = (bot_start[bot] + _elapsed(rng.exponential(300, n), first)).astype(np.int64)
    long_standing = np.flatnonzero(s.u["join"] == 0)
    rows["user"] = long_standing[rng.integers(0, len(long_standing), n)]
    residential = rng.random(bots) < 0.85
    net = np.where(
        residential,
        pools.choose_anywhere("residential4", rng.random(bots)),
        pools.choose_anywhere("hosting", rng.random(bots)),
    )
    rows["lo"] = pools.v4(net[bot], _mix(s.seed, 41, bot))
    s.browser(rows, stale=8)
    rows["fp"] = np.where(rng.random(n) < 0.3, np.uint64(0), _mix(s.seed, 42, np.arange(n)))
    rows["session"] = _mix(s.seed, 43, np.arange(n))
    rows["valid"] = rng.random(n) < 0.05
    return rows


def _phished(s: _Scene, n: int) -> dict[str, Arr]:
    """A few logins over days from a mobile carrier next door, one browser throughout."""
    rng, pools, u, normal = s.rng, s.pools, s.u, s.normal
    per = 2 + rng.poisson(1.5, n)
    campaign, first = _groups(rng, per, n)
    victim = s.victims(len(per))[campaign]
    rows = _blank(n)
    begin = normal["t"][victim[first]] + rng.uniform(0.5, 72, len(per))[campaign] * 3600
    rows["t"] = (begin + _elapsed(rng.exponential(DAY, n), first)).astype(np.int64)
    rows["user"] = normal["user"][victim]
    country = _neighbour(rng, u["country"][rows["user"]], pools.has("mobile"))
    country = country[first]  # one attacker per campaign
    net = pools.choose("mobile", country, _unit(_mix(s.seed, 51, campaign)))
    rows["lo"] = pools.v4(net, _mix(s.seed, 52, np.arange(n)))
    s.browser(rows)
    rows["template"] = rows["template"][first]
    rows["uaver"] = _version(rows["template"], s.start_day + rows["t"] // DAY)
    rows["fp"] = _mix(s.seed, 53, campaign)
    rows["session"] = _mix(s.seed, 54, np.arange(n))
    rows["valid"] = ~((first == np.arange(n)) & (rng.random(n) < 0.08))
    return rows


def _insider(s: _Scene, n: int) -> dict[str, Arr]:
    """Someone at the victim's home (their very address) or office (or ISP), on a device of their own."""
    rng, pools, u, normal = s.rng, s.pools, s.u, s.normal
    per = 1 + rng.poisson(1.5, n)
    campaign, first = _groups(rng, per, n)
    victim = s.victims(len(per))[campaign]
    rows = _blank(n)
    begin = normal["t"][victim[first]] + rng.uniform(1, 48, len(per))[campaign] * 3600
    rows["t"] = (begin + _elapsed(rng.exponential(4 * DAY, n), first)).astype(np.int64)
    user = normal["user"][victim]
    rows["user"] = user
    family = _unit(_mix(s.seed, 61, campaign)) < 0.6
    version, hi, lo = _home(pools, u, user, np.full(n, 9), rows["t"], s.seed)
    office = u["work_net"][user] >= 0
    colleague = pools.v4(u["isp"][user], _mix(s.seed, 62, np.arange(n)))
    colleague[office] = _office(pools, u, user[office], _mix(s.seed, 65, np.arange(n))[office])
    rows["ver"] = np.where(family, version, 4)
    rows["hi"] = np.where(family, hi, np.uint64(0))
    rows["lo"] = np.where(family, lo, colleague)
    m = len(per)
    template = np.where(rng.random(m) < 0.6, _draw(rng, PHONES, m), _draw(rng, COMPUTERS, m))
    rows["template"] = template[campaign]
    rows["uaver"] = _version(rows["template"], s.start_day + rows["t"] // DAY)
    rows["fp"] = _mix(s.seed, 63, campaign)
    rows["session"] = _mix(s.seed, 64, campaign, rows["t"] // (3 * DAY))
    rows["valid"] = rng.random(n) < 0.85
    return rows


def _aitm_session(s: _Scene, n: int) -> dict[str, Arr]:
    """The victim's own session replayed through a proxy minutes after their login."""
    rng, pools, u, normal = s.rng, s.pools, s.u, s.normal
    per = np.where(rng.random(n) < 0.3, 2, 1)
    campaign, first = _groups(rng, per, n)
    victim = s.victims(len(per))[campaign]
    second = first != np.arange(n)
    rows = _blank(n)
    delay = np.clip(rng.exponential(240, n), 20, 1800) + second * rng.uniform(300, 3300, n)
    rows["t"] = (normal["t"][victim] + delay).astype(np.int64)
    rows["user"] = normal["user"][victim]
    country = u["country"][rows["user"]]
    local = pools.has("hosting")[country] & (_unit(_mix(s.seed, 71, campaign)) < 0.5)
    net = np.where(
        local,
        pools.choose("hosting", country, _unit(_mix(s.seed, 72, campaign))),
        pools.choose_anywhere("hosting", _unit(_mix(s.seed, 73, campaign))),
    )
    rows["lo"] = pools.v4(net, _mix(s.seed, 74, campaign))
    s.browser(rows)
    relay = _unit(_mix(s.seed, 75, campaign)) < 0.6
    rows["template"] = np.where(relay, normal["template"][victim], rows["template"])
    rows["uaver"] = np.where(relay, normal["uaver"][victim], rows["uaver"])
    rows["fp"] = np.where(rng.random(n) < 0.4, np.uint64(0), _mix(s.seed, 76, campaign))
    rows["session"] = normal["session"][victim]
    return rows


def _travel_jump(s: _Scene, n: int) -> dict[str, Arr]:
    """Valid credentials from a country far away, within the hour after the owner's login."""
    rng, pools, u, normal = s.rng, s.pools, s.u, s.normal
    victim = s.victims(n)
    rows = _blank(n)
    rows["t"] = normal["t"][victim] + rng.integers(300, 3600, n)
    rows["user"] = normal["user"][victim]
    country = _far_country(rng, u["country"][rows["user"]], pools.has("residential4"), 5000)
    mobile = (rng.random(n) < 0.3) & pools.has("mobile")[country]
    net = np.where(
        mobile,
        pools.choose("mobile", country, rng.random(n)),
        pools.choose("residential4", country, rng.random(n)),
    )
    rows["lo"] = pools.v4(net, _mix(s.seed, 81, np.arange(n)))
    s.browser(rows)
    rows["fp"] = _mix(s.seed, 82, np.arange(n))
    rows["session"] = _mix(s.seed, 83, np.arange(n))
    return rows


ATTACKS = [_stuffing, _phished, _insider, _aitm_session, _travel_jump]


def _attacks(
    rng: np.random.Generator,
    pools: Pools,
    u: dict[str, Arr],
    normal: dict[str, Arr],
    total: int,
    days: int,
    seed: int,
    start_day: int,
) -> tuple[dict[str, Arr], Arr]:
    # Victims of the targeted attacks are picked through their own logins, late enough in their
    # history that the model has seen them before (an entity's first logins carry no habits).
    order = np.lexsort((normal["t"], normal["user"]))
    first = np.searchsorted(normal["user"][order], normal["user"][order])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first
    eligible = np.flatnonzero((rank >= 5) & normal["valid"] & (normal["context"] != SHARED))
    scene = _Scene(rng, pools, u, normal, seed, start_day, days * DAY, eligible)

    parts = [_blank(0)]
    kinds = [np.zeros(0, dtype=np.int64)]
    counts = rng.multinomial(total, KIND_SHARE)
    if not len(eligible):  # nobody has a history yet: only the untargeted attack is possible
        counts = np.array([total, 0, 0, 0, 0])
    for i, count in enumerate(counts.tolist()):
        if count:
            parts.append(ATTACKS[i](scene, count))
            kinds.append(np.full(count, i))
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    kind = np.concatenate(kinds)
    inside = (merged["t"] >= 0) & (merged["t"] < scene.span)
    return {k: v[inside] for k, v in merged.items()}, kind[inside]


# --- writing -----------------------------------------------------------------------------------


def _hex(values: Arr, width: int = 16) -> Arr:
    unique, inverse = np.unique(values, return_inverse=True)
    text = np.array([f"{v:0{width}x}" for v in unique.tolist()], dtype=object)
    return text[inverse]


def _ip_text(ver: Arr, hi: Arr, lo: Arr) -> Arr:
    out = np.empty(len(ver), dtype=object)
    v4 = ver == 4
    a = lo[v4]
    octets = pl.DataFrame({f"o{i}": ((a >> np.uint64(24 - 8 * i)) & np.uint64(255)).astype(np.int64) for i in range(4)})
    out[v4] = octets.select(pl.concat_str([pl.col(f"o{i}").cast(pl.Utf8) for i in range(4)], separator="."))[
        "o0"
    ].to_numpy()
    if (~v4).any():
        pairs = np.stack([hi[~v4], lo[~v4]], axis=1)
        unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
        text = np.array(
            [str(ipaddress.IPv6Address(int(h) << 64 | int(low))) for h, low in unique.tolist()], dtype=object
        )
        out[~v4] = text[inverse.ravel()]
    return out


def _ua_strings(template: Arr, version: Arr) -> Arr:
    key = template * 100_000 + version
    unique, inverse = np.unique(key, return_inverse=True)
    text = np.array([_ua_text(int(k // 100_000), int(k % 100_000)) for k in unique.tolist()], dtype=object)
    return text[inverse]


def generate(path: Path, users: int, days: int, seed: int, attack_share: float = 0.01) -> dict[str, Any]:
    """Write the events CSV and its truth file; return counts of what was written."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    pools = Pools(seed)
    pools_seconds = time.perf_counter() - started
    start = END.timestamp() - days * DAY
    start_day = int(start) // DAY
    u = _users(rng, pools, users, days)
    normal = _normal(rng, pools, u, days, seed, start_day)
    normal["valid"] = np.ones(len(normal["t"]), dtype=bool)
    normal = _typos(rng, normal, u)
    normal["t"] = np.maximum(normal["t"], 0)
    total = round(attack_share * len(normal["t"]) / (1 - attack_share))
    attack, kind = _attacks(rng, pools, u, normal, total, days, seed, start_day)

    rows = {k: np.concatenate([normal[k], attack[k]]) for k in normal}
    truth = np.concatenate([np.full(len(normal["t"]), -1), kind])
    order = np.argsort(rows["t"], kind="stable")
    rows = {k: v[order] for k, v in rows.items()}
    truth = truth[order]
    size = len(truth)

    # Labels as an investigation team would leave them: half the takeovers found, and a small
    # sample of the owners' logins reviewed and cleared.
    success = rows["valid"]
    fraud = (truth >= 0) & success & (rng.random(size) < 0.5)
    legit = (truth < 0) & (rng.random(size) < 0.02)
    label_t = rows["t"] + np.where(fraud, rng.uniform(1, 14, size), rng.uniform(1, 30, size)) * DAY

    stamp = "%Y-%m-%dT%H:%M:%SZ"
    fp = _hex(rows["fp"]) + _hex(_mix(seed, 3, rows["fp"]) & np.uint64(0xFFFF), 4)
    fp[rows["fp"] == 0] = None
    frame = pl.DataFrame(
        {
            "EVENT_ID": _hex(_mix(seed, 1, np.arange(size))),
            "t": rows["t"] + int(start),
            "ENTITY_ID": _hex(_mix(seed, 2, rows["user"])),
            "ENTITY_TYPE": np.full(size, "user", dtype=object),
            "ip": _ip_text(rows["ver"], rows["hi"], rows["lo"]),
            "useragent": _ua_strings(rows["template"], rows["uaver"]),
            "fp": fp,
            "session_id": _hex(rows["session"]),
            "are_credentials_valid": np.where(success, "True", "False"),
            "fraud": fraud,
            "legit": legit,
            "lt": label_t.astype(np.int64) + int(start),
        },
    )
    frame = (
        frame.with_columns(
            pl.when("fraud").then(pl.lit("1")).when("legit").then(pl.lit("0")).alias("EVENT_LABEL"),
        )
        .with_columns(
            pl.from_epoch("t", time_unit="s").dt.strftime(stamp).alias("EVENT_TIMESTAMP"),
            pl.when(pl.col("EVENT_LABEL").is_not_null())
            .then(pl.from_epoch("lt", time_unit="s").dt.strftime(stamp))
            .alias("LABEL_TIMESTAMP"),
        )
        .select(HEADER)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    pl.DataFrame(
        {
            "EVENT_ID": frame["EVENT_ID"],
            "attack_kind": np.array(["", *KINDS], dtype=object)[truth + 1],
            "context": np.array(CONTEXTS, dtype=object)[rows["context"]],
        }
    ).write_csv(Path(f"{path}.truth.csv"))

    counts: dict[str, Any] = {
        "rows": size,
        "users": users,
        "days": days,
        "entities_with_logins": len(np.unique(rows["user"])),
        "normal": int((truth < 0).sum()),
        "attacks": {k: int((truth == i).sum()) for i, k in enumerate(KINDS)},
        "takeovers": {k: int(((truth == i) & success).sum()) for i, k in enumerate(KINDS)},
        "failed_share": round(float((~success).mean()), 4),
        "ipv6_share": round(float((rows["ver"] == 6).mean()), 4),
        "ipv6_users_share": round(float(u["v6"].mean()), 4),
        "contexts": {c: int((rows["context"] == i).sum()) for i, c in enumerate(CONTEXTS)},
        "labelled_fraud": int(fraud.sum()),
        "labelled_legit": int(legit.sum()),
        "networks_in_pool": len(pools.names),
        "pool_seconds": round(pools_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--attack-share", type=float, default=0.01)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(json.dumps(generate(args.out, args.users, args.days, args.seed, args.attack_share), indent=2))


if __name__ == "__main__":
    main()
