"""The ASGI application: AFD's API at `POST /`, plus a health check.

`POST /` is served by a plain ASGI handler: every prediction goes through it, and a framework's
request and response objects would cost more than parsing the few headers AWS JSON needs. Starlette
serves the rest (the health check, and the start-up and shutdown of the service).
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fraudhawk import __version__
from fraudhawk.api import auth, protocol
from fraudhawk.errors import FraudhawkError, InternalError
from fraudhawk.service.dispatcher import Service
from fraudhawk.settings import Settings

log = logging.getLogger("fraudhawk.api")
WORKER_THREADS = 4
QUICK_BODY_BYTES = 64 * 1024  # larger bodies are parsed off the event loop

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class AfdApp:
    """`POST /` handled directly; everything else (and the lifespan) by the Starlette app."""

    def __init__(self, settings: Settings, fallback: Starlette, state: dict[str, Service]) -> None:
        self.settings = settings
        self.fallback = fallback
        self.state = state
        # Calls that may wait (writes, network databases) run on a few worker threads: with the GIL,
        # more threads only add switching. Quick reads run on the event loop, where a thread hop would
        # cost more than the read itself.
        self.limiter = anyio.CapacityLimiter(WORKER_THREADS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/":
            await self.afd(scope, receive, send)
        else:
            await self.fallback(scope, receive, send)

    def handle(self, operation: str, body: bytes) -> dict[str, Any]:
        return self.state["service"].call(operation, protocol.parse_body(body))

    async def afd(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        try:
            raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
            headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw_headers}
            settings = self.settings
            if settings.access_keys:
                every: dict[str, list[str]] = defaultdict(list)
                for name, value in raw_headers:
                    every[name.decode("latin-1").lower()].append(value.decode("latin-1"))
                auth.precheck(settings.access_keys, every, settings.region)
                body = await self.read_body(headers, receive)
                auth.verify(
                    settings.access_keys,
                    scope["method"],
                    scope.get("raw_path", b"/").decode("latin-1") or "/",
                    scope.get("query_string", b"").decode("latin-1"),
                    every,
                    body,
                    region=settings.region,
                )
            else:
                protocol.check_loopback_host(headers)
                body = await self.read_body(headers, receive)
            protocol.check_content_type(headers)
            operation = protocol.operation_of(headers)
            if len(body) <= QUICK_BODY_BYTES and self.state["service"].is_quick(operation):
                result = self.handle(operation, body)
            else:
                result = await anyio.to_thread.run_sync(self.handle, operation, body, limiter=self.limiter)
            await _respond(send, 200, protocol.json_body(result), request_id)
        except FraudhawkError as error:
            await _respond(send, error.http_status, protocol.error_body(error), request_id, error.code)
        except Exception:
            log.exception("unexpected failure handling request %s", request_id)
            internal = InternalError("Internal error")
            await _respond(send, internal.http_status, protocol.error_body(internal), request_id, internal.code)

    async def read_body(self, headers: dict[str, str], receive: Receive) -> bytes:
        """The request body, refused as soon as it passes the limit (never buffered whole)."""
        limit = self.settings.max_body_bytes
        protocol.check_declared_length(headers, limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise protocol.too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, request_id: str, error_code: str | None = None) -> None:
    headers = [
        (b"content-type", protocol.CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    if error_code is not None:
        headers.append((b"x-amzn-errortype", error_code.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings, service: Service | None = None) -> AfdApp:
    """Build the app. The service (and its migrations) starts with the app unless one is given."""
    state: dict[str, Service] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        owned = service is None
        state["service"] = await run_in_threadpool(Service, settings) if service is None else service
        # What start-up loaded (libraries, the service model, caches) lives as long as the server:
        # keep it out of the collector's scans, and collect less often. The objects a request makes
        # are freed by reference counting; full collections over a large heap of cached entity
        # histories otherwise stall every request for tens of milliseconds.
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)
        try:
            yield
        finally:
            if owned:
                state["service"].close()

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": "fraudhawk", "version": __version__})

    fallback = Starlette(
        routes=[Route("/", health, methods=["GET"]), Route("/health", health, methods=["GET"])],
        lifespan=lifespan,
    )
    return AfdApp(settings, fallback, state)
