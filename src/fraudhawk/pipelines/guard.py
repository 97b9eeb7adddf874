"""The activation guard: a version trained by a pipeline replaces the active one only when it is at
least as good on its validation metrics (AUC not lower by more than the pipeline's `maxAucDrop`), and
the detector's next version is the active (or latest) one with the new model version in place."""

from __future__ import annotations

from typing import Any

from fraudhawk.events.rawimport import Call


def auc_of(version: dict[str, Any]) -> float | None:
    """A model version's validation AUC, as DescribeModelVersions reports it (v1 or v2 result)."""
    v1 = version.get("trainingResult", {}).get("trainingMetrics", {})
    if "auc" in v1:
        return float(v1["auc"])
    for metrics in version.get("trainingResultV2", {}).get("trainingMetricsV2", {}).values():
        performance = metrics.get("modelPerformance", {}) if isinstance(metrics, dict) else {}
        if "auc" in performance:
            return float(performance["auc"])
        if "asi" in performance:
            return float(performance["asi"])
    return None


def _number(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor)


def decide(number: str, versions: list[dict[str, Any]], max_drop: float) -> dict[str, Any]:
    """Whether version `number` should be activated, with the figures: it must have an AUC, and be
    no more than `max_drop` below the best ACTIVE version's (any AUC wins when none is active)."""
    new = next(v for v in versions if v["modelVersionNumber"] == number)
    auc = auc_of(new)
    active = [v for v in versions if v["status"] == "ACTIVE" and v["modelVersionNumber"] != number]
    decision: dict[str, Any] = {"version": number, "auc": auc, "maxAucDrop": max_drop}
    if auc is None:
        return {**decision, "activate": False, "why": "the version has no validation AUC"}
    if not active:
        return {**decision, "activate": True, "why": "no version was active"}
    best = max(active, key=lambda v: (auc_of(v) or 0.0, _number(v["modelVersionNumber"])))
    best_auc = auc_of(best) or 0.0
    decision.update(activeVersion=best["modelVersionNumber"], activeAuc=best_auc)
    if auc >= best_auc - max_drop:
        return {
            **decision,
            "activate": True,
            "why": f"AUC {auc:.4f} against {best_auc:.4f} (allowed drop {max_drop:g})",
        }
    return {
        **decision,
        "activate": False,
        "why": f"AUC {auc:.4f} is more than {max_drop:g} below the active version's {best_auc:.4f}",
    }


def base_version(call: Call, detector_id: str) -> dict[str, Any] | None:
    """The detector version a new one copies: the ACTIVE one, else the newest; None if it has none."""
    summaries = call("DescribeDetector", {"detectorId": detector_id})["detectorVersionSummaries"]
    if not summaries:
        return None
    active = [s for s in summaries if s["status"] == "ACTIVE"]
    chosen = active[0] if active else max(summaries, key=lambda s: int(s["detectorVersionId"]))
    return dict(
        call("GetDetectorVersion", {"detectorId": detector_id, "detectorVersionId": chosen["detectorVersionId"]})
    )


def next_version(base: dict[str, Any], model_id: str, model_type: str, number: str) -> dict[str, Any]:
    """CreateDetectorVersion's request: `base`'s rules, external models and execution mode, its model
    versions with this model's replaced by (or joined by) version `number`."""
    models = [
        {"modelId": m["modelId"], "modelType": m["modelType"], "modelVersionNumber": m["modelVersionNumber"]}
        for m in base.get("modelVersions", [])
        if m["modelId"] != model_id
    ]
    models.append({"modelId": model_id, "modelType": model_type, "modelVersionNumber": number})
    return {
        "detectorId": base["detectorId"],
        "description": f"{model_id} {number}, by a pipeline (from version {base['detectorVersionId']})",
        "rules": base["rules"],
        "modelVersions": models,
        "externalModelEndpoints": base.get("externalModelEndpoints", []),
        "ruleExecutionMode": base.get("ruleExecutionMode", "FIRST_MATCHED"),
    }
