"""Models: what is trained and how, not the trained artifact. `training` holds CreateModelVersion's
settings (data source, variables, labels, data window or location); an export writes those of the
model's newest version, the data it needs to be retrained. With `train: true` apply makes sure a
version was trained with exactly these settings, starting a new version (CreateModelVersion) when
none was, and does not wait for it; with `train: false` (the default) apply never trains and
`training` is kept for the record."""

from __future__ import annotations

from typing import Any

from fraudhawk.workspace.model import TRAIN, UNCHANGED, Change, Entry, Section, Step, World
from fraudhawk.workspace.reader import Reader
from fraudhawk.workspace.sections.common import (
    DESCRIPTION,
    NAME,
    NAMES,
    TAGS,
    created,
    entry_schema,
    fill,
    keyed_plan,
    optional,
    refused,
    section_schema,
    strip,
    tag_steps,
    updated,
    with_tags,
)

MODEL_TYPES = ["ONLINE_FRAUD_INSIGHTS", "TRANSACTION_FRAUD_INSIGHTS", "ACCOUNT_TAKEOVER_INSIGHTS"]
_ORDER = ["id", "type", "eventType", "description", "training", "train", "tags"]
_DEFAULTS: dict[str, Any] = {"description": None, "training": None, "train": False, "tags": {}}
_TRAINED = ("TRAINING_COMPLETE", "ACTIVE", "INACTIVE")
_FAILED = ("ERROR", "TRAINING_CANCELLED")
_TRAINING_ORDER = [
    "dataSource",
    "variables",
    "fraudLabels",
    "legitLabels",
    "unlabeledEvents",
    "window",
    "dataLocation",
    "dataAccessRoleArn",
]
_TRAINING_DEFAULTS: dict[str, Any] = {
    "dataSource": "INGESTED_EVENTS",
    "fraudLabels": [],
    "legitLabels": [],
    "unlabeledEvents": None,
    "window": None,
    "dataLocation": None,
    "dataAccessRoleArn": None,
}

_TRAINING_SCHEMA = entry_schema(
    ["variables"],
    {
        "dataSource": {"enum": ["INGESTED_EVENTS", "EXTERNAL_EVENTS"], "description": "Default INGESTED_EVENTS."},
        "variables": {**NAMES, "minItems": 1, "description": "The variables the model learns from."},
        "fraudLabels": {**NAMES, "description": "Labels that mean fraud (labelMapper FRAUD)."},
        "legitLabels": {**NAMES, "description": "Labels that mean legit (labelMapper LEGIT)."},
        "unlabeledEvents": {"enum": ["IGNORE", "FRAUD", "LEGIT", "AUTO"]},
        "window": entry_schema(
            ["start", "end"],
            {
                "start": {"type": "string", "description": "ISO-8601, e.g. 2019-01-01T00:00:00Z"},
                "end": {"type": "string"},
            },
        ),
        "dataLocation": {"type": "string", "description": "EXTERNAL_EVENTS: the training CSV (s3://...)."},
        "dataAccessRoleArn": {"type": "string"},
    },
)

SCHEMA = section_schema(
    entry_schema(
        ["id", "type", "eventType"],
        {
            "id": NAME,
            "type": {"enum": MODEL_TYPES},
            "eventType": NAME,
            "description": DESCRIPTION,
            "training": _TRAINING_SCHEMA,
            "train": {
                "type": "boolean",
                "description": "Train a new version when none was trained with `training` (default false).",
            },
            "tags": TAGS,
        },
    ),
    "Models and how they are trained.",
)


def _version_key(number: str) -> tuple[int, ...]:
    return tuple(int(part) for part in number.split("."))


def _training(version: dict[str, Any]) -> Entry:
    schema = version.get("trainingDataSchema") or {}
    labels = schema.get("labelSchema") or {}
    mapper = labels.get("labelMapper") or {}
    window = (version.get("ingestedEventsDetail") or {}).get("ingestedEventsTimeWindow")
    external = version.get("externalEventsDetail") or {}
    return normalize_training(
        {
            "dataSource": version.get("trainingDataSource"),
            "variables": schema.get("modelVariables") or [],
            "fraudLabels": mapper.get("FRAUD") or [],
            "legitLabels": mapper.get("LEGIT") or [],
            "unlabeledEvents": labels.get("unlabeledEventsTreatment"),
            "window": {"start": window["startTime"], "end": window["endTime"]} if window else None,
            "dataLocation": external.get("dataLocation"),
            "dataAccessRoleArn": external.get("dataAccessRoleArn"),
        }
    )


def read(reader: Reader) -> list[Entry]:
    entries = []
    for item in reader.all("GetModels", "models"):
        key = {"modelId": item["modelId"], "modelType": item["modelType"]}
        versions = reader.all("DescribeModelVersions", "modelVersionDetails", key)
        newest = max(versions, key=lambda v: _version_key(v["modelVersionNumber"]), default=None)
        entries.append(
            {
                "id": item["modelId"],
                "type": item["modelType"],
                "eventType": item["eventTypeName"],
                "description": item.get("description"),
                "training": _training(newest) if newest else None,
                "train": newest is not None,
                "tags": reader.tags(item.get("arn")),
                "_arn": item.get("arn"),
                "_versions": {v["modelVersionNumber"]: v.get("status") for v in versions},
                "_newest": (newest["modelVersionNumber"], newest.get("status")) if newest else None,
            }
        )
    return sorted(entries, key=lambda entry: entry["id"])


