"""Scores from 0 to 1000 with AFD's meaning: tied to the false positive rate on validation legit events.

AFD documents two points: a score of 600 is about a 10% false positive rate and 900 about 2%. We run
a curve through those points (linear in the logarithm of the FPR between anchors), map it onto the
model's raw output with the quantiles of the validation legit events, and keep the result as 1,001
knots with the model: score(raw) is a monotone interpolation, so rules like `score > 900` mean
"about 2% of legit events" for every model.

Transaction Fraud Insights keeps more knots for young entities (`young`): one curve per bucket of
history length (the entity's earlier events: none, 1-2, 3-9, 10-29, 30-99), fitted on the validation legit events
of that bucket, so that 900 flags about 2% of a new customer's legitimate events as it does of a
known customer's. An event's bucket is its `h.events_seen` history feature, which both history
engines compute to the bit, so batch and real-time scores stay equal.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np

#: (false positive rate, score), from "everything flagged" to "one legit event in ten thousand".
ANCHORS: tuple[tuple[float, float], ...] = ((1.0, 0.0), (0.1, 600.0), (0.02, 900.0), (1e-4, 1000.0))
#: Account Takeover Insights: (challenge rate, score) on real logins; AFD documents 500 as about 5%
#: of logins challenged and 900 as about 0.1%.
CHALLENGE_ANCHORS: tuple[tuple[float, float], ...] = ((1.0, 0.0), (0.05, 500.0), (0.001, 900.0), (1e-5, 1000.0))
Anchors = tuple[tuple[float, float], ...]
GRID = np.arange(0, 1001, dtype=np.float64)
#: upper bounds (exclusive) of the young buckets of earlier events: none, 1-2, 3-9, 10-29, 30-99; the
#: rest (the history's count cap, 100, and more) use `knots`
YOUNG_BUCKETS: tuple[int, ...] = (1, 3, 10, 30, 100)


def fpr_for_score(score: float, anchors: Anchors = ANCHORS) -> float:
    """The false positive rate (or challenge rate) a score stands for (the inverse of the anchor curve)."""
    score = min(max(score, 0.0), 1000.0)
    for (f_hi, s_lo), (f_lo, s_hi) in itertools.pairwise(anchors):
        if score <= s_hi:
            t = (score - s_lo) / (s_hi - s_lo)
            return math.exp(math.log(f_hi) + t * (math.log(f_lo) - math.log(f_hi)))
    return anchors[-1][0]


@dataclass(frozen=True)
class Calibration:
    knots: list[float]  # raw model output at scores 0, 1, ..., 1000 (non-decreasing)
    # (earlier events below, knots) per young bucket, youngest first; a bucket without its own knots
    # (too few validation events to fit them) uses `knots`
    young: tuple[tuple[int, tuple[float, ...]], ...] = ()

    @classmethod
    def fit(cls, legit_raw: np.ndarray, anchors: Anchors = ANCHORS) -> Calibration:
        """From the raw outputs of the validation legit events (ATI: all real logins, with
        CHALLENGE_ANCHORS)."""
        values = np.sort(np.asarray(legit_raw, dtype=np.float64))
        if len(values) == 0:
            raise ValueError("calibration needs validation legit events")
        targets = np.array([fpr_for_score(s, anchors) for s in GRID])
        knots = np.quantile(values, np.clip(1.0 - targets, 0.0, 1.0))
        knots = np.maximum.accumulate(knots)
        # Below one legit event in the validation set the data says nothing more: continue the
        # slope of the last stretch it does resolve, so higher raw outputs still score higher.
        unresolved = np.flatnonzero(targets < 1.0 / len(values))
        if len(unresolved):
            first = int(unresolved[0])
            start = max(first - 100, 0)
            slope = max((knots[first - 1] - knots[start]) / max(first - 1 - start, 1), 1e-3) if first else 1e-3
            knots[first:] = knots[first - 1 if first else 0] + slope * np.arange(1, len(knots) - first + 1)
        # strictly increasing, so equal raw outputs never straddle a score boundary unpredictably
        knots = knots + GRID * 1e-9
        return cls([float(k) for k in knots])

    def with_young(self, young: list[tuple[int, Calibration]]) -> Calibration:
        """This calibration with curves of its own for young buckets ((earlier events below, fitted))."""
        return Calibration(self.knots, tuple((below, tuple(fitted.knots)) for below, fitted in young))

    @functools.cached_property
    def _knots(self) -> np.ndarray:
        return np.asarray(self.knots, dtype=np.float64)

    @functools.cached_property
    def _young(self) -> list[tuple[int, int, np.ndarray]]:
        """(earlier events from, below, knots) of each young bucket with its own knots."""
        out = []
        low = 0
        for below, knots in self.young:
            out.append((low, below, np.asarray(knots, dtype=np.float64)))
            low = below
        return out

    def score(self, raw: np.ndarray, seen: np.ndarray | None = None) -> np.ndarray:
        """Scores (0..1000, floats) for raw model outputs (log-odds); `seen`: each event's number of
        earlier events of its entity (`h.events_seen`), which picks a young bucket's curve."""
        values = np.asarray(raw, dtype=np.float64)
        out: np.ndarray = np.interp(values, self._knots, GRID, left=0.0, right=1000.0)
        if seen is not None and self.young:
            count = np.asarray(seen, dtype=np.float64)
            for low, below, knots in self._young:
                pick = (count >= low) & (count < below)
                if pick.any():
                    out[pick] = np.interp(values[pick], knots, GRID, left=0.0, right=1000.0)
        return out
