"""Account Takeover Insights over the wire: CreateModelVersion's checks, the training result's shapes as
boto3 parses them (DescribeModelVersions, as AWS's ATI notebook reads them), the CLI's summary, and
the plain words of login explanations.

Until the ATI trainer is in, the training result comes from `report.success` on a hand-built outcome
(a real LightGBM booster and plan over the login profile's features, metrics computed from
synthetic scores), stored as a training job stores it, and read back through the server.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from fraudhawk import datagen
from fraudhawk.cli.predict import describe as predict_describe
from fraudhawk.cli.train import describe, run_training
from fraudhawk.client import Client
from fraudhawk.context import now_ms
from fraudhawk.features import history as hist
from fraudhawk.features.history.login_spec import LoginSpec
from fraudhawk.features.plan import FeaturePlan, VariableInfo
from fraudhawk.predictions.explain import explain
from fraudhawk.predictions.login_reasons import describe as reasons
from fraudhawk.scoring.calibration import Calibration
from fraudhawk.scoring.model import ScoringModel
from fraudhawk.settings import Settings
from fraudhawk.storage import schema
from fraudhawk.storage.database import Database
from fraudhawk.training import report
from fraudhawk.training.ati import plan_for
from fraudhawk.training.messages import Messages
from fraudhawk.training.readings import cr_table
from fraudhawk.training.trainer import Trained
from fraudhawk.training.versions import training_details
from tests.helpers import RunningServer, boto_client

ATI = "ACCOUNT_TAKEOVER_INSIGHTS"
OFI = "ONLINE_FRAUD_INSIGHTS"
ROLE = "arn:aws:iam::123456789012:role/FraudDetectorTraining"
LOGIN = "login"  # the event type with every login variable
BARE = "bare_login"  # an event type with an IP address only (and a variable the model ignores)
# name -> (dataType, variableType, defaultValue)
VARIABLES = {
    "ip": ("STRING", "IP_ADDRESS", "0.0.0.0"),
    "user_agent": ("STRING", "USERAGENT", "unknown"),
    "credentials_valid": ("BOOLEAN", "ARE_CREDENTIALS_VALID", "false"),
    "fingerprint": ("STRING", "FINGERPRINT", "unknown"),
    "session_id": ("STRING", "SESSION_ID", "unknown"),
    "plan_tier": ("STRING", "CATEGORICAL", "free"),
    "backup_ip": ("STRING", "IP_ADDRESS", "0.0.0.0"),
}
LOGIN_VARIABLES = ["ip", "user_agent", "credentials_valid", "fingerprint", "session_id", "plan_tier", "backup_ip"]
MODEL_VARIABLES = ["ip", "user_agent", "credentials_valid", "fingerprint", "session_id", "plan_tier"]
WINDOW = {"ingestedEventsTimeWindow": {"startTime": "2024-01-01T00:00:00Z", "endTime": "2024-03-01T00:00:00Z"}}
SPEC = LoginSpec("ip", "user_agent", "credentials_valid", "fingerprint", "session_id")


@dataclass
class Lab:
    afd: Any
    settings: Settings


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("ati")
    settings = Settings.load(data_dir=base / "data", s3_root=base / "s3", environ={})
    (base / "s3").mkdir()
    with RunningServer(settings) as running:
        afd = boto_client(running.url)
        afd.put_entity_type(name="user")
        for label in ("takeover", "legit"):
            afd.put_label(name=label)
        for name, (data_type, variable_type, default) in VARIABLES.items():
            afd.create_variable(
                name=name, dataType=data_type, dataSource="EVENT", defaultValue=default, variableType=variable_type
            )
        afd.put_event_type(
            name=LOGIN,
            eventVariables=LOGIN_VARIABLES,
            labels=["takeover", "legit"],
            entityTypes=["user"],
            eventIngestion="ENABLED",
        )
        afd.put_event_type(
            name=BARE, eventVariables=["ip", "plan_tier"], entityTypes=["user"], eventIngestion="ENABLED"
        )
        afd.put_event_type(
            name="agent_login", eventVariables=["ip", "user_agent"], entityTypes=["user"], eventIngestion="ENABLED"
        )
        afd.create_model(modelId="takeover", modelType=ATI, eventTypeName=LOGIN)
        afd.create_model(modelId="bare", modelType=ATI, eventTypeName=BARE)
        afd.create_model(modelId="agent_only", modelType=ATI, eventTypeName="agent_login")
        yield Lab(afd, settings)


def create(afd: Any, model_id: str = "takeover", **change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "modelId": model_id,
        "modelType": ATI,
        "trainingDataSource": "INGESTED_EVENTS",
        "trainingDataSchema": {"modelVariables": list(MODEL_VARIABLES)},
        "ingestedEventsDetail": WINDOW,
    }
    body.update(change)
    answer: dict[str, Any] = afd.create_model_version(**body)
    return answer


def refused(afd: Any, model_id: str = "takeover", **change: Any) -> str:
    with pytest.raises(afd.exceptions.ValidationException) as caught:
        create(afd, model_id, **change)
    message: str = caught.value.response["Error"]["Message"]
    return message


def no_versions(afd: Any, model_id: str = "takeover") -> bool:
    details: list[Any] = afd.describe_model_versions(modelId=model_id, modelType=ATI)["modelVersionDetails"]
    return details == []


# --- CreateModelVersion ----------------------------------------------------------------------------


def test_external_events_are_refused(lab: Lab) -> None:
    body: dict[str, Any] = {
        "modelId": "takeover",
        "modelType": ATI,
        "trainingDataSource": "EXTERNAL_EVENTS",
        "trainingDataSchema": {"modelVariables": list(MODEL_VARIABLES)},
        "externalEventsDetail": {"dataLocation": "s3://bucket/logins.csv", "dataAccessRoleArn": ROLE},
    }
    with pytest.raises(lab.afd.exceptions.ValidationException) as caught:
        lab.afd.create_model_version(**body)
    message = caught.value.response["Error"]["Message"]
    assert ATI in message
    assert "INGESTED_EVENTS" in message
    assert "stored events" in message
    assert no_versions(lab.afd)


@pytest.mark.parametrize(
    ("left_out", "variable_type"),
    [("ip", "IP_ADDRESS"), ("user_agent", "USERAGENT"), ("credentials_valid", "ARE_CREDENTIALS_VALID")],
)
def test_each_mandatory_variable_type_left_out_is_named(lab: Lab, left_out: str, variable_type: str) -> None:
    names = [name for name in MODEL_VARIABLES if name != left_out]
    message = refused(lab.afd, trainingDataSchema={"modelVariables": names})
    assert f"variable type {variable_type}" in message
    assert f"event type {LOGIN} has {left_out}" in message
    assert "list it in trainingDataSchema.modelVariables" in message
    assert no_versions(lab.afd)


@pytest.mark.parametrize(
    ("model_id", "event_type", "names", "variable_type"),
    [
        ("bare", BARE, ["ip", "plan_tier"], "USERAGENT"),
        ("agent_only", "agent_login", ["ip", "user_agent"], "ARE_CREDENTIALS_VALID"),
    ],
)
def test_a_mandatory_type_missing_from_the_event_type_says_how_to_add_it(
    lab: Lab, model_id: str, event_type: str, names: list[str], variable_type: str
) -> None:
    message = refused(lab.afd, model_id, trainingDataSchema={"modelVariables": names})
    assert f"variable type {variable_type}" in message
    assert f"event type {event_type} has none" in message
    for step in ("create a variable with variableType", "CreateVariable", "eventVariables", "PutEventType"):
        assert step in message
    assert no_versions(lab.afd, model_id)


def test_two_ip_variables_are_refused(lab: Lab) -> None:
    message = refused(lab.afd, trainingDataSchema={"modelVariables": [*MODEL_VARIABLES, "backup_ip"]})
    assert "IP_ADDRESS" in message
    assert "ip, backup_ip" in message
    assert no_versions(lab.afd)


def test_a_label_schema_is_checked_as_for_other_models(lab: Lab) -> None:
    message = refused(
        lab.afd,
        trainingDataSchema={"modelVariables": MODEL_VARIABLES, "labelSchema": {"labelMapper": {"FRAUD": ["fraud"]}}},
    )
    assert "LEGIT" in message
    message = refused(
        lab.afd,
        trainingDataSchema={
            "modelVariables": MODEL_VARIABLES,
            "labelSchema": {"labelMapper": {"FRAUD": ["stolen"], "LEGIT": ["legit"]}},
        },
    )
    assert "stolen" in message
    assert no_versions(lab.afd)


def _cancel(afd: Any, model_id: str, version: str) -> None:
    """Stop a training these tests only needed accepted (there are no stored logins to train on)."""
    with contextlib.suppress(afd.exceptions.ValidationException):  # it may have ended already
        afd.update_model_version_status(
            modelId=model_id, modelType=ATI, modelVersionNumber=version, status="TRAINING_CANCELLED"
        )
    deadline = time.monotonic() + 60
    while afd.get_model_version(modelId=model_id, modelType=ATI, modelVersionNumber=version)["status"] == (
        "TRAINING_IN_PROGRESS"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize(
    "label_schema",
    [
        None,
        {"unlabeledEventsTreatment": "IGNORE"},
        {"labelMapper": {"FRAUD": ["takeover"], "LEGIT": ["legit"]}, "unlabeledEventsTreatment": "LEGIT"},
    ],
    ids=["without labels", "without a label mapper", "with labels"],
)
def test_a_complete_request_is_accepted(lab: Lab, label_schema: dict[str, Any] | None) -> None:
    afd = lab.afd
    afd.create_model(modelId="accepted", modelType=ATI, eventTypeName=LOGIN)
    training_schema: dict[str, Any] = {"modelVariables": MODEL_VARIABLES}
    if label_schema is not None:
        training_schema["labelSchema"] = label_schema
    answer = create(afd, "accepted", trainingDataSchema=training_schema)
    assert answer["modelType"] == ATI
    assert answer["status"] == "TRAINING_IN_PROGRESS"
    version = answer["modelVersionNumber"]
    stored = afd.get_model_version(modelId="accepted", modelType=ATI, modelVersionNumber=version)
    assert stored["trainingDataSource"] == "INGESTED_EVENTS"
    assert stored["trainingDataSchema"] == training_schema
    _cancel(afd, "accepted", version)
    afd.delete_model_version(modelId="accepted", modelType=ATI, modelVersionNumber=version)
    afd.delete_model(modelId="accepted", modelType=ATI)


# --- a training result in AFD's shapes --------------------------------------------------------------


def login_plan() -> FeaturePlan:
    """The plan an ATI version is saved with: the login profile's aggregates only."""
    variables = [VariableInfo(name, data_type, kind) for name, (data_type, kind, _) in VARIABLES.items()]
    variables = [v for v in variables if v.name in MODEL_VARIABLES]
    return plan_for(variables, hist.HistorySpec(login=SPEC))


