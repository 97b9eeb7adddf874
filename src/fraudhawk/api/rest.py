"""The REST prediction API under `/v1/`: `POST /v1/detectors/{detectorId}[/versions/{version}]/predictions`
with plain JSON, its OpenAPI document (`/v1/openapi.json`) and a page showing it (`/v1/docs`).

For programs that do not speak AWS JSON 1.1 (on AWS, an API Gateway in front of GetEventPrediction).
A request becomes GetEventPrediction's (`rest_shapes`) and takes the AFD endpoint's own staged path
(`AfdApp.staged`): the same checks, evaluation, record and ingestion, and the same body quota.
Authentication is the API's rule: with access keys, one of them as an API key header or a SigV4
signature; without, loopback host names only. Every error is one JSON shape,
`{"error": {"type", "message", "field"}}`, answered with the error's `rest_status`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any, Protocol
from urllib.parse import parse_qsl

import anyio
import msgspec

from fraudhawk import hosts
from fraudhawk.api import auth, openapi, protocol, rest_shapes
from fraudhawk.api.asgi import Receive, Scope, Send, every_header, headers_of, release, respond
from fraudhawk.errors import (
    FraudhawkError,
    InternalError,
    MethodNotAllowedError,
    ResourceNotFoundError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from fraudhawk.predictions.ingest import Written
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings

log = logging.getLogger("fraudhawk.api")
PREFIX = "/v1/"
JSON_TYPE = "application/json"
_PREDICTIONS = re.compile(r"/v1/detectors/([^/]+)(?:/versions/([^/]+))?/predictions")
_encode = msgspec.json.Encoder().encode
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


class Gateway(Protocol):
    """What the REST API uses of the server's app (`AfdApp`)."""

    settings: Settings
    limiter: anyio.CapacityLimiter

    @property
    def service(self) -> Service: ...

    async def read_body(self, headers: dict[str, str], receive: Receive, limit: int) -> bytes: ...

    async def parse(self, body: bytes) -> Any: ...

    def quick(self, service: Service, operation: str, size: int) -> bool: ...

    async def staged(
        self, service: Service, operation: str, params: Any, quick: bool, request: Any
    ) -> tuple[dict[str, Any], Written]: ...


