"""Loopback names: without access keys the server listens, and answers, on loopback only.

One definition for the listening address (`fraudhawk serve`) and for the Host header every request
carries (the API and the console): a web page cannot reach the server through a DNS name rebound to
127.0.0.1, because its requests carry the page's host name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from fraudhawk.errors import AccessDeniedError


def is_loopback(host: str) -> bool:
    """A host name or address (IPv6 with or without brackets) that only this machine reaches."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_loopback_host(headers: Mapping[str, str]) -> None:
    """Refuse a request whose Host header (`name[:port]`) is not a loopback name."""
    host = headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if is_loopback(name):
        return
    raise AccessDeniedError(
        f"Host {host!r} is not a loopback address: without access keys this server answers only requests to "
        "localhost or 127.0.0.1"
    )
