"""Devices and the user agents their browsers send, as browsers release new versions over time.

A device runs one browser family on one operating system (a model, for phones and tablets) for its
whole life. Browsers release on their own cadence from the simulation's epoch; each device applies an
update some days after the release (a few lag whole versions, a few never update), so its user agent
string changes now and then while the device, and usually its fingerprint, stays the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DESKTOP, PHONE, TABLET = 0, 1, 2
EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z: release 0 of every family is its version at this date
DAY = 86_400
_ANDROID_MODELS = ("K", "Pixel 7", "Pixel 8 Pro", "SM-S911B", "SM-A536B", "SM-G991B", "Redmi Note 12", "moto g54 5G")
_SAMSUNG_MODELS = ("SM-S911B", "SM-A536B", "SM-G991B", "SM-A146B", "SM-S918B")
_TABLET_MODELS = ("SM-X200", "SM-X710", "Lenovo TB-X606F", "SM-T510")
_ANDROID_VERSIONS = ("10", "11", "12", "13", "14")
_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"


def _chromium(release: int) -> int:
    return 120 + release


def _apple(release: int) -> tuple[int, int]:
    """Safari and iOS: 17.2 at the epoch, a minor release every cycle, a major one every sixth."""
    index = 2 + release
    return 17 + index // 6, index % 6


def _ios(release: int, separator: str) -> str:
    major, minor = _apple(release)
    return f"{major}{separator}{minor}" if minor else f"{major}{separator}0"


def _agent(family: str, release: int, model: int) -> str:
    chrome = _chromium(release)
    android = _ANDROID_VERSIONS[model % len(_ANDROID_VERSIONS)]
    if family == "chrome_windows":
        return f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/{chrome}.0.0.0 Safari/537.36"
    if family == "edge_windows":
        return (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.{2210 + 67 * release}.{91 + release % 7}"
        )
    if family == "firefox_windows":
        return f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{chrome + 1}.0) Gecko/20100101 Firefox/{chrome + 1}.0"
    if family == "chrome_mac":
        return f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_WEBKIT} Chrome/{chrome}.0.0.0 Safari/537.36"
    if family == "safari_mac":
        return (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            f"Version/{_ios(release, '.')} Safari/605.1.15"
        )
    if family == "firefox_mac":
        return f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{chrome + 1}.0) Gecko/20100101 Firefox/{chrome + 1}.0"
    if family == "chrome_linux":
        return f"Mozilla/5.0 (X11; Linux x86_64) {_WEBKIT} Chrome/{chrome}.0.0.0 Safari/537.36"
    if family == "firefox_linux":
        return f"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{chrome + 1}.0) Gecko/20100101 Firefox/{chrome + 1}.0"
    if family == "safari_iphone":
        return (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {_ios(release, '_')} like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{_ios(release, '.')} Mobile/15E148 Safari/604.1"
        )
    if family == "chrome_iphone":
        return (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {_ios(release, '_')} like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) CriOS/{chrome}.0.{6099 + 60 * release}.119 Mobile/15E148 Safari/604.1"
        )
    if family == "chrome_android":
        name = _ANDROID_MODELS[model % len(_ANDROID_MODELS)]
        version = "10" if name == "K" else android
        return (
            f"Mozilla/5.0 (Linux; Android {version}; {name}) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{chrome}.0.0.0 Mobile Safari/537.36"
        )
    if family == "samsung_android":
        name = _SAMSUNG_MODELS[model % len(_SAMSUNG_MODELS)]
        return (
            f"Mozilla/5.0 (Linux; Android {android}; {name}) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"SamsungBrowser/{23 + release // 3}.0 Chrome/{115 + release // 2}.0.0.0 Mobile Safari/537.36"
        )
    if family == "app_ios":
        version, build, ios = f"8.{14 + release}.0", f"8{14 + release:02d}0", _ios(release, ".")
        return f"ExampleBank/{version} (com.example.bank; build:{build}; iOS {ios}.1) Alamofire/5.8.1"
    if family == "app_android":
        name = _SAMSUNG_MODELS[model % len(_SAMSUNG_MODELS)]
        return f"ExampleBank/8.{14 + release}.0 (Android {android}; {name}; Build/TP1A.220624.014)"
    if family == "safari_ipad":
        return (
            f"Mozilla/5.0 (iPad; CPU OS {_ios(release, '_')} like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{_ios(release, '.')} Mobile/15E148 Safari/604.1"
        )
    name = _TABLET_MODELS[model % len(_TABLET_MODELS)]
    return (
        f"Mozilla/5.0 (Linux; Android {android}; {name}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{chrome}.0.0.0 Safari/537.36"
    )


@dataclass(frozen=True)
class Family:
    name: str
    kind: int
    share: float  # of the devices of its kind
    cycle_days: int  # between releases


FAMILIES = (
    Family("chrome_windows", DESKTOP, 0.40, 28),
    Family("edge_windows", DESKTOP, 0.13, 28),
    Family("firefox_windows", DESKTOP, 0.06, 28),
    Family("chrome_mac", DESKTOP, 0.10, 28),
    Family("safari_mac", DESKTOP, 0.20, 56),
    Family("firefox_mac", DESKTOP, 0.02, 28),
    Family("chrome_linux", DESKTOP, 0.06, 28),
    Family("firefox_linux", DESKTOP, 0.03, 28),
    Family("safari_iphone", PHONE, 0.40, 56),
    Family("chrome_iphone", PHONE, 0.05, 28),
    Family("chrome_android", PHONE, 0.27, 28),
    Family("samsung_android", PHONE, 0.10, 28),
    Family("app_ios", PHONE, 0.10, 21),
    Family("app_android", PHONE, 0.08, 21),
    Family("safari_ipad", TABLET, 0.60, 56),
    Family("chrome_tablet", TABLET, 0.40, 28),
)
_BY_KIND = {kind: [i for i, f in enumerate(FAMILIES) if f.kind == kind] for kind in (DESKTOP, PHONE, TABLET)}
_SHARES = {
    kind: np.array([FAMILIES[i].share for i in found]) / sum(FAMILIES[i].share for i in found)
    for kind, found in _BY_KIND.items()
}
# What credential-stuffing tools send: an HTTP library's default, a headless browser, or one stale
# browser string copied once and never updated.
SCRIPTED = (
    "python-requests/2.31.0",
    "python-requests/2.28.1",
    "curl/8.4.0",
    "Go-http-client/1.1",
    "okhttp/4.9.3",
    "axios/1.6.2",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.110 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
)


def family(rng: np.random.Generator, kind: int) -> int:
    return int(_BY_KIND[kind][int(rng.choice(len(_BY_KIND[kind]), p=_SHARES[kind]))])


def releases(family: int, times: np.ndarray, delay: int, lag: int, frozen_at: int | None) -> np.ndarray:
    """The release a device runs at each time (seconds): updated `delay` seconds after each release and
    `lag` releases behind; a device that never updates stays on the release it had at `frozen_at`."""
    cycle = FAMILIES[family].cycle_days * DAY
    if frozen_at is not None:
        return np.full(len(times), (frozen_at - EPOCH - delay) // cycle - lag, dtype=np.int64)
    return (times - EPOCH - delay) // cycle - lag


def agent(family: int, release: int, model: int) -> str:
    """The user agent string of a device of `family` (its `model` picks OS version and hardware)."""
    return _agent(FAMILIES[family].name, max(release, -30), model)


def kind_of(family: int) -> int:
    return FAMILIES[family].kind
