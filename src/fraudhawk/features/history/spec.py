"""What an entity history follows and which features it answers, in the order both engines give them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fraudhawk.features.history.login_spec import LoginSpec
from fraudhawk.features.history.units import DAY_MS, HOUR_MS

WINDOWS: tuple[tuple[str, int], ...] = (("1h", HOUR_MS), ("24h", DAY_MS), ("7d", 7 * DAY_MS))
LONGEST = max(ms for _, ms in WINDOWS)
COUNT_CAP = 100
NO_ENTITY = "\x00"  # prefix of the stand-in entity of an event without one (never a real id)
PREFIX = "h."


@dataclass(frozen=True)
class HistorySpec:
    """Which variables the history follows: amounts (numbers) and categories (their novelty)."""

    amounts: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    amount_groups: tuple[str, ...] = ()  # categories by which amounts are also compared (e.g. per product type)
    login: LoginSpec | None = None  # the login profile of Account Takeover Insights

    def followed(self) -> list[str]:
        """The variables whose text the engines read as categories: the novelty categories, then the
        login profile's inputs. (`EntityState` takes the categories' values, then, with a login
        profile, each login dimension's value and the credentials' validity: `login_values.login_inputs`.)"""
        return [*self.categories, *(self.login.inputs() if self.login is not None else ())]

    def feature_names(self) -> list[str]:
        names = [f"{PREFIX}since_last_s", *(f"{PREFIX}count_{w}" for w, _ in WINDOWS)]
        names += [f"{PREFIX}events_seen", f"{PREFIX}rate_ratio", f"{PREFIX}hour_share", f"{PREFIX}rate_vs_usual"]
        # the burst around the event: what the entity's last day looked like against its habits
        names += [f"{PREFIX}prev_hour_share", f"{PREFIX}hour_share_min_24h", f"{PREFIX}hour_share_24h"]
        names += [f"{PREFIX}odd_hours_24h"]
        for a in self.amounts:
            names += [f"{PREFIX}{a}.sum_{w}" for w, _ in WINDOWS]
            names += [f"{PREFIX}{a}.{k}" for k in ("ratio_mean", "zscore", "ratio_max", "ratio_mean_24h")]
            names += [f"{PREFIX}{a}.ratio_max_24h", f"{PREFIX}{a}.prev_ratio_mean"]
            names += [f"{PREFIX}{a}.ratio_mean_by_{g}" for g in self.amount_groups]
            names += [f"{PREFIX}{a}.max_24h_ratio_mean", f"{PREFIX}{a}.sum_24h_ratio_usual"]
        for c in self.categories:
            names += [f"{PREFIX}{c}.seen", f"{PREFIX}{c}.seen_share", f"{PREFIX}{c}.new_24h"]
        if self.login is not None:
            names += self.login.feature_names()
        return names

    def describe(self, feature: str) -> str | None:
        """A history feature in an analyst's words (None: not one of this history's). A feature of a
        variable speaks of "this value" (explanations show it beside the variable's name)."""
        if self.login is not None and (words := self.login.describe(feature)) is not None:
            return words
        if not feature.startswith(PREFIX):
            return None
        name = feature[len(PREFIX) :]
        entity = {
            "since_last_s": "seconds since the entity's previous event",
            "events_seen": f"the entity's earlier events, counted up to {COUNT_CAP}",
            "rate_ratio": "the entity's events in the last 24h vs its daily rate over the last 7d",
            "hour_share": "share of the entity's earlier events at about this hour of the day",
            "rate_vs_usual": "the entity's events in the last 24h vs its usual daily rate",
            "prev_hour_share": "share of the entity's events at about the hour of its previous event",
            "hour_share_min_24h": "the most unusual hour for the entity among its events in the last 24h",
            "hour_share_24h": "share of the entity's events at about the hours of its events in the last 24h",
            "odd_hours_24h": "the entity's events in the last 24h at hours it seldom uses",
            **{f"count_{w}": f"the entity's events in the last {w}" for w, _ in WINDOWS},
        }
        if name in entity:
            return entity[name]
        variable, _, kind = name.rpartition(".")
        if variable in self.amounts:
            amount = {
                "ratio_mean": "this value vs the entity's average",
                "zscore": "this value vs the entity's usual spread, as a z-score",
                "ratio_max": "this value vs the entity's largest so far",
                "ratio_mean_24h": "this value vs the entity's average over the last 24h",
                "ratio_max_24h": "this value vs the entity's largest in the last 24h",
                "prev_ratio_mean": "the entity's previous value vs its average",
                "max_24h_ratio_mean": "the entity's largest value in the last 24h vs its average",
                "sum_24h_ratio_usual": "the entity's total in the last 24h vs its usual daily total",
                **{f"sum_{w}": f"the entity's total in the last {w}" for w, _ in WINDOWS},
                **{
                    f"ratio_mean_by_{g}": f"this value vs the entity's average for the same {g}"
                    for g in self.amount_groups
                },
            }
            return amount.get(kind)
        if variable in self.categories:
            return {
                "seen": "the entity's earlier events with this value",
                "seen_share": "share of the entity's earlier events with this value",
                "new_24h": "the entity's events in the last 24h with a value new to it",
            }.get(kind)
        return None

    def groups(self) -> dict[str, list[str]]:
        """Feature name -> the variables it is computed from (for grouped importance)."""
        out: dict[str, list[str]] = {}
        login = self.login.groups() if self.login is not None else {}
        for name in self.feature_names():
            if name in login:
                out[name] = login[name]
                continue
            rest = name[len(PREFIX) :]
            variable = rest.rpartition(".")[0]
            out[name] = [variable] if variable else []
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "amounts": list(self.amounts),
            "categories": list(self.categories),
            "amount_groups": list(self.amount_groups),
            **({"login": self.login.to_json()} if self.login is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistorySpec:
        login = data.get("login")
        return cls(
            tuple(data["amounts"]),
            tuple(data["categories"]),
            tuple(data.get("amount_groups", ())),
            None if login is None else LoginSpec.from_json(login),
        )

    def group_index(self) -> list[int]:
        """Position in `categories` of each amount group."""
        return [self.categories.index(g) for g in self.amount_groups]
