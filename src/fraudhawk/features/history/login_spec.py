"""The login profile of Account Takeover Insights: which login variables it follows and which features
it answers, in the order both engines give them.

An entity's familiarity with a value (an IP, its /24, its network, its country, a browser, a device,
a fingerprint, a session) counts only successful logins at least `SETTLE_MS` before the event: a
value first used a few minutes ago is not yet familiar. Without that lag an attacker who got in once
from a new network would look like the owner on the second attempt (and no label-free model can
tell "the owner's new phone, used twice this morning" from "the attacker, back an hour later").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fraudhawk.features.history.units import DAY_MS, HOUR_MS

LOGIN_PREFIX = "l."
SETTLE_MS = DAY_MS
#: failed attempts are counted over these windows before the event (the entity's own, any value)
FAIL_WINDOWS: tuple[tuple[str, int], ...] = (("1h", HOUR_MS), ("24h", DAY_MS))
FAIL_KEEP = max(ms for _, ms in FAIL_WINDOWS)
LOGIN_CAP = 100  # counts are capped: beyond it, "very familiar" is all a count says
#: how far an event can be from the previous successful login for a speed to be computed (a floor:
#: two logins a second apart do not make an infinite speed)
MIN_TRAVEL_HOURS = 1 / 60

#: What a login is seen through, and the variable each comes from ("ip" and "agent" are derived
#: further: the IP's /24 or /48, network (ASN) and country; the agent's browser, version, OS, device).
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("ip", "ip"),
    ("subnet", "ip"),
    ("asn", "ip"),
    ("country", "ip"),
    ("agent", "agent"),
    ("browser", "agent"),
    ("browser_version", "agent"),
    ("os", "agent"),
    ("device", "agent"),
    ("fingerprint", "fingerprint"),
    ("session", "session"),
)
COUNTRY = 3  # the country's place among the dimensions
#: plain words for each dimension (explanations)
WORDS = {
    "ip": "IP address",
    "subnet": "IP subnet",
    "asn": "network (ASN)",
    "country": "country",
    "agent": "user agent",
    "browser": "browser",
    "browser_version": "browser version",
    "os": "operating system",
    "device": "device type",
    "fingerprint": "device fingerprint",
    "session": "session",
}


@dataclass(frozen=True)
class LoginSpec:
    """The variables of a login event type: IP address, user agent, whether the credentials were
    valid, and (optional) fingerprint and session id."""

    ip: str
    agent: str
    credentials: str
    fingerprint: str | None = None
    session: str | None = None

    def inputs(self) -> list[str]:
        """The variables the profile reads, in the order its engines take them."""
        return [name for name in (self.ip, self.agent, self.credentials, self.fingerprint, self.session) if name]

    def dimensions(self) -> list[str]:
        """Every dimension, in their fixed order (one without its variable is always missing)."""
        return [name for name, _ in DIMENSIONS]

    def source_variable(self, dimension: str) -> str | None:
        source = dict(DIMENSIONS)[dimension]
        return {"ip": self.ip, "agent": self.agent, "fingerprint": self.fingerprint, "session": self.session}[source]

    def feature_names(self) -> list[str]:
        p = LOGIN_PREFIX
        names = [f"{p}settled", *(f"{p}fail_{w}" for w, _ in FAIL_WINDOWS), f"{p}travel_km", f"{p}travel_kmh"]
        for d in self.dimensions():
            names += [f"{p}{d}.uses", f"{p}{d}.share", f"{p}{d}.since_d", f"{p}{d}.age_d", f"{p}{d}.distinct"]
        return names

    def groups(self) -> dict[str, list[str]]:
        """Feature name -> the variables it is computed from (for grouped importance)."""
        p = LOGIN_PREFIX
        out: dict[str, list[str]] = {f"{p}settled": [self.credentials]}
        for w, _ in FAIL_WINDOWS:
            out[f"{p}fail_{w}"] = [self.credentials]
        out[f"{p}travel_km"] = [self.ip]
        out[f"{p}travel_kmh"] = [self.ip]
        for d in self.dimensions():
            variable = self.source_variable(d)
            for kind in ("uses", "share", "since_d", "age_d", "distinct"):
                out[f"{p}{d}.{kind}"] = [variable] if variable else []
        return out

    def describe(self, feature: str) -> str | None:
        """A login-profile feature in an analyst's words (None: not one of the profile's)."""
        if not feature.startswith(LOGIN_PREFIX):
            return None
        name = feature[len(LOGIN_PREFIX) :]
        fixed = {
            "settled": "the entity's successful logins a day old or more",
            "travel_km": "distance from the country of the entity's last successful login",
            "travel_kmh": "speed needed to travel from the entity's last successful login",
            **{f"fail_{w}": f"the entity's failed logins in the last {w}" for w, _ in FAIL_WINDOWS},
        }
        if name in fixed:
            return fixed[name]
        dimension, _, kind = name.partition(".")
        words = WORDS.get(dimension)
        if words is None:
            return None
        return {
            "uses": f"the entity's earlier logins with this {words}",
            "share": f"share of the entity's earlier logins with this {words}",
            "since_d": f"days since the entity last used this {words}",
            "age_d": f"days since the entity first used this {words}",
            "distinct": f"different {words} values the entity has used",
        }.get(kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "agent": self.agent,
            "credentials": self.credentials,
            "fingerprint": self.fingerprint,
            "session": self.session,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoginSpec:
        return cls(data["ip"], data["agent"], data["credentials"], data.get("fingerprint"), data.get("session"))
