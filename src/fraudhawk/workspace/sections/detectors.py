"""Detectors with their rules (every version) and detector versions.

AFD numbers rule versions and detector versions itself, in sequence, and keeps them immutable once
made (a rule version entirely, a detector version once it leaves DRAFT): so a declared version that
does not exist yet is made as the next number (and refused if that is not its number), a changed
rule version or a changed ACTIVE/INACTIVE detector version is refused (declare a new version, as AFD
requires), and a DRAFT detector version is updated in place. Statuses are reached the way AFD allows:
DRAFT -> ACTIVE -> INACTIVE, never back to DRAFT; activating a version makes the previous ACTIVE one
INACTIVE, so the version declared ACTIVE is activated last."""

from __future__ import annotations

from typing import Any

from fraudhawk.workspace.model import (
    DELETE,
    UNCHANGED,
    UPDATE,
    WAITING,
    WOULD_DELETE,
    Change,
    Entry,
    Section,
    Step,
    World,
)
from fraudhawk.workspace.reader import Reader
from fraudhawk.workspace.sections.common import (
    DESCRIPTION,
    NAME,
    TAGS,
    created,
    entry_schema,
    fill,
    optional,
    refused,
    section_schema,
    strip,
    tag_steps,
    with_tags,
)

_ORDER = ["id", "eventType", "description", "tags", "rules", "versions"]
_DEFAULTS: dict[str, Any] = {"description": None, "tags": {}, "rules": [], "versions": []}
_RULE_ORDER = ["version", "expression", "language", "outcomes", "description", "tags"]
_RULE_DEFAULTS: dict[str, Any] = {"language": "DETECTORPL", "description": None, "tags": {}}
_VERSION_ORDER = ["version", "status", "ruleExecutionMode", "rules", "models", "externalModels", "description", "tags"]
_VERSION_DEFAULTS: dict[str, Any] = {
    "status": "DRAFT",
    "ruleExecutionMode": "FIRST_MATCHED",
    "rules": [],
    "models": [],
    "externalModels": [],
    "description": None,
    "tags": {},
}
_CONTENT = ("ruleExecutionMode", "rules", "models", "externalModels")

_VERSION_NUMBER = {"type": "integer", "minimum": 1}
_RULE_SCHEMA = entry_schema(
    ["id", "versions"],
    {
        "id": NAME,
        "versions": {
            "type": "array",
            "minItems": 1,
            "items": entry_schema(
                ["version", "expression", "outcomes"],
                {
                    "version": _VERSION_NUMBER,
                    "expression": {"type": "string", "minLength": 1, "maxLength": 4096},
                    "language": {"enum": ["DETECTORPL"]},
                    "outcomes": {"type": "array", "items": NAME, "minItems": 1},
                    "description": DESCRIPTION,
                    "tags": TAGS,
                },
            ),
        },
    },
)
_DETECTOR_VERSION_SCHEMA = entry_schema(
    ["version"],
    {
        "version": _VERSION_NUMBER,
        "status": {"enum": ["DRAFT", "ACTIVE", "INACTIVE"], "description": "Default DRAFT."},
        "ruleExecutionMode": {"enum": ["FIRST_MATCHED", "ALL_MATCHED"], "description": "Default FIRST_MATCHED."},
        "rules": {
            "type": "array",
            "description": "Rule versions in evaluation order, as RULE:VERSION (e.g. high_amount:2).",
            "items": {"type": "string", "pattern": "^[0-9a-z_-]+:[0-9]+$"},
        },
        "models": {
            "type": "array",
            "description": "Model versions as MODEL:VERSION (e.g. cc_tfi:1.0); each must be ACTIVE.",
            "items": {"type": "string", "pattern": "^[0-9a-z_]+:[0-9]+\\.[0-9]+$"},
        },
        "externalModels": {"type": "array", "items": {"type": "string"}},
        "description": DESCRIPTION,
        "tags": TAGS,
    },
)
SCHEMA = section_schema(
    entry_schema(
        ["id", "eventType"],
        {
            "id": NAME,
            "eventType": NAME,
            "description": DESCRIPTION,
            "tags": TAGS,
            "rules": {"type": "array", "items": _RULE_SCHEMA},
            "versions": {"type": "array", "items": _DETECTOR_VERSION_SCHEMA},
        },
    ),
    "Detectors, their rules (every version) and their versions.",
)


