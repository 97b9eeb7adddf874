"""Validation metrics in AFD's shapes: AUC with an uncertainty range, a dense grid of (threshold, FPR,
TPR, precision), score distributions, and log-odds variable importance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

THRESHOLD_STEP = 5
HISTOGRAM_BINS = 50


def roc_auc(scores: np.ndarray, target: np.ndarray) -> float:
    """Area under the ROC curve (ties count half), the Mann-Whitney statistic."""
    positives = target == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(scores)]))
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(scores: np.ndarray, target: np.ndarray) -> float:
    """Average precision (area under the precision-recall steps), as scikit-learn defines it."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], target[order]
    distinct = np.flatnonzero(np.diff(s)) if len(s) else np.array([], dtype=int)
    cut = np.concatenate((distinct, [len(s) - 1]))
    tp = np.cumsum(y)[cut]
    fp = (cut + 1) - tp
    total = y.sum()
    if total == 0:
        return float("nan")
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / total
    previous = np.concatenate(([0.0], recall[:-1]))
    return float(np.sum((recall - previous) * precision))


def auc_range(auc: float, n_pos: int, n_neg: int) -> tuple[float, float]:
    """95% interval from Hanley and McNeil's standard error of the AUC."""
    if not math.isfinite(auc) or n_pos == 0 or n_neg == 0:
        return (0.0, 1.0)
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    se = math.sqrt(max(variance, 0.0))
    return (max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se))


def metric_points(scores: np.ndarray, target: np.ndarray) -> list[dict[str, float]]:
    """For thresholds 0, 5, ..., 1000: the share of fraud (tpr) and legit (fpr) scoring at or above
    it, and the precision of flagging those events."""
    fraud = np.sort(scores[target == 1])
    legit = np.sort(scores[target == 0])
    thresholds = np.arange(0, 1001, THRESHOLD_STEP, dtype=np.float64)
    tp = len(fraud) - np.searchsorted(fraud, thresholds, side="left")
    fp = len(legit) - np.searchsorted(legit, thresholds, side="left")
    return [
        {
            "fpr": float(f / max(len(legit), 1)),
            "precision": float(t / (t + f)) if t + f else 1.0,
            "tpr": float(t / max(len(fraud), 1)),
            "threshold": float(threshold),
        }
        for threshold, t, f in zip(thresholds.tolist(), tp.tolist(), fp.tolist(), strict=True)
    ]


def recall_at_fpr(scores: np.ndarray, target: np.ndarray, fpr: float) -> float:
    """Share of fraud caught when flagging the top `fpr` share of legit events."""
    legit = np.sort(scores[target == 0])
    fraud = scores[target == 1]
    if len(legit) == 0 or len(fraud) == 0:
        return float("nan")
    cut = legit[min(len(legit) - 1, math.floor((1 - fpr) * len(legit)))]
    return float((fraud > cut).mean())


