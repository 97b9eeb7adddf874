"""SigV4 verification with configured keys, and the loopback-only rule without them."""

from __future__ import annotations

import dataclasses
import http.client
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from fraudhawk.api import auth
from fraudhawk.api.server import check_listen_address
from fraudhawk.errors import ConfigurationError, FraudhawkError
from fraudhawk.hosts import is_loopback
from fraudhawk.settings import Settings
from tests.helpers import RunningServer, boto_client

KEYS = {"AKIDFRAUDHAWK": "s3cr3t/with+chars", "AKIDSECOND": "other"}


@pytest.fixture
def secured(settings: Settings) -> Any:
    with RunningServer(dataclasses.replace(settings, access_keys=KEYS)) as server:
        yield server


def code_of(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_right_keys_work(secured: RunningServer) -> None:
    for key_id, secret in KEYS.items():
        client = boto_client(secured.url, key_id, secret)
        client.put_label(name=f"label_{key_id.lower()}")
    assert len(boto_client(secured.url, "AKIDSECOND", "other").get_labels()["labels"]) == 2


def test_wrong_secret_changes_nothing(secured: RunningServer) -> None:
    bad = boto_client(secured.url, "AKIDFRAUDHAWK", "wrong")
    assert code_of(lambda: bad.put_entity_type(name="customer")) == "InvalidSignatureException"
    good = boto_client(secured.url, "AKIDFRAUDHAWK", KEYS["AKIDFRAUDHAWK"])
    assert good.get_entity_types()["entityTypes"] == []


def test_unknown_key_id(secured: RunningServer) -> None:
    stranger = boto_client(secured.url, "AKIDNOBODY", "x")
    assert code_of(stranger.get_labels) == "UnrecognizedClientException"


def _raw(server: RunningServer, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/", body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def _signed(server: RunningServer, body: bytes, key_id: str = "AKIDFRAUDHAWK") -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSHawksNestServiceFacade.PutLabel"},
    )
    SigV4Auth(Credentials(key_id, KEYS[key_id]), "frauddetector", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_unsigned_request_is_refused(secured: RunningServer) -> None:
    status, data = _raw(
        secured,
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSHawksNestServiceFacade.PutLabel"},
        b'{"name": "x"}',
    )
    assert status == 403
    assert b"MissingAuthenticationTokenException" in data


def test_tampered_body_is_refused(secured: RunningServer) -> None:
    headers = _signed(secured, b'{"name": "honest"}')
    status, data = _raw(secured, headers, b'{"name": "forged"}')
    assert (status, b"InvalidSignatureException" in data) == (403, True)
    status, _ = _raw(secured, headers, b'{"name": "honest"}')
    assert status == 200


def test_signature_for_another_service_is_refused(secured: RunningServer) -> None:
    body = b'{"name": "x"}'
    request = AWSRequest(
        method="POST", url=secured.url + "/", data=body, headers={"Content-Type": "application/x-amz-json-1.1"}
    )
    SigV4Auth(Credentials("AKIDFRAUDHAWK", KEYS["AKIDFRAUDHAWK"]), "s3", "us-east-1").add_auth(request)
    status, data = _raw(secured, dict(request.headers.items()), body)
    assert status == 403
    assert b"frauddetector" in data


def test_expired_signature() -> None:
    request = AWSRequest(
        method="POST", url="http://127.0.0.1:1/", data=b"{}", headers={"Content-Type": "application/x-amz-json-1.1"}
    )
    SigV4Auth(Credentials("AKIDFRAUDHAWK", KEYS["AKIDFRAUDHAWK"]), "frauddetector", "us-east-1").add_auth(request)
    request.headers["Host"] = "127.0.0.1:1"
    headers = {name.lower(): [value] for name, value in request.headers.items()}
    assert auth.verify(KEYS, "POST", "/", "", headers, b"{}") == "AKIDFRAUDHAWK"
    later = datetime.now(UTC) + timedelta(minutes=20)
    with pytest.raises(FraudhawkError, match="Signature expired"):
        auth.verify(KEYS, "POST", "/", "", headers, b"{}", now=later)


def test_keys_from_the_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "access-keys").write_text("# operators\nAKIDFILE:filesecret\n", encoding="utf-8")
    settings = Settings.load(data_dir=data, environ={})
    assert dict(settings.access_keys) == {"AKIDFILE": "filesecret"}
    env = Settings.load(data_dir=data, environ={"FRAUDHAWK_ACCESS_KEYS": "A:1,B:2"})
    assert dict(env.access_keys) == {"AKIDFILE": "filesecret", "A": "1", "B": "2"}
    with pytest.raises(ConfigurationError, match="KEYID:secret"):
        Settings.load(data_dir=data, environ={"FRAUDHAWK_ACCESS_KEYS": "justakey"})


