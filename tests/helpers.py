"""Helpers shared by the test modules: the real server (in a thread or as a `fraudhawk serve` process),
boto3 clients checked against AFD's output shapes, and the catalogs, fakes and trained models several
suites build on. Test modules import these from here, never from one another."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError

from fraudhawk import datagen
from fraudhawk.api.app import create_app
from fraudhawk.service.contract import check_output
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings

# --- the server and its clients -------------------------------------------------------------------------


class RunningServer:
    """The real ASGI app under uvicorn on 127.0.0.1:<free port>, in a background thread."""

    def __init__(self, settings: Settings, service: Service | None = None) -> None:
        self.settings = settings
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings, service), log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def check_response_shape(http_response: Any, model: Any, **_: Any) -> None:
    """botocore hook: every raw response body must fit the operation's output shape exactly."""
    if http_response.status_code != 200:
        return
    body = json.loads(http_response.content or b"{}")
    problems = check_output(model.name, body)
    if model.name == "GetBatchPredictionJobs":
        # AFD's one known deviation from its own model: BatchPrediction.detectorVersion is "1" on the
        # wire (as AWS's sample output shows), where the model's pattern asks for "1.0"
        problems = [p for p in problems if ".detectorVersion'" not in p]
    if model.name == "GetEventPredictionMetadata":
        # fraudhawk's additions (SDKs skip them): plain words for an Account Takeover Insights aggregate,
        # and every derived feature that moved the score, named in words
        extension = re.compile(
            r"aggregatedVariablesImpactExplanations\.\d+\.member\.description'|predictionExplanations\.featureImpactExplanations'"
        )
        problems = [p for p in problems if not extension.search(p)]
    assert not problems, f"{model.name} response breaks the output shape: {problems}"


def boto_client(url: str, key_id: str = "testing", secret: str = "testing", *, validate: bool = True) -> Any:
    """A boto3 client for the server at `url`; `validate=False` skips botocore's own parameter checks,
    so a test can reach the server's (botocore checks minimums and required members itself)."""
    client = boto3.client(
        "frauddetector",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=validate),
    )
    client.meta.events.register("after-call.frauddetector", check_response_shape)
    return client