def _share_at_least(scores: np.ndarray, threshold: float) -> float:
    return float((scores >= threshold).mean())


def hand_built(ato_entities: int, seed: int = 3) -> Trained:
    """An ATI outcome as the trainer hands it over: a real booster over the login features, metrics of
    synthetic held-out scores on the dense 0..1000 grid."""
    rng = np.random.default_rng(seed)
    plan = login_plan()
    width = len(plan.feature_names)
    matrix = rng.normal(size=(600, width))
    settled, ip_uses = plan.feature_names.index("l.settled"), plan.feature_names.index("l.ip.uses")
    target = (matrix[:, settled] + matrix[:, ip_uses] + rng.normal(scale=0.5, size=600) > 0).astype(float)
    params = {"objective": "binary", "num_leaves": 4, "verbosity": -1, "seed": seed, "deterministic": True}
    booster = lgb.train(params, lgb.Dataset(matrix, label=target, feature_name=plan.feature_names), num_boost_round=8)
    contributions = np.abs(np.asarray(booster.predict(matrix, pred_contrib=True))[:, :-1]).mean(axis=0)
    real = np.clip(rng.gamma(2.0, 80.0, size=4000), 0, 1000)
    anomalies = np.clip(1000 - rng.gamma(1.5, 90.0, size=4000), 0, 1000)
    takeovers = np.clip(1000 - rng.gamma(1.5, 120.0, size=300), 0, 1000)
    with_atodr = ato_entities >= 50
    points = []
    for threshold in range(0, 1001, 5):
        point = {
            "threshold": float(threshold),
            "cr": _share_at_least(real, threshold),
            "adr": _share_at_least(anomalies, threshold),
        }
        if with_atodr:
            point["atodr"] = _share_at_least(takeovers, threshold)
        points.append(point)
    asi = float((anomalies[:, None] > real[None, :1000]).mean())
    messages = Messages()
    messages.file_info("Login data", "4,000 held-out logins of 1,600 entities")
    performance = {"asi": asi, "points": points, "atoEntities": ato_entities, "distributions": {"real": [1, 2]}}
    summary = {"events": 26_000, "entities": 1_600, "trainingEvents": 22_000, "validationEvents": 4_000}
    return Trained(
        booster=booster,
        plan=plan,
        calibration=Calibration([float(k) for k in range(1001)]),
        performance=performance,
        importance=dict(zip(plan.feature_names, contributions.tolist(), strict=True)),
        messages=messages,
        summary=summary,
    )


