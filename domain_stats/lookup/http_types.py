"""What the lookup service's HTTP server and its connections share: one request, one response, the limits.

A connection sees its server only through :class:`ConnectionHost` (the handler, the limits,
the clock's Date header, whether a stop is under way, and where to register itself), as
uvicorn's protocol takes a ``ServerState`` rather than the server, so the two modules do not
import each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar

__all__ = ["ConnectionHost", "ErrorBody", "Handler", "HttpLimits", "Request", "Response"]


class Request(NamedTuple):
    method: str
    #: Percent-decoded (UTF-8), as ASGI servers give it.
    path: str
    #: The raw query string (without ``?``).
    query: str
    #: Header names lower-cased, values as sent.
    headers: list[tuple[bytes, bytes]]
    body: bytes


#: ``(status, body)``, or ``(status, body, extra_headers)`` with raw ``name: value\r\n`` lines. The
#: body is JSON unless the extra headers begin with their own ``content-type``.
Response = tuple[int, bytes] | tuple[int, bytes, bytes]
#: Answers now (a tuple) when it can, else returns an awaitable of the answer.
Handler = Callable[[Request], "Response | Awaitable[Response]"]
#: The JSON body for an error the server answers itself: (status, reason) -> body.
ErrorBody = Callable[[int, str], bytes]


@dataclass(frozen=True)
class HttpLimits:
    max_target_bytes: int = 8 * 1024
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_body_bytes: int = 4 * 1024 * 1024
    #: An open connection with no request under way is closed after this long.
    keepalive_seconds: float = 75.0
    #: A request must arrive whole (line, headers and body) within this long of its first byte.
    request_seconds: float = 30.0
    #: Requests read ahead of the one being answered before the connection stops being read.
    max_pipelined: int = 32
    #: How long a stop waits for requests under way before it closes their connections.
    stop_seconds: float = 30.0
    #: During a stop, how long an idle keep-alive connection may still send a request (answered
    #: with ``connection: close``) before it is closed: a request already on its way is answered.
    stop_idle_seconds: float = 1.0
    #: Most open connections in this process; near it the oldest idle ones are closed first.
    max_connections: int = 4096


#: The connection type a host registers (generic, so that this module needs no connection class).
ConnectionT = TypeVar("ConnectionT", contravariant=True)


class ConnectionHost(Protocol[ConnectionT]):
    """What a connection needs of the server that accepted it."""

    handler: Handler
    error_body: ErrorBody
    limits: HttpLimits
    #: Tasks of answers under way (a stop waits for them).
    tasks: set[asyncio.Task[None]]
    #: ``date: ...\r\n``, renewed once a second.
    date_header: bytes
    stopping: bool

    def opened(self, conn: ConnectionT) -> None: ...

    def closed(self, conn: ConnectionT) -> None: ...
