"""Workspace as code: `fraudhawk apply` and `fraudhawk export` on real SQLite data directories, run
through the command line as a user runs them."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from fraudhawk.cli.main import main
from fraudhawk.client import Client
from fraudhawk.pipelines import declared
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings
from fraudhawk.storage.database import Database
from fraudhawk.workspace.apply import apply_plan
from fraudhawk.workspace.model import CREATE, Change
from fraudhawk.workspace.plan import Plan
from fraudhawk.workspace.schema import SCHEMA_FILE, schema_text

# A workspace with something of every kind: tags, defaults left out and written out, a list, rules
# with several versions, detector versions INACTIVE, ACTIVE and DRAFT, an external model and a TFI
# model with its training settings.
RICH = """\
version: 1
entityTypes:
  - name: customer
    description: A card holder
    tags: {team: fraud}
labels:
  - name: fraud
  - name: legit
outcomes:
  - name: approve
  - name: review
    description: Send to an analyst
  - name: block
variables:
  - name: amt
    variableType: PRICE
  - name: category
    variableType: CATEGORICAL
  - name: merchant
    dataType: STRING
    defaultValue: none
    description: Merchant name
  - name: city_pop
    dataType: INTEGER
    variableType: NUMERIC
    tags: {pii: "no"}
lists:
  - name: blocked_merchants
    variableType: CATEGORICAL
    elements: [fraud_Kub, fraud_Abbott]
eventTypes:
  - name: transaction
    entityTypes: [customer]
    variables: [amt, category, merchant, city_pop]
    labels: [fraud, legit]
externalModels:
  - endpoint: risk-endpoint
    role: arn:aws:iam::123456789012:role/sagemaker
    input: {eventTypeName: transaction, format: TEXT_CSV, useEventVariables: true, csvInputTemplate: "{{amt}}"}
    output: {format: TEXT_CSV, csvIndexToVariableMap: {"0": risk_score}}
models:
  - id: cc_tfi
    type: TRANSACTION_FRAUD_INSIGHTS
    eventType: transaction
    description: Card transactions
    train: true
    training:
      variables: [amt, category, merchant, city_pop]
      fraudLabels: [fraud]
      legitLabels: [legit]
      unlabeledEvents: IGNORE
      window: {start: "2019-01-01T00:00:00Z", end: "2020-06-01T00:00:00Z"}
