"""AWS JSON 1.1 framing: `POST /` with `X-Amz-Target: AWSHawksNestServiceFacade.<Operation>`.

Errors leave the server only through `error_response`, as `{"__type": ..., "message": ...}` with the
`x-amzn-ErrorType` header, which is what botocore reads to raise `client.exceptions.<Name>`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from fraudhawk.errors import (
    FraudhawkError,
    PayloadTooLargeError,
    SerializationError,
    UnknownOperationError,
    UnsupportedMediaTypeError,
)

TARGET_PREFIX = "AWSHawksNestServiceFacade."
CONTENT_TYPE = "application/x-amz-json-1.1"
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
_ACCEPTED_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0")


# AFD's own payload quota per operation (not adjustable there): a prediction request is small, so a
# larger one is refused while it is read, before it is buffered or parsed.
PAYLOAD_LIMITS = {"GetEventPrediction": 256 * 1024}


def body_limit(headers: Mapping[str, str], server_limit: int) -> int:
    """The most bytes the request's body may have: the operation's quota, within the server's."""
    target = headers.get("x-amz-target", "")
    operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    return operation_limit(operation, server_limit)


def operation_limit(operation: str, server_limit: int) -> int:
    return min(server_limit, PAYLOAD_LIMITS.get(operation, server_limit))


def check_declared_length(headers: Mapping[str, str], limit: int) -> None:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)


def too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"The request body is larger than the {limit} bytes this server accepts")


def operation_of(headers: Mapping[str, str]) -> str:
    target = headers.get("x-amz-target", "")
    if not target:
        raise UnknownOperationError("Missing X-Amz-Target header: it names the operation to run")
    if not target.startswith(TARGET_PREFIX):
        raise UnknownOperationError(f"X-Amz-Target {target!r} must be {TARGET_PREFIX}<Operation>")
    return target[len(TARGET_PREFIX) :]


def check_content_type(headers: Mapping[str, str]) -> None:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _ACCEPTED_TYPES:
        raise UnsupportedMediaTypeError(
            f"Content-Type {content_type or '(none)'!r} is not accepted: send {CONTENT_TYPE}"
        )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        try:
            return _decode(body)  # the common case, several times faster than json
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError):
            pass  # json reads what msgspec refuses (a lone surrogate, 1e400) or explains the refusal
        return json.loads(body, parse_constant=_no_constants)
    except (UnicodeError, ValueError) as error:
        raise SerializationError(f"The request body is not valid JSON: {error}") from None
    except RecursionError:
        raise SerializationError("The request body is not valid JSON: it is nested too deeply") from None


def json_body(payload: dict[str, Any]) -> bytes:
    try:
        return _encode(payload)
    except (TypeError, ValueError, OverflowError):  # what msgspec cannot write, json does (or explains)
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def error_body(error: FraudhawkError) -> bytes:
    return json.dumps(error.to_wire()).encode()