def unchecked_client(afd: Any) -> Any:
    """A client for the same server as `afd` that leaves every check to the server."""
    return boto_client(afd.meta.endpoint_url, validate=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server_process(data: Path, s3: Path, port: int) -> subprocess.Popen[bytes]:
    """`fraudhawk serve` as one process (so that killing it kills the server), answering on `port`."""
    command = [sys.executable, "-m", "fraudhawk.cli", "serve", "--port", str(port), "--data-dir", str(data)]
    process = subprocess.Popen(
        [*command, "--s3-root", str(s3), "--workers", "1", "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port, process)
    except RuntimeError:
        process.kill()
        raise
    return process


def wait_healthy(port: int, process: subprocess.Popen[Any], timeout: float = 60) -> None:
    """Wait until the server on `port` answers its health check; fail if `process` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    raise RuntimeError("server did not start")


# --- stored events (the events suite's catalog) -------------------------------------------------------

EVENT_TYPE = "transaction"
ENTITY_TYPE = "customer"
OTHER_ENTITY_TYPE = "merchant"
LABELS = ("fraud", "legit")
OTHER_LABEL = "review"  # a label that exists but is not one of the event type's
# name -> (dataType, variableType, defaultValue)
VARIABLES: dict[str, tuple[str, str, str]] = {
    "email": ("STRING", "EMAIL_ADDRESS", "unknown"),
    "amount": ("FLOAT", "PRICE", "0.0"),
    "count": ("INTEGER", "NUMERIC", "0"),
    "is_member": ("BOOLEAN", "ARE_CREDENTIALS_VALID", "false"),
}
OTHER_VARIABLE = "ip"  # a variable that exists but is not one of the event type's
T1 = "2024-01-01T10:00:00Z"


def setup_event_type(afd: Any, name: str = EVENT_TYPE, ingestion: str = "ENABLED") -> None:
    """Entity types, labels and typed variables, and an event type using them (created once per server)."""
    if not afd.get_entity_types()["entityTypes"]:
        afd.put_entity_type(name=ENTITY_TYPE)
        afd.put_entity_type(name=OTHER_ENTITY_TYPE)
        for label in (*LABELS, OTHER_LABEL):
            afd.put_label(name=label)
        for variable, (data_type, variable_type, default) in VARIABLES.items():
            afd.create_variable(
                name=variable,
                dataType=data_type,
                dataSource="EVENT",
                defaultValue=default,
                variableType=variable_type,
            )
        afd.create_variable(
            name=OTHER_VARIABLE,
            dataType="STRING",
            dataSource="EVENT",
            defaultValue="unknown",
            variableType="IP_ADDRESS",
        )
    afd.put_event_type(
        name=name,
        eventVariables=list(VARIABLES),
        labels=list(LABELS),
        entityTypes=[ENTITY_TYPE],
        eventIngestion=ingestion,
    )


def event_variables(index: int = 1) -> dict[str, str]:
    return {
        "email": f"user{index}@example.com",
        "amount": f"{index}.25",
        "count": str(index),
        "is_member": "true" if index % 2 else "false",
    }


def send(
    afd: Any,
    event_id: str = "e1",
    timestamp: str = T1,
    variables: dict[str, str] | None = None,
    entity_id: str = "cust1",
    entity_type: str = ENTITY_TYPE,
    event_type: str = EVENT_TYPE,
    **extra: Any,
) -> None:
    afd.send_event(
        eventId=event_id,
        eventTypeName=event_type,
        eventTimestamp=timestamp,
        eventVariables=event_variables() if variables is None else variables,
        entities=[{"entityType": entity_type, "entityId": entity_id}],
        **extra,
    )


def get_event(afd: Any, event_id: str = "e1", event_type: str = EVENT_TYPE) -> dict[str, Any]:
    event: dict[str, Any] = afd.get_event(eventId=event_id, eventTypeName=event_type)["event"]
    return event


def instant(text: str) -> datetime:
    """An ISO-8601 UTC string (with or without milliseconds) as an aware datetime; it must end in Z."""
    assert text.endswith("Z"), text
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None
    return moment.astimezone(UTC)


def statistics(afd: Any, name: str = EVENT_TYPE) -> dict[str, Any]:
    event_types = afd.get_event_types(name=name)["eventTypes"]
    assert len(event_types) == 1
    stats: dict[str, Any] = event_types[0]["ingestedEventStatistics"]
    return stats


# --- detectors and rules ---------------------------------------------------------------------------------


def error_of(call: Any, *args: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(*args, **params)
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def setup_catalog(afd: Any) -> None:
    afd.put_entity_type(name="customer")
    afd.put_label(name="fraud")
    afd.put_label(name="legit")
    for name, data_type, default in (
        ("email_address", "STRING", "unknown"),
        ("ip_address", "STRING", "0.0.0.0"),
        ("order_amount", "FLOAT", "0.0"),
        ("items", "INTEGER", "1"),
        ("is_member", "BOOLEAN", "false"),
    ):
        afd.create_variable(name=name, dataType=data_type, dataSource="EVENT", defaultValue=default)
    afd.put_event_type(
        name="checkout",
        eventVariables=["email_address", "ip_address", "order_amount", "items", "is_member"],
        labels=["fraud", "legit"],
        entityTypes=["customer"],
    )
    for outcome in ("approve", "review", "block"):
        afd.put_outcome(name=outcome)
    afd.put_detector(detectorId="shop", eventTypeName="checkout", description="checkout risk")


def rule(afd: Any, rule_id: str, expression: str, outcomes: list[str], detector: str = "shop") -> dict[str, str]:
    created: dict[str, str] = afd.create_rule(
        ruleId=rule_id, detectorId=detector, expression=expression, language="DETECTORPL", outcomes=outcomes
    )["rule"]
    return created


# --- external models and a SageMaker runtime stand-in ----------------------------------------------------

SAGEMAKER_ROLE = "arn:aws:iam::123456789012:role/fraudhawk-sagemaker"


def setup_txn_event_type(afd: Any, name: str = "txn") -> None:
    """An event type `name` with variables order_amt, prev_amt (FLOAT) and note (STRING)."""
    afd.create_variable(name="order_amt", dataType="FLOAT", dataSource="EVENT", defaultValue="0.0")
    afd.create_variable(name="prev_amt", dataType="FLOAT", dataSource="EVENT", defaultValue="0.0")
    afd.create_variable(name="note", dataType="STRING", dataSource="EVENT", defaultValue="none")
    afd.put_entity_type(name="customer")
    afd.put_event_type(name=name, eventVariables=["order_amt", "prev_amt", "note"], entityTypes=["customer"])


def csv_model(endpoint: str = "fraud-xgb", **overrides: Any) -> dict[str, Any]:
    """The AWS sample's PutExternalModel request (CSV in, one CSV score out)."""
    request: dict[str, Any] = {
        "modelEndpoint": endpoint,
        "modelSource": "SAGEMAKER",
        "invokeModelEndpointRoleArn": SAGEMAKER_ROLE,
        "inputConfiguration": {
            "useEventVariables": True,
            "eventTypeName": "txn",
            "format": "TEXT_CSV",
            "csvInputTemplate": "{{order_amt}}, {{prev_amt}}",
        },
        "outputConfiguration": {"format": "TEXT_CSV", "csvIndexToVariableMap": {"0": "xgb_score"}},
        "modelEndpointStatus": "ASSOCIATED",
    }
    request.update(overrides)
    return request


@dataclass
class Call:
    endpoint: str
    headers: dict[str, str]
    body: bytes
    client_port: int


@dataclass
class Answer:
    body: bytes
    status: int = 200
    delay: float = 0.0
    trickle: float = 0.0  # seconds between the body's bytes
    content_type: str = "text/csv"
    drop: int = 0  # calls to answer by closing the connection without a response


@dataclass
class FakeSageMaker:
    """Answers `POST /endpoints/{name}/invocations` as configured per endpoint, and records each call."""

    url_template: str
    answers: dict[str, Answer] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def answer(self, endpoint: str, body: str | bytes, **options: Any) -> None:
        self.answers[endpoint] = Answer(body.encode() if isinstance(body, str) else body, **options)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as SageMaker runtime
    fake: FakeSageMaker

    def do_POST(self) -> None:
        match = re.fullmatch(r"/endpoints/([^/]+)/invocations", self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if match is None or match.group(1) not in self.fake.answers:
            self._send(404, b"no such endpoint", "text/plain")
            return
        endpoint = match.group(1)
        self.fake.calls.append(Call(endpoint, dict(self.headers.items()), body, self.client_address[1]))
        answer = self.fake.answers[endpoint]
        if answer.drop:
            answer.drop -= 1
            self.close_connection = True
            return
        time.sleep(answer.delay)
        if answer.trickle:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            for index in range(len(answer.body)):
                self.wfile.write(answer.body[index : index + 1])
                self.wfile.flush()
                time.sleep(answer.trickle)
            return
        self._send(answer.status, answer.body, answer.content_type)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout tests) is expected


@contextmanager
def fake_sagemaker() -> Iterator[FakeSageMaker]:
    """A local endpoint speaking SageMaker runtime's invocations, on a free port."""
    fake = FakeSageMaker(url_template="")
    handler = type("Handler", (_Handler,), {"fake": fake})
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    fake.url_template = f"http://127.0.0.1:{httpd.server_address[1]}/endpoints/{{endpoint}}/invocations"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --- trained models ----------------------------------------------------------------------------------------

OFI = "ONLINE_FRAUD_INSIGHTS"
TFI = "TRANSACTION_FRAUD_INSIGHTS"


@dataclass
class Lab:
    afd: Any
    settings: Settings


def wait_status(afd: Any, model_id: str, model_type: str, version: str, wanted: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = afd.get_model_version(modelId=model_id, modelType=model_type, modelVersionNumber=version)["status"]
        if status == wanted:
            return
        assert status not in ("ERROR", "TRAINING_CANCELLED"), status
        time.sleep(0.2)
    raise AssertionError(f"{model_id} {version} never reached {wanted}")


@contextmanager
def trained_lab(base: Path) -> Iterator[Lab]:
    """A server with an ACTIVE OFI model on sign-ups and an ACTIVE TFI model on card payments."""
    settings = Settings.load(data_dir=base / "data", environ={})
    files = settings.data_dir / "files"
    files.mkdir(parents=True)
    datagen.registrations(files / "registrations.csv", events=3000, seed=1)
    datagen.transactions(files / "payments.csv", cards=120, days=60, seed=3)
    with RunningServer(settings) as running:
        afd = boto_client(running.url)
        afd.put_entity_type(name="customer")
        datagen.declare_transactions(afd, "payment")  # labels, card entity type, ingestion ENABLED
        for name, (data_type, variable_type) in datagen.REGISTRATION_VARIABLES.items():
            if name not in datagen.TRANSACTION_VARIABLES:
                afd.create_variable(
                    name=name,
                    dataType=data_type,
                    dataSource="EVENT",
                    defaultValue="unknown",
                    variableType=variable_type,
                )
        afd.put_event_type(
            name="signup",
            eventVariables=list(datagen.REGISTRATION_VARIABLES),
            labels=["fraud", "legit"],
            entityTypes=["customer"],
        )
        mapper = {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}}
        afd.create_model(modelId="signup_model", modelType=OFI, eventTypeName="signup")
        afd.create_model_version(
            modelId="signup_model",
            modelType=OFI,
            trainingDataSource="EXTERNAL_EVENTS",
            trainingDataSchema={"modelVariables": list(datagen.REGISTRATION_VARIABLES), "labelSchema": mapper},
            externalEventsDetail={
                "dataLocation": str(files / "registrations.csv"),
                "dataAccessRoleArn": "arn:aws:iam::123456789012:role/afd",
            },
        )
        afd.create_batch_import_job(
            jobId="payments",
            inputPath=str(files / "payments.csv"),
            outputPath=str(files),
            eventTypeName="payment",
            iamRoleArn="arn:aws:iam::123456789012:role/afd",
        )
        wait_import(afd)
        afd.create_model(modelId="card_model", modelType=TFI, eventTypeName="payment")
        afd.create_model_version(
            modelId="card_model",
            modelType=TFI,
            trainingDataSource="INGESTED_EVENTS",
            trainingDataSchema={"modelVariables": list(datagen.TRANSACTION_VARIABLES), "labelSchema": mapper},
            ingestedEventsDetail={
                "ingestedEventsTimeWindow": {"startTime": "2020-01-01T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}
            },
        )
        for model_id, model_type in (("signup_model", OFI), ("card_model", TFI)):
            wait_status(afd, model_id, model_type, "1.0", "TRAINING_COMPLETE")
        yield Lab(afd, settings)


def wait_import(afd: Any) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = afd.get_batch_import_jobs(jobId="payments")["batchImports"][0]
        if job["status"] == "COMPLETE":
            return
        assert job["status"] in ("IN_PROGRESS_INITIALIZING", "IN_PROGRESS"), job
        time.sleep(0.2)
    raise AssertionError("import did not finish")
