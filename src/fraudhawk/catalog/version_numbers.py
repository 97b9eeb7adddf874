"""Model version numbers as AFD writes them ("1.0", "1.01", "2.0") and a model version's ARN.

Training creates versions, detectors and predictions name them and scoring finds their files by them,
so the numbering sits here, below all of those.
"""

from __future__ import annotations

from fraudhawk.context import Context
from fraudhawk.errors import ValidationError

ARN_TYPE = "model-version"


def version_text(major: int, minor: int) -> str:
    return f"{major}.0" if minor == 0 else f"{major}.{minor:02d}"


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    if not major.isdigit() or not minor.isdigit():
        raise ValidationError(f"modelVersionNumber {text!r} is not a version number such as 1.0")
    return int(major), int(minor) * (10 if len(minor) == 1 else 1)


def version_arn(ctx: Context, model_type: str, model_id: str, version: str) -> str:
    return ctx.arns.build(ARN_TYPE, model_type, model_id, version)
