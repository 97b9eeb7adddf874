"""Prediction explanations: each variable's signed log-odds impact on a model's score.

They come from LightGBM's exact tree contributions (TreeSHAP) on the input row recorded with the
prediction, summed per raw variable the way training sums importance, so an explanation agrees
with the model's variable importance and is the same every time it is read.

For Account Takeover Insights each aggregated group also carries `description`, the login features
behind it in plain words ("new to this entity: IP address and country"). It is not a member of AFD's
shape: boto3 and the other SDKs skip it, the raw JSON and the CLI show it. So is
`featureImpactExplanations`: every derived feature that moved the score, with its words from the
feature plan (`FeaturePlan.describe`) and the variables it comes from, for a reader who wants to know
which of a variable's features (its value, its history against the entity's...) made its impact.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fraudhawk.eventdata import layout
from fraudhawk.features.history import PREFIX
from fraudhawk.features.history.login_spec import LOGIN_PREFIX
from fraudhawk.predictions import login_reasons
from fraudhawk.scoring.model import SEEN, ScoringModel

#: fraudhawk's addition to AFD's predictionExplanations (SDKs skip it; the raw JSON and the CLI show it)
FEATURES = "featureImpactExplanations"
#: |log-odds| at which a variable earns 1, 2, 3, 4 and 5 stars of relative impact.
STARS = (0.05, 0.2, 0.5, 1.0, 2.0)
#: earlier events below which an explanation calls the entity a new or young customer
YOUNG_WORDS_BELOW = 10


def relative_impact(log_odds: float) -> str:
    """AFD's 0-5 star rating of one variable's push on the score (its sign is in logOddsImpact)."""
    return str(sum(1 for threshold in STARS if abs(log_odds) >= threshold))


def _finite(value: float) -> float:
    return round(value, 6) if math.isfinite(value) else 0.0


def explain(model: ScoringModel, vector: np.ndarray) -> dict[str, Any]:
    """predictionExplanations for one recorded input row."""
    contributions = np.asarray(model.booster.predict(vector.reshape(1, -1), pred_contrib=True, num_threads=1))[0][:-1]
    plan = model.plan
    by_feature = dict(zip(plan.feature_names, contributions.tolist(), strict=True))
    per_variable, per_group = plan.by_source(by_feature)
    variables = [
        {"eventVariableName": name, "relativeImpact": relative_impact(value), "logOddsImpact": _finite(value)}
        for name, value in sorted(per_variable.items(), key=lambda item: -abs(item[1]))
    ]
    groups = [
        {"eventVariableNames": list(names), "relativeImpact": relative_impact(value), "logOddsImpact": _finite(value)}
        for names, value in sorted(per_group.items(), key=lambda item: -abs(item[1]))
    ]
    if plan.aggregates_only:  # the login profile (Account Takeover Insights): its reasons in words
        _describe(plan.feature_names, plan.groups, vector, groups)
    features = _features(model, by_feature)
    young = _young_words(model, vector)
    if young is not None:
        # the entity's history features then speak of its having none (or little), not of its id
        for group in groups:
            if group["eventVariableNames"] == [layout.ENTITY_ID]:
                group["description"] = young
        for feature in features:
            if feature["featureName"].startswith(PREFIX):
                feature["description"] = f"{young}: {feature['description']}"
    return {
        "variableImpactExplanations": variables,
        "aggregatedVariablesImpactExplanations": groups,
        FEATURES: features,
    }


def _young_words(model: ScoringModel, vector: np.ndarray) -> str | None:
    """ "new customer" when the event's entity had no earlier event, "young customer" with a few;
    None otherwise or without an entity history."""
    plan = model.plan
    if plan.history is None or plan.aggregates_only or SEEN not in plan.feature_names:
        return None
    seen = float(np.asarray(vector, dtype=np.float64).ravel()[plan.feature_names.index(SEEN)])
    if not math.isfinite(seen) or seen >= YOUNG_WORDS_BELOW:
        return None
    if seen == 0:
        return "new customer (no earlier events)"
    return f"young customer ({int(seen)} earlier event{'s' if seen > 1 else ''})"


def _features(model: ScoringModel, by_feature: dict[str, float]) -> list[dict[str, Any]]:
    """Each derived feature that moved the score, named in words: the rows AFD's two lists sum up (a
    variable's own value, its history against the entity's, its enrichments...)."""
    plan = model.plan
    moved = sorted(((name, value) for name, value in by_feature.items() if value != 0), key=lambda item: -abs(item[1]))
    return [
        {
            "featureName": name,
            "description": plan.describe(name),
            "eventVariableNames": list(plan.groups.get(name) or [layout.ENTITY_ID]),
            "relativeImpact": relative_impact(value),
            "logOddsImpact": _finite(value),
        }
        for name, value in moved
    ]


def _describe(
    names: list[str], sources: dict[str, list[str]], vector: np.ndarray, groups: list[dict[str, Any]]
) -> None:
    """Add each login group's plain words, from the feature values recorded with the prediction."""
    values = dict(zip(names, np.asarray(vector, dtype=np.float64).ravel().tolist(), strict=True))
    for group in groups:
        members = [
            name
            for name in names
            if name.startswith(LOGIN_PREFIX) and tuple(sources.get(name, [])) == tuple(group["eventVariableNames"])
        ]
        text = login_reasons.describe(values, members) if members else None
        if text:
            group["description"] = text