def test_listen_rule(settings: Settings) -> None:
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "192.168.1.5", "example.com"))
    assert "loopback only" in check_listen_address(settings, "127.0.0.1")
    with pytest.raises(ConfigurationError, match="without access keys"):
        check_listen_address(settings, "0.0.0.0")
    keyed = dataclasses.replace(settings, access_keys=KEYS)
    assert "verified" in check_listen_address(keyed, "0.0.0.0")


def _fraudhawk(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fraudhawk.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_serve_refuses_public_address_without_keys(tmp_path: Path) -> None:
    process = _fraudhawk("serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path))
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "refusing to listen on 0.0.0.0 without access keys" in output


def test_serve_command_starts_a_usable_server(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = _fraudhawk("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        client = boto_client(f"http://127.0.0.1:{port}")
        client.put_outcome(name="review")
        assert [o["name"] for o in client.get_outcomes()["outcomes"]] == ["review"]
        assert (tmp_path / "d" / "fraudhawk.db").is_file()
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "no access keys configured" in output


def _sign_only(server: RunningServer, body: bytes, signed: list[str], region: str = "us-east-1") -> dict[str, str]:
    """Headers for a request whose signature covers only `signed` (a signer other than botocore)."""
    from hashlib import sha256

    amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "host": f"127.0.0.1:{server.port}",
        "x-amz-date": amz_date,
        "x-amz-target": "AWSHawksNestServiceFacade.GetLabels",
        "content-type": "application/x-amz-json-1.1",
    }
    canonical = "\n".join(
        ["POST", "/", "", "".join(f"{h}:{headers[h]}\n" for h in signed), ";".join(signed), sha256(body).hexdigest()]
    )
    scope = f"{amz_date[:8]}/{region}/frauddetector/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, sha256(canonical.encode()).hexdigest()])
    import hmac as _hmac

    key = auth.signing_key(KEYS["AKIDFRAUDHAWK"], amz_date[:8], region, "frauddetector")
    signature = _hmac.new(key, to_sign.encode(), sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential=AKIDFRAUDHAWK/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return headers


def test_signature_must_cover_the_operation(secured: RunningServer) -> None:
    body = b"{}"
    status, data = _raw(secured, _sign_only(secured, body, ["host", "x-amz-date"]), body)
    assert status == 403
    assert b"IncompleteSignatureException" in data
    assert b"x-amz-target" in data
    status, _ = _raw(secured, _sign_only(secured, body, ["host", "x-amz-date", "x-amz-target"]), body)
    assert status == 200


def test_signature_for_another_region_is_refused(secured: RunningServer) -> None:
    body = b"{}"
    headers = _sign_only(secured, body, ["host", "x-amz-date", "x-amz-target"], region="eu-west-1")
    status, data = _raw(secured, headers, body)
    assert status == 403
    assert b"us-east-1" in data


def test_malformed_signature_value_is_a_clean_refusal(secured: RunningServer) -> None:
    headers = _signed(secured, b"{}")
    headers["Authorization"] = headers["Authorization"].rsplit("Signature=", 1)[0] + "Signature=\u00e9"
    status, data = _raw(secured, {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}, b"{}")
    assert status == 403
    assert b"IncompleteSignatureException" in data


def test_unsigned_server_answers_only_loopback_host_names(server: RunningServer) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSHawksNestServiceFacade.PutOutcome"}
    status, data = _raw(server, {**headers, "Host": "attacker.example"}, b'{"name": "x"}')
    assert status == 400
    assert b"AccessDeniedException" in data
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}"):
        status, _ = _raw(server, {**headers, "Host": host}, b'{"name": "x"}')
        assert status == 200
