"""AWS Signature Version 4 verification of incoming requests, against the server's own access keys;
and the REST API's key header, `X-Api-Key: KEYID:SECRET` (or `Authorization: Bearer KEYID:SECRET`),
checked against the same keys.

Only header-signed requests (what every AWS SDK sends) are accepted. The payload hash is computed
from the body we received, so a body altered in transit fails verification.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from fraudhawk.errors import (
    IncompleteSignatureError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    UnrecognizedClientError,
)

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "frauddetector"
MAX_SKEW = timedelta(minutes=15)
_AUTH_PART = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_SPACES = re.compile(r"\s+")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


API_KEY_HEADER = "x-api-key"
BEARER = "Bearer "


def api_key_of(headers: Mapping[str, list[str]]) -> str | None:
    """The REST API key a request carries (`X-Api-Key`, or a bearer token), or None: then it must be
    signed with SigV4."""
    given = headers.get(API_KEY_HEADER)
    if given:
        return given[0].strip()
    authorization = (headers.get("authorization") or [""])[0]
    if authorization[: len(BEARER)].lower() == BEARER.lower():
        return authorization[len(BEARER) :].strip()
    return None


def verify_api_key(keys: Mapping[str, str], api_key: str) -> str:
    """Check an API key (`KEYID:SECRET`, one of the server's access keys); return the key id. The
    secret is compared in constant time, and an unknown key id and a wrong secret get one answer."""
    key_id, colon, secret = api_key.partition(":")
    if not colon or not key_id or not secret:
        raise IncompleteSignatureError("The API key must be KEYID:SECRET, an access key id and its secret")
    expected = keys.get(key_id)
    same = hmac.compare_digest((expected or "").encode(), secret.encode())
    if expected is None or not same:
        raise UnrecognizedClientError("The API key included in the request is invalid.")
    return key_id


def precheck(keys: Mapping[str, str], headers: Mapping[str, list[str]], region: str | None = None) -> None:
    """The checks that need no body, so a stranger's request is refused before it is read."""
    _parse(keys, headers, region)


def _parse(
    keys: Mapping[str, str], headers: Mapping[str, list[str]], region: str | None
) -> tuple[dict[str, str], str, str, str, str, str]:
    authorization = (headers.get("authorization") or [""])[0]
    if not authorization:
        raise MissingAuthenticationTokenError("Missing Authentication Token")
    if not authorization.startswith(ALGORITHM + " "):
        raise IncompleteSignatureError(f"Authorization header must use {ALGORITHM}")
    parts: dict[str, str] = dict(_AUTH_PART.findall(authorization))
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in parts]
    if missing:
        raise IncompleteSignatureError(f"Authorization header requires {', '.join(missing)}")
    if not _SIGNATURE.match(parts["Signature"]):
        raise IncompleteSignatureError("Signature must be 64 lower-case hexadecimal digits")
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise IncompleteSignatureError("Credential must be KEYID/date/region/service/aws4_request")
    key_id, date, scope_region, service = scope[0], scope[1], scope[2], scope[3]
    secret = keys.get(key_id)
    if secret is None:
        raise UnrecognizedClientError("The security token included in the request is invalid.")
    if service != SERVICE:
        raise InvalidSignatureError(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if region is not None and scope_region != region:
        raise InvalidSignatureError(
            f"Credential should be scoped to a valid region: this server's region is '{region}' "
            "(set region_name accordingly, or FRAUDHAWK_REGION on the server)."
        )
    signed = parts["SignedHeaders"].split(";")
    required = {"host", "x-amz-date", *(name for name in headers if name.startswith("x-amz-"))}
    unsigned = sorted(required - set(signed))
    if unsigned:
        raise IncompleteSignatureError(f"SignedHeaders must include {', '.join(unsigned)}")
    return parts, key_id, secret, date, scope_region, service


def verify(
    keys: Mapping[str, str],
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, list[str]],
    body: bytes,
    now: datetime | None = None,
    region: str | None = None,
) -> str:
    """Check the request's SigV4 signature; return the access key id, or raise an AuthError.

    `headers` maps lower-case names to every value received for that name. The signature must cover
    the host, the date and every x-amz-* header (the operation is named in X-Amz-Target).
    """
    parts, key_id, secret, date, region, service = _parse(keys, headers, region)
    amz_date = (headers.get("x-amz-date") or [""])[0]
    try:
        moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignatureError("X-Amz-Date header must be a date such as 20261122T210000Z") from None
    if amz_date[:8] != date:
        raise InvalidSignatureError("Credential date does not match X-Amz-Date")
    current = now or datetime.now(UTC)
    if abs(current - moment) > MAX_SKEW:
        raise InvalidSignatureError(
            f"Signature expired: {amz_date} is now earlier or later than {current:%Y%m%dT%H%M%SZ} by more "
            "than 15 minutes."
        )
    signed = parts["SignedHeaders"].split(";")
    canonical_headers = "".join(
        f"{name}:{','.join(_SPACES.sub(' ', value.strip()) for value in headers.get(name, []))}\n" for name in signed
    )
    canonical_query = "&".join(sorted(item for item in query.split("&") if item))
    canonical_request = "\n".join(
        [
            method,
            path or "/",
            canonical_query,
            canonical_headers,
            parts["SignedHeaders"],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            f"{date}/{region}/{service}/aws4_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    expected = hmac.new(signing_key(secret, date, region, service), string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["Signature"]):
        raise InvalidSignatureError(
            "The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method."
        )
    return key_id
