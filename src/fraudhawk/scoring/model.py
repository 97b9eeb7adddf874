"""A trained model version ready to score: its booster, feature plan and calibration."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from fraudhawk.features import history as hist
from fraudhawk.features.plan import FeaturePlan
from fraudhawk.scoring.calibration import Calibration
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
        events = []
        amounts = [
            frame[a].cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False).to_list() for a in spec.amounts
        ]
        categories = []
        for c in spec.categories:
            text = frame[c].cast(pl.String).str.strip_chars()
            categories.append(pl.select(pl.when(text.str.len_chars() > 0).then(text)).to_series().to_list())
        entities = frame["ENTITY_ID"].cast(pl.String).to_list()
        times = frame["EVENT_MS"].cast(pl.Int64).to_list()
        for i in range(frame.height):
            events.append((entities[i], times[i], [a[i] for a in amounts], [c[i] for c in categories]))
        rows = hist.replay(spec, states, events)
        return pl.DataFrame(rows, schema=dict.fromkeys(spec.feature_names(), pl.Float64), orient="row", strict=False)


class ModelCache:
    """Loaded models by (folder, manifest hash): loading parses the model text, so do it once."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], ScoringModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, source: Path, sha: str) -> ScoringModel:
        key = (str(source), sha)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        model = ScoringModel.from_artifact(artifacts.load(source, sha))
        with self._lock:
            self._items[key] = model
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return model


MODELS = ModelCache()