pipelines:
  - name: store
    source: s3://fraud-data/raw/
    transform:
      eventTime: trans_date_trans_time
      timestampFormat: "%Y-%m-%d %H:%M:%S"
      entityId: cc_num
      label: is_fraud
      exclude: [first, last]
    action: {import: {eventType: transaction}}
  - name: retrain
    source: s3://fraud-data/train/
    pattern: "*.csv"
    action:
      train:
        modelId: cc_tfi
        modelType: TRANSACTION_FRAUD_INSIGHTS
        eventType: transaction
        mode: update
        majorVersion: 1
        data: stored
        activate: {detectorId: cc_detector, maxAucDrop: 0.002}
  - name: score
    source: s3://fraud-data/batch_predict/
    enabled: false
    action: {batchPredict: {detectorId: cc_detector, detectorVersion: "2", output: s3://fraud-data/scored/}}
detectors:
  - id: cc_detector
    eventType: transaction
    description: Card transactions
    rules:
      - id: big_amount
        versions:
          - version: 1
            expression: $amt > 1000
            outcomes: [review]
          - version: 2
            expression: $amt > 800
            outcomes: [review]
            description: lower threshold
            tags: {owner: ana}
      - id: blocked
        versions:
          - version: 1
            expression: $merchant in @blocked_merchants
            outcomes: [block]
      - id: fallback
        versions:
          - version: 1
            expression: "true"
            outcomes: [approve]
    versions:
      - version: 1
        status: INACTIVE
        rules: [big_amount:1, fallback:1]
      - version: 2
        status: ACTIVE
        ruleExecutionMode: ALL_MATCHED
        rules: [blocked:1, big_amount:2, fallback:1]
        description: current
      - version: 3
        rules: [blocked:1, fallback:1]
        tags: {stage: draft}
"""


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def apply(path: Path, data: Path, *extra: str) -> Result:
    return cli("apply", str(path), "--data-dir", str(data), *extra)


def export(data: Path, out: Path) -> str:
    result = cli("export", "--data-dir", str(data), "--output", str(out))
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def actions(result: Result) -> dict[str, str]:
    """The plan's lines, resource -> action (the first word or two of each indented line)."""
    found = {}
    for line in result.stdout.splitlines():
        if not line.startswith("  "):
            continue
        for action in ("would delete", "not attempted", "create", "update", "unchanged", "refused", "train", "waiting"):
            if line.strip().startswith(action):
                found[line.strip()[len(action) :].strip().split(": ")[0]] = action
                break
    return found


def client(data: Path) -> Client:
    return Client(settings=Settings.load(data_dir=data, environ={}))


def database_digest(data: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(data.glob("fraudhawk.db*")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def rich(tmp_path: Path) -> tuple[Path, Path]:
    """The rich workspace applied to a fresh data directory: (file, data directory)."""
    path, data = write(tmp_path / "rich.yaml", RICH), tmp_path / "one"
    result = apply(path, data)
    assert result.exit_code == 0, result.output
    return path, data


def test_apply_builds_what_the_file_declares(rich: tuple[Path, Path]) -> None:
    _, data = rich
    with client(data) as afd:
        statuses = {
            s["detectorVersionId"]: s["status"]
            for s in afd.describe_detector(detectorId="cc_detector")["detectorVersionSummaries"]
        }
        assert statuses == {"1": "INACTIVE", "2": "ACTIVE", "3": "DRAFT"}
        version = afd.get_detector_version(detectorId="cc_detector", detectorVersionId="2")
        assert [(r["ruleId"], r["ruleVersion"]) for r in version["rules"]] == [
            ("blocked", "1"),
            ("big_amount", "2"),
            ("fallback", "1"),
        ]
        assert version["ruleExecutionMode"] == "ALL_MATCHED"
        rules = afd.get_rules(detectorId="cc_detector", ruleId="big_amount")["ruleDetails"]
        assert sorted((r["ruleVersion"], r["expression"]) for r in rules) == [("1", "$amt > 1000"), ("2", "$amt > 800")]
        amt = afd.get_variables(name="amt")["variables"][0]
        assert (amt["dataType"], amt["defaultValue"]) == ("FLOAT", "0.0")  # defaults for a PRICE
        elements = afd.get_list_elements(name="blocked_merchants")["elements"]
        assert sorted(elements) == ["fraud_Abbott", "fraud_Kub"]
        model = afd.describe_model_versions(modelId="cc_tfi", modelType="TRANSACTION_FRAUD_INSIGHTS")
        detail = model["modelVersionDetails"][0]
        assert detail["trainingDataSchema"]["labelSchema"]["labelMapper"] == {"FRAUD": ["fraud"], "LEGIT": ["legit"]}
        customer = afd.get_entity_types(name="customer")["entityTypes"][0]
        assert afd.list_tags_for_resource(resourceARN=customer["arn"])["tags"] == [{"key": "team", "value": "fraud"}]


def test_applying_twice_changes_nothing(rich: tuple[Path, Path]) -> None:
    path, data = rich
    before = database_digest(data)
    plan = apply(path, data, "--plan")
    assert plan.exit_code == 0, plan.output
    assert set(actions(plan).values()) == {"unchanged"}
    again = apply(path, data)
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.stdout
    assert database_digest(data) == before  # nothing written


def test_export_apply_export_round_trips(rich: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = rich
    first = export(data, tmp_path / "first.yaml")
    document = yaml.safe_load(first)
    assert [v.get("status", "DRAFT") for v in document["detectors"][0]["versions"]] == [
        "INACTIVE",
        "ACTIVE",
        "DRAFT",
    ]
    assert document["models"][0]["training"]["window"] == {
        "start": "2019-01-01T00:00:00Z",
        "end": "2020-06-01T00:00:00Z",
    }
    assert "dataType" not in document["variables"][0]  # amt: implied by PRICE, left out
    applied = apply(tmp_path / "first.yaml", tmp_path / "two")
    assert applied.exit_code == 0, applied.output
    assert export(tmp_path / "two", tmp_path / "second.yaml") == first
    # and the export, applied back where it came from, is all unchanged
    back = apply(tmp_path / "first.yaml", data, "--plan")
    assert set(actions(back).values()) == {"unchanged"}, back.output


def test_pipelines_are_declared_with_the_rest(rich: tuple[Path, Path], tmp_path: Path) -> None:
    """Pipelines are applied, exported with only what differs from their defaults, and a pipeline the
    server may not use (a folder outside its allowed roots) is refused before anything is applied."""
    _, data = rich
    db = Database(Settings.load(data_dir=data, environ={}).database_url)
    stored = {entry["name"]: entry for entry in declared.list_pipelines(db)}
    db.dispose()
    assert stored["retrain"]["action"]["train"]["activate"] == {
        "detectorId": "cc_detector",
        "maxAucDrop": 0.002,
        "publish": True,
    }
    assert stored["store"]["transform"]["fraudValues"] == ["1", "true", "fraud", "yes"]  # the default, filled in
    assert stored["score"]["enabled"] is False
    exported = yaml.safe_load(export(data, tmp_path / "out.yaml"))["pipelines"]
    assert exported[0]["name"] == "retrain"
    assert "mode" in exported[0]["action"]["train"]
    assert "publish" not in exported[0]["action"]["train"]["activate"]
    assert "pattern" not in exported[1]  # *.csv, the default
    assert "enabled" not in exported[2]  # true, the default
    outside = RICH.replace("source: s3://fraud-data/train/", f"source: {tmp_path / 'elsewhere'}")
    refused = apply(write(tmp_path / "outside.yaml", outside), tmp_path / "three")
    assert refused.exit_code == 2
    assert "pipelines[1].source" in refused.output
    assert "nothing applied" in refused.output
    assert not (tmp_path / "three").exists()
    inside = RICH.replace("output: s3://fraud-data/scored/", "output: s3://fraud-data/batch_predict/out/")
    result = apply(write(tmp_path / "inside.yaml", inside), data)
    assert result.exit_code != 0
    assert "action.batchPredict.output" in result.output
    assert "must not be inside the source" in result.output


def test_a_change_afd_cannot_make_is_refused_and_nothing_applied(rich: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = rich
    changed = RICH.replace("  - name: merchant\n    dataType: STRING", "  - name: merchant\n    dataType: INTEGER")
    changed = changed.replace("    defaultValue: none\n", "    defaultValue: '0'\n")
    changed = changed.replace("  - name: legit\n", "  - name: legit\n  - name: chargeback\n")  # a create, held back
    before = database_digest(data)
    result = apply(write(tmp_path / "changed.yaml", changed), data)
    assert result.exit_code == 1
    refusal = next(line for line in result.stdout.splitlines() if "refused" in line)
    assert "variable merchant" in refusal
    assert "dataType cannot change from STRING to INTEGER" in refusal
    assert "event type transaction" in refusal
    assert "detector version cc_detector/2" in refusal
    assert actions(result)["label chargeback"] == "create"
    assert "nothing applied" in result.stderr
    assert database_digest(data) == before


def test_an_active_versions_rules_are_refused_a_drafts_updated(rich: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = rich
    active = RICH.replace("rules: [blocked:1, big_amount:2, fallback:1]", "rules: [big_amount:2, fallback:1]")
    result = apply(write(tmp_path / "active.yaml", active), data, "--plan")
    assert result.exit_code == 1
    assert "it is ACTIVE: only a DRAFT version's rules" in result.stdout
    draft = RICH.replace("rules: [blocked:1, fallback:1]", "rules: [big_amount:2, fallback:1]")
    result = apply(write(tmp_path / "draft.yaml", draft), data)
    assert result.exit_code == 0, result.output
    assert actions(result)["detector version cc_detector/3"] == "update"
    with client(data) as afd:
        version = afd.get_detector_version(detectorId="cc_detector", detectorVersionId="3")
    assert [r["ruleId"] for r in version["rules"]] == ["big_amount", "fallback"]
    rule = RICH.replace("expression: $amt > 800", "expression: $amt > 700")
    result = apply(write(tmp_path / "rule.yaml", rule), data, "--plan")
    assert "a rule version cannot change (expression differ)" in result.stdout


def test_what_the_file_no_longer_names_is_deleted_only_with_prune(rich: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = rich
    fewer = (
        RICH.split("externalModels:", maxsplit=1)[0]
        + "models:"
        + RICH.split("models:", 1)[1].split("      - version: 3", maxsplit=1)[0]
    )
    path = write(tmp_path / "fewer.yaml", fewer)
    shown = apply(path, data)
    assert shown.exit_code == 0, shown.output
    assert actions(shown)["external model risk-endpoint"] == "would delete"
    assert actions(shown)["detector version cc_detector/3"] == "would delete"
    with client(data) as afd:
        assert afd.get_external_models()["externalModels"]
    pruned = apply(path, data, "--prune")
    assert pruned.exit_code == 0, pruned.output
    with client(data) as afd:
        assert afd.get_external_models()["externalModels"] == []
        summaries = afd.describe_detector(detectorId="cc_detector")["detectorVersionSummaries"]
        assert sorted(s["detectorVersionId"] for s in summaries) == ["1", "2"]
    assert set(actions(apply(path, data, "--plan")).values()) == {"unchanged"}


def test_a_schema_error_says_where_and_applies_nothing(tmp_path: Path) -> None:
    bad = RICH.replace("    variableType: CATEGORICAL\n", "    variableType: CATEGORICL\n    colour: red\n", 1)
    data = tmp_path / "data"
    result = apply(write(tmp_path / "bad.yaml", bad), data)
    assert result.exit_code == 2
    lines = RICH.splitlines()
    row = next(i for i, line in enumerate(lines) if "variableType: CATEGORICAL" in line) + 1
    assert (
        f"bad.yaml:{row}:19: variables[1].variableType: 'CATEGORICL' is not allowed here: did you mean CATEGORICAL?"
        in (result.stderr)
    )
    assert f"bad.yaml:{row + 1}:5: variables[1]: unknown key ('colour' was unexpected)" in result.stderr
    assert "nothing applied" in result.stderr
    assert not data.exists()
    twice = RICH.replace("  - name: legit\n", "  - name: legit\n  - name: fraud\n")
    result = apply(write(tmp_path / "twice.yaml", twice), data)
    assert result.exit_code == 2
    assert "twice.yaml:9:11: labels: fraud is declared twice" in result.stderr


def test_a_yaml_syntax_error_says_where(tmp_path: Path) -> None:
    broken = RICH.replace("  - name: fraud\n", "  - name: [fraud\n", 1)
    result = apply(write(tmp_path / "broken.yaml", broken), tmp_path / "data")
    assert result.exit_code == 2
    assert "broken.yaml:8:9: YAML syntax error" in result.stderr
    assert "began at line 7, column 11" in result.stderr
    assert not (tmp_path / "data").exists()


def test_a_failure_part_way_says_what_was_applied_failed_and_not_attempted(tmp_path: Path) -> None:
    broken = RICH.replace("expression: $merchant in @blocked_merchants", "expression: $nowhere in @blocked_merchants")
    data = tmp_path / "data"
    result = apply(write(tmp_path / "broken.yaml", broken), data)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    failed = [line for line in lines if line.strip().startswith("FAILED")]
    assert len(failed) == 1
    assert "rule cc_detector/blocked:1: CreateRule failed: ValidationException" in failed[0]
    assert "nowhere" in failed[0]
    after = lines[lines.index(failed[0]) + 1 :]
    assert after
    assert all(line.strip().startswith("not attempted") for line in after)
    assert any("detector version cc_detector/2" in line for line in after)
    assert any(line.strip().startswith("applied") and "rule cc_detector/big_amount:2" in line for line in lines)
    assert "1 failed" in result.stderr
    with client(data) as afd:
        assert {r["ruleId"] for r in afd.get_rules(detectorId="cc_detector")["ruleDetails"]} == {"big_amount"}
    # fixed, the same file carries on from where it stopped
    fixed = apply(write(tmp_path / "rich.yaml", RICH), data)
    assert fixed.exit_code == 0, fixed.output
    assert actions(fixed)["rule cc_detector/big_amount:2"] == "unchanged"
    assert actions(fixed)["rule cc_detector/blocked:1"] == "create"


def test_the_shipped_schema_file_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text()


def test_the_example_workspace_applies(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "transactions-workspace.yaml"
    data = tmp_path / "data"
    result = apply(example, data)
    assert result.exit_code == 0, result.output
    assert actions(result)["detector version cc_detector/1"] == "waiting"  # for cc_tfi 1.0, to be trained
    assert set(actions(apply(example, data, "--plan")).values()) == {"unchanged", "waiting"}
    assert yaml.safe_load(export(data, tmp_path / "out.yaml"))["detectors"][0]["id"] == "cc_detector"


def _populate(afd: Any) -> None:
    """An AFD account built the way a user builds one, through boto3."""
    tags = [{"key": "env", "value": "prod"}]
    afd.put_entity_type(name="customer", tags=tags)
    afd.put_label(name="fraud")
    afd.put_label(name="legit", description="Not fraud")
    afd.put_outcome(name="review")
    afd.put_outcome(name="approve")
    afd.create_variable(name="amt", dataType="FLOAT", dataSource="EVENT", defaultValue="0.0", variableType="PRICE")
    afd.create_variable(name="category", dataType="STRING", dataSource="EVENT", defaultValue="<unknown>", tags=tags)
    afd.create_list(name="hot_categories", elements=["shopping_net", "misc_net"], variableType="CATEGORICAL")
    afd.put_event_type(
        name="transaction", eventVariables=["amt", "category"], labels=["fraud", "legit"], entityTypes=["customer"]
    )
    afd.put_external_model(
        modelEndpoint="risk-endpoint",
        modelSource="SAGEMAKER",
        invokeModelEndpointRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        inputConfiguration={
            "format": "APPLICATION_JSON",
            "useEventVariables": True,
            "jsonInputTemplate": '{"a": {{amt}}}',
        },
        outputConfiguration={"format": "APPLICATION_JSONLINES", "jsonKeyToVariableMap": {"score": "risk_score"}},
        modelEndpointStatus="ASSOCIATED",
    )
    afd.create_model(modelId="cc_tfi", modelType="TRANSACTION_FRAUD_INSIGHTS", eventTypeName="transaction")
    afd.create_model_version(
        modelId="cc_tfi",
        modelType="TRANSACTION_FRAUD_INSIGHTS",
        trainingDataSource="INGESTED_EVENTS",
        trainingDataSchema={
            "modelVariables": ["amt", "category"],
            "labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}},
        },
        ingestedEventsDetail={
            "ingestedEventsTimeWindow": {"startTime": "2020-01-01T00:00:00Z", "endTime": "2020-12-31T00:00:00Z"}
        },
    )
    afd.put_detector(detectorId="cc_detector", eventTypeName="transaction", description="Cards")
    afd.create_rule(
        ruleId="big", detectorId="cc_detector", expression="$amt > 500", language="DETECTORPL", outcomes=["review"]
    )
    afd.update_rule_version(
        rule={"detectorId": "cc_detector", "ruleId": "big", "ruleVersion": "1"},
        expression="$amt > 400 and $category in @hot_categories",
        language="DETECTORPL",
        outcomes=["review"],
        tags=tags,
    )
    afd.create_rule(
        ruleId="rest", detectorId="cc_detector", expression="true", language="DETECTORPL", outcomes=["approve"]
    )
    rules = [
        {"detectorId": "cc_detector", "ruleId": "big", "ruleVersion": "1"},
        {"detectorId": "cc_detector", "ruleId": "rest", "ruleVersion": "1"},
    ]
    afd.create_detector_version(detectorId="cc_detector", rules=rules)
    afd.update_detector_version_status(detectorId="cc_detector", detectorVersionId="1", status="ACTIVE")
    afd.create_detector_version(
        detectorId="cc_detector",
        rules=[{**rules[0], "ruleVersion": "2"}, rules[1]],
        externalModelEndpoints=["risk-endpoint"],
        ruleExecutionMode="ALL_MATCHED",
        description="next",
    )


def test_migration_from_afd(afd: Any, tmp_path: Path) -> None:
    from tests.helpers import RunningServer

    _populate(afd)
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }
    url = afd.meta.endpoint_url
    result = cli("export", "--from-afd", "--endpoint-url", url, "-o", str(tmp_path / "afd.yaml"), env=credentials)
    assert result.exit_code == 0, result.output
    exported = (tmp_path / "afd.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(exported)
    assert document["models"][0]["training"]["variables"] == ["amt", "category"]
    assert document["models"][0]["train"] is True
    assert [r["id"] for r in document["detectors"][0]["rules"]] == ["big", "rest"]
    assert document["externalModels"][0]["output"]["jsonKeyToVariableMap"] == {"score": "risk_score"}
    assert document["detectors"][0]["versions"][1]["externalModels"] == ["risk-endpoint"]
    second = Settings.load(data_dir=tmp_path / "second", environ={})
    with RunningServer(second) as target:
        applied = apply(tmp_path / "afd.yaml", second.data_dir)
        assert applied.exit_code == 0, applied.output
        again = cli(
            "export", "--from-afd", "--endpoint-url", target.url, "-o", str(tmp_path / "b.yaml"), env=credentials
        )
        assert again.exit_code == 0, again.output
        assert (tmp_path / "b.yaml").read_text(encoding="utf-8") == exported
    # the same reader, locally, gives the same file
    assert export(second.data_dir, tmp_path / "local.yaml") == exported


def test_the_readme_workspace_applies(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Workspace as code", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    data = tmp_path / "data"
    result = apply(write(tmp_path / "readme.yaml", block), data)
    assert result.exit_code == 0, result.output
    assert actions(result)["rule cc_detector/high_risk:1"] == "create"


def test_a_variable_needs_a_data_type_or_a_variable_type(tmp_path: Path) -> None:
    bad = RICH.replace("  - name: amt\n    variableType: PRICE\n", "  - name: amt\n    description: Amount\n")
    result = apply(write(tmp_path / "bad.yaml", bad), tmp_path / "data")
    assert result.exit_code == 2
    assert "bad.yaml:15:5: variables[0]: give dataType or variableType" in result.stderr


def test_detector_versions_wait_for_their_model_versions(tmp_path: Path) -> None:
    waiting = RICH + (
        "      - version: 4\n"
        "        status: ACTIVE\n"
        "        rules: [blocked:1, fallback:1]\n"
        "        models: [cc_tfi:1.0]\n"
        "      - version: 5\n"
        "        rules: [fallback:1]\n"
    ).replace("status: ACTIVE\n        ruleExecutionMode", "status: INACTIVE\n        ruleExecutionMode")
    waiting = waiting.replace(
        "      - version: 2\n        status: ACTIVE\n", "      - version: 2\n        status: INACTIVE\n"
    )
    data = tmp_path / "data"
    result = apply(write(tmp_path / "waiting.yaml", waiting), data)
    assert result.exit_code == 0, result.output
    found = actions(result)
    assert found["detector version cc_detector/4"] == "waiting"
    assert found["detector version cc_detector/5"] == "waiting"
    assert "model cc_tfi version 1.0 does not exist here" in result.stdout
    assert "2 waiting" in result.stdout
    with client(data) as afd:
        summaries = afd.describe_detector(detectorId="cc_detector")["detectorVersionSummaries"]
    assert sorted((s["detectorVersionId"], s["status"]) for s in summaries) == [
        ("1", "INACTIVE"),
        ("2", "INACTIVE"),
        ("3", "DRAFT"),
    ]
    again = apply(tmp_path / "waiting.yaml", data)
    assert again.exit_code == 0, again.output
    assert "nothing to do now; 2 change(s) waiting" in again.stdout
    # still training, or failed already (the test's client ran the job: this data directory has no events)
    assert re.search(r"model cc_tfi version 1\.0 is (TRAINING_IN_PROGRESS|ERROR) here: train it", again.stdout)


def test_pruning_with_an_empty_file_deletes_everything_in_reverse_order(
    rich: tuple[Path, Path], tmp_path: Path
) -> None:
    _, data = rich
    with client(data) as afd:  # its worker runs the training apply started: no events here, so it fails
        key = {"modelId": "cc_tfi", "modelType": "TRANSACTION_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}
        deadline = time.monotonic() + 60
        while afd.get_model_version(**key)["status"] == "TRAINING_IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert afd.get_model_version(**key)["status"] == "ERROR"
    # a failed training is not started again on every apply, only when asked
    shown = apply(tmp_path / "rich.yaml", data, "--plan")
    assert actions(shown)["model training cc_tfi"] == "unchanged"
    assert "version 1.0 with these settings is ERROR (apply --retrain trains it again)" in shown.stdout
    asked = apply(tmp_path / "rich.yaml", data, "--plan", "--retrain")
    assert actions(asked)["model training cc_tfi"] == "train"
    result = apply(write(tmp_path / "empty.yaml", "version: 1\n"), data, "--prune")
    assert result.exit_code == 0, result.output
    deleted = [
        line.split(":")[0].split(None, 1)[1] for line in result.stdout.splitlines() if line.startswith("  applied")
    ]
    # pipelines name detectors and models, which name event types, which name variables
    assert deleted[:4] == ["pipeline retrain", "pipeline score", "pipeline store", "detector cc_detector"]
    assert deleted.index("model cc_tfi") < deleted.index("event type transaction") < deleted.index("variable amt")
    assert deleted[-1] == "entity type customer"
    assert export(data, tmp_path / "out.yaml").endswith("version: 1\n")


def test_a_creation_whose_later_step_fails_is_removed_again(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", environ={})
    service = Service(settings, worker=False)
    try:
        made = ("PutLabel", {"name": "chargeback"})
        refused_step = ("PutLabel", {"name": "Not A Name"})  # AFD's name pattern refuses it
        change = Change(
            "label", "chargeback", CREATE, "", [made, refused_step], [("DeleteLabel", {"name": "chargeback"})]
        )
        later = Change("label", "later", CREATE, "", [("PutLabel", {"name": "later"})])
        report = apply_plan(Plan([change, later]), service.call)
        assert [c.name for c, _ in report.failed] == ["chargeback"]
        assert "what it had made was removed again" in report.failed[0][1]
        assert [c.name for c in report.not_attempted] == ["later"]
        assert service.call("GetLabels", {})["labels"] == []
    finally:
        service.close()