def store_complete(settings: Settings, model_id: str, trained: Trained) -> str:
    """Store a finished version with `trained`'s result as a training job stores it; returns its number."""
    result = report.success(ATI, trained)
    stamp = now_ms()
    database = Database(settings.database_url)
    try:
        with database.write() as conn:
            conn.execute(
                insert(schema.model_versions).values(
                    model_id=model_id,
                    major=1,
                    minor=0,
                    status="TRAINING_COMPLETE",
                    training_source="INGESTED_EVENTS",
                    training_schema=json.dumps({"modelVariables": MODEL_VARIABLES}),
                    ingested_detail=json.dumps(WINDOW),
                    training_result=json.dumps(result),
                    cancel_requested=False,
                    created_ms=stamp,
                    updated_ms=stamp,
                )
            )
    finally:
        database.dispose()
    return "1.0"


@pytest.fixture(scope="module")
def finished(lab: Lab) -> dict[str, Any]:
    """DescribeModelVersions' detail of a finished ATI version with ATODR (60 labelled entities)."""
    lab.afd.create_model(modelId="finished", modelType=ATI, eventTypeName=LOGIN)
    version = store_complete(lab.settings, "finished", hand_built(ato_entities=60))
    details = lab.afd.describe_model_versions(modelId="finished", modelType=ATI, modelVersionNumber=version)
    detail: dict[str, Any] = details["modelVersionDetails"][0]
    return detail


def test_v2_metrics_arrive_through_boto3_as_the_notebook_reads_them(finished: dict[str, Any]) -> None:
    # boto3 parsed the body, and the shape hook checked it member by member against botocore's model
    metrics = finished["trainingResultV2"]["trainingMetricsV2"]
    assert set(metrics) == {"ati"}
    asi = metrics["ati"]["modelPerformance"]["asi"]
    assert 0.5 < asi <= 1.0
    points = pl.DataFrame(metrics["ati"]["metricDataPoints"])
    assert set(points.columns) == {"threshold", "cr", "adr", "atodr"}
    assert points["threshold"].to_list() == [float(t) for t in range(0, 1001, 5)]
    # each rate falls as the threshold rises
    for column in ("cr", "adr", "atodr"):
        assert points[column].diff().drop_nulls().max() <= 0  # type: ignore[operator]


