"""Importing a raw CSV: check the mapping against the file, declare what it needs, convert it to AFD's
layout and start the batch import job. One definition shared by `fraudhawk import` and the console's
mapping form; both pass `call`, which runs an AFD operation (the CLI through its client, the console
through the service), so the catalog is changed by AFD's own operations with their checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from fraudhawk.errors import ResourceNotFoundError, ValidationError
from fraudhawk.events import raw
from fraudhawk.events.csvsource import Rejected, open_binary, read_csv

Call = Callable[[str, dict[str, Any]], dict[str, Any]]
# AFD requires a role for CreateBatchImportJob; fraudhawk reads the file itself, so any well-formed ARN does
LOCAL_ROLE = "arn:aws:iam::000000000000:role/fraudhawk-local"


class MissingColumns(ValidationError):
    """Mapped columns the file does not have; `fields` names the mapping fields that name them."""

    def __init__(self, missing: dict[str, str], header: list[str]) -> None:
        columns = ", ".join(dict.fromkeys(missing.values()))
        super().__init__(f"column(s) {columns} are not in the file (it has: {', '.join(header)})")
        self.fields = missing
        self.header = header


@dataclass(frozen=True)
class Plan:
    """What the file's columns become: the mapped ones, the variables, the skipped unnamed ones."""

    header: list[str]
    variables: list[raw.Suggestion]
    unnamed: list[str]


@dataclass
class Converted:
    rows: int
    rejected: list[Rejected] = field(default_factory=list)


def _mapped(mapping: raw.Mapping) -> dict[str, str | None]:
    """The mapping's column choices by the name of its field."""
    return {
        "event_time": mapping.event_time,
        "entity_id": mapping.entity_id,
        "event_id": mapping.event_id,
        "label": mapping.label,
    }


def plan(path: Path, mapping: raw.Mapping) -> Plan:
    """Check the mapping names columns of the file, and suggest a variable for every other column."""
    with path.open("rb") as handle:
        header, sample = raw.sample_rows(open_binary(handle))
    missing = {name: column for name, column in _mapped(mapping).items() if column and column not in header}
    if missing:
        raise MissingColumns(missing, header)
    taken = {column for column in _mapped(mapping).values() if column} | set(mapping.exclude)
    unnamed = [c for c in header if not c.strip() or c.lower().startswith("unnamed")]
    columns = [c for c in header if c not in taken and c not in unnamed]
    return Plan(header, raw.suggest(sample, columns), unnamed)


def ensure_catalog(call: Call, event_type: str, mapping: raw.Mapping, variables: list[raw.Suggestion]) -> list[str]:
    """The entity type, labels, variables and event type the data needs (what exists is kept and
    extended); returns a line per variable saying what was done."""
    call("PutEntityType", {"name": mapping.entity_type})
    labels: list[str] = []
    if mapping.label:
        labels = [raw.FRAUD, raw.LEGIT]
        for label in labels:
            call("PutLabel", {"name": label})
    names = [s.variable for s in variables]
    existing = {v["name"]: v for v in call("BatchGetVariable", {"names": names})["variables"]} if names else {}
    said = []
    for suggestion in variables:
        current = existing.get(suggestion.variable)
        if current is None:
            call(
                "CreateVariable",
                {
                    "name": suggestion.variable,
                    "dataType": suggestion.data_type,
                    "dataSource": "EVENT",
                    "defaultValue": "0.0" if suggestion.data_type == "FLOAT" else "",
                    "variableType": suggestion.variable_type,
                },
            )
            said.append(f"variable {suggestion.variable:30} {suggestion.data_type:8} {suggestion.variable_type}")
        else:
            said.append(f"variable {suggestion.variable:30} exists ({current['dataType']})")
    try:
        current_type = call("GetEventTypes", {"name": event_type})["eventTypes"][0]
        names = list(dict.fromkeys([*current_type["eventVariables"], *names]))
        labels = list(dict.fromkeys([*current_type.get("labels", []), *labels]))
        entity_types = list(dict.fromkeys([*current_type["entityTypes"], mapping.entity_type]))
    except ResourceNotFoundError:
        entity_types = [mapping.entity_type]
    call(
        "PutEventType",
        {
            "name": event_type,
            "eventVariables": names,
            "labels": labels,
            "entityTypes": entity_types,
            "eventIngestion": "ENABLED",
        },
    )
    return said


def convert(path: Path, mapping: raw.Mapping, variables: list[raw.Suggestion], target: Path) -> Converted:
    """The file in AFD's layout at `target` (gzip CSV), a batch at a time; malformed lines are skipped
    and returned (with their line numbers)."""
    with path.open("rb") as handle:
        records = read_csv(open_binary(handle))
        result = raw.write_afd_csv(
            raw.convert_batches(records.batches(), mapping, variables, raw.source_id(path)), target
        )
    return Converted(result.rows, sorted(records.rejected, key=lambda r: r.line))


def preview(path: Path, mapping: raw.Mapping, variables: list[raw.Suggestion], rows: int = 10) -> pa.Table:
    """The first rows of the file as `convert` writes them (the same transform)."""
    with path.open("rb") as handle:
        records = read_csv(open_binary(handle))
        first = next(iter(records.batches()), None)
        if first is None:
            return pa.table({})
        head = first.slice(0, rows)
        return next(raw.convert_batches(iter([head]), mapping, variables, raw.source_id(path)))


def start(call: Call, job_id: str, converted: Path | str, output: str, event_type: str) -> None:
    """Start the batch import job that stores the converted file."""
    call(
        "CreateBatchImportJob",
        {
            "jobId": job_id,
            "inputPath": str(converted),
            "outputPath": output,
            "eventTypeName": event_type,
            "iamRoleArn": LOCAL_ROLE,
        },
    )


def job_id_for(path: Path) -> str:
    return f"import-{raw.source_id(path)}-{int(time.time())}"


def work_area(data_dir: Path) -> Path:
    """Where converted copies wait for their import job (which deletes its copy when it ends)."""
    return data_dir / "files" / "imports"


def work_file(data_dir: Path, event_type: str, path: Path) -> Path:
    """Where the converted copy of a raw file is written before its import job reads it."""
    return work_area(data_dir) / f"{event_type}-{raw.source_id(path)}.csv.gz"
