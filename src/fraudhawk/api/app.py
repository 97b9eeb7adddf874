"""The ASGI application: AFD's API at `POST /`, the REST prediction API under `/v1/`, the web console
on every other path, a health check.

`POST /` and `/v1/` are served by plain ASGI handlers: every prediction goes through them, and a
framework's request and response objects would cost more than parsing the few headers they need.
Both predict through `staged`. Starlette serves the rest (the console, the health check, and the
start-up and shutdown of the service).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from fraudhawk import __version__, hosts
from fraudhawk.api import auth, protocol, rest
from fraudhawk.api.asgi import Receive, Scope, Send, every_header, headers_of, release, respond
from fraudhawk.console.app import create_console
from fraudhawk.errors import FraudhawkError, InternalError
from fraudhawk.predictions.ingest import Written
from fraudhawk.service.dispatcher import Service
from fraudhawk.service.operations import WouldBlock
from fraudhawk.settings import Settings

log = logging.getLogger("fraudhawk.api")
WORKER_THREADS = 4
QUICK_BODY_BYTES = 64 * 1024  # larger bodies are parsed off the event loop
FLUSH_WAIT_S = 0.001  # measured: +10% predictions/s at saturation against committing every turn
WRITE_TRIES = 3  # a write the database refused for a transient reason (busy, a conflict) is tried again
# While another writer (another server process) commits, the loop does not wait for it: it serves
# requests and tries again this much later, waiting for the lock only after FLUSH_PATIENCE_S.
FLUSH_RETRY_S = 0.0005
FLUSH_PATIENCE_S = 0.02


class AfdApp:
    """`POST /` and the REST API handled directly; everything else (and the lifespan) by the Starlette
    app."""

    def __init__(self, settings: Settings, fallback: Starlette, state: dict[str, Service]) -> None:
        self.settings = settings
        self.fallback = fallback
        self.state = state
        # Calls that may wait (writes, network databases) run on a few worker threads: with the GIL,
        # more threads only add switching. Quick reads run on the event loop, where a thread hop would
        # cost more than the read itself.
        self.limiter = anyio.CapacityLimiter(WORKER_THREADS)
        self.flush_handle: asyncio.Handle | None = None
        self.busy_since: float | None = None  # when a flush first found the writer lock taken
        self.unqueued = 0  # AFD and REST requests being handled that have not queued a write (yet)
        self.rest = rest.RestApi(self, __version__)

    @property
    def service(self) -> Service:
        return self.state["service"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if scope["method"] == "POST" and path == "/":
                await self.afd(scope, receive, send)
                return
            if path.startswith(rest.PREFIX):  # before the console, which refuses a POST without its CSRF token
                request = _InFlight()
                self.unqueued += 1
                try:
                    await self.rest(scope, receive, send, request)
                finally:
                    self.queued(request)
                return
        await self.fallback(scope, receive, send)

    def handle(self, operation: str, body: bytes) -> dict[str, Any]:
        return self.state["service"].call(operation, protocol.parse_body(body))

    async def afd(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = _InFlight()
        self.unqueued += 1  # until it queues a write or ends
        try:
            await self.answer(scope, receive, send, request)
        finally:
            self.queued(request)

    def queued(self, request: _InFlight) -> None:
        if not request.queued:
            request.queued = True
            self.unqueued -= 1

    async def answer(self, scope: Scope, receive: Receive, send: Send, request: _InFlight) -> None:
        request_id = str(uuid.uuid4())
        try:
            headers = headers_of(scope)
            settings = self.settings
            if settings.access_keys:
                every = every_header(scope)
                auth.precheck(settings.access_keys, every, settings.region)
                body = await self.read_body(headers, receive, protocol.body_limit(headers, settings.max_body_bytes))
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
                hosts.check_loopback_host(headers)
                body = await self.read_body(headers, receive, protocol.body_limit(headers, settings.max_body_bytes))
            protocol.check_content_type(headers)
            operation = protocol.operation_of(headers)
            service = self.state["service"]
            quick = self.quick(service, operation, len(body))
            if service.stages(operation):
                result, _ = await self.staged(service, operation, await self.parse(body), quick, request)
            elif quick:
                result = self.handle(operation, body)
            else:
                result = await anyio.to_thread.run_sync(self.handle, operation, body, limiter=self.limiter)
            await _respond(send, 200, protocol.json_body(result), request_id)
        except FraudhawkError as error:
            release(error)
            await _respond(send, error.http_status, protocol.error_body(error), request_id, error.code)
        except Exception as error:
            log.exception("unexpected failure handling request %s", request_id)
            release(error)
            internal = InternalError("Internal error")
            await _respond(send, internal.http_status, protocol.error_body(internal), request_id, internal.code)

    async def parse(self, body: bytes) -> Any:
        """The body's JSON. The event loop never parses a large body: tens of megabytes would stall
        every other request for seconds."""
        if len(body) <= QUICK_BODY_BYTES:
            return protocol.parse_body(body)
        return await anyio.to_thread.run_sync(protocol.parse_body, body, limiter=self.limiter)

    def quick(self, service: Service, operation: str, size: int) -> bool:
        """Whether a request of `size` bytes for `operation` is served on the event loop."""
        return size <= QUICK_BODY_BYTES and service.is_quick(operation)

    async def staged(
        self, service: Service, operation: str, params: Any, quick: bool, request: _InFlight
    ) -> tuple[dict[str, Any], Written]:
        """A prediction: evaluated here (or on a worker thread when it may wait), its write committed
        with those of concurrent requests, then answered (with what the write reported). The event
        loop never waits for the commit."""
        staged = None
        if quick:
            with suppress(WouldBlock):
                staged = service.stage(operation, params, may_block=False)
        if staged is None:
            staged = await anyio.to_thread.run_sync(service.stage, operation, params, limiter=self.limiter)
        loop = asyncio.get_running_loop()
        for attempt in range(WRITE_TRIES):
            done: asyncio.Future[Any] = loop.create_future()
            if quick:  # committed by this loop (see schedule_flush), or by a thread leading the group
                service.db.group.enqueue(staged.write, _settler(loop, done))
                self.queued(request)
                self.schedule_flush(loop, service)
            else:  # committed by the group's writer thread
                self.queued(request)
                service.db.group.submit_nowait(staged.write, _settler(loop, done))
            try:
                written = await done
            except Exception as error:
                failure = service.failure(operation, error, last_try=attempt == WRITE_TRIES - 1)
                if failure is None:
                    continue
                raise failure from error
            return staged.finish(written), written
        raise AssertionError("unreachable")  # pragma: no cover

    def schedule_flush(self, loop: asyncio.AbstractEventLoop, service: Service) -> None:
        """Commit now when no request being handled is still to queue its write (a lone request waits
        for nothing); otherwise give the others up to FLUSH_WAIT_S to join the same transaction,
        whose cost (the lock, the commit, pages written once for all) they then share."""
        everyone = self.unqueued == 0
        if self.flush_handle is not None:
            if not everyone or not isinstance(self.flush_handle, asyncio.TimerHandle):
                return
            self.flush_handle.cancel()
        if everyone:
            self.flush_handle = loop.call_soon(self.flush, service)
        else:
            self.flush_handle = loop.call_later(FLUSH_WAIT_S, self.flush, service)

    def flush(self, service: Service) -> None:
        self.flush_handle = None
        loop = asyncio.get_running_loop()
        patient = self.busy_since is not None and loop.time() - self.busy_since >= FLUSH_PATIENCE_S
        if service.db.group.drain(wait=patient):
            self.busy_since = None
            return
        if self.busy_since is None:
            self.busy_since = loop.time()
        self.flush_handle = loop.call_later(FLUSH_RETRY_S, self.flush, service)

    async def read_body(self, headers: dict[str, str], receive: Receive, limit: int) -> bytes:
        """The request body, refused as soon as it passes `limit` (never buffered whole)."""
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


class _InFlight:
    __slots__ = ("queued",)

    def __init__(self) -> None:
        self.queued = False


def _settler(loop: asyncio.AbstractEventLoop, done: asyncio.Future[Any]) -> Callable[[Any, BaseException | None], None]:
    """The callback a group write calls once committed: it settles `done` on its loop, directly when
    called there."""
    owner = threading.get_ident()

    def settle(result: Any, error: BaseException | None) -> None:
        if threading.get_ident() == owner:
            _settle(done, result, error)
        else:
            loop.call_soon_threadsafe(_settle, done, result, error)

    return settle


def _settle(done: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if done.cancelled():
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(result)


async def _respond(send: Send, status: int, body: bytes, request_id: str, error_code: str | None = None) -> None:
    headers = [(b"content-type", protocol.CONTENT_TYPE.encode()), (b"x-amzn-requestid", request_id.encode())]
    if error_code is not None:
        headers.append((b"x-amzn-errortype", error_code.encode()))
    await respond(send, status, body, headers)


def create_app(settings: Settings, service: Service | None = None) -> AfdApp:
    """Build the app. The service (and its migrations) starts with the app unless one is given."""
    state: dict[str, Service] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        owned = service is None
        state["service"] = await run_in_threadpool(Service, settings) if service is None else service
        threading.Thread(target=state["service"].warm, name="fraudhawk-warm", daemon=True).start()
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

    console = create_console(settings, lambda: state["service"])
    fallback = Starlette(
        routes=[Route("/health", health, methods=["GET"]), Mount("/", app=console)],
        lifespan=lifespan,
    )
    return AfdApp(settings, fallback, state)