def test_v2_importance_lists_raw_variables_and_aggregates(finished: dict[str, Any]) -> None:
    v2 = finished["trainingResultV2"]
    raw = v2["variableImportanceMetrics"]["logOddsMetrics"]
    assert {m["variableName"] for m in raw} == set(MODEL_VARIABLES[:5])
    assert {m["variableType"] for m in raw} == {VARIABLES[n][1] for n in MODEL_VARIABLES[:5]}
    # the booster's target depends on l.settled (credentials) and l.ip.uses: those two lead
    assert {m["variableName"] for m in raw[:2]} == {"credentials_valid", "ip"}
    groups = v2["aggregatedVariablesImportanceMetrics"]["logOddsMetrics"]
    # each login variable's aggregates (the model reads nothing else)
    expected = sorted((n,) for n in MODEL_VARIABLES[:5])
    assert sorted(tuple(g["variableNames"]) for g in groups) == expected
    # a raw variable's importance is that of everything computed from it: here its aggregates
    by_group = {g["variableNames"][0]: g["aggregatedVariablesImportance"] for g in groups}
    for metric in raw:
        assert metric["variableImportance"] == pytest.approx(by_group[metric["variableName"]], abs=2e-6)


def test_v1_has_validation_and_importance_but_no_fraud_metrics(finished: dict[str, Any]) -> None:
    v1 = finished["trainingResult"]
    assert set(v1) == {"dataValidationMetrics", "variableImportanceMetrics"}
    assert v1["dataValidationMetrics"]["fileLevelMessages"][0]["title"] == "Login data"
    assert v1["variableImportanceMetrics"] == finished["trainingResultV2"]["variableImportanceMetrics"]


def test_without_fifty_labelled_entities_points_have_no_atodr(lab: Lab) -> None:
    lab.afd.create_model(modelId="unlabelled", modelType=ATI, eventTypeName=LOGIN)
    version = store_complete(lab.settings, "unlabelled", hand_built(ato_entities=49))
    detail = lab.afd.describe_model_versions(modelId="unlabelled", modelType=ATI, modelVersionNumber=version)[
        "modelVersionDetails"
    ][0]
    points = detail["trainingResultV2"]["trainingMetricsV2"]["ati"]["metricDataPoints"]
    assert all(set(point) == {"threshold", "cr", "adr"} for point in points)


def test_update_model_version_retrains_on_stored_events_only(lab: Lab) -> None:
    afd = lab.afd
    afd.create_model(modelId="retrained", modelType=ATI, eventTypeName=LOGIN)
    store_complete(lab.settings, "retrained", hand_built(ato_entities=0))
    update = {"modelId": "retrained", "modelType": ATI, "majorVersionNumber": "1"}
    with pytest.raises(afd.exceptions.ValidationException) as caught:
        afd.update_model_version(
            **update, externalEventsDetail={"dataLocation": "s3://bucket/logins.csv", "dataAccessRoleArn": ROLE}
        )
    assert "INGESTED_EVENTS" in caught.value.response["Error"]["Message"]
    answer = afd.update_model_version(**update, ingestedEventsDetail=WINDOW)
    assert answer["modelVersionNumber"] == "1.01"
    assert answer["status"] == "TRAINING_IN_PROGRESS"
    version = {"modelId": "retrained", "modelType": ATI, "modelVersionNumber": "1.01"}
    deadline = time.monotonic() + 60
    while (status := afd.get_model_version(**version)["status"]) == "TRAINING_IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "ERROR"  # the login event type has no stored events: AFD's requirements say so
    detail = afd.describe_model_versions(**version)["modelVersionDetails"][0]
    messages = detail["trainingResultV2"]["dataValidationMetrics"]["fileLevelMessages"]
    assert any("1,500" in m["content"] for m in messages if m["type"] == "ERROR")


# --- the CLI's summary --------------------------------------------------------------------------------


def notebook_bins(points: list[dict[str, float]]) -> list[dict[str, float]]:
    """AWS's notebook, in polars: bin by ceil(cr * 100) %, take each bin's smallest threshold, keep
    0 < cr <= 6%."""
    frame = pl.DataFrame(points).with_columns(
        (pl.col("cr") * 100).round(9).ceil().alias("bin")  # the notebook's float ceil, without its 1e-16 slips
    )
    picked = frame.sort("threshold").group_by("bin", maintain_order=True).first().sort("bin")
    picked = picked.filter((pl.col("cr") > 0) & (pl.col("cr") <= 0.06))
    return picked.drop("bin").to_dicts()


def test_cr_table_picks_what_the_notebook_picks(finished: dict[str, Any]) -> None:
    points = finished["trainingResultV2"]["trainingMetricsV2"]["ati"]["metricDataPoints"]
    table = cr_table(points)
    assert table == notebook_bins(points)
    assert [math.ceil(round(p["cr"] * 100, 9)) for p in table] == list(range(1, 7))


