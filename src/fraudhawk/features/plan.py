"""The feature plan: how a model turns an event's variables into the numbers LightGBM sees.

Chosen from the declared data and variable types alone (no per-dataset tuning), fitted once on the
training rows (category vocabularies, value frequencies), saved as JSON with the model, and then
applied identically to training rows, batch scoring and single events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from fraudhawk.eventdata import layout
from fraudhawk.eventdata.timestamps import parse_series
from fraudhawk.features import enrich
from fraudhawk.features.history import PREFIX as HISTORY_PREFIX
from fraudhawk.features.history import HistorySpec

MAX_CATEGORIES = 60  # values kept as LightGBM categories; rarer ones share one "other" code
MIN_CATEGORY_COUNT = 5
MAX_FREQUENCIES = 20_000
EVENT_PREFIX = "event."

NUMERIC_TYPES = {"NUMERIC", "PRICE"}
#: Variable types whose raw value is a category worth learning directly.
CATEGORY_TYPES = {
    "CATEGORICAL",
    "AUTH_CODE",
    "AVS",
    "PAYMENT_TYPE",
    "PRODUCT_CATEGORY",
    "CURRENCY_CODE",
    "BILLING_CITY",
    "BILLING_STATE",
    "BILLING_COUNTRY",
    "SHIPPING_CITY",
    "SHIPPING_STATE",
    "SHIPPING_COUNTRY",
    "BILLING_ZIP",
    "SHIPPING_ZIP",
    "FINGERPRINT",
}
#: Variable types whose raw values identify something (a device, an address): their novelty for an
#: entity is informative, their identity as a category rarely is.
NOVELTY_TYPES = {"IP_ADDRESS", "EMAIL_ADDRESS", "FINGERPRINT", "USERAGENT", "PHONE_NUMBER", "SHIPPING_ADDRESS_L1"}
#: Same-kind pairs compared for mismatches (billing vs shipping), by the suffix after BILLING_/SHIPPING_.
PAIRED_SUFFIXES = ("ZIP", "STATE", "COUNTRY", "CITY", "ADDRESS_L1", "PHONE", "NAME")


@dataclass(frozen=True)
class VariableInfo:
    name: str
    data_type: str
    variable_type: str


def role_of(info: VariableInfo) -> str:
    """numeric, boolean, datetime, enriched, category or text: how a variable enters the model."""
    if info.data_type == "BOOLEAN" or info.variable_type == "ARE_CREDENTIALS_VALID":
        return "boolean"
    if info.data_type == "DATETIME":
        return "datetime"
    if info.data_type in ("FLOAT", "INTEGER") and info.variable_type != "CARD_BIN":
        return "numeric"
    if info.variable_type in NUMERIC_TYPES:
        return "numeric"
    if enrich.enrichers_for(info.variable_type, info.data_type):
        return "enriched"
    if info.variable_type == "FREE_FORM_TEXT":
        return "text"
    return "category"


@dataclass
class FeaturePlan:
    variables: list[VariableInfo]
    excluded: dict[str, str] = field(default_factory=dict)  # variable -> why it was left out
    raw_dropped: set[str] = field(default_factory=set)  # used only through derived features
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    frequencies: dict[str, dict[str, float]] = field(default_factory=dict)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    ip_country_checks: list[tuple[str, str]] = field(default_factory=list)
    history: HistorySpec | None = None
    feature_names: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)  # feature -> variables it comes from
    # Account Takeover Insights uses only aggregates (the login profile), never a value itself: which
    # network or browser is common says nothing about whose login it is
    aggregates_only: bool = False

    @property
    def used(self) -> list[VariableInfo]:
        return [v for v in self.variables if v.name not in self.excluded]

    # --- fitting ---------------------------------------------------------------------------------

    def fit(self, frame: pl.DataFrame, history: HistorySpec | None, fit_rows: int | None = None) -> pl.DataFrame:
        """Learn vocabularies and frequencies from the first `fit_rows` rows (default: all) and fix the
        feature order. Returns the features of every row of `frame` (all but the entity history), to
        hand to `transform` instead of computing them again."""
        self.history = history
        self._find_pairs()
        base = self._base_columns(frame, frame.height if fit_rows is None else fit_rows)
        self.feature_names = list(base.columns)
        if history is not None:
            self.feature_names += history.feature_names()
            for name, variables in history.groups().items():
                self.groups[name] = variables or [layout.ENTITY_ID]
        return base

    def _find_pairs(self) -> None:
        by_type = {v.variable_type: v.name for v in self.used}
        for suffix in PAIRED_SUFFIXES:
            left, right = by_type.get(f"BILLING_{suffix}"), by_type.get(f"SHIPPING_{suffix}")
            if left and right:
                self.pairs.append((left, right))
        ip = by_type.get("IP_ADDRESS")
        for country_type in ("BILLING_COUNTRY", "SHIPPING_COUNTRY"):
            country = by_type.get(country_type)
            if ip and country:
                self.ip_country_checks.append((ip, country))

    def _category(
        self, out: dict[str, pl.Series], name: str, values: pl.Series, fit_rows: int | None, groups: list[str]
    ) -> None:
        """A text column as a LightGBM category (common values) and, when it has many values, its
        frequency in the training data (the first `fit_rows` rows, when fitting)."""
        values = values.cast(pl.String)
        if fit_rows is not None:
            known = values.head(fit_rows).drop_nulls()
            counts = known.value_counts().sort(["count", values.name], descending=[True, False])  # ties: by value
            keep = counts.filter(pl.col("count") >= MIN_CATEGORY_COUNT).head(MAX_CATEGORIES)
            self.vocabularies[name] = keep[values.name].to_list()
            if counts.height > MAX_CATEGORIES:
                total = max(known.len(), 1)
                top = counts.head(MAX_FREQUENCIES)
                self.frequencies[name] = dict(
                    zip(top[values.name].to_list(), (top["count"] / total).to_list(), strict=True)
                )
        vocabulary = self.vocabularies.get(name, [])
        if vocabulary:
            codes = {value: float(i) for i, value in enumerate(vocabulary)}
            other = float(len(vocabulary))
            coded = values.replace_strict(codes, default=other, return_dtype=pl.Float64)
            out[name] = _unless_missing(values, coded).alias(name)  # missing stays missing, not "other"
            if name not in self.categorical:
                self.categorical.append(name)
            self.groups[name] = groups
        table = self.frequencies.get(name)
        if table is not None:
            floor = min(table.values()) if table else 0.0
            freq_name = f"{name}.freq"
            mapped = values.replace_strict(table, default=floor / 2, return_dtype=pl.Float64)
            out[freq_name] = _unless_missing(values, mapped).alias(freq_name)
            self.groups[freq_name] = groups

    def _base_columns(self, frame: pl.DataFrame, fit_rows: int | None) -> pl.DataFrame:
        """Every feature except the entity history, as Float64 columns."""
        out: dict[str, pl.Series] = {}
        if self.aggregates_only:
            return pl.DataFrame()
        event_ms = frame[layout.EVENT_MS].cast(pl.Int64)
        hour = ((event_ms // 3_600_000) % 24).cast(pl.Float64)
        out[f"{EVENT_PREFIX}hour"] = hour
        out[f"{EVENT_PREFIX}weekday"] = (((event_ms // 86_400_000) + 3) % 7).cast(pl.Float64)  # 0 = Monday
        for name in (f"{EVENT_PREFIX}hour", f"{EVENT_PREFIX}weekday"):
            self.groups[name] = [layout.EVENT_TIMESTAMP]
        for info in self.used:
            text = frame[info.name].cast(pl.String).str.strip_chars()
            text = pl.select(pl.when(text.str.len_chars() > 0).then(text)).to_series().alias(info.name)
            role = role_of(info)
            if role == "numeric":
                out[info.name] = text.cast(pl.Float64, strict=False)
                self.groups[info.name] = [info.name]
            elif role == "boolean":
                lowered = text.str.to_lowercase()
                out[info.name] = (
                    pl.select(
                        pl.when(lowered.is_in(["true", "1", "yes", "t"]))
                        .then(1.0)
                        .when(lowered.is_in(["false", "0", "no", "f"]))
                        .then(0.0)
                    )
                    .to_series()
                    .alias(info.name)
                )
                self.groups[info.name] = [info.name]
            elif role == "datetime":
                moment = parse_series(text)
                days = ((event_ms - moment) / 86_400_000).cast(pl.Float64)
                out[f"{info.name}.days_before_event"] = days
                self.groups[f"{info.name}.days_before_event"] = [info.name]
            elif role == "enriched":
                for enricher in enrich.enrichers_for(info.variable_type, info.data_type):
                    derived = enrich.derive_batch(enricher, text, prefix=f"{info.name}.")
                    for output in enricher.outputs:
                        column = derived[f"{info.name}.{output.name}"]
                        if output.kind == "categorical":
                            self._category(out, column.name, column, fit_rows, [info.name])
                        else:
                            out[column.name] = column.cast(pl.Float64)
                            self.groups[column.name] = [info.name]
                if info.name not in self.raw_dropped and info.variable_type not in NOVELTY_TYPES:
                    self._category(out, info.name, text, fit_rows, [info.name])
            elif role == "category" and info.name not in self.raw_dropped:
                self._category(out, info.name, text, fit_rows, [info.name])
            # free text is used only through its enrichment, which role "enriched" covers
        for left, right in self.pairs:
            name = f"{left}~{right}.same"
            out[name] = _pairwise(frame[left], frame[right], enrich.same_place)
            self.groups[name] = [left, right]
        for ip, country in self.ip_country_checks:
            name = f"{ip}~{country}.same_country"
            countries = _map_unique(frame[ip], enrich.ip_country)
            out[name] = _pairwise(countries, frame[country], enrich.same_place)
            self.groups[name] = [ip, country]
        if fit_rows is not None:
            return pl.DataFrame(out)
        return pl.DataFrame({name: out[name] for name in self.feature_names if name in out})

    # --- applying --------------------------------------------------------------------------------

    def base(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Every feature of `frame`'s rows except the entity history (for `transform`'s `base`)."""
        return self._base_columns(frame, None)

    def transform(
        self, frame: pl.DataFrame, history: pl.DataFrame | None = None, base: pl.DataFrame | None = None
    ) -> np.ndarray:
        """The model's input matrix for `frame` (EVENT_MS and variables as text); `history` holds the
        entity-history features for the same rows when the plan has any, `base` what `fit` returned."""
        if base is None:
            base = self.base(frame)
        columns = []
        for name in self.feature_names:
            if name in base.columns:
                columns.append(base[name].cast(pl.Float64).to_numpy())
            elif history is not None and name in history.columns:
                columns.append(history[name].cast(pl.Float64).to_numpy())
            else:
                columns.append(np.full(frame.height, np.nan))
        if not columns:
            return np.zeros((frame.height, 0))
        return np.ascontiguousarray(np.column_stack(columns), dtype=np.float64)

    def by_source(self, values: Mapping[str, float]) -> tuple[dict[str, float], dict[tuple[str, ...], float]]:
        """Per-feature values (importance, contributions) summed per raw variable for features that
        come from one declared variable, and per group of variables for engineered ones (entity
        history, comparisons between variables, event time). A plan of aggregates only (Account
        Takeover Insights) counts each feature for its group and for its raw variables both."""
        declared = {v.name for v in self.variables}
        per_variable: dict[str, float] = defaultdict(float)
        per_group: dict[tuple[str, ...], float] = defaultdict(float)
        if self.aggregates_only:
            # every feature is an aggregate: each counts for its group and, shared equally, for the raw
            # variables it is computed from (else every raw variable would show nothing)
            for feature, value in values.items():
                sources = tuple(self.groups.get(feature, [])) or (layout.ENTITY_ID,)
                per_group[sources] += value
                named = [source for source in sources if source in declared]
                for source in named:
                    per_variable[source] += value / len(named)
            return dict(per_variable), dict(per_group)
        for feature, value in values.items():
            sources = tuple(self.groups.get(feature, []))
            if feature.startswith(HISTORY_PREFIX) or len(sources) != 1 or sources[0] not in declared:
                per_group[sources or (layout.ENTITY_ID,)] += value
            else:
                per_variable[sources[0]] += value
        return dict(per_variable), dict(per_group)

    def describe(self, feature: str) -> str:
        """One of the plan's features in an analyst's words, to show beside the variables it comes from
        (`groups`): the enrichers', the history's and the plan's own features each say it once here."""
        if self.history is not None and (words := self.history.describe(feature)) is not None:
            return words
        fixed = {
            f"{EVENT_PREFIX}hour": "hour of the day of the event, UTC",
            f"{EVENT_PREFIX}weekday": "day of the week",
        }
        if feature in fixed:
            return fixed[feature]
        for left, right in self.pairs:
            if feature == f"{left}~{right}.same":
                return f"whether {left} and {right} match"
        for ip, country in self.ip_country_checks:
            if feature == f"{ip}~{country}.same_country":
                return f"whether the IP address's country is {country}"
        by_name = {v.name: v for v in self.variables}
        if feature.endswith(".freq"):  # of a category: the variable's own or a derived one (email domain)
            base = feature.removesuffix(".freq")
            if base in by_name:
                return "how common the value was in the training data"
            return f"how common the {self.describe(base)} was in the training data"
        if feature in by_name:
            role = role_of(by_name[feature])
            return {"numeric": "the value itself", "boolean": "the value itself, true or false"}.get(
                role, "the value itself, as a category"
            )
        variable, _, derived = feature.rpartition(".")
        info = by_name.get(variable)
        if info is not None:
            if derived == "days_before_event":
                return "days from this date to the event"
            for enricher in enrich.enrichers_for(info.variable_type, info.data_type):
                for output in enricher.outputs:
                    if output.name == derived and output.description:
                        return output.description
        return feature

    # --- persistence -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "variables": [vars(v) for v in self.variables],
            "excluded": self.excluded,
            "raw_dropped": sorted(self.raw_dropped),
            "vocabularies": self.vocabularies,
            "frequencies": self.frequencies,
            "pairs": self.pairs,
            "ip_country_checks": self.ip_country_checks,
            "history": None if self.history is None else self.history.to_json(),
            "feature_names": self.feature_names,
            "categorical": self.categorical,
            "groups": self.groups,
            "aggregates_only": self.aggregates_only,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeaturePlan:
        return cls(
            variables=[VariableInfo(**v) for v in data["variables"]],
            excluded=dict(data["excluded"]),
            raw_dropped=set(data["raw_dropped"]),
            vocabularies={k: list(v) for k, v in data["vocabularies"].items()},
            frequencies={k: dict(v) for k, v in data["frequencies"].items()},
            pairs=[(a, b) for a, b in data["pairs"]],
            ip_country_checks=[(a, b) for a, b in data["ip_country_checks"]],
            history=None if data["history"] is None else HistorySpec.from_json(data["history"]),
            feature_names=list(data["feature_names"]),
            categorical=list(data["categorical"]),
            groups={k: list(v) for k, v in data["groups"].items()},
            aggregates_only=bool(data.get("aggregates_only", False)),
        )


def _unless_missing(values: pl.Series, mapped: pl.Series) -> pl.Series:
    return pl.select(pl.when(values.is_not_null()).then(mapped)).to_series()


def _map_unique(values: pl.Series, fn: Any) -> pl.Series:
    text = values.cast(pl.String)
    uniques = text.drop_nulls().unique().to_list()
    mapping = {u: fn(u) for u in uniques}
    return text.replace_strict(mapping, default=None, return_dtype=pl.String)


def _pairwise(left: pl.Series, right: pl.Series, fn: Any) -> pl.Series:
    frame = pl.DataFrame({"l": left.cast(pl.String), "r": right.cast(pl.String)})
    pairs = frame.unique()
    results = [fn(a, b) for a, b in zip(pairs["l"].to_list(), pairs["r"].to_list(), strict=True)]
    pairs = pairs.with_columns(pl.Series("v", results, dtype=pl.Float64))
    return frame.join(pairs, on=["l", "r"], how="left", nulls_equal=True, maintain_order="left")["v"]