class RestApi:
    def __init__(self, gateway: Gateway, version: str) -> None:
        self.gateway = gateway
        self.version = version

    async def __call__(self, scope: Scope, receive: Receive, send: Send, request: Any) -> None:
        request_id = str(uuid.uuid4())
        allow: str | None = None
        try:
            path, method = scope["path"], scope["method"]
            headers = headers_of(scope)
            match = _PREDICTIONS.fullmatch(path)
            if match is not None:
                allow = "POST"
                if method != "POST":
                    raise MethodNotAllowedError(f"{path} answers POST only")
                answer = await self.predict(scope, receive, headers, match[1], match[2], request)
                await _answer(send, 200, _encode(answer), JSON_TYPE, request_id)
            elif path in (openapi.OPENAPI_PATH, openapi.DOCS_PATH):
                allow = "GET"
                if method != "GET":
                    raise MethodNotAllowedError(f"{path} answers GET only")
                if not self.gateway.settings.access_keys:
                    hosts.check_loopback_host(headers)
                if path == openapi.OPENAPI_PATH:
                    body = json.dumps(openapi.document(self.version)).encode()
                    await _answer(send, 200, body, JSON_TYPE, request_id)
                else:
                    body = openapi.page(self.version).encode()
                    await _answer(send, 200, body, "text/html; charset=utf-8", request_id)
            else:
                raise ResourceNotFoundError(
                    f"No such path {path}: predictions are POST {openapi.PREDICTIONS_PATH} (see {openapi.DOCS_PATH})"
                )
        except FraudhawkError as error:
            release(error)
            await _error(send, error, request_id, allow)
        except Exception as error:
            log.exception("unexpected failure handling request %s", request_id)
            release(error)
            await _error(send, InternalError("Internal error"), request_id, None)

    async def predict(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        detector_id: str,
        version_id: str | None,
        request: Any,
    ) -> dict[str, Any]:
        gateway = self.gateway
        settings = gateway.settings
        keys = settings.access_keys
        signed: dict[str, list[str]] | None = None  # the headers of a request to verify with SigV4
        if keys:
            every = every_header(scope)
            api_key = auth.api_key_of(every)
            if api_key is not None:
                auth.verify_api_key(keys, api_key)
            else:
                auth.precheck(keys, every, settings.region)  # before the body: a stranger's is never read
                signed = every
        else:
            hosts.check_loopback_host(headers)
        explain = _explain(scope.get("query_string", b"").decode("latin-1"))
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON_TYPE:
            raise UnsupportedMediaTypeError(
                f"Content-Type {content_type or '(none)'!r} is not accepted: send {JSON_TYPE}"
            )
        limit = protocol.operation_limit(rest_shapes.OPERATION, settings.max_body_bytes)
        body = await gateway.read_body(headers, receive, limit)
        if signed is not None:
            auth.verify(
                keys,
                scope["method"],
                scope.get("raw_path", b"").decode("latin-1") or scope["path"],
                scope.get("query_string", b"").decode("latin-1"),
                signed,
                body,
                region=settings.region,
            )
        plain = rest_shapes.parse_request(await gateway.parse(body))
        try:
            return await self.evaluate(gateway.service, plain, detector_id, version_id, len(body), explain, request)
        except FraudhawkError as error:  # GetEventPrediction's field names, in this API's
            error.field = rest_shapes.plain_field(error.field)
            raise

    async def evaluate(
        self,
        service: Service,
        plain: rest_shapes.PredictionRequest,
        detector_id: str,
        version_id: str | None,
        size: int,
        explain: bool,
        request: Any,
    ) -> dict[str, Any]:
        """GetEventPrediction of the request, through the AFD endpoint's path; its answer in plain JSON."""
        gateway = self.gateway
        quick = gateway.quick(service, rest_shapes.OPERATION, size)
        if quick:  # as the AFD endpoint stages: a read of the plan the prediction loads anyway
            target = service.prediction_target(detector_id, version_id)
        else:
            target = await anyio.to_thread.run_sync(
                service.prediction_target, detector_id, version_id, limiter=gateway.limiter
            )
        params = rest_shapes.afd_request(plain, target)
        result, written = await gateway.staged(service, rest_shapes.OPERATION, params, quick, request)
        answer = rest_shapes.plain_answer(result, params, written)
        if explain:
            metadata = await anyio.to_thread.run_sync(
                service.call,
                "GetEventPredictionMetadata",
                {
                    "eventId": params["eventId"],
                    "eventTypeName": params["eventTypeName"],
                    "detectorId": params["detectorId"],
                    "detectorVersionId": params["detectorVersionId"],
                    "predictionTimestamp": answer["predictionTimestamp"],
                },
                limiter=gateway.limiter,
            )
            answer["explanations"] = rest_shapes.explanations(metadata)
        return answer


def _explain(query: str) -> bool:
    explain = False
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "explain":
            raise ValidationError(f"Unknown query parameter {name!r}: predictions take explain=true", field=name)
        if value.lower() not in _TRUE + _FALSE:
            raise ValidationError(f"explain must be true or false, not {value!r}", field="explain")
        explain = value.lower() in _TRUE
    return explain


def error_body(error: FraudhawkError) -> bytes:
    """The one shape of every REST error."""
    return json.dumps({"error": {"type": error.code, "message": error.message, "field": error.field}}).encode()


async def _error(send: Send, error: FraudhawkError, request_id: str, allow: str | None) -> None:
    extra: list[tuple[bytes, bytes]] = []
    if isinstance(error, MethodNotAllowedError) and allow is not None:
        extra.append((b"allow", allow.encode()))
    if error.rest_status == 401:
        extra.append((b"www-authenticate", b'ApiKey header="X-Api-Key", Bearer, AWS4-HMAC-SHA256'))
    await _answer(send, error.rest_status, error_body(error), JSON_TYPE, request_id, extra)


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    request_id: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"x-request-id", request_id.encode()), *(extra or [])]
    await respond(send, status, body, headers)
