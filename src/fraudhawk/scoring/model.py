"""A trained model version ready to score: its booster, feature plan and calibration."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from fraudhawk.caching import LoadingCache
from fraudhawk.features import history as hist
from fraudhawk.features.plan import FeaturePlan
from fraudhawk.scoring.calibration import Calibration
from fraudhawk.scoring.fastpredict import FastBooster
from fraudhawk.training import artifacts


@dataclass
class ScoringModel:
    booster: lgb.Booster
    plan: FeaturePlan
    calibration: Calibration
    manifest: dict[str, Any]

    @classmethod
    def from_artifact(cls, artifact: artifacts.Artifact) -> ScoringModel:
        manifest = artifact.manifest
        return cls(
            booster=lgb.Booster(model_str=artifact.model_text),
            plan=FeaturePlan.from_json(manifest["plan"]),
            calibration=Calibration(list(manifest["calibration"])),
            manifest=manifest,
        )

    @functools.cached_property
    def fast(self) -> FastBooster:
        """Single-event scoring without numpy's per-call overhead (the same numbers as `booster`)."""
        return FastBooster(self.booster)

    def raw(self, frame: pl.DataFrame, history: pl.DataFrame | None = None) -> np.ndarray:
        matrix = self.plan.transform(frame, history)
        return np.asarray(self.booster.predict(matrix, raw_score=True, num_threads=1), dtype=np.float64)

    def scores(self, frame: pl.DataFrame, history: pl.DataFrame | None = None) -> np.ndarray:
        """0-1000 scores of the events in `frame` (EVENT_MS, ENTITY_ID and the variables as text)."""
        return self.calibration.score(self.raw(frame, history))

    def history_of(self, frame: pl.DataFrame, states: dict[str, hist.EntityState]) -> pl.DataFrame | None:
        """History features of `frame`'s events, in order, advancing `states` one event at a time."""
        spec = self.plan.history
        if spec is None:
            return None
        rows = hist.replay(spec, states, hist.events_of(spec, frame))
        return pl.DataFrame(rows, schema=dict.fromkeys(spec.feature_names(), pl.Float64), orient="row", strict=False)


class ModelCache:
    """Loaded models by (folder, manifest hash): loading parses the model text, so do it once."""

    def __init__(self, size: int = 16) -> None:
        self._cache: LoadingCache[tuple[str, str], ScoringModel] = LoadingCache(size)

    def get(self, source: Path, sha: str) -> ScoringModel:
        return self._cache.get((str(source), sha), lambda: ScoringModel.from_artifact(artifacts.load(source, sha)))


MODELS = ModelCache()