def distributions(scores: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    edges = np.linspace(0, 1000, HISTOGRAM_BINS + 1)
    fraud, _ = np.histogram(scores[target == 1], bins=edges)
    legit, _ = np.histogram(scores[target == 0], bins=edges)
    return {"binEdges": edges.tolist(), "fraud": fraud.tolist(), "legit": legit.tolist()}


def performance(scores: np.ndarray, raw: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """Every validation figure of one model version, computed on its holdout events."""
    auc = roc_auc(raw, target)
    n_pos, n_neg = int((target == 1).sum()), int((target == 0).sum())
    low, high = auc_range(auc, n_pos, n_neg)
    return {
        "auc": auc,
        "aucRange": [low, high],
        "averagePrecision": average_precision(raw, target),
        "recallAtFpr": {
            "0.001": recall_at_fpr(raw, target, 0.001),
            "0.01": recall_at_fpr(raw, target, 0.01),
        },
        "points": metric_points(scores, target),
        "distributions": distributions(scores, target),
        "fraudEvents": n_pos,
        "legitEvents": n_neg,
    }


#: history-length buckets of the validation report (earlier events of the entity, inclusive bounds)
HISTORY_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("new", 0, 0),
    ("1-2", 1, 2),
    ("3-9", 3, 9),
    ("10-29", 10, 29),
    ("30-99", 30, 99),
    ("100+", 100, 2**31),
)
#: the thresholds whose FPR the history-length report gives (AFD's 600 ~ 10% and 900 ~ 2%)
USUAL_THRESHOLDS = (500, 600, 900)


def _bucket_figures(scores: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    legit = target == 0
    fraud = ~legit
    out: dict[str, Any] = {"events": len(target), "fraudEvents": int(fraud.sum())}
    out["fprAtThreshold"] = {
        str(t): (float((scores[legit] > t).mean()) if legit.any() else None) for t in USUAL_THRESHOLDS
    }
    out["tprAtThreshold"] = {
        str(t): (float((scores[fraud] > t).mean()) if fraud.any() else None) for t in USUAL_THRESHOLDS
    }
    return out


def by_history(
    scores: np.ndarray,
    target: np.ndarray,
    seen: np.ndarray,
    young: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """How entities fare by the length of their history (their earlier events): per bucket, the share
    of validation events, and the false (and true) positive rate at the usual thresholds, for the
    validation events as they are and (`asIfNew`) for the young copies of validation events, computed as
    if their entity had just appeared (`young`: scores, targets and earlier-event counts)."""
    out = []
    total = max(len(target), 1)
    for name, low, high in HISTORY_BUCKETS:
        pick = (seen >= low) & (seen <= high)
        row: dict[str, Any] = {"earlierEvents": name, "share": float(pick.sum() / total)}
        row.update(_bucket_figures(scores[pick], target[pick]))
        if young is not None:
            young_scores, young_target, young_seen = young
            chosen = (young_seen >= low) & (young_seen <= high)
            if chosen.any():
                row["asIfNew"] = _bucket_figures(young_scores[chosen], young_target[chosen])
        out.append(row)
    return out


def ati_points(real: np.ndarray, anomalies: np.ndarray, takeovers: np.ndarray | None) -> list[dict[str, float]]:
    """For thresholds 0, 5, ..., 1000 (Account Takeover Insights): the challenge rate (share of real
    logins scoring at or above it), the anomaly discovery rate (share of anomalies) and, when
    `takeovers` is given, the ATO discovery rate (share of labelled takeovers)."""
    thresholds = np.arange(0, 1001, THRESHOLD_STEP, dtype=np.float64)

    def at_or_above(values: np.ndarray) -> np.ndarray:
        ordered = np.sort(values)
        share: np.ndarray = (len(ordered) - np.searchsorted(ordered, thresholds, side="left")) / max(len(ordered), 1)
        return share

    cr, adr = at_or_above(real), at_or_above(anomalies)
    atodr = at_or_above(takeovers) if takeovers is not None else None
    points = []
    for i, threshold in enumerate(thresholds.tolist()):
        point = {"cr": float(cr[i]), "adr": float(adr[i]), "threshold": float(threshold)}
        if atodr is not None:
            point["atodr"] = float(atodr[i])
        points.append(point)
    return points


def ati_performance(
    real: np.ndarray,
    anomalies: np.ndarray,
    takeovers: np.ndarray | None,
    raw_real: np.ndarray,
    raw_anomalies: np.ndarray,
) -> dict[str, Any]:
    """Every validation figure of an Account Takeover Insights version: the anomaly separation index
    (the AUC of anomalies against real logins), the challenge-rate grid, score distributions."""
    raw = np.concatenate([raw_anomalies, raw_real])
    target = np.concatenate([np.ones(len(raw_anomalies)), np.zeros(len(raw_real))])
    edges = np.linspace(0, 1000, HISTOGRAM_BINS + 1)
    histograms = {
        "binEdges": edges.tolist(),
        "real": np.histogram(real, bins=edges)[0].tolist(),
        "anomalies": np.histogram(anomalies, bins=edges)[0].tolist(),
    }
    if takeovers is not None:
        histograms["takeovers"] = np.histogram(takeovers, bins=edges)[0].tolist()
    return {
        "asi": roc_auc(raw, target),
        "points": ati_points(real, anomalies, takeovers),
        "distributions": histograms,
        "realEvents": len(real),
        "anomalies": len(anomalies),
        "takeoverEvents": 0 if takeovers is None else len(takeovers),
    }