def summary_text(detail: dict[str, Any], extra: dict[str, Any]) -> str:
    @click.command()
    def show() -> None:
        describe({**detail, "elapsedSeconds": 12.0, "details": extra})

    result = CliRunner().invoke(show, [])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_summary_shows_asi_and_the_challenge_rate_table(finished: dict[str, Any]) -> None:
    extra = report.success(ATI, hand_built(ato_entities=60))["extra"]
    text = summary_text(finished, extra)
    asi = finished["trainingResultV2"]["trainingMetricsV2"]["ati"]["modelPerformance"]["asi"]
    meaning = "high" if asi >= 0.9 else "good" if asi >= 0.75 else "poor"
    assert f"ASI {asi:.3f}: {meaning} (AFD: >= 0.9 high, 0.75-0.9 good, < 0.75 poor)" in text
    assert "26,000 login events of 1,600 entities, validated on the newest 4,000 successful logins" in text
    assert "challenge rate  score >=  anomalies caught  takeovers caught" in text
    table = cr_table(finished["trainingResultV2"]["trainingMetricsV2"]["ati"]["metricDataPoints"])
    for point in table:
        row = f"{point['cr']:13.2%}  {point['threshold']:8.0f}  {point['adr']:16.1%}  {point['atodr']:16.1%}"
        assert row in text
    assert "INFO    Login data: 4,000 held-out logins" in text
    assert "\r" not in text


def test_cli_summary_without_atodr_says_why(lab: Lab) -> None:
    trained = hand_built(ato_entities=12)
    result = report.success(ATI, trained)
    detail = {
        "modelId": "m",
        "modelType": ATI,
        "modelVersionNumber": "1.0",
        "status": "TRAINING_COMPLETE",
        "trainingResult": result["v1"],
        "trainingResultV2": result["v2"],
    }
    text = summary_text(detail, result["extra"])
    assert "no ATO discovery rate: it needs at least 50 entities with a labelled takeover, the data has 12" in text
    assert "takeovers caught" not in text
    assert "challenge rate  score >=  anomalies caught" in text


@pytest.mark.parametrize(("asi", "words"), [(0.95, "high"), (0.9, "high"), (0.8, "good"), (0.6, "poor")])
def test_asi_words_follow_afd(asi: float, words: str) -> None:
    result = report.success(ATI, hand_built(ato_entities=0))
    result["v2"]["trainingMetricsV2"]["ati"]["modelPerformance"]["asi"] = asi
    detail = {
        "modelId": "m",
        "modelType": ATI,
        "modelVersionNumber": "1.0",
        "status": "TRAINING_COMPLETE",
        "trainingResult": result["v1"],
        "trainingResultV2": result["v2"],
    }
    assert f"ASI {asi:.3f}: {words} " in summary_text(detail, {})


# --- explanations in plain words --------------------------------------------------------------------


def features(**given: float) -> dict[str, float]:
    """Every login feature NaN (no value) but those given (names with '__' for '.')."""
    values = dict.fromkeys(login_plan().feature_names, math.nan)
    for name, value in given.items():
        key = "l." + name.replace("__", ".")
        assert key in values, key
        values[key] = value
    return values


IP_GROUP = [f for f, sources in SPEC.groups().items() if sources == ["ip"]]
AGENT_GROUP = [f for f, sources in SPEC.groups().items() if sources == ["user_agent"]]
CRED_GROUP = [f for f, sources in SPEC.groups().items() if sources == ["credentials_valid"]]


def test_a_new_ip_in_a_familiar_country_is_named() -> None:
    values = features(
        settled=20, ip__uses=0, subnet__uses=0, asn__uses=4, country__uses=20, travel_km=0.0, travel_kmh=0.0
    )
    assert reasons(values, IP_GROUP) == (
        "new to this entity: IP address and IP subnet; familiar: network (ASN) and country"
    )


def test_new_device_and_country_with_impossible_travel() -> None:
    values = features(
        settled=12, ip__uses=0, subnet__uses=0, asn__uses=0, country__uses=0, travel_km=8_000.0, travel_kmh=4_000.0
    )
    text = reasons(values, IP_GROUP)
    assert text == (
        "new to this entity: IP address, IP subnet, network (ASN) and country; "
        "impossible travel: 8,000 km from the last login's country at 4,000 km/h"
    )
    agent = features(settled=12, agent__uses=0, browser__uses=3, browser_version__uses=0, os__uses=3, device__uses=0)
    assert reasons(agent, AGENT_GROUP) == (
        "new to this entity: user agent, browser version and device type; familiar: browser and operating system"
    )


def test_a_familiar_login_says_how_familiar() -> None:
    values = features(settled=150, ip__uses=100, ip__since_d=2.4, subnet__uses=120, asn__uses=150, country__uses=150)
    assert reasons(values, IP_GROUP) == "IP address used in 100+ earlier logins, most recently 2 days before"


def test_no_history_yet_is_said_so() -> None:
    values = features(settled=0, ip__uses=0, subnet__uses=0, asn__uses=0, country__uses=0)
    assert reasons(values, IP_GROUP) == "no earlier login of this entity to compare with (none a day or more before)"


def test_failed_logins_are_counted() -> None:
    assert reasons(features(settled=1, fail_1h=3, fail_24h=5), CRED_GROUP) == (
        "1 earlier successful login (a day or more before); 3 failed logins in the last hour, 5 in the last 24 hours"
    )
    assert reasons(features(settled=40, fail_1h=0, fail_24h=1), CRED_GROUP) == (
        "40 earlier successful logins (a day or more before); 1 failed login in the last 24 hours"
    )
    assert reasons(features(settled=40, fail_1h=0, fail_24h=0), CRED_GROUP).endswith(  # type: ignore[union-attr]
        "no failed logins in the last 24 hours"
    )


