"""Bounds on what a client's connection may hold: uvicorn's HTTP protocol with a deadline for reading
each request and a cap on idle keep-alive connections.

uvicorn times out a connection only while it is idle between requests; a client that trickles its
headers or its body a byte at a time, or opens connections and never sends, would otherwise hold
them (and their buffers) for ever. The deadline runs from a request's first byte (or the
connection's opening) to its last; when it passes, the connection is closed, and the request, if
the application already had it, ends as a disconnect.

uvicorn builds the protocol from its class name in each server process (`PROTOCOL`), so the bounds
are set on the class by `configure`, called where the process builds its app.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL = "fraudhawk.api.connections:BoundedProtocol"


class BoundedProtocol(HttpToolsProtocol):
    read_timeout_s: ClassVar[float] = 30.0
    max_idle: ClassVar[int] = 1000
    # the connections of this process kept open between requests, the longest idle first
    idle: ClassVar[OrderedDict[BoundedProtocol, None]] = OrderedDict()
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()  # a connection that never sends is held no longer than a slow request

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.idle.pop(self, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.idle.pop(self, None)
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing() or self.pipeline:
            return
        idle = self.idle
        idle[self] = None
        while len(idle) > self.max_idle:
            oldest, _ = idle.popitem(last=False)
            oldest.transport.close()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.read_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def configure(read_timeout_s: float, max_idle: int) -> None:
    """Set this process's bounds, before its server accepts connections."""
    BoundedProtocol.read_timeout_s = read_timeout_s
    BoundedProtocol.max_idle = max_idle