def normalize_training(training: Entry) -> Entry:
    out = fill(training, _TRAINING_DEFAULTS, _TRAINING_ORDER)
    for key in ("variables", "fraudLabels", "legitLabels"):
        out[key] = sorted(out[key])
    return out


def normalize(entry: Entry) -> Entry:
    out = fill(entry, _DEFAULTS, _ORDER)
    if out["training"] is not None:
        out["training"] = normalize_training(out["training"])
    return out


def compact(entry: Entry) -> Entry:
    out = strip(entry, _DEFAULTS)
    if out.get("training") is not None:
        out["training"] = strip(out["training"], _TRAINING_DEFAULTS)
    return out


def _create_version(entry: Entry) -> dict[str, Any]:
    training = entry["training"]
    schema: dict[str, Any] = {"modelVariables": training["variables"]}
    mapper = {k: training[f] for k, f in (("FRAUD", "fraudLabels"), ("LEGIT", "legitLabels")) if training[f]}
    if mapper or training["unlabeledEvents"]:
        schema["labelSchema"] = optional(
            {"labelMapper": mapper} if mapper else {}, unlabeledEventsTreatment=training["unlabeledEvents"]
        )
    params: dict[str, Any] = {
        "modelId": entry["id"],
        "modelType": entry["type"],
        "trainingDataSource": training["dataSource"],
        "trainingDataSchema": schema,
    }
    if training["dataSource"] == "EXTERNAL_EVENTS":
        params["externalEventsDetail"] = optional(
            {"dataLocation": training["dataLocation"] or ""}, dataAccessRoleArn=training["dataAccessRoleArn"]
        )
    else:
        window = training["window"]
        if window is not None:
            params["ingestedEventsDetail"] = {
                "ingestedEventsTimeWindow": {"startTime": window["start"], "endTime": window["end"]}
            }
    return params


def _training_change(entry: Entry, old: Entry | None, retrain: bool) -> Change | None:
    if not entry["train"] or entry["training"] is None:
        return None
    name = entry["id"]
    why = "no version yet" if old is None or old["training"] is None else "settings differ from the newest version"
    if old is not None and old["training"] == entry["training"]:
        # a version that failed counts too, unless asked (--retrain): training again on every apply
        # would break "applying twice changes nothing" and seldom make it succeed
        number, status = old["_newest"]
        if status not in _FAILED or not retrain:
            note = "" if status in _TRAINED else f"version {number} with these settings is {status}"
            note += " (apply --retrain trains it again)" if status in _FAILED else ""
            return Change("model training", name, UNCHANGED, note)
        why = f"version {number} with these settings is {status}; --retrain"
    step = ("CreateModelVersion", _create_version(entry))
    return Change("model training", name, TRAIN, f"starts training a new version ({why}); apply does not wait", [step])


def _deletion(entry: Entry) -> list[Step]:
    """A model goes with its versions (AFD deletes a model only without them; an ACTIVE version is
    made INACTIVE first)."""
    key = {"modelId": entry["id"], "modelType": entry["type"]}
    steps: list[Step] = []
    for number, status in sorted(entry["_versions"].items(), key=lambda item: _version_key(item[0])):
        version = {**key, "modelVersionNumber": number}
        if status == "ACTIVE":
            steps.append(("UpdateModelVersionStatus", {**version, "status": "INACTIVE"}))
        steps.append(("DeleteModelVersion", version))
    return [*steps, ("DeleteModel", key)]


def plan(declared: list[Entry], current: list[Entry], world: World) -> list[Change]:
    def create(entry: Entry) -> Change:
        params = optional(
            {"modelId": entry["id"], "modelType": entry["type"], "eventTypeName": entry["eventType"]},
            description=entry["description"],
        )
        return created("model", entry["id"], [("CreateModel", with_tags(params, entry["tags"]))])

    def update(entry: Entry, old: Entry, changed: list[str]) -> Change:
        name = entry["id"]
        for field in ("type", "eventType"):
            if field in changed:
                return refused(
                    "model",
                    name,
                    f"{field} cannot change ({old[field]} -> {entry[field]}): declare a model with a new id",
                )
        steps = []
        if "description" in changed:
            steps.append(
                (
                    "UpdateModel",
                    {"modelId": name, "modelType": entry["type"], "description": entry["description"] or ""},
                )
            )
        steps += tag_steps(old["_arn"], entry["tags"], old["tags"])
        return updated("model", name, changed, steps)

    def model_part(entry: Entry) -> Entry:
        return {k: v for k, v in entry.items() if k not in ("training", "train")}

    changes = keyed_plan(
        "model",
        "id",
        [model_part(e) for e in declared],
        [model_part(e) for e in current],
        world,
        create,
        update,
        _deletion,
    )
    have = {entry["id"]: entry for entry in current}
    for entry in declared:
        change = _training_change(entry, have.get(entry["id"]), world.retrain)
        if change is not None:
            changes.append(change)
    return changes


SECTION = Section("models", "id", SCHEMA, read, normalize, compact, plan)