def test_explain_adds_words_to_login_groups(tmp_path: Path) -> None:
    trained = hand_built(ato_entities=0)
    model = ScoringModel(trained.booster, trained.plan, trained.calibration, manifest={})
    values = features(
        settled=30,
        fail_1h=0,
        fail_24h=0,
        travel_km=9_000.0,
        travel_kmh=3_000.0,
        ip__uses=0,
        subnet__uses=0,
        asn__uses=0,
        country__uses=0,
        agent__uses=10,
        agent__since_d=1.0,
        browser__uses=30,
        browser_version__uses=10,
        os__uses=30,
        device__uses=30,
    )
    vector = np.array([values[name] for name in trained.plan.feature_names])
    answer = explain(model, vector)
    groups = {tuple(g["eventVariableNames"]): g for g in answer["aggregatedVariablesImpactExplanations"]}
    assert groups[("ip",)]["description"].startswith("new to this entity: IP address, IP subnet, network (ASN)")
    assert "impossible travel: 9,000 km" in groups[("ip",)]["description"]
    assert groups[("user_agent",)]["description"] == "user agent used in 10 earlier logins, most recently 1 day before"
    assert groups[("credentials_valid",)]["description"] == (
        "30 earlier successful logins (a day or more before); no failed logins in the last 24 hours"
    )
    # fingerprint and session have no value: nothing to say
    assert "description" not in groups[("fingerprint",)]
    # the raw view sums each variable's aggregates: the same log-odds, per variable
    raw = {v["eventVariableName"]: v["logOddsImpact"] for v in answer["variableImpactExplanations"]}
    assert ("ENTITY_ID",) not in groups  # the model reads the login profile only
    assert set(raw) == {names[0] for names in groups}
    for names, group in groups.items():
        assert raw[names[0]] == pytest.approx(group["logOddsImpact"], abs=2e-6)
    total = float(np.asarray(model.booster.predict(vector.reshape(1, -1), pred_contrib=True))[0][:-1].sum())
    assert sum(raw.values()) == pytest.approx(total, abs=1e-5)


# --- end to end on simulated logins -------------------------------------------------------------------

SIMULATED = "sim_login"  # 1,600 customers over 31 days
SMALL = "small_login"  # 300 customers over 10 days
TRAIN_TIMEOUT = 300.0
LOGINS = list(datagen.LOGIN_VARIABLES)


def import_logins(lab: Lab, event_type: str, users: int, days: int, seed: int) -> int:
    """Simulated logins stored for `event_type` through a batch import; returns how many."""
    files = lab.settings.data_dir / "files"
    files.mkdir(parents=True, exist_ok=True)
    path = files / f"{event_type}.csv"
    summary = datagen.logins(path, users=users, days=days, seed=seed)
    lab.afd.create_batch_import_job(
        jobId=event_type,
        inputPath=str(path),
        outputPath=str(files / "reports"),
        eventTypeName=event_type,
        iamRoleArn=ROLE,
    )
    deadline = time.monotonic() + 120
    while (job := lab.afd.get_batch_import_jobs(jobId=event_type)["batchImports"][0])["status"].startswith(
        "IN_PROGRESS"
    ):
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.1)
    assert job["status"] == "COMPLETE", job
    assert job["processedRecordsCount"] == summary.events
    return summary.events


@pytest.fixture(scope="module")
def simulated(lab: Lab) -> Lab:
    """Two event types of the simulator's variables with their logins stored."""
    afd = lab.afd
    afd.put_entity_type(name="customer")
    afd.put_label(name="fraud")
    known = {v["name"] for v in afd.get_variables()["variables"]}
    for name, (data_type, variable_type) in datagen.LOGIN_VARIABLES.items():
        if name in known:
            assert VARIABLES[name][:2] == (data_type, variable_type)
            continue
        afd.create_variable(
            name=name, dataType=data_type, dataSource="EVENT", defaultValue="unknown", variableType=variable_type
        )
    for event_type in (SIMULATED, SMALL):
        afd.put_event_type(
            name=event_type,
            eventVariables=list(datagen.LOGIN_VARIABLES),
            labels=["fraud", "legit"],
            entityTypes=["customer"],
            eventIngestion="ENABLED",
        )
    import_logins(lab, SIMULATED, users=1_600, days=31, seed=4)
    import_logins(lab, SMALL, users=300, days=10, seed=5)
    return lab


def train_stored(lab: Lab, model_id: str, event_type: str, labels: bool) -> dict[str, Any]:
    """An ATI version trained on the event type's stored logins; its DescribeModelVersions detail."""
    afd = lab.afd
    afd.create_model(modelId=model_id, modelType=ATI, eventTypeName=event_type)
    stats = afd.get_event_types(name=event_type)["eventTypes"][0]["ingestedEventStatistics"]
    training_schema: dict[str, Any] = {"modelVariables": list(datagen.LOGIN_VARIABLES)}
    if labels:
        training_schema["labelSchema"] = {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}}
    answer = afd.create_model_version(
        modelId=model_id,
        modelType=ATI,
        trainingDataSource="INGESTED_EVENTS",
        trainingDataSchema=training_schema,
        ingestedEventsDetail={
            "ingestedEventsTimeWindow": {"startTime": stats["leastRecentEvent"], "endTime": stats["mostRecentEvent"]}
        },
    )
    version = answer["modelVersionNumber"]
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while afd.get_model_version(modelId=model_id, modelType=ATI, modelVersionNumber=version)["status"] == (
        "TRAINING_IN_PROGRESS"
    ):
        assert time.monotonic() < deadline, f"{model_id} still training after {TRAIN_TIMEOUT} s"
        time.sleep(0.2)
    detail: dict[str, Any] = afd.describe_model_versions(modelId=model_id, modelType=ATI, modelVersionNumber=version)[
        "modelVersionDetails"
    ][0]
    return detail


