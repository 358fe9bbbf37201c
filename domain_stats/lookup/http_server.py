"""HTTP/1.1 for the lookup service: asyncio protocol, httptools (the llhttp parser) and uvloop.

Why not an ASGI server: a SIEM sends one GET per log event, and almost every answer is one dict
lookup away. Measured on the project's 2-core machine with two processes and ``wrk -t2 -c50``,
granian with a fixed-answer ASGI app reached about 63,000 requests a second and this protocol,
answering the same way, about 140,000 (nginx: 123,000); the framing of each request as ASGI
messages, not our code, was the cost. Here an answer that needs no I/O is written from inside
the parser callback: no task, no message dicts, no await.

This module is the server: accepting connections (with a cap per process), the clock for
deadlines, and the graceful stop. One connection's protocol is
:mod:`domain_stats.lookup.http_connection`; what both share (requests, responses, the handler
type, the limits, and the narrow view a connection has of its server) is
:mod:`domain_stats.lookup.http_types`. Errors it answers itself use the service's error
envelope (``error_body``), so every error looks the same.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from email.utils import formatdate
from typing import Any

from domain_stats.listening import LISTEN_BACKLOG
from domain_stats.lookup.http_connection import HttpConnection
from domain_stats.lookup.http_types import ErrorBody, Handler, HttpLimits

__all__ = ["HttpServer"]

log = logging.getLogger(__name__)


class HttpServer:
    """The HTTP connections of one process, on a listening socket it is given."""

    def __init__(self, handler: Handler, error_body: ErrorBody, limits: HttpLimits | None = None) -> None:
        self.handler = handler
        self.error_body = error_body
        self.limits = limits or HttpLimits()
        self.connections: set[HttpConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.date_header = b""
        self.stopping = False
        self._server: asyncio.AbstractServer | None = None
        self._clock: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._all_closed: asyncio.Event | None = None
        self._cap_logged = False
        # Near the cap (within 5%), close the oldest idle connections down to 10% below it in one go,
        # so a new client finds room and the search for idle ones is rare even during a flood.
        margin = max(1, self.limits.max_connections // 20)
        self._shed_above = max(1, self.limits.max_connections - margin)
        self._shed_to = max(0, self.limits.max_connections - 2 * margin)

    async def start(self, sock: Any) -> None:
        """Serve connections accepted on ``sock`` (a listening socket, possibly shared with other processes)."""
        self._loop = asyncio.get_running_loop()
        self._all_closed = asyncio.Event()
        self._tick()
        # ``backlog``: asyncio listens again on the socket it is given, by default with 100.
        self._server = await self._loop.create_server(lambda: HttpConnection(self), sock=sock, backlog=LISTEN_BACKLOG)

    def _tick(self) -> None:
        """Once a second: the Date header, and connections past their deadline."""
        assert self._loop is not None
        self.date_header = b"date: " + formatdate(usegmt=True).encode() + b"\r\n"
        now = self._loop.time()
        for conn in list(self.connections):
            conn.check_deadlines(now)
        self._clock = self._loop.call_later(1.0, self._tick)

    def opened(self, conn: HttpConnection) -> None:
        """A new connection: make room for it first if the process is near its cap."""
        if len(self.connections) >= self._shed_above:
            self._shed_idle(len(self.connections) - self._shed_to)
        if len(self.connections) >= self.limits.max_connections:
            conn.close()  # every connection is busy: this one cannot be served
            return
        self.connections.add(conn)

    def closed(self, conn: HttpConnection) -> None:
        self.connections.discard(conn)
        if not self.connections and self.stopping and self._all_closed is not None:
            self._all_closed.set()

    def _shed_idle(self, count: int) -> None:
        idle = heapq.nsmallest(count, (c for c in self.connections if c.idle), key=lambda c: c.since)
        if not self._cap_logged:
            self._cap_logged = True
            log.warning(
                "%d open connections, near the cap of %d per worker (max_connections): closing the oldest "
                "idle ones to make room (logged once)",
                len(self.connections),
                self.limits.max_connections,
            )
        for conn in idle:
            conn.close()
            self.connections.discard(conn)

    async def stop(self) -> None:
        """Stop accepting at once; answer every request already received, with ``connection: close``;
        then close each connection without resetting it (up to ``stop_seconds`` in all)."""
        if self._loop is None or self._all_closed is None:
            return  # never started (a worker that failed before it listened)
        self.stopping = True
        if self._server is not None:
            self._server.close()
        now = self._loop.time()
        for conn in list(self.connections):
            conn.begin_stop(now)
        if self.connections:
            try:
                await asyncio.wait_for(self._all_closed.wait(), self.limits.stop_seconds)
            except TimeoutError:
                log.warning(
                    "%d connections still open after %.0f s; closing them",
                    len(self.connections),
                    self.limits.stop_seconds,
                )
        for conn in list(self.connections):
            conn.close()  # the stop's time is up: owed or not
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=1.0)
        if self._clock is not None:
            self._clock.cancel()
