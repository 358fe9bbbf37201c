"""One HTTP/1.1 connection of the lookup service: parse, answer in order, enforce the limits.

Connection state (the transport, flow control, what is owed, deadlines) lives here; one
request's state is what the parser callbacks gather until ``on_message_complete`` turns it
into a :class:`~domain_stats.lookup.http_types.Request`.

What it does (and nothing more): keep-alive (HTTP/1.1 by default, HTTP/1.0 on request, and
then said in the answer); pipelined requests answered in order; ``Expect: 100-continue``
(HTTP/1.1 only); limits on the request line, the headers and the body (answered 414/431/413);
a deadline for sending a whole request (408) and for idle keep-alive connections; write
backpressure (a client that does not read stops being read). A request that must be refused
is refused after the answers owed before it, in order. A connection is never closed with
unread data (that resets it and the client may lose the answer just sent): after a refusal,
and during a stop, it is half-closed and what the client still sends is read and dropped for a
moment (a lingering close).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from urllib.parse import unquote_to_bytes

import httptools

from domain_stats.alerts import BAD_REQUEST, INTERNAL_ERROR, TIMEOUT, TOO_LARGE, with_reason
from domain_stats.lookup.http_types import ConnectionHost, Request, Response

__all__ = ["HttpConnection"]

log = logging.getLogger("domain_stats.lookup.http_server")

_INTERNAL_ERROR = with_reason(INTERNAL_ERROR, "see the service log")
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
#: Every JSON answer; ``nosniff``: a browser never reads one as anything else (HTML, script).
_JSON = b"content-type: application/json\r\nx-content-type-options: nosniff\r\n"
_CLOSE = b"connection: close\r\n"
_KEEP_ALIVE = b"connection: keep-alive\r\n"
_LINGER_SECONDS = 2.0  # after the last answer, how long what the client still sends is swallowed


def _status_line(status: int) -> bytes:
    return _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Status\r\n".encode()


class _Refused(Exception):
    """Raised inside a parser callback to refuse the request: answered with ``status`` and closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


#: A request read and not answered yet: ``(request, keep_alive, http10)``; ``http10``: an HTTP/1.0
#: client kept alive, to whom keep-alive must be said in the answer. A plain tuple: one per request.
_Owed = tuple[Request, bool, bool]


