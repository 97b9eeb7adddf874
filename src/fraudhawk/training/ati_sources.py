"""Where an Account Takeover Insights model's features come from, for importance and explanations.

Every login-profile feature is an aggregate over the entity's earlier logins (how often it used this IP,
when it last failed to log in, ...), so AFD's two views are: each aggregated group (the login features
computed from the same variables, named by those variables) and each raw variable with everything
computed from it, raw or aggregated. Without the second, a model built on aggregates alone would show
every raw variable at zero importance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from fraudhawk.features.history.login_spec import LOGIN_PREFIX
from fraudhawk.features.plan import FeaturePlan


def is_login(plan: FeaturePlan) -> bool:
    """Whether the plan has login-profile features (an Account Takeover Insights model)."""
    return any(name.startswith(LOGIN_PREFIX) for name in plan.feature_names)


def by_source(plan: FeaturePlan, values: Mapping[str, float]) -> tuple[dict[str, float], dict[tuple[str, ...], float]]:
    """Per-feature values (importance, signed contributions) summed per raw variable (everything
    computed from it; a feature of several variables shared equally) and per aggregated group (login
    features by the variables they are computed from)."""
    login = {name: value for name, value in values.items() if name.startswith(LOGIN_PREFIX)}
    rest = {name: value for name, value in values.items() if name not in login}
    own, groups = plan.by_source(rest)
    declared = {v.name for v in plan.variables}
    per_variable: dict[str, float] = defaultdict(float, own)
    per_group: dict[tuple[str, ...], float] = defaultdict(float)
    for name, value in login.items():
        sources = tuple(plan.groups.get(name, []))
        per_group[sources] += value
    for sources, value in [*per_group.items(), *groups.items()]:
        named = [source for source in sources if source in declared]
        for source in named:
            per_variable[source] += value / len(named)
    for sources, value in groups.items():
        per_group[sources] += value
    return dict(per_variable), dict(per_group)
