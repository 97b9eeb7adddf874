"""IP addresses: where the request came from and whose network carried it.

A hosting provider's ASN points at proxies and bots; the country feeds the IP-vs-billing cross-check.
"""

from __future__ import annotations

import bisect
import ipaddress

from fraudhawk.features.enrich.base import Enricher, Value, categorical, numeric
from fraudhawk.features.enrich.geo import country_and_network

OUTPUTS = (
    numeric(ip_version="IPv4 or IPv6", is_private="whether the IP address is private, not on the internet")
    + categorical(ip_country="country of the IP address", ip_asn="network of the IP address, its ASN")
    + numeric(ip_is_valid="whether it reads as an IP address")
)
_INVALID: tuple[Value, ...] = (None, None, None, None, 0.0)
# IANA's special-purpose IPv4 blocks that are not globally reachable, plus multicast and the reserved 240/4.
_NON_PUBLIC_V4 = sorted(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
)  # fmt: skip
_V4_STARTS = [int(block.network_address) for block in _NON_PUBLIC_V4]
_V4_ENDS = [int(block.broadcast_address) for block in _NON_PUBLIC_V4]


def is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Not routable on the public internet. IPv4 goes through a bisect: ipaddress's is_global scans
    its list of networks and costs ~10 µs, which dominated enriching a column of a million IPs."""
    if isinstance(address, ipaddress.IPv6Address):
        return not address.is_global or address.is_multicast
    number = int(address)
    index = bisect.bisect_right(_V4_STARTS, number) - 1
    return index >= 0 and number <= _V4_ENDS[index]


def derive(value: str) -> tuple[Value, ...]:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return _INVALID
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
        value = str(address)
    if is_private(address):
        return float(address.version), 1.0, None, None, 1.0
    country, network = country_and_network(value, address.version)
    return float(address.version), 0.0, country, network, 1.0


ENRICHER = Enricher("ip", OUTPUTS, derive)
