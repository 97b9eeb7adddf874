"""Online Fraud Insights on AWS's own sample files, taken as they are.

    .venv/bin/python bench/ofi_samples.py [--samples ../shared/data/aws-samples]

For each CSV: variables are declared from the header (types suggested from names and values, as
`fraudhawk import` does), labels from the EVENT_LABEL values, and an OFI model is trained with
EXTERNAL_EVENTS on the file where it lies. Files with unlabeled rows (the cold-start samples) are
trained twice: unlabeled events ignored, and AUTO. Prints the validation figures of each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from run import machine

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "aws-samples"
FRAUD_VALUES = {"fraud", "1", "true", "yes"}
METADATA = {"EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "EVENT_LABEL", "LABEL_TIMESTAMP"}
ROLE = "arn:aws:iam::123456789012:role/fraudhawk-bench"


def _declare(client: Any, path: Path, name: str) -> tuple[list[str], dict[str, list[str]], bool]:
    from fraudhawk.events import raw

    frame = pl.read_csv(path, infer_schema=False, n_rows=20_000)
    columns = [c for c in frame.columns if c and c not in METADATA]
    suggestions = raw.suggest(frame, columns)
    for s in suggestions:
        if s.variable != s.column:
            raise SystemExit(f"{path.name}: column {s.column!r} is not a valid variable name")
        client.create_variable(
            name=f"{s.variable}",
            dataType=s.data_type,
            dataSource="EVENT",
            defaultValue="0.0" if s.data_type == "FLOAT" else "",
            variableType=s.variable_type,
        )
    labels = pl.read_csv(path, infer_schema=False, columns=["EVENT_LABEL"])["EVENT_LABEL"]
    values = sorted(v for v in labels.drop_nulls().unique().to_list() if v.strip())
    mapper = {
        "FRAUD": [v for v in values if v.lower() in FRAUD_VALUES],
        "LEGIT": [v for v in values if v.lower() not in FRAUD_VALUES],
    }
    for value in values:
        client.put_label(name=value)
    entity_type = "customer"
    if "ENTITY_TYPE" in frame.columns and frame["ENTITY_TYPE"].drop_nulls().len():
        entity_type = str(frame["ENTITY_TYPE"].drop_nulls()[0])
    client.put_entity_type(name=entity_type)
    client.put_event_type(name=name, eventVariables=columns, labels=values, entityTypes=[entity_type])
    return columns, mapper, bool(labels.is_null().any() or (labels.str.strip_chars() == "").any())


def _train(
    client: Any, model: str, path: Path, variables: list[str], mapper: dict[str, list[str]], treatment: str
) -> dict[str, Any]:
    client.create_model_version(
        modelId=model,
        modelType="ONLINE_FRAUD_INSIGHTS",
        trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema={
            "modelVariables": variables,
            "labelSchema": {"labelMapper": mapper, "unlabeledEventsTreatment": treatment},
        },
        externalEventsDetail={"dataLocation": str(path), "dataAccessRoleArn": ROLE},
    )
    versions = client.describe_model_versions(modelId=model, modelType="ONLINE_FRAUD_INSIGHTS")["modelVersionDetails"]
    version = versions[-1]["modelVersionNumber"]
    started = time.perf_counter()
    while True:
        current = client.get_model_version(modelId=model, modelType="ONLINE_FRAUD_INSIGHTS", modelVersionNumber=version)
        if current["status"] != "TRAINING_IN_PROGRESS":
            break
        time.sleep(0.2)
    detail: dict[str, Any] = client.describe_model_versions(
        modelId=model, modelType="ONLINE_FRAUD_INSIGHTS", modelVersionNumber=version
    )["modelVersionDetails"][0]
    detail["seconds"] = time.perf_counter() - started
    detail["extra"] = client.training_details(model, version)
    return detail


def _report(path: Path, treatment: str, detail: dict[str, Any]) -> None:
    print(f"\n{path.name}  (unlabeled: {treatment})  -> {detail['status']} in {detail['seconds']:.1f}s")
    validation = detail["trainingResult"]["dataValidationMetrics"]
    for message in validation["fileLevelMessages"] + validation["fieldLevelMessages"]:
        print(f"  {message['type']:7} {message.get('fieldName', '')} {message['title']}")
    if detail["status"] != "TRAINING_COMPLETE":
        return
    performance = detail["trainingResultV2"]["trainingMetricsV2"]["ofi"]["modelPerformance"]
    extra = detail["extra"]
    summary = extra["summary"]
    bounds = performance["uncertaintyRange"]
    print(
        f"  events {summary['events']:,} (fraud {summary['fraudEvents']:,}, unlabeled {summary['unlabeledEvents']:,}), "
        f"validated on {summary['validationEvents']:,}"
    )
    print(
        f"  AUC {performance['auc']:.4f} [{bounds['lowerBoundValue']:.4f}, {bounds['upperBoundValue']:.4f}]  "
        f"AP {extra['averagePrecision']:.4f}  recall@1%FPR {extra['recallAtFpr']['0.01']:.3f}"
    )
    top = detail["trainingResult"]["variableImportanceMetrics"]["logOddsMetrics"][:5]
    print("  top variables: " + ", ".join(f"{v['variableName']} {v['variableImportance']:.3f}" for v in top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, default=DEFAULT)
    args = parser.parse_args()
    files = sorted(args.samples.glob("*.csv"))
    if not files:
        raise SystemExit(f"no CSV files in {args.samples}: pass --samples")
    print(f"machine: {machine()}")
    import fraudhawk
    from fraudhawk.settings import Settings

    for index, path in enumerate(files):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.load(data_dir=tmp, environ={}, allowed_roots=(str(args.samples.resolve()),))
            with fraudhawk.Client(settings=settings) as client:
                variables, mapper, has_unlabeled = _declare(client, path, f"sample_{index}")
                client.create_model(
                    modelId=f"ofi_{index}", modelType="ONLINE_FRAUD_INSIGHTS", eventTypeName=f"sample_{index}"
                )
                for treatment in ("IGNORE", "AUTO") if has_unlabeled else ("IGNORE",):
                    _report(
                        path, treatment, _train(client, f"ofi_{index}", path.resolve(), variables, mapper, treatment)
                    )


if __name__ == "__main__":
    main()
