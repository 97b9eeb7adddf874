"""A trained model version ready to score: its booster, feature plan and calibration."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from fraudhawk.caching import LoadingCache
from fraudhawk.catalog.version_numbers import version_text
from fraudhawk.context import Context
from fraudhawk.features import history as hist
from fraudhawk.features.plan import FeaturePlan
from fraudhawk.scoring import artifacts
from fraudhawk.scoring.calibration import Calibration
from fraudhawk.scoring.compiled import CompiledModel
from fraudhawk.scoring.fastpredict import FastBooster

log = logging.getLogger("fraudhawk.scoring")
COMPILED_LOOK_S = 5.0
#: Account Takeover Insights scores an entity's first event -1: with no history, its risk is unknown
UNKNOWN_RISK = -1.0
_FIRST_EVENT_UNKNOWN = ("ACCOUNT_TAKEOVER_INSIGHTS",)
SEEN = f"{hist.PREFIX}events_seen"


@dataclass
class ScoringModel:
    booster: lgb.Booster
    plan: FeaturePlan
    calibration: Calibration
    manifest: dict[str, Any]
    folder: Path | None = None  # where the artifact (and its compiled library, once built) lives
    model_text: str = ""
    _compiled: CompiledModel | None = field(default=None, init=False, repr=False)
    _library_sha256: str | None = field(default=None, init=False, repr=False)
    _next_look: float = field(default=0.0, init=False, repr=False)

    @classmethod
    def from_artifact(cls, artifact: artifacts.Artifact, folder: Path | None = None) -> ScoringModel:
        manifest = artifact.manifest
        return cls(
            booster=lgb.Booster(model_str=artifact.model_text),
            plan=FeaturePlan.from_json(manifest["plan"]),
            calibration=Calibration(
                list(manifest["calibration"]),
                tuple((int(below), tuple(knots)) for below, knots in manifest.get("calibrationYoung", ())),
            ),
            manifest=manifest,
            folder=folder,
            model_text=artifact.model_text,
        )

    @functools.cached_property
    def first_event_unknown(self) -> bool:
        """Whether an entity's first event scores UNKNOWN_RISK (ATI) rather than a model score."""
        return self.manifest.get("modelType") in _FIRST_EVENT_UNKNOWN

    @functools.cached_property
    def seen_position(self) -> int | None:
        """Where `h.events_seen` is among the history features (its young buckets' calibration reads it)."""
        spec = self.plan.history
        if spec is None or not self.calibration.young:
            return None
        return spec.feature_names().index(SEEN)

    def calibrated(self, raw: np.ndarray, history: pl.DataFrame | None) -> np.ndarray:
        """0-1000 scores of raw outputs, with the curve of each event's history length."""
        seen = None
        if self.seen_position is not None and history is not None:
            seen = history[SEEN].cast(pl.Float64).fill_null(0).to_numpy()
        return self.with_unknown(self.calibration.score(raw, seen), history)

    def calibrated_one(self, raw: float, history: list[Any] | None) -> float:
        """`calibrated` of one event, its history features as the one-event engine gives them."""
        seen = None
        position = self.seen_position
        if position is not None and history is not None:
            seen = np.array([float(history[position] or 0)])
        return float(self.calibration.score(np.array([raw]), seen)[0])

    def with_unknown(self, scores: np.ndarray, history: pl.DataFrame | None) -> np.ndarray:
        """`scores` with UNKNOWN_RISK for the events that are their entity's first (no earlier
        event in the history features), for a model that scores them so."""
        if not self.first_event_unknown or history is None:
            return scores
        seen = history[f"{hist.PREFIX}events_seen"].fill_null(0).to_numpy()
        return np.where(seen > 0, scores, UNKNOWN_RISK)

    @functools.cached_property
    def fast(self) -> FastBooster:
        """Single-event scoring without numpy's per-call overhead (the same numbers as `booster`)."""
        return FastBooster(self.booster)

    def trust_library(self, sha256: str | None) -> None:
        """The compiled library's SHA-256 as the store recorded it at activation: only a library with
        exactly that content is loaded (none before one is recorded), as model files are checked."""
        if sha256 != self._library_sha256:
            self._library_sha256 = sha256
            self._compiled = None
            self._next_look = 0.0

    def compiled(self) -> CompiledModel | None:
        """The model compiled to native code (built when the version is activated), if it exists yet:
        the same scores, bit for bit, several times faster. Looked for again every few seconds until
        found, since activation may finish after the model was first loaded."""
        expected = self._library_sha256
        if self._compiled is None and expected and self.folder is not None and time.monotonic() >= self._next_look:
            self._next_look = time.monotonic() + COMPILED_LOOK_S
            try:
                self._compiled = CompiledModel.load(self.folder, self.model_text, library_sha256=expected)
            except Exception:
                log.warning("the compiled model in %s cannot be loaded; scoring with LightGBM", self.folder)
        return self._compiled

    def raw_one(self, vector: np.ndarray) -> float:
        compiled = self.compiled()
        return compiled.raw_one(vector) if compiled is not None else self.fast.raw_one(vector)

    def raw_matrix(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray:
        compiled = self.compiled()
        if compiled is not None:
            return compiled.raw_batch(np.ascontiguousarray(matrix, dtype=np.float64), threads=threads)
        return np.asarray(self.booster.predict(matrix, raw_score=True, num_threads=threads), dtype=np.float64)

    def raw(self, frame: pl.DataFrame, history: pl.DataFrame | None = None) -> np.ndarray:
        return self.raw_matrix(self.plan.transform(frame, history))

    def scores(self, frame: pl.DataFrame, history: pl.DataFrame | None = None) -> np.ndarray:
        """0-1000 scores of the events in `frame` (EVENT_MS, ENTITY_ID and the variables as text)
        (UNKNOWN_RISK for an entity's first event, for a model that scores it so)."""
        return self.calibrated(self.raw(frame, history), history)

    def history_of(self, frame: pl.DataFrame, states: dict[str, hist.EntityState]) -> pl.DataFrame | None:
        """History features of `frame`'s events, in order, advancing `states` one event at a time."""
        spec = self.plan.history
        if spec is None:
            return None
        return hist.replay_frame(spec, frame, states)


class ModelCache:
    """Loaded models by (folder, manifest hash): loading parses the model text, so do it once. Each
    service has its own (`Context.models`)."""

    def __init__(self, size: int = 16) -> None:
        self._cache: LoadingCache[tuple[str, str], ScoringModel] = LoadingCache(size)

    def get(self, source: Path, sha: str) -> ScoringModel:
        return self._cache.get(
            (str(source), sha), lambda: ScoringModel.from_artifact(artifacts.load(source, sha), source)
        )


def load_version_model(ctx: Context, row: Any) -> ScoringModel:
    """The loaded model of a trained version (cached); ArtifactError if its files are gone or changed."""
    digest = row.artifact_sha256 or ""
    source = artifacts.folder(ctx.settings.data_dir, row.model_id, version_text(row.major, row.minor), digest)
    model = ctx.models.get(source, digest)
    model.trust_library(getattr(row, "compiled_sha256", None))
    return model