def stored_details(lab: Lab, model_id: str) -> dict[str, Any]:
    """The figures beyond AFD's shapes that `fraudhawk train` prints (the library client's
    training_details), read from the server's store."""
    database = Database(lab.settings.database_url)
    try:
        with database.read() as conn:
            details = training_details(conn, model_id, "1.0")
    finally:
        database.dispose()
    assert details is not None
    return details


def test_too_few_entities_over_too_few_days_end_in_error(simulated: Lab) -> None:
    detail = train_stored(simulated, "small_model", SMALL, labels=False)
    assert detail["status"] == "ERROR"
    errors = [m for m in detail["trainingResult"]["dataValidationMetrics"]["fileLevelMessages"] if m["type"] == "ERROR"]
    texts = " | ".join(m["content"] for m in errors)
    assert "1,500" in texts
    assert "entities" in texts
    assert "30" in texts
    assert "days" in texts
    assert set(detail["trainingResultV2"]) == {"dataValidationMetrics"}


@pytest.fixture(scope="module")
def simulated_model(simulated: Lab) -> dict[str, Any]:
    return train_stored(simulated, "simulated_model", SIMULATED, labels=True)


def test_enough_logins_train_to_complete_with_afd_shapes(simulated: Lab, simulated_model: dict[str, Any]) -> None:
    detail = simulated_model
    assert detail["status"] == "TRAINING_COMPLETE", detail["trainingResult"]["dataValidationMetrics"]
    v2 = detail["trainingResultV2"]
    assert set(v2) == {
        "dataValidationMetrics",
        "trainingMetricsV2",
        "variableImportanceMetrics",
        "aggregatedVariablesImportanceMetrics",
    }
    ati = v2["trainingMetricsV2"]["ati"]
    assert 0.5 < ati["modelPerformance"]["asi"] <= 1.0
    points = ati["metricDataPoints"]
    assert [p["threshold"] for p in points] == [float(t) for t in range(0, 1001, 5)]
    labelled = stored_details(simulated, "simulated_model")["summary"]["takeoverEntities"]
    wanted = {"threshold", "cr", "adr", "atodr"} if labelled >= 50 else {"threshold", "cr", "adr"}
    assert all(set(p) == wanted for p in points)
    assert points[0]["cr"] == 1.0
    raw = v2["variableImportanceMetrics"]["logOddsMetrics"]
    assert {m["variableName"] for m in raw} == set(datagen.LOGIN_VARIABLES)
    for metric in raw:
        assert metric["variableType"] == datagen.LOGIN_VARIABLES[metric["variableName"]][1]
    groups = {tuple(g["variableNames"]) for g in v2["aggregatedVariablesImportanceMetrics"]["logOddsMetrics"]}
    assert {(name,) for name in datagen.LOGIN_VARIABLES} <= groups
    v1 = detail["trainingResult"]
    assert set(v1) == {"dataValidationMetrics", "variableImportanceMetrics"}


def test_cli_summary_of_a_trained_version(simulated: Lab, simulated_model: dict[str, Any]) -> None:
    extra = stored_details(simulated, "simulated_model")
    text = summary_text(simulated_model, extra)
    asi = simulated_model["trainingResultV2"]["trainingMetricsV2"]["ati"]["modelPerformance"]["asi"]
    assert f"ASI {asi:.3f}: " in text
    summary = extra["summary"]
    assert f"{summary['events']:,} login events of 1,600 entities" in text
    assert f"{summary['labelledTakeovers']:,} labelled takeover events" in text
    points = simulated_model["trainingResultV2"]["trainingMetricsV2"]["ati"]["metricDataPoints"]
    table = cr_table(points)
    assert table == notebook_bins(points)
    assert table, "no challenge rate between 1% and 6%"
    for point in table:
        assert f"{point['cr']:13.2%}  {point['threshold']:8.0f}  {point['adr']:16.1%}" in text
    assert "most important aggregates" in text