def _read_detector(reader: Reader, item: dict[str, Any]) -> Entry:
    detector_id = item["detectorId"]
    rules: dict[str, list[Entry]] = {}
    for rule in reader.all("GetRules", "ruleDetails", {"detectorId": detector_id}):
        rules.setdefault(rule["ruleId"], []).append(
            {
                "version": int(rule["ruleVersion"]),
                "expression": rule["expression"],
                "language": rule.get("language", "DETECTORPL"),
                "outcomes": list(rule.get("outcomes") or []),
                "description": rule.get("description"),
                "tags": reader.tags(rule.get("arn")),
                "_arn": rule.get("arn"),
            }
        )
    versions = []
    summaries = reader.all("DescribeDetector", "detectorVersionSummaries", {"detectorId": detector_id})
    for summary in summaries:
        version = reader.one(
            "GetDetectorVersion", {"detectorId": detector_id, "detectorVersionId": summary["detectorVersionId"]}
        )
        versions.append(
            {
                "version": int(version["detectorVersionId"]),
                "status": version["status"],
                "ruleExecutionMode": version.get("ruleExecutionMode") or "FIRST_MATCHED",
                "rules": [f"{r['ruleId']}:{r['ruleVersion']}" for r in version.get("rules") or []],
                "models": [f"{m['modelId']}:{m['modelVersionNumber']}" for m in version.get("modelVersions") or []],
                "externalModels": list(version.get("externalModelEndpoints") or []),
                "description": version.get("description"),
                "tags": reader.tags(version.get("arn")),
                "_arn": version.get("arn"),
            }
        )
    return normalize(
        {
            "id": detector_id,
            "eventType": item["eventTypeName"],
            "description": item.get("description"),
            "tags": reader.tags(item.get("arn")),
            "rules": [{"id": rule_id, "versions": found} for rule_id, found in rules.items()],
            "versions": versions,
            "_arn": item.get("arn"),
        }
    )


def read(reader: Reader) -> list[Entry]:
    entries = [_read_detector(reader, item) for item in reader.all("GetDetectors", "detectors")]
    return sorted(entries, key=lambda entry: entry["id"])


def normalize(entry: Entry) -> Entry:
    out = fill(entry, _DEFAULTS, _ORDER)
    out["rules"] = sorted(
        (
            {
                "id": rule["id"],
                "versions": sorted(
                    (fill(v, _RULE_DEFAULTS, _RULE_ORDER) for v in rule["versions"]), key=lambda v: v["version"]
                ),
            }
            for rule in out["rules"]
        ),
        key=lambda rule: rule["id"],
    )
    out["versions"] = sorted(
        (fill(v, _VERSION_DEFAULTS, _VERSION_ORDER) for v in out["versions"]), key=lambda v: v["version"]
    )
    return out


def compact(entry: Entry) -> Entry:
    out = strip(entry, _DEFAULTS)
    if entry["rules"]:
        out["rules"] = [
            {"id": rule["id"], "versions": [strip(v, _RULE_DEFAULTS) for v in rule["versions"]]}
            for rule in entry["rules"]
        ]
    if entry["versions"]:
        out["versions"] = [strip(v, _VERSION_DEFAULTS) for v in entry["versions"]]
    return out


def _rule_ref(detector_id: str, rule_id: str, version: int) -> dict[str, str]:
    return {"detectorId": detector_id, "ruleId": rule_id, "ruleVersion": str(version)}


def _status(detector_id: str, version: int, status: str) -> Step:
    return (
        "UpdateDetectorVersionStatus",
        {"detectorId": detector_id, "detectorVersionId": str(version), "status": status},
    )


