"""A model version on disk: LightGBM's text model and a JSON manifest, no pickles.

The manifest holds everything needed to score (the feature plan, the calibration), what the model was
trained on (variables, data window, counts), its metrics, the library versions, and the SHA-256 of the
model file. The store keeps the manifest's own SHA-256, so loading refuses a file changed or swapped
on disk. Files are written to a temporary folder and renamed into place: a crash leaves either the
whole artifact or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from fraudhawk.errors import InternalError


class ArtifactError(InternalError):
    """A model's files are missing or changed on disk (the message names no server path)."""


MODEL_FILE = "model.txt"
MANIFEST_FILE = "manifest.json"


def version_folder(data_dir: Path, model_id: str, version: str) -> Path:
    return data_dir / "models" / model_id / version


def folder(data_dir: Path, model_id: str, version: str, manifest_sha256: str) -> Path:
    """Each training's files sit in a folder named by its manifest's hash, so a training that loses its
    version (cancelled, taken over) can remove its own files without touching another's."""
    return version_folder(data_dir, model_id, version) / manifest_sha256[:16]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "lightgbm": lgb.__version__,
        "numpy": np.__version__,
        "polars": pl.__version__,
    }


def save(parent: Path, model_text: str, manifest: dict[str, Any]) -> tuple[str, Path]:
    """Write the artifact under `parent`; returns the manifest's SHA-256 (for the store) and its folder."""
    model_bytes = model_text.encode()
    manifest = {**manifest, "modelSha256": sha256(model_bytes), "libraries": library_versions()}
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    digest = sha256(manifest_bytes)
    target = parent / digest[:16]
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=".staging-"))
    try:
        (staging / MODEL_FILE).write_bytes(model_bytes)
        (staging / MANIFEST_FILE).write_bytes(manifest_bytes)
        for name in (MODEL_FILE, MANIFEST_FILE):
            with open(staging / name, "rb") as handle:
                os.fsync(handle.fileno())
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return digest, target


@dataclass(frozen=True)
class Artifact:
    manifest: dict[str, Any]
    model_text: str


def load(source: Path, expected_sha256: str) -> Artifact:
    """Read and verify an artifact; a missing or altered file is an error, never a silent fallback."""
    try:
        manifest_bytes = (source / MANIFEST_FILE).read_bytes()
        model_bytes = (source / MODEL_FILE).read_bytes()
    except OSError as error:
        raise ArtifactError(f"the model's files cannot be read ({error.strerror})") from None
    if sha256(manifest_bytes) != expected_sha256:
        raise ArtifactError("the model's manifest does not match the one trained: refusing to load it")
    manifest = json.loads(manifest_bytes)
    if sha256(model_bytes) != manifest.get("modelSha256"):
        raise ArtifactError("the model file does not match its manifest: refusing to load it")
    return Artifact(manifest, model_bytes.decode())


def remove(target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
