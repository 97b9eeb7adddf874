"""The JSON Schema of a workspace file, assembled from the sections' fragments. The same schema is
shipped as `workspace.schema.json` for editors (a test keeps the file equal to this);
`python -m fraudhawk.workspace.schema` rewrites it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fraudhawk.workspace.document import FORMAT
from fraudhawk.workspace.model import Section
from fraudhawk.workspace.sections import SECTIONS

SCHEMA_FILE = Path(__file__).with_name("workspace.schema.json")


def workspace_schema(sections: tuple[Section, ...] = SECTIONS) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/fraudhawk/fraudhawk/workspace.schema.json",
        "title": "fraudhawk workspace",
        "description": (
            "Amazon Fraud Detector's resources as code: `fraudhawk export` writes it, `fraudhawk apply` applies it."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["version"],
        "properties": {
            "version": {"const": FORMAT, "description": "The format's version."},
            **{section.key: section.schema for section in sections},
        },
    }


def schema_text() -> str:
    return json.dumps(workspace_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
