"""The one error tree. Every failure a caller can see is one of these classes.

Each class carries the AFD wire code (`__type`) and HTTP status, so the HTTP layer and the library
client map errors the same way, in one place (`fraudhawk.service.dispatcher`). AFD answers 400 for
nearly everything; the REST prediction API (`api/rest.py`) answers the plain HTTP status each class
also carries (`rest_status`: 404 for what does not exist, 409 for a conflict, 429 when throttled...).
An error may name the request field it is about (`field`, in the operation's own parameter names:
`eventVariables.amount`), which the REST API reports in its own names.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FraudhawkError(Exception):
    """Root of every error fraudhawk raises on purpose."""

    code: ClassVar[str] = "InternalServerException"
    http_status: ClassVar[int] = 500
    rest_status: ClassVar[int] = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def response(self) -> dict[str, Any]:
        """The same dict botocore's ClientError exposes, so boto3-style handlers work unchanged."""
        return {
            "Error": {"Code": self.code, "Message": self.message},
            "ResponseMetadata": {"HTTPStatusCode": self.http_status},
        }

    def to_wire(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}


class ValidationError(FraudhawkError):
    """A request breaks a shape constraint or an AFD rule (bad name, bad value, already exists)."""

    code = "ValidationException"
    http_status = 400
    rest_status = 400


class ResourceNotFoundError(FraudhawkError):
    code = "ResourceNotFoundException"
    http_status = 400  # AFD answers 400, not 404
    rest_status = 404


class ConflictError(FraudhawkError):
    """The resource is in use, or the request conflicts with its current state."""

    code = "ConflictException"
    http_status = 400
    rest_status = 409


class ResourceUnavailableError(FraudhawkError):
    code = "ResourceUnavailableException"
    http_status = 400
    rest_status = 503


class AccessDeniedError(FraudhawkError):
    code = "AccessDeniedException"
    http_status = 400
    rest_status = 403


class ThrottlingError(FraudhawkError):
    code = "ThrottlingException"
    http_status = 400
    rest_status = 429


class InternalError(FraudhawkError):
    code = "InternalServerException"
    http_status = 500
    rest_status = 500


class UnknownOperationError(FraudhawkError):
    """The X-Amz-Target names no operation of the AFD API (AWS's own generic code)."""

    code = "UnknownOperationException"
    http_status = 400
    rest_status = 404


class SerializationError(ValidationError):
    """The request body is not a JSON object. Reported as ValidationException, as the issue asks."""


class PayloadTooLargeError(ValidationError):
    """The request body passes the operation's quota (GetEventPrediction: 256 KB) or the server's."""

    rest_status = 413


class UnsupportedMediaTypeError(ValidationError):
    """The request's Content-Type is not the one the protocol reads."""

    rest_status = 415


class MethodNotAllowedError(ValidationError):
    """A REST path asked with a method it does not answer."""

    rest_status = 405


class AuthError(FraudhawkError):
    """Base for SigV4 failures; the codes are the ones every AWS JSON service answers with."""

    http_status = 403
    rest_status = 401  # no credentials, or credentials that are not the server's


class MissingAuthenticationTokenError(AuthError):
    code = "MissingAuthenticationTokenException"


class IncompleteSignatureError(AuthError):
    code = "IncompleteSignatureException"


class UnrecognizedClientError(AuthError):
    code = "UnrecognizedClientException"


class InvalidSignatureError(AuthError):
    code = "InvalidSignatureException"


class ConfigurationError(FraudhawkError):
    """A setting is invalid; raised at start-up, never on the wire."""


#: The exception classes a boto3 client exposes as `client.exceptions.<Name>`.
MODELED_ERRORS: dict[str, type[FraudhawkError]] = {
    cls.code: cls
    for cls in (
        ValidationError,
        ResourceNotFoundError,
        ConflictError,
        ResourceUnavailableError,
        AccessDeniedError,
        ThrottlingError,
        InternalError,
    )
}
