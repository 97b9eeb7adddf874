"""A training's outcome in AFD's shapes (trainingResult and trainingResultV2) and in the manifest.

Account Takeover Insights has no AUC and no fraud/legit rates, which is all AFD's v1 `trainingMetrics`
can hold: its v1 result carries the data validation and variable importance only, and its metrics (ASI,
challenge rate, anomaly and takeover discovery rates) are in v2's `trainingMetricsV2.ati`, where AFD
puts them.
"""

from __future__ import annotations

import math
from typing import Any

from fraudhawk.context import now_ms
from fraudhawk.training.messages import Messages
from fraudhawk.training.trainer import Trained

ATI = "ACCOUNT_TAKEOVER_INSIGHTS"
_METRIC_KEY = {"ONLINE_FRAUD_INSIGHTS": "ofi", "TRANSACTION_FRAUD_INSIGHTS": "tfi"}
#: the members of AFD's ATIMetricDataPoint (atodr only when enough takeovers are labelled)
_ATI_POINT = ("threshold", "cr", "adr", "atodr")


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def importance(trained: Trained) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Log-odds importance of each raw variable (its own and enriched features), and of each group of
    engineered features (entity history, comparisons between variables, event time)."""
    types = {v.name: v.variable_type for v in trained.plan.variables}
    per_variable, per_group = trained.plan.by_source(trained.importance)
    for name in trained.plan.variables:
        if name.name not in trained.plan.excluded:
            per_variable.setdefault(name.name, 0.0)
    variables = [
        {"variableName": name, "variableType": types[name], "variableImportance": round(_finite(value), 6)}
        for name, value in sorted(per_variable.items(), key=lambda item: -item[1])
    ]
    groups = [
        {"variableNames": list(names), "aggregatedVariablesImportance": round(_finite(value), 6)}
        for names, value in sorted(per_group.items(), key=lambda item: -item[1])
    ]
    return variables, groups


def _ati_points(points: list[dict[str, Any]]) -> list[dict[str, float]]:
    return [{key: _finite(float(point[key])) for key in _ATI_POINT if key in point} for point in points]


def _ati_success(trained: Trained) -> dict[str, Any]:
    performance = trained.performance
    validation = trained.messages.to_wire()
    variables, groups = importance(trained)
    v1 = {"dataValidationMetrics": validation, "variableImportanceMetrics": {"logOddsMetrics": variables}}
    v2 = {
        "dataValidationMetrics": validation,
        "trainingMetricsV2": {
            "ati": {
                "metricDataPoints": _ati_points(performance["points"]),
                "modelPerformance": {"asi": _finite(float(performance["asi"]))},
            }
        },
        "variableImportanceMetrics": {"logOddsMetrics": variables},
        "aggregatedVariablesImportanceMetrics": {"logOddsMetrics": groups},
    }
    extra = {
        "atoEntities": performance.get("atoEntities", 0),
        "scoreDistributions": performance.get("distributions", {}),
        "summary": trained.summary,
    }
    return {"v1": v1, "v2": v2, "extra": extra}


def success(model_type: str, trained: Trained) -> dict[str, Any]:
    if model_type == ATI:
        return _ati_success(trained)
    performance = trained.performance
    validation = trained.messages.to_wire()
    auc = _finite(performance["auc"])
    low, high = performance["aucRange"]
    variables, groups = importance(trained)
    v1 = {
        "dataValidationMetrics": validation,
        "trainingMetrics": {"auc": auc, "metricDataPoints": performance["points"]},
        "variableImportanceMetrics": {"logOddsMetrics": variables},
    }
    v2 = {
        "dataValidationMetrics": validation,
        "trainingMetricsV2": {
            _METRIC_KEY[model_type]: {
                "metricDataPoints": performance["points"],
                "modelPerformance": {
                    "auc": auc,
                    "uncertaintyRange": {"lowerBoundValue": low, "upperBoundValue": high},
                },
            }
        },
        "variableImportanceMetrics": {"logOddsMetrics": variables},
        "aggregatedVariablesImportanceMetrics": {"logOddsMetrics": groups},
    }
    extra = {
        "averagePrecision": performance["averagePrecision"],
        "recallAtFpr": performance["recallAtFpr"],
        **({"historyLength": performance["historyLength"]} if "historyLength" in performance else {}),
        "scoreDistributions": performance["distributions"],
        "summary": trained.summary,
    }
    return {"v1": v1, "v2": v2, "extra": extra}


def failure(messages: Messages) -> dict[str, Any]:
    validation = messages.to_wire()
    return {"v1": {"dataValidationMetrics": validation}, "v2": {"dataValidationMetrics": validation}}


def manifest(model: Any, version: str, row: Any, trained: Trained) -> dict[str, Any]:
    performance = {k: v for k, v in trained.performance.items() if k != "points"}
    return {
        "format": 1,
        "modelId": model.model_id,
        "modelType": model.model_type,
        "modelVersionNumber": version,
        "eventTypeName": model.event_type,
        "trainingDataSource": row.training_source,
        "trainedAtMs": now_ms(),
        "plan": trained.plan.to_json(),
        "calibration": trained.calibration.knots,
        "calibrationYoung": [[below, list(knots)] for below, knots in trained.calibration.young],
        "performance": performance,
        "summary": trained.summary,
        "importance": trained.importance,
    }
