"""The ASGI application: AFD's API at `POST /`, plus a health check."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
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


def create_app(settings: Settings, service: Service | None = None) -> Starlette:
    """Build the app. The service (and its migrations) starts with the app unless one is given."""
    state: dict[str, Service] = {}
    # Calls that may wait (writes, network databases) run on a few worker threads: with the GIL, more
    # threads only add switching. Quick reads run on the event loop, where a thread hop would cost more
    # than the read itself.
    limiter = anyio.CapacityLimiter(WORKER_THREADS)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        owned = service is None
        state["service"] = await run_in_threadpool(Service, settings) if service is None else service
        try:
            yield
        finally:
            if owned:
                state["service"].close()

    def handle(operation: str, body: bytes) -> dict[str, Any]:
        return state["service"].call(operation, protocol.parse_body(body))

    async def afd(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            if settings.access_keys:
                headers: dict[str, list[str]] = defaultdict(list)
                for name, value in request.headers.raw:
                    headers[name.decode("latin-1").lower()].append(value.decode("latin-1"))
                auth.precheck(settings.access_keys, headers, settings.region)
                body = await protocol.read_body(request, settings.max_body_bytes)
                auth.verify(
                    settings.access_keys,
                    request.method,
                    request.scope.get("raw_path", b"/").decode("latin-1") or "/",
                    request.url.query,
                    headers,
                    body,
                    region=settings.region,
                )
            else:
                protocol.check_loopback_host(request)
                body = await protocol.read_body(request, settings.max_body_bytes)
            protocol.check_content_type(request)
            operation = protocol.operation_of(request)
            if len(body) <= QUICK_BODY_BYTES and state["service"].is_quick(operation):
                result = handle(operation, body)
            else:
                result = await anyio.to_thread.run_sync(handle, operation, body, limiter=limiter)
            return protocol.json_response(result, request_id)
        except FraudhawkError as error:
            return protocol.error_response(error, request_id)
        except Exception:
            log.exception("unexpected failure handling request %s", request_id)
            return protocol.error_response(InternalError("Internal error"), request_id)

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": "fraudhawk", "version": __version__})

    return Starlette(
        routes=[
            Route("/", afd, methods=["POST"]),
            Route("/", health, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
