"""What the API's plain ASGI handlers share: the ASGI callables' types, writing a response, and
letting go of a failed request's error."""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """A whole response: `headers` are added after its content length."""
    start = [(b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


def headers_of(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (the last value of a repeated one)."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


def every_header(scope: Scope) -> dict[str, list[str]]:
    """Every value of each of the request's headers by lower-case name, as SigV4 signs them."""
    every: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        every.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return every


def release(error: BaseException) -> None:
    """Let go of what a failed request's error holds: its traceback's frames (and those of the errors
    it chains) keep their locals, among them the request's body and parsed parameters, and an error
    caught in a frame forms a cycle with it that only the collector frees. The server collects
    rarely (see the lifespan), so without this every failing request would pin its body."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.__traceback__ is not None:
            traceback.clear_frames(current.__traceback__)  # skips frames still running (this one's callers)
            current.__traceback__ = None
        pending += [chained for chained in (current.__cause__, current.__context__) if chained is not None]
