"""External models at prediction time: build the endpoint's input, POST it, read the mapped outputs.

AFD calls SageMaker endpoints; fraudhawk calls any HTTP endpoint that speaks SageMaker runtime's
`POST /endpoints/{name}/invocations`. The URL comes from the operator's setting and the request only
names the endpoint, so a caller can never point the server at a host of its choosing.

An external model is advisory: `ExternalInvoker.invoke` never raises. A timeout, an HTTP error or an
unreadable answer becomes `ExternalResult.error`, and the prediction goes on with whatever outputs
could be read (rules then see the variables' defaults), as a fraud check must not fail because a
side model is down.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3

from fraudhawk.catalog.external_config import INPUT_CONTENT_TYPES, ExternalModel, fill_template

log = logging.getLogger("fraudhawk")

#: SageMaker runtime's limit for a real-time invocation's payload and answer.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
OUTPUT_ACCEPT = {"TEXT_CSV": "text/csv", "APPLICATION_JSONLINES": "application/jsonlines"}
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_PARALLEL = 16  # external models called at once for one prediction (AFD allows 10 models per version)


@dataclass(frozen=True)
class ExternalResult:
    model: ExternalModel
    input_variables: dict[str, str]  # what was sent, by variable name (for the prediction record)
    outputs: dict[str, str]  # variable name -> raw output text as the endpoint returned it
    error: str | None  # why the call failed (timeout, HTTP status, unreadable output), else None


class _Failure(Exception):
    """A reason the call or its answer failed, worded for the prediction record."""


class ExternalInvoker:
    """Calls external model endpoints over a keep-alive connection pool; safe to share between threads."""

    def __init__(self, url_template: str, timeout_s: float) -> None:
        self.url_template = url_template
        self.timeout_s = timeout_s
        # No redirects and no automatic retries: bounded calls to the configured host, never elsewhere
        # (`_send` tries once more only when the endpoint dropped the connection).
        self._pool = urllib3.PoolManager(
            num_pools=8, maxsize=_PARALLEL, block=False, retries=False, timeout=urllib3.Timeout(total=timeout_s)
        )
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def url(self, endpoint: str) -> str:
        return self.url_template.format(endpoint=quote(endpoint, safe=""))

    def invoke(
        self, model: ExternalModel, variables: Mapping[str, str], blob: Mapping[str, Any] | None
    ) -> ExternalResult:
        """Call one model. `variables` holds the event's values (defaults applied) by name; `blob` is the
        request's externalModelEndpointDataBlobs entry for this endpoint, used when the model does not
        build its input from event variables. Never raises."""
        sent: dict[str, str] = {}
        outputs: dict[str, str] = {}
        try:
            if model.use_event_variables:
                sent = {name: variables[name] for name in model.input_variables if name in variables}
            body, content_type = _request_body(model, variables, blob)
            text = self._post(model, body, content_type)
            error = _read_outputs(model, text, outputs)
        except _Failure as failure:
            error = str(failure)
        except Exception as unexpected:  # never let a side model fail the prediction
            log.exception("external model %s: unexpected failure", model.endpoint)
            error = f"unexpected failure ({type(unexpected).__name__})"
        if error:
            log.warning("external model %s: %s", model.endpoint, error)
        return ExternalResult(model=model, input_variables=sent, outputs=outputs, error=error)

    def invoke_many(
        self,
        models: Sequence[ExternalModel],
        variables: Mapping[str, str],
        blobs: Mapping[str, Mapping[str, Any]] | None,
    ) -> list[ExternalResult]:
        """Call several models at once, so a prediction waits for the slowest, not the sum; results in
        the order of `models`. `blobs` is the request's externalModelEndpointDataBlobs."""
        given = blobs or {}
        if len(models) <= 1:
            return [self.invoke(model, variables, given.get(model.endpoint)) for model in models]
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=_PARALLEL, thread_name_prefix="fraudhawk-external")
            executor = self._executor
        futures = [executor.submit(self.invoke, model, variables, given.get(model.endpoint)) for model in models]
        return [future.result() for future in futures]

    def close(self) -> None:
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None
        self._pool.clear()

    def __enter__(self) -> ExternalInvoker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, model: ExternalModel, body: bytes, content_type: str) -> str:
        headers = {"Content-Type": content_type, "Accept": OUTPUT_ACCEPT[model.output_format]}
        deadline = time.monotonic() + self.timeout_s
        response = self._send(self.url(model.endpoint), body, headers, deadline)
        data = self._read_body(response, deadline)
        if response.status != 200:
            raise _Failure(f"the endpoint answered HTTP {response.status}")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise _Failure("the answer is not UTF-8 text") from None

    def _send(self, url: str, body: bytes, headers: dict[str, str], deadline: float) -> urllib3.BaseHTTPResponse:
        """POST, once more if the endpoint dropped the connection (typically a kept-alive one it closed
        as we reused it) and time is left; never after a timeout, which would double the wait."""
        for attempt in (1, 2):
            remaining = deadline - time.monotonic()
            try:
                return self._pool.request(
                    "POST",
                    url,
                    body=body,
                    headers=headers,
                    preload_content=False,
                    timeout=urllib3.Timeout(total=max(remaining, 0.001)),
                )
            except urllib3.exceptions.NewConnectionError as error:  # before TimeoutError, which urllib3 makes it
                raise _Failure(f"could not reach the endpoint ({_cause(error)})") from None
            except urllib3.exceptions.TimeoutError:
                raise _Failure(f"no answer within {self.timeout_s:g}s") from None
            except urllib3.exceptions.ProtocolError as error:
                if attempt == 2 or deadline - time.monotonic() <= 0:
                    raise _Failure(f"the endpoint dropped the connection ({_cause(error)})") from None
            except urllib3.exceptions.HTTPError as error:
                raise _Failure(f"could not reach the endpoint ({_cause(error)})") from None
        raise AssertionError("unreachable")

    def _read_body(self, response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        """The whole body within the deadline and size limit; the connection goes back to the pool
        only when the body was read to its end, so no half-read answer is left for the next call."""
        chunks: list[bytes] = []
        size = 0
        complete = False
        try:
            # read1 returns what has arrived, so a slowly trickling answer meets the deadline check too.
            while chunk := response.read1(64 * 1024):
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _Failure(f"the answer is larger than {MAX_RESPONSE_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise _Failure(f"no complete answer within {self.timeout_s:g}s")
                chunks.append(chunk)
            complete = True
        except urllib3.exceptions.TimeoutError:
            raise _Failure(f"no complete answer within {self.timeout_s:g}s") from None
        except urllib3.exceptions.HTTPError as error:
            raise _Failure(f"the answer was cut off ({_cause(error)})") from None
        finally:
            if not complete:
                response.close()
            response.release_conn()
        return b"".join(chunks)


def _cause(error: Exception) -> str:
    """The innermost reason of a urllib3 error, without URLs or object addresses."""
    reason: object = error
    while (inner := getattr(reason, "reason", None)) is not None and inner is not reason:
        reason = inner
    if isinstance(reason, urllib3.exceptions.ProtocolError) and reason.args and isinstance(reason.args[-1], Exception):
        reason = reason.args[-1]  # ProtocolError("Connection aborted.", RemoteDisconnected(...))
    if isinstance(reason, ConnectionRefusedError) or "Connection refused" in str(reason):
        return "connection refused"
    return type(reason).__name__


def _request_body(
    model: ExternalModel, variables: Mapping[str, str], blob: Mapping[str, Any] | None
) -> tuple[bytes, str]:
    if not model.use_event_variables:
        return _blob_body(blob)
    if model.template is None or model.input_format not in INPUT_CONTENT_TYPES:
        raise _Failure("the model uses event variables but has no input template")
    missing = [name for name in model.input_variables if name not in variables]
    if missing:
        raise _Failure(f"no value for variable(s) {', '.join(missing)}")
    is_json = model.input_format == "APPLICATION_JSON"
    text = fill_template(model.template, variables, json_escape=is_json)
    if is_json:
        try:
            json.loads(text)
        except ValueError:
            raise _Failure("the filled JSON input template is not valid JSON") from None
    return text.encode("utf-8"), INPUT_CONTENT_TYPES[model.input_format]


def _blob_body(blob: Mapping[str, Any] | None) -> tuple[bytes, str]:
    """The caller's pre-formed input. The buffer may be bytes or, as on the wire, base64 text."""
    if not blob or blob.get("byteBuffer") is None:
        raise _Failure("no data blob for endpoint")
    content_type = blob.get("contentType")
    if not isinstance(content_type, str) or not content_type or _HEADER_UNSAFE.search(content_type):
        raise _Failure("the data blob has no usable contentType")
    buffer = blob["byteBuffer"]
    if isinstance(buffer, str):
        try:
            buffer = base64.b64decode(buffer, validate=True)
        except (binascii.Error, ValueError):
            raise _Failure("the data blob's byteBuffer is not base64") from None
    if not isinstance(buffer, bytes | bytearray):
        raise _Failure("the data blob's byteBuffer is not bytes")
    return bytes(buffer), content_type


def _read_outputs(model: ExternalModel, text: str, outputs: dict[str, str]) -> str | None:
    """Fill `outputs` with every mapped value found; the reason some are missing, or None."""
    if not text.strip():
        return "the endpoint answered with an empty body"
    if model.output_format == "TEXT_CSV":
        # Raw fields, like AFD: a single score comes back whole, e.g. "0.0716...\n".
        fields = text.split(",")
        found = {key: fields[int(key)] for key in model.mapping if int(key) < len(fields)}
        shortfall = f"the answer has {len(fields)} field(s); none at index"
    else:
        line = next(line for line in text.splitlines() if line.strip())
        try:
            record = json.loads(line)
        except ValueError:
            return "the answer is not JSON Lines"
        if not isinstance(record, dict):
            return "the answer's first line is not a JSON object"
        found = {key: _json_text(record[key]) for key in model.mapping if key in record}
        shortfall = "the answer has no key"
    for key, value in found.items():
        outputs[model.mapping[key]] = value
    absent = [key for key in model.mapping if key not in found]
    return f"{shortfall} {', '.join(absent)}" if absent else None


def _json_text(value: Any) -> str:
    """A JSON Lines value as text: strings as they are, anything else as its JSON (0.25 -> "0.25")."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
