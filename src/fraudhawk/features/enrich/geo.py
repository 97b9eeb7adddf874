"""Offline IP -> country and network owner, from the databases shipped inside geoip2fast.

geoip2fast keeps its database in module globals, so two databases cannot live in one copy of the
module, and anyone else loading one would replace ours. Each IP version therefore gets a private copy
of the module: IPv4 uses the IPv4 file (the IPv6 file also covers IPv4, but stretches ASN ranges over
unallocated gaps). A database takes about half a second and ~100 MB to load, so it is loaded on first
use, once, under a lock.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

_FILES = {4: "geoip2fast-asn.dat.gz", 6: "geoip2fast-asn-ipv6.dat.gz"}
_readers: dict[int, Any] = {}
_lock = threading.Lock()


def _load(version: int) -> Any:
    import geoip2fast.geoip2fast as shared

    spec = importlib.util.spec_from_file_location(f"fraudhawk_geoip2fast_v{version}", shared.__file__)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a private copy of {shared.__file__}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GeoIP2Fast(geoip2fast_data_file=_FILES[version])


def _reader(version: int) -> Any:
    reader = _readers.get(version)
    if reader is None:
        with _lock:
            reader = _readers.get(version)
            if reader is None:
                reader = _readers[version] = _load(version)
    return reader


def country_and_network(address: str, version: int) -> tuple[str | None, str | None]:
    """ISO country code and ASN name of a public address; None for whichever the database lacks."""
    found = _reader(version).lookup(address)
    country: str = found.country_code
    network: str = found.asn_name
    return (country if len(country) == 2 and country.isalpha() else None), (network or None)


def country_network_and_block(address: str, version: int) -> tuple[str | None, str | None, str | None]:
    """`country_and_network`, plus the widest CIDR block around the address that the database gives
    both the same country and network (None when it has no network): the login simulator draws its
    addresses from such blocks so that enrichment places them where it meant."""
    found = _reader(version).lookup(address)
    country: str = found.country_code
    network: str = found.asn_name
    if not network or not found.cidr or not found.asn_cidr:
        return (country if len(country) == 2 and country.isalpha() else None), (network or None), None
    # both ranges hold the address, so one holds the other: the narrower is the common block
    narrower = max((found.cidr, found.asn_cidr), key=lambda cidr: int(cidr.rsplit("/", 1)[1]))
    return (country if len(country) == 2 and country.isalpha() else None), network, narrower