class HttpConnection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, server: ConnectionHost[HttpConnection]) -> None:
        self.server = server
        self.limits = server.limits
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.busy = False  # a request is being answered asynchronously
        self.pending: deque[_Owed] = deque()
        self.refusal: tuple[int, str] | None = None  # to answer once what is owed before it is written
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

    @property
    def idle(self) -> bool:
        """Open with nothing under way: nothing owed, no request arriving."""
        return not (self.busy or self.pending or self.in_request or self.lingering or self.closed)

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pending.clear()
        self.server.closed(self)

    def eof_received(self) -> bool:
        self.eof = True
        # Half-closed with answers still owed: keep the connection to write them, then close.
        return not self.lingering and (self.busy or bool(self.pending))

    def pause_writing(self) -> None:
        self.write_paused = True
        self.write_paused_since = self.loop.time()
        self._update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        if self.lingering or self.closed or self.refusal is not None:
            return  # swallowed: the connection is on its way out
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
        # 100 Continue is HTTP/1.1 (an HTTP/1.0 client cannot know it); only when nothing is owed before it.
        if (
            expect_continue
            and self.parser.get_http_version() != "1.0"
            and not self.busy
            and not self.pending
            and self.transport is not None
        ):
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
        http10 = keep_alive and self.parser.get_http_version() == "1.0"
        self._reset()
        self.in_request = False
        self.since = self.loop.time()
        if self.busy or self.pending:
            self.pending.append((request, keep_alive, http10))
            self._update_reading()
        else:
            self._dispatch(request, keep_alive, http10)

    # -- answering ---------------------------------------------------------------------------
    def _dispatch(self, request: Request, keep_alive: bool, http10: bool) -> None:
        try:
            answer = self.server.handler(request)
        except Exception:
            log.exception("unexpected error answering %s", request.path)
            answer = (500, self.server.error_body(500, _INTERNAL_ERROR))
        if type(answer) is tuple:
            self._write(answer, request.method, keep_alive, http10)
            return
        self.busy = True
        task = self.loop.create_task(self._finish(answer, request, keep_alive, http10))  # type: ignore[arg-type]
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _finish(self, answer: Awaitable[Response], request: Request, keep_alive: bool, http10: bool) -> None:
        try:
            response = await answer
        except Exception:
            log.exception("unexpected error answering %s", request.path)
            response = (500, self.server.error_body(500, _INTERNAL_ERROR))
        self.busy = False
        self.since = self.loop.time()  # idle from now on, not from when the request arrived
        self._write(response, request.method, keep_alive, http10)
        self._answer_pending()

    def _answer_pending(self) -> None:
        while self.pending and not self.busy and not self.gone:
            self._dispatch(*self.pending.popleft())
        if self.busy or self.gone:
            return
        if self.refusal is not None:
            self._send_refusal(*self.refusal)
        elif self.server.stopping:
            self._linger()
        else:
            self._update_reading()

    def _write(self, response: Response, method: str, keep_alive: bool, http10: bool) -> None:
        if self.gone:
            return
        # During a stop every request already received is answered; the last one owed says close.
        keep_alive = keep_alive and not (self.server.stopping and not self.pending)
        connection = (_KEEP_ALIVE if http10 else b"") if keep_alive else _CLOSE
        body = response[1]
        extra = response[2] if len(response) == 3 else b""
        head = b"%s%scontent-length: %d\r\n%s%s%s\r\n" % (
            _status_line(response[0]),
            b"" if extra.startswith(b"content-type:") else _JSON,
            len(body),
            self.server.date_header,
            extra,
            connection,
        )
        self.transport.write(head if method == "HEAD" else head + body)  # type: ignore[union-attr]
        if not keep_alive:
            if self.server.stopping:
                self._linger()
            else:
                self.close()
        elif self.eof and not self.pending:
            self.close()

    @property
    def gone(self) -> bool:
        """Nothing more can be written: closed, closing, or half-closed by us."""
        return self.closed or self.lingering or self.transport is None or self.transport.is_closing()

    def _refuse(self, status: int, reason: str) -> None:
        """Refuse the request being read: after the answers owed before it, in order, then close."""
        if self.gone:
            return
        self.refusal = (status, reason)
        if not self.busy and not self.pending:
            self._send_refusal(status, reason)
        # else: _answer_pending sends it once the answers owed before it are written

    def _send_refusal(self, status: int, reason: str) -> None:
        self.pending.clear()
        if self.gone:
            return
        body = self.server.error_body(status, reason)
        transport = self.transport
        assert transport is not None  # not gone
        transport.write(
            b"%s%scontent-length: %d\r\n%s%s\r\n%s"
            % (_status_line(status), _JSON, len(body), self.server.date_header, _CLOSE, body)
        )
        self._linger()

    def _linger(self) -> None:
        """Half-close and swallow what the client still sends for a moment, then close."""
        transport = self.transport
        if transport is None or transport.is_closing() or self.lingering:
            return
        if self.eof or not transport.can_write_eof():
            self.close()
            return
        transport.write_eof()
        self.lingering = True
        self.since = self.loop.time()
        if self.read_paused:
            transport.resume_reading()
            self.read_paused = False

    def begin_stop(self, now: float) -> None:
        """The server stops: finish what is owed with ``connection: close``; an idle connection may
        still send a request for ``stop_idle_seconds`` (it is answered), then it is closed."""
        if self.idle:
            self.since = now

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
        elif self.server.stopping:
            if waited > self.limits.stop_idle_seconds:
                self._linger()
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
