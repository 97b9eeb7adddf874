"""The console's gate, in front of every page: who may reach it, and that every form came from it.

- Without access keys the server answers loopback names only (as the API does, against DNS rebinding).
- With access keys every page but sign-in needs a signed-in session.
- Every request that changes something (any method but GET and HEAD) carries the session's CSRF token:
  in the `x-csrf-token` header (the console's scripts), a `csrf_token` field of a url-encoded form, or
  the `csrf_token` query parameter of an upload form (a multipart body is not read twice), and comes from
  this origin when the browser says where it came from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from starlette.datastructures import MutableHeaders

from fraudhawk.console.session import COOKIE, CSRF_FIELD, CSRF_HEADER, MAX_AGE_S, Session, Sessions
from fraudhawk.errors import FraudhawkError
from fraudhawk.hosts import check_loopback_host
from fraudhawk.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
# renders a whole page for a refusal: (scope, session, status, title, message) -> body
Refusal = Callable[[Scope, Session, int, str, str], bytes]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = ("/signin", "/static/", "/favicon.ico")
FORM_LIMIT = 1024 * 1024  # a url-encoded console form is small; uploads are multipart


def cookie_header(sessions: Sessions, session: Session, secure: bool) -> str:
    flags = f"Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
    return f"{COOKIE}={sessions.dump(session)}; {flags}"


class Guard:
    def __init__(self, app: App, settings: Settings, sessions: Sessions, refusal: Refusal) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        keys = self.settings.access_keys
        loaded = self.sessions.load(_cookie(headers.get("cookie", "")))
        session = loaded or Session.new()
        if session.key_id is not None and session.key_id not in keys:
            session = Session.new()  # the key was removed from the server: sign in again
        scope.setdefault("state", {})["session"] = session
        secure = scope.get("scheme") == "https"
        send = self._setting_cookie(send, session, secure) if session is not loaded else send
        if not keys:
            try:
                check_loopback_host(headers)
            except FraudhawkError as error:
                await self._refuse(scope, send, session, 403, "Not allowed", error.message)
                return
        path: str = scope["path"]
        if keys and session.key_id is None and not path.startswith(PUBLIC_PATHS):
            target = path + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
            await _redirect(send, "/signin?next=" + quote(target, safe=""))
            return
        if scope["method"] not in SAFE_METHODS:
            if not _same_origin(headers):
                await self._refuse(scope, send, session, 403, "Not allowed", "This request came from another site.")
                return
            token, receive = await _token(scope, headers, receive)
            if not session.accepts(token):
                message = "This form has expired or did not come from this console. Reload the page and try again."
                await self._refuse(scope, send, session, 403, "Form expired", message)
                return
        await self.app(scope, receive, send)

    def _setting_cookie(self, send: Send, session: Session, secure: bool) -> Send:
        """Give a new visitor their session (unless the page sets one itself: sign-in, sign-out)."""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not any(value.startswith(f"{COOKIE}=") for value in headers.getlist("set-cookie")):
                    headers.append("set-cookie", cookie_header(self.sessions, session, secure))
            await send(message)

        return sending

    async def _refuse(self, scope: Scope, send: Send, session: Session, status: int, title: str, text: str) -> None:
        body = self.refusal(scope, session, status, title, text)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def _same_origin(headers: dict[str, str]) -> bool:
    """A browser names the page a request came from (Origin, or else Referer): it must be this host."""
    source = headers.get("origin") or headers.get("referer")
    if not source or source == "null":
        return "origin" not in headers  # `Origin: null` (a sandboxed frame, a file) is refused
    return urlsplit(source).netloc.lower() == headers.get("host", "").lower()


async def _token(scope: Scope, headers: dict[str, str], receive: Receive) -> tuple[str | None, Receive]:
    """The request's CSRF token, and a `receive` that still yields the whole body."""
    if CSRF_HEADER in headers:
        return headers[CSRF_HEADER], receive
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if CSRF_FIELD in query:
        return query[CSRF_FIELD][0], receive
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None, receive
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > FORM_LIMIT:
            return None, receive
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    fields = parse_qs(body.decode("latin-1"))
    return (fields[CSRF_FIELD][0] if CSRF_FIELD in fields else None), replay


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
