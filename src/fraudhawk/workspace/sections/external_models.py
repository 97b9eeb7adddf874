"""External models: SageMaker-style endpoints whose outputs rules read. Their output variables are
made by the Put itself, so they are not listed under `variables`."""

from __future__ import annotations

from typing import Any

from fraudhawk.workspace.model import Change, Entry, Section, World
from fraudhawk.workspace.reader import Reader
from fraudhawk.workspace.sections.common import (
    TAGS,
    entry_schema,
    fill,
    put_plan,
    section_schema,
    strip,
)

_ORDER = ["endpoint", "source", "role", "status", "input", "output", "tags"]
_DEFAULTS: dict[str, Any] = {"source": "SAGEMAKER", "status": "ASSOCIATED", "tags": {}}

SCHEMA = section_schema(
    entry_schema(
        ["endpoint", "role", "input", "output"],
        {
            "endpoint": {"type": "string", "pattern": "^[0-9A-Za-z_-]+$", "minLength": 1, "maxLength": 63},
            "source": {"enum": ["SAGEMAKER"], "description": "Default SAGEMAKER."},
            "role": {"type": "string", "description": "invokeModelEndpointRoleArn: the role that may call it."},
            "status": {"enum": ["ASSOCIATED", "DISSOCIATED"], "description": "Default ASSOCIATED."},
            "input": {
                "type": "object",
                "description": "inputConfiguration, as AFD takes it (format, useEventVariables, templates...).",
            },
            "output": {
                "type": "object",
                "description": "outputConfiguration, as AFD takes it (format, jsonKeyToVariableMap...).",
            },
            "tags": TAGS,
        },
    ),
    "External models (SageMaker endpoints) detectors may call.",
)


def read(reader: Reader) -> list[Entry]:
    entries = [
        {
            "endpoint": item["modelEndpoint"],
            "source": item.get("modelSource", "SAGEMAKER"),
            "role": (item.get("invokeModelEndpointRoleArn") or ""),
            "status": item.get("modelEndpointStatus", "ASSOCIATED"),
            "input": item.get("inputConfiguration") or {},
            "output": item.get("outputConfiguration") or {},
            "tags": reader.tags(item.get("arn")),
            "_arn": item.get("arn"),
        }
        for item in reader.all("GetExternalModels", "externalModels")
    ]
    return sorted(entries, key=lambda entry: entry["endpoint"])


def normalize(entry: Entry) -> Entry:
    return fill(entry, _DEFAULTS, _ORDER)


def compact(entry: Entry) -> Entry:
    return strip(entry, _DEFAULTS)


def _put(entry: Entry) -> dict[str, Any]:
    return {
        "modelEndpoint": entry["endpoint"],
        "modelSource": entry["source"],
        "invokeModelEndpointRoleArn": entry["role"],
        "inputConfiguration": entry["input"],
        "outputConfiguration": entry["output"],
        "modelEndpointStatus": entry["status"],
    }


def plan(declared: list[Entry], current: list[Entry], world: World) -> list[Change]:
    return put_plan(
        "external model",
        "endpoint",
        declared,
        current,
        world,
        "PutExternalModel",
        _put,
        lambda e: [("DeleteExternalModel", {"modelEndpoint": e["endpoint"]})],
    )


SECTION = Section("externalModels", "endpoint", SCHEMA, read, normalize, compact, plan)
