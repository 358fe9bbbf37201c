"""HTTP/1.1 for the lookup service: asyncio protocol, httptools (the llhttp parser) and uvloop.

Why not an ASGI server: a SIEM sends one GET per log event, and almost every answer is one dict
lookup away. Measured on the project's 2-core machine with two processes and ``wrk -t2 -c50``,
granian with a fixed-answer ASGI app reached about 63,000 requests a second and this protocol,
answering the same way, about 140,000 (nginx: 123,000); the framing of each request as ASGI
messages, not our code, was the cost. Here an answer that needs no I/O is written from inside
the parser callback: no task, no message dicts, no await.

What it does (and nothing more): keep-alive (HTTP/1.1 default, HTTP/1.0 on request); pipelined
requests answered in order; ``Expect: 100-continue``; limits on the request line, the headers
and the body (answered 414/431/413 and the connection closed); a deadline for sending a whole
request (408) and for idle keep-alive connections; write backpressure (a client that does not
read stops being read); a graceful stop that lets running requests finish. Errors it answers
itself use the service's error envelope (``error_body``), so every error looks the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes

import httptools

from domain_stats.alerts import BAD_REQUEST, INTERNAL_ERROR, TIMEOUT, TOO_LARGE, with_reason

__all__ = ["Handler", "HttpLimits", "HttpServer", "Request", "Response"]

log = logging.getLogger(__name__)

_INTERNAL_ERROR = with_reason(INTERNAL_ERROR, "see the service log")


class Request(NamedTuple):
    method: str
    #: Percent-decoded (UTF-8), as ASGI servers give it.
    path: str
    #: The raw query string (without ``?``).
    query: str
    #: Header names lower-cased, values as sent.
    headers: list[tuple[bytes, bytes]]
    body: bytes


Response = tuple[int, bytes]
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


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_STATUS_LINES = {code: f"HTTP/1.1 {code} {reason}\r\n".encode() for code, reason in _REASONS.items()}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_JSON = b"content-type: application/json\r\n"
_CLOSE = b"connection: close\r\n"
_LINGER_SECONDS = 2.0  # after refusing a request, how long its unread remainder is swallowed


def _status_line(status: int) -> bytes:
    return _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Status\r\n".encode()


class _Refused(Exception):
    """Raised inside a parser callback to refuse the request: answered with ``status`` and closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HttpServer:
    """The HTTP connections of one process, on a listening socket it is given."""

    def __init__(self, handler: Handler, error_body: ErrorBody, limits: HttpLimits | None = None) -> None:
        self.handler = handler
        self.error_body = error_body
        self.limits = limits or HttpLimits()
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.date_header = b""
        self.stopping = False
        self._server: asyncio.AbstractServer | None = None
        self._clock: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, sock: Any) -> None:
        """Serve connections accepted on ``sock`` (a listening socket, possibly shared with other processes)."""
        self._loop = asyncio.get_running_loop()
        self._tick()
        self._server = await self._loop.create_server(lambda: _Connection(self), sock=sock)

    def _tick(self) -> None:
        """Once a second: the Date header, and connections past their deadline."""
        assert self._loop is not None
        self.date_header = b"date: " + formatdate(usegmt=True).encode() + b"\r\n"
        now = self._loop.time()
        for conn in list(self.connections):
            conn.check_deadlines(now)
        self._clock = self._loop.call_later(1.0, self._tick)

    async def stop(self) -> None:
        """Stop accepting; let requests under way finish (up to ``stop_seconds``); close every connection."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if not conn.busy:
                conn.close()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=self.limits.stop_seconds)
        for conn in list(self.connections):
            conn.close()
        if self._clock is not None:
            self._clock.cancel()


class _Connection(asyncio.Protocol):
    """One client connection: parse, answer in order, enforce the limits."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.limits = server.limits
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.busy = False  # a request is being answered asynchronously
        self.pending: deque[tuple[Request, bool]] = deque()
        self.closed = False
        self.eof = False  # the client will send nothing more
        self.lingering = False
        self.read_paused = False
        self.write_paused = False
        self.write_paused_since = 0.0
        self.since = self.loop.time()  # when the current partial request began, or the connection went idle
        self.in_request = False
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.header_bytes = 0
        self.body: list[bytes] = []
        self.body_bytes = 0

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pending.clear()
        self.server.connections.discard(self)

    def eof_received(self) -> bool:
        self.eof = True
        # Half-closed with answers still owed: keep the connection to write them, then close.
        return self.busy or bool(self.pending)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.write_paused_since = self.loop.time()
        self._update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        if self.lingering or self.closed:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as err:
            refused = err.__context__
            if isinstance(refused, _Refused):
                self._refuse(refused.status, refused.reason)
            else:
                log.error("HTTP request handling failed: %r", refused)
                self._refuse(500, _INTERNAL_ERROR)
        except httptools.HttpParserUpgrade:
            # Only HTTP/1.1 is spoken here: the request was answered as such, and nothing after it is read.
            if self.in_request:
                self._refuse(400, with_reason(BAD_REQUEST, "protocol upgrades are not supported"))
            else:
                self.eof = True
                if not self.busy and not self.pending:
                    self.close()
        except httptools.HttpParserError as err:
            self._refuse(400, with_reason(BAD_REQUEST, f"malformed HTTP request ({err})"))

    # -- parser callbacks --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.in_request = True
        self.since = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.limits.max_target_bytes:
            raise _Refused(
                414, with_reason(TOO_LARGE, f"the request target may be at most {self.limits.max_target_bytes} bytes")
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        self.headers.append((name.lower(), value))
        if self.header_bytes > self.limits.max_header_bytes or len(self.headers) > self.limits.max_headers:
            raise _Refused(431, with_reason(TOO_LARGE, "too many or too large request headers"))

    def on_headers_complete(self) -> None:
        expect_continue = False
        for name, value in self.headers:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise _Refused(400, with_reason(BAD_REQUEST, "bad Content-Length")) from None
                if length > self.limits.max_body_bytes:
                    raise _Refused(
                        413, with_reason(TOO_LARGE, f"a request body may be at most {self.limits.max_body_bytes} bytes")
                    )
            elif name == b"expect" and value.lower() == b"100-continue":
                expect_continue = True
        if expect_continue and not self.busy and not self.pending and self.transport is not None:
            self.transport.write(_CONTINUE)

    def on_body(self, chunk: bytes) -> None:
        self.body_bytes += len(chunk)
        if self.body_bytes > self.limits.max_body_bytes:
            raise _Refused(
                413, with_reason(TOO_LARGE, f"a request body may be at most {self.limits.max_body_bytes} bytes")
            )
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        request = Request(
            self.parser.get_method().decode("ascii", "replace"),
            *_split_target(self.url),
            self.headers,
            b"".join(self.body),
        )
        keep_alive = self.parser.should_keep_alive()
        self._reset()
        self.in_request = False
        self.since = self.loop.time()
        if self.busy or self.pending:
            self.pending.append((request, keep_alive))
            self._update_reading()
        else:
            self._dispatch(request, keep_alive)

    # -- answering ---------------------------------------------------------------------------
    def _dispatch(self, request: Request, keep_alive: bool) -> None:
        try:
            answer = self.server.handler(request)
        except Exception:
            log.exception("unexpected error answering %s", request.path)
            answer = (500, self.server.error_body(500, _INTERNAL_ERROR))
        if type(answer) is tuple:
            self._write(answer[0], answer[1], keep_alive, request.method == "HEAD")
            return
        self.busy = True
        task = self.loop.create_task(self._finish(answer, request, keep_alive))  # type: ignore[arg-type]
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _finish(self, answer: Awaitable[Response], request: Request, keep_alive: bool) -> None:
        try:
            status, body = await answer
        except Exception:
            log.exception("unexpected error answering %s", request.path)
            status, body = 500, self.server.error_body(500, _INTERNAL_ERROR)
        self.busy = False
        self.since = self.loop.time()  # idle from now on, not from when the request arrived
        self._write(status, body, keep_alive, request.method == "HEAD")
        while self.pending and not self.busy and not self.gone:
            self._dispatch(*self.pending.popleft())
        self._update_reading()

    def _write(self, status: int, body: bytes, keep_alive: bool, head_only: bool = False) -> None:
        if self.gone:
            return
        keep_alive = keep_alive and not self.server.stopping
        head = b"%s%scontent-length: %d\r\n%s%s\r\n" % (
            _status_line(status),
            _JSON,
            len(body),
            self.server.date_header,
            b"" if keep_alive else _CLOSE,
        )
        self.transport.write(head if head_only else head + body)  # type: ignore[union-attr]
        if not keep_alive or (self.eof and not self.pending):
            self.close()

    @property
    def gone(self) -> bool:
        """Nothing more can be written: closed, or closing."""
        return self.closed or self.transport is None or self.transport.is_closing()

    def _refuse(self, status: int, reason: str) -> None:
        """Answer an unacceptable request and close, swallowing what the client still sends for a moment
        (closing with unread data would reset the connection before the client reads the answer)."""
        self.pending.clear()
        if self.busy or self.gone:
            self.close()  # an earlier request is still being answered: the refusal cannot go in order
            return
        body = self.server.error_body(status, reason)
        transport = self.transport
        assert transport is not None  # not gone
        transport.write(
            b"%s%scontent-length: %d\r\n%s%s\r\n%s"
            % (_status_line(status), _JSON, len(body), self.server.date_header, _CLOSE, body)
        )
        if not transport.can_write_eof():
            self.close()
            return
        transport.write_eof()
        self.lingering = True
        self.since = self.loop.time()

    def _update_reading(self) -> None:
        transport = self.transport
        if self.gone or transport is None:
            return
        pause = self.write_paused or len(self.pending) >= self.limits.max_pipelined
        if pause and not self.read_paused:
            transport.pause_reading()
        elif not pause and self.read_paused:
            transport.resume_reading()
        self.read_paused = pause

    def check_deadlines(self, now: float) -> None:
        if self.write_paused and now - self.write_paused_since > self.limits.keepalive_seconds:
            self.close()  # a client that stopped reading its answers
        if self.busy or self.pending or self.closed:
            return
        waited = now - self.since
        if self.lingering:
            if waited > _LINGER_SECONDS:
                self.close()
        elif self.in_request:
            if waited > self.limits.request_seconds:
                self._refuse(
                    408, with_reason(TIMEOUT, f"the request did not arrive within {self.limits.request_seconds:g} s")
                )
        elif waited > self.limits.keepalive_seconds:
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _split_target(target: bytes) -> tuple[str, str]:
    """Path (percent-decoded as UTF-8) and raw query of a request target."""
    if not target.startswith(b"/"):  # absolute form (a proxy's): keep the path and query
        try:
            parsed = httptools.parse_url(target)
        except httptools.HttpParserInvalidURLError:
            return "", ""
        target = (parsed.path or b"/") + (b"?" + parsed.query if parsed.query else b"")
    raw_path, _, query = target.partition(b"?")
    if b"%" in raw_path or not raw_path.isascii():
        path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
    else:
        path = raw_path.decode("ascii")
    return path, query.decode("latin-1")