class _Planner:
    def __init__(self, world: World) -> None:
        self.world = world
        self.changes: list[Change] = []

    def model_type(self, model_id: str) -> str | None:
        found = self.world.find("models", "id", model_id) or self.world.find("models", "id", model_id, declared=False)
        return None if found is None else str(found["type"])

    def detector(self, entry: Entry, old: Entry | None) -> None:
        name = entry["id"]
        put = optional({"detectorId": name, "eventTypeName": entry["eventType"]}, description=entry["description"])
        if old is None:
            self.changes.append(created("detector", name, [("PutDetector", with_tags(put, entry["tags"]))]))
        elif old["eventType"] != entry["eventType"]:
            self.changes.append(
                refused(
                    "detector",
                    name,
                    f"eventType cannot change ({old['eventType']} -> {entry['eventType']}): declare a new detector",
                )
            )
        else:
            steps: list[Step] = [("PutDetector", put)] if old["description"] != entry["description"] else []
            steps += tag_steps(old["_arn"], entry["tags"], old["tags"])
            self.changes.append(
                Change("detector", name, UPDATE, "changes description or tags", steps)
                if steps
                else Change("detector", name, UNCHANGED)
            )
        self.rules(entry, old)
        self.versions(entry, old)

    def rules(self, entry: Entry, old: Entry | None) -> None:
        detector_id = entry["id"]
        have = {rule["id"]: rule["versions"] for rule in (old or {}).get("rules", [])}
        for rule in entry["rules"]:
            existing = {v["version"]: v for v in have.get(rule["id"], [])}
            top = max(existing, default=0)
            for version in rule["versions"]:
                name = f"{detector_id}/{rule['id']}:{version['version']}"
                current = existing.get(version["version"])
                if current is not None:
                    self.changes.append(self.rule_update(detector_id, rule["id"], version, current, name))
                    continue
                if version["version"] != top + 1:
                    self.changes.append(
                        refused(
                            "rule",
                            name,
                            f"AFD numbers rule versions in sequence: the next version of {rule['id']} here is "
                            f"{top + 1}, not {version['version']}",
                        )
                    )
                    top = version["version"]
                    continue
                params = optional(
                    {
                        "expression": version["expression"],
                        "language": version["language"],
                        "outcomes": version["outcomes"],
                    },
                    description=version["description"],
                )
                if top == 0:
                    step: Step = ("CreateRule", {"ruleId": rule["id"], "detectorId": detector_id, **params})
                else:
                    step = ("UpdateRuleVersion", {"rule": _rule_ref(detector_id, rule["id"], top), **params})
                undo = [("DeleteRule", {"rule": _rule_ref(detector_id, rule["id"], version["version"])})]
                self.changes.append(created("rule", name, [(step[0], with_tags(step[1], version["tags"]))], undo))
                top = version["version"]

    def rule_update(self, detector_id: str, rule_id: str, want: Entry, have: Entry, name: str) -> Change:
        changed = [k for k in ("expression", "language", "outcomes") if want[k] != have[k]]
        if changed:
            return refused(
                "rule",
                name,
                f"a rule version cannot change ({', '.join(changed)} differ): add a new version of {rule_id} instead",
            )
        steps: list[Step] = []
        if want["description"] != have["description"]:
            if want["description"] is None:
                return refused("rule", name, "description cannot be removed once set; give a new value instead")
            ref = _rule_ref(detector_id, rule_id, want["version"])
            steps.append(("UpdateRuleMetadata", {"rule": ref, "description": want["description"]}))
        steps += tag_steps(have["_arn"], want["tags"], have["tags"])
        return (
            Change("rule", name, UPDATE, "changes description or tags", steps)
            if steps
            else Change("rule", name, UNCHANGED)
        )

    def version_params(self, detector_id: str, version: Entry) -> dict[str, Any] | Change:
        """CreateDetectorVersion's parameters, or the change saying why they cannot be made here:
        refused, or waiting while a model version it uses is not trained and ACTIVE yet."""
        name = f"{detector_id}/{version['version']}"
        models = []
        for ref in version["models"]:
            model_id, number = ref.split(":")
            model_type = self.model_type(model_id)
            if model_type is None:
                return refused("detector version", name, f"model {model_id} is neither in the file nor in the store")
            current = self.world.find("models", "id", model_id, declared=False)
            status = None if current is None else current["_versions"].get(number)
            if status != "ACTIVE":
                state = "does not exist" if status is None else f"is {status}"
                reason = f"model {model_id} version {number} {state} here: train it, make it ACTIVE and apply again"
                return Change("detector version", name, WAITING, reason)
            models.append({"modelId": model_id, "modelType": model_type, "modelVersionNumber": number})
        rules = [_rule_ref(detector_id, *ref.split(":")) for ref in version["rules"]]
        return {
            "detectorId": detector_id,
            "rules": rules,
            "modelVersions": models,
            "externalModelEndpoints": version["externalModels"],
            "ruleExecutionMode": version["ruleExecutionMode"],
        }

    def versions(self, entry: Entry, old: Entry | None) -> None:
        detector_id = entry["id"]
        existing = {v["version"]: v for v in (old or {}).get("versions", [])}
        top = max(existing, default=0)
        activations = False
        waiting: int | None = None  # the first new version that waits: every later new one waits too
        held: set[int] = set()
        for version in entry["versions"]:
            number = version["version"]
            current = existing.get(number)
            if current is None and waiting is not None:
                reason = f"AFD numbers versions in sequence, and version {waiting} is waiting"
                self.changes.append(Change("detector version", f"{detector_id}/{number}", WAITING, reason))
                held.add(number)
                top = max(top, number)
                continue
            if current is None and number != top + 1:
                self.changes.append(
                    refused(
                        "detector version",
                        f"{detector_id}/{number}",
                        f"AFD numbers detector versions in sequence: the next version of {detector_id} here is "
                        f"{top + 1}, not {number}",
                    )
                )
            else:
                change, activates = self.version(detector_id, version, current)
                activations |= activates
                if change is not None:
                    self.changes.append(change)
                    if change.action == WAITING:
                        held.add(number)
                        waiting = number if current is None else waiting
            top = max(top, number)
        target = next((v["version"] for v in entry["versions"] if v["status"] == "ACTIVE"), None)
        if target is None or target in held:
            return
        current = existing.get(target)
        if current is None or current["status"] != "ACTIVE" or activations:
            why = "activated" if current is None or current["status"] != "ACTIVE" else "activated again"
            self.changes.append(
                Change(
                    "detector version",
                    f"{detector_id}/{target}",
                    UPDATE,
                    f"{why} (status ACTIVE, last so that it stays the detector's ACTIVE version)",
                    [_status(detector_id, target, "ACTIVE")],
                )
            )

    def version(self, detector_id: str, version: Entry, current: Entry | None) -> tuple[Change | None, bool]:
        """A declared version's change (its ACTIVE status excepted, set last by `versions`), and
        whether it activates the version on the way (which makes the ACTIVE one INACTIVE)."""
        number = version["version"]
        name = f"{detector_id}/{number}"
        status = "DRAFT" if current is None else current["status"]
        if version["status"] == "DRAFT" and status != "DRAFT":
            return refused(
                "detector version", name, f"it is {status} and cannot go back to DRAFT; declare a new version"
            ), False
        changed = [] if current is None else [k for k in _CONTENT if version[k] != current[k]]
        if current is not None and changed and status != "DRAFT":
            reason = (
                f"it is {status}: only a DRAFT version's rules, models and execution mode can change "
                f"({', '.join(changed)} differ); declare a new version"
            )
            return refused("detector version", name, reason), False
        steps: list[Step] = []
        if current is None or changed:
            params = self.version_params(detector_id, version)
            if isinstance(params, Change):
                return params, False
            if current is None:
                create = optional(params, description=version["description"])
                steps.append(("CreateDetectorVersion", with_tags(create, version["tags"])))
            else:
                update = optional({**params, "detectorVersionId": str(number)}, description=version["description"])
                steps.append(("UpdateDetectorVersion", update))
        if current is not None:
            if version["description"] != current["description"] and not changed:
                if version["description"] is None:
                    return refused("detector version", name, "description cannot be removed once set"), False
                metadata = {"detectorId": detector_id, "detectorVersionId": str(number)}
                steps.append(("UpdateDetectorVersionMetadata", {**metadata, "description": version["description"]}))
            steps += tag_steps(current["_arn"], version["tags"], current["tags"])
        activates = version["status"] == "INACTIVE" and status == "DRAFT"
        if activates:
            steps += [_status(detector_id, number, "ACTIVE"), _status(detector_id, number, "INACTIVE")]
        elif version["status"] == "INACTIVE" and status == "ACTIVE":
            steps.append(_status(detector_id, number, "INACTIVE"))
        if current is None:
            undo = [("DeleteDetectorVersion", {"detectorId": detector_id, "detectorVersionId": str(number)})]
            return created("detector version", name, steps, undo), activates
        if steps:
            return Change("detector version", name, UPDATE, "changes " + self.what(version, current), steps), activates
        if version["status"] == "ACTIVE" and status != "ACTIVE":
            return None, False  # `versions` activates it last
        return Change("detector version", name, UNCHANGED), False

    @staticmethod
    def what(want: Entry, have: Entry) -> str:
        return ", ".join(k for k in _VERSION_ORDER[1:] if want[k] != have[k])

    def removals(self, entry: Entry | None, old: Entry) -> None:
        """What the file no longer names: versions first (an ACTIVE one made INACTIVE before), then
        rule versions, then the detector itself."""
        detector_id = old["id"]
        declared_versions = {v["version"] for v in (entry or {}).get("versions", [])}
        declared_rules = {(r["id"], v["version"]) for r in (entry or {}).get("rules", []) for v in r["versions"]}
        everything: list[Step] = []
        for version in old["versions"]:
            if version["version"] in declared_versions:
                continue
            steps = [_status(detector_id, version["version"], "INACTIVE")] if version["status"] == "ACTIVE" else []
            steps.append(
                ("DeleteDetectorVersion", {"detectorId": detector_id, "detectorVersionId": str(version["version"])})
            )
            if entry is None:
                everything += steps
            else:
                self.removal("detector version", f"{detector_id}/{version['version']}", steps)
        for rule in old["rules"]:
            for version in sorted(rule["versions"], key=lambda v: -v["version"]):
                if (rule["id"], version["version"]) in declared_rules:
                    continue
                step: Step = ("DeleteRule", {"rule": _rule_ref(detector_id, rule["id"], version["version"])})
                if entry is None:
                    everything.append(step)
                else:
                    self.removal("rule", f"{detector_id}/{rule['id']}:{version['version']}", [step])
        if entry is None:
            self.removal("detector", detector_id, [*everything, ("DeleteDetector", {"detectorId": detector_id})])

    def removal(self, kind: str, name: str, steps: list[Step]) -> None:
        if self.world.prune:
            self.changes.append(Change(kind, name, DELETE, "not in the file", steps))
        else:
            self.changes.append(Change(kind, name, WOULD_DELETE, "not in the file (apply --prune deletes it)"))


def plan(declared: list[Entry], current: list[Entry], world: World) -> list[Change]:
    planner = _Planner(world)
    have = {entry["id"]: entry for entry in current}
    for entry in declared:
        planner.detector(entry, have.get(entry["id"]))
    wanted = {entry["id"]: entry for entry in declared}
    for old in current:
        planner.removals(wanted.get(old["id"]), old)
    return planner.changes


SECTION = Section("detectors", "id", SCHEMA, read, normalize, compact, plan)