def test_cli_without_labels_and_off_a_terminal(tmp_path: Path) -> None:
    """`fraudhawk train --model-type ati` through the library client, its output captured (not a
    terminal): a line per step and no carriage returns; an event type without labels trains without."""
    settings = Settings.load(data_dir=tmp_path / "data", environ={})
    files = settings.data_dir / "files"
    files.mkdir(parents=True)
    path = files / "logins.csv"
    summary = datagen.logins(path, users=200, days=5, seed=6, labelled_share=0.0)
    with Client(settings=settings) as client:
        client.put_entity_type(name="customer")
        for name, (data_type, variable_type) in datagen.LOGIN_VARIABLES.items():
            default = "false" if data_type == "BOOLEAN" else "unknown"
            client.create_variable(
                name=name, dataType=data_type, dataSource="EVENT", defaultValue=default, variableType=variable_type
            )
        variables = list(datagen.LOGIN_VARIABLES)
        client.put_event_type(
            name="logins", eventVariables=variables, entityTypes=["customer"], eventIngestion="ENABLED"
        )
        client.create_batch_import_job(
            jobId="logins", inputPath=str(path), outputPath=str(files), eventTypeName="logins", iamRoleArn=ROLE
        )
        deadline = time.monotonic() + 60
        while client.get_batch_import_jobs(jobId="logins")["batchImports"][0]["status"].startswith("IN_PROGRESS"):
            assert time.monotonic() < deadline
            time.sleep(0.05)

        @click.command()
        def train() -> None:
            labels = (["fraud"], ["legit"], "IGNORE")
            detail = run_training(client, "cli_model", "ati", "logins", None, *labels, None, None)
            describe(detail)

        result = CliRunner().invoke(train, [])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "\r" not in text
    assert "training without labels: event type logins does not have both a fraud label (fraud) and a legit" in text
    steps = [line for line in text.splitlines() if line.startswith("  ") and line.strip()[:1].isdigit()]
    assert steps, text
    assert len(steps) == len({line.split("s  ", 1)[1] for line in steps})  # each step once
    assert "cli_model 1.0: ERROR" in text
    assert "1,500" in text  # the requirement the data misses, printed from dataValidationMetrics
    assert summary.events > 0


def test_prediction_explanations_carry_plain_words(simulated: Lab, simulated_model: dict[str, Any]) -> None:
    """The walk-through's detector on the trained version: the raw GetEventPredictionMetadata answer
    says in words what is new about a login; boto3 parses the same answer and skips the words."""
    afd = simulated.afd
    model = {"modelId": "simulated_model", "modelType": ATI, "modelVersionNumber": "1.0"}
    afd.update_model_version_status(**model, status="ACTIVE")
    deadline = time.monotonic() + 120
    while afd.get_model_version(**model)["status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    afd.put_detector(detectorId="logins", eventTypeName=SIMULATED)
    rules = []
    for rule, expression, outcome in (
        ("deny", "$simulated_model_insightscore >= 950", "deny_login"),
        ("allow", "$simulated_model_insightscore < 950", "approve_login"),
    ):
        afd.put_outcome(name=outcome)
        afd.create_rule(
            ruleId=rule, detectorId="logins", expression=expression, language="DETECTORPL", outcomes=[outcome]
        )
        rules.append({"detectorId": "logins", "ruleId": rule, "ruleVersion": "1"})
    afd.create_detector_version(detectorId="logins", rules=rules, modelVersions=[model])
    afd.update_detector_version_status(detectorId="logins", detectorVersionId="1", status="ACTIVE")
    last = (
        pl.read_csv(simulated.settings.data_dir / "files" / f"{SIMULATED}.csv")
        .filter(pl.col("credentials_valid"))[-1]
        .to_dicts()[0]
    )
    usual = {name: str(last[name]).lower() if name == "credentials_valid" else str(last[name]) for name in LOGINS}
    predictions = {}
    for event_id, change in (("usual", {}), ("stranger", {"fingerprint": "fp-never-seen", "ip_address": "192.0.2.7"})):
        predictions[event_id] = afd.get_event_prediction(
            detectorId="logins",
            eventId=event_id,
            eventTypeName=SIMULATED,
            eventTimestamp="2024-02-01T12:00:00Z",
            entities=[{"entityType": "customer", "entityId": last["ENTITY_ID"]}],
            eventVariables={**usual, **change},
        )
    raw: list[dict[str, Any]] = []
    afd.meta.events.register(
        "after-call.frauddetector.GetEventPredictionMetadata",
        lambda http_response, **_: raw.append(json.loads(http_response.content)),
    )
    words = {}
    for summary in afd.list_event_predictions(detectorId={"value": "logins"})["eventPredictionSummaries"]:
        parsed = afd.get_event_prediction_metadata(
            eventId=summary["eventId"],
            eventTypeName=SIMULATED,
            detectorId="logins",
            detectorVersionId="1",
            predictionTimestamp=summary["predictionTimestamp"],
        )
        groups = parsed["evaluatedModelVersions"][0]["evaluations"][0]["predictionExplanations"][
            "aggregatedVariablesImpactExplanations"
        ]
        assert groups
        assert all("description" not in g for g in groups)  # boto3 keeps AFD's members only
        answer = raw[-1]["evaluatedModelVersions"][0]["evaluations"][0]["predictionExplanations"]
        words[summary["eventId"]] = {
            tuple(g["eventVariableNames"]): g.get("description")
            for g in answer["aggregatedVariablesImpactExplanations"]
        }
    assert words["stranger"][("fingerprint",)] == "new to this entity: device fingerprint"
    assert words["stranger"][("ip_address",)].startswith("new to this entity: IP address")
    assert words["usual"][("fingerprint",)].startswith("device fingerprint used in ")
    assert words["usual"][("ip_address",)].startswith("IP address used in ")
    assert ("ENTITY_ID",) not in words["usual"]

    # `fraudhawk predict --explain` prints the words under each aggregate
    stranger = next(answer for answer in raw if answer["eventId"] == "stranger")

    @click.command()
    def show() -> None:
        predict_describe(predictions["stranger"], stranger, explain=True)

    text = CliRunner().invoke(show, []).output
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("fingerprint "))
    assert lines[at + 1].strip() == "new to this entity: device fingerprint"
    assert sum(1 for line in lines if line.strip().startswith("ip_address ")) == 1  # no raw duplicate
