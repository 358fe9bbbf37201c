"""The HTTP layer: requests in, status and JSON body out, over a running lookup service.

``GET /<name>`` asks the lookup service, ``POST /batch`` asks it for many names at once;
``/health``, ``/stats``, ``/metrics`` (Prometheus), ``/ui`` (the status page) and ``/showcache``
are the operator endpoints. Every error, whatever its cause, answers the lookup JSON shape
with the reason in ``alerts``; unexpected failures answer a generic body and log the details.
A lookup the memory cache answers is returned at once (no coroutine, no task); anything else
is returned as an awaitable (:mod:`domain_stats.lookup.http_server`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson

from domain_stats.alerts import (
    BAD_REQUEST,
    DATABASE_UNAVAILABLE,
    FORBIDDEN,
    METHOD_NOT_ALLOWED,
    TOO_LARGE,
    UNAUTHORIZED,
    with_reason,
)
from domain_stats.authorization import has_key
from domain_stats.lookup.answer import Answer, error_answer
from domain_stats.lookup.http_types import Request, Response
from domain_stats.lookup.metrics import CONTENT_TYPE
from domain_stats.lookup.service import LookupService
from domain_stats.lookup.ui import HEADERS as UI_HEADERS
from domain_stats.storage import StorageError

__all__ = ["MAX_BATCH_NAMES", "SHOWCACHE_MAX_LIMIT", "LookupApp", "error_body"]

log = logging.getLogger(__name__)

SHOWCACHE_MAX_LIMIT = 1000
MAX_SEARCH = 253  # the longest domain name
MAX_BATCH_NAMES = 10_000
_HEALTHY = b'{"status":"ok"}'
_OPERATOR_PATHS = frozenset(("/health", "/stats", "/metrics", "/showcache", "/batch", "/ui", "/ui/contacts"))
#: Operator answers (the DNS history) are never kept by a browser or a proxy.
_NO_STORE = b"cache-control: no-store\r\n"
_PROMETHEUS_TYPE = b"content-type: " + CONTENT_TYPE.encode() + b"\r\n" + _NO_STORE
#: Headers a proxy adds to say whom it relays: any of them (or any ``x-forwarded-*``) means the
#: client is not on this host, whatever the peer address.
_FORWARDING_HEADERS = frozenset(
    (
        b"forwarded",
        b"via",
        b"x-real-ip",
        b"x-client-ip",
        b"true-client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
        b"x-cluster-client-ip",
        b"x-original-forwarded-for",
    )
)
#: Host names that can only mean this machine (a DNS name could be rebound to 127.0.0.1 by a web
#: page in the analyst's browser: its requests would carry that name).
_LOOPBACK_HOSTS = frozenset((b"localhost", b"localhost.", b"[::1]"))


class OperatorViews(Protocol):
    """What ``/metrics`` and ``/ui`` show (the runtime gathers it from every worker and the database)."""

    async def metrics(self) -> bytes: ...

    async def overview(self) -> bytes: ...

    async def contacts(self, search: str, *, only_new: bool) -> bytes: ...


def error_body(status: int, reason: str) -> bytes:
    """The error envelope for errors the HTTP server answers itself (limits, malformed requests)."""
    return error_answer(reason, status).encode()


class LookupApp:
    """Answers requests from a running :class:`LookupService`.

    ``admin_key`` guards ``/stats``, ``/metrics``, ``/ui`` and ``/showcache`` when set. When it
    is not set they are open only to a request that is local three ways, because they reveal
    the organisation's DNS history: the service listens on loopback (``admin_open``), the
    ``Host`` is a loopback name or address (a rebound DNS name is not), and no proxy-style header
    is present (a reverse proxy on the same host connects from 127.0.0.1 for every client).
    """

    def __init__(
        self,
        service: LookupService,
        *,
        admin_key: str = "",
        admin_open: bool = True,
        stats: Callable[[], dict[str, Any]],
        views: OperatorViews,
    ) -> None:
        self.service = service
        self._stats = stats
        self._views = views
        self._admin_key = admin_key.encode()
        self._admin_open = admin_open
        self._debug = log.isEnabledFor(logging.DEBUG)  # log_detail 2: every lookup

    def __call__(self, request: Request) -> Response | Awaitable[Response]:
        path = request.path
        if request.method == "GET" and path not in _OPERATOR_PATHS:
            if self._debug:
                return self._logged_lookup(path[1:])
            return self.service.start_lookup(path[1:])
        if path == "/batch":
            if request.method == "POST":
                return self._batch(request.body)
            return _not_allowed(request.method, "POST", "/batch takes POST with a JSON list of names")
        if request.method != "GET":
            return _not_allowed(request.method, "GET", f"{path} takes GET")
        if path == "/health":
            return self._health()
        denied = self._deny_admin(request)
        if denied is not None:
            return denied.status, denied.encode(), _NO_STORE
        if path == "/stats":
            return 200, orjson.dumps(self._stats()), _NO_STORE
        if path == "/metrics":
            return self._prometheus()
        if path.startswith("/ui"):
            return self._status_page(path, request.query)
        return self._showcache(request.query)

    def _health(self) -> Response:
        """200 while the service can do its work; 503 while its database cannot be written (a full
        disk): a load balancer then sends lookups elsewhere, and it recovers by itself."""
        problem = self.service.storage.write_problem()
        if problem is None:
            return 200, _HEALTHY
        return 503, orjson.dumps({"status": "unavailable", "reason": f"database writes are failing: {problem}"})

    async def _status_page(self, path: str, query_string: str) -> Response:
        try:
            if path == "/ui":
                page = await self._views.overview()
            else:
                query = parse_qs(query_string)
                search = query.get("q", [""])[0].strip()[:MAX_SEARCH]
                page = await self._views.contacts(search, only_new=query.get("new", [""])[0] == "1")
        except StorageError as err:
            log.error("status page: %s", err)
            return _answer_body(error_answer(DATABASE_UNAVAILABLE, 503))
        return 200, page, UI_HEADERS

    async def _prometheus(self) -> Response:
        return 200, await self._views.metrics(), _PROMETHEUS_TYPE

    async def _logged_lookup(self, raw: str) -> Response:
        status, body = await self.service.lookup(raw)
        log.debug("lookup %r -> %d %s", raw, status, body.decode())
        return status, body

    async def _batch(self, body: bytes) -> Response:
        """``POST /batch`` with a JSON list of names: a JSON list of answers, in the same order."""
        try:
            names = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _answer_body(error_answer(with_reason(BAD_REQUEST, "the body must be a JSON list of names"), 400))
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return _answer_body(error_answer(with_reason(BAD_REQUEST, "the body must be a JSON list of names"), 400))
        if len(names) > MAX_BATCH_NAMES:
            return _answer_body(error_answer(with_reason(TOO_LARGE, f"at most {MAX_BATCH_NAMES} names per batch"), 413))
        answers = await self.service.lookup_many(names)
        return 200, b"[" + b",".join(body for _status, body in answers) + b"]"

    def _deny_admin(self, request: Request) -> Answer | None:
        if not self._admin_key:
            if self._admin_open and _local(request):
                return None
            return error_answer(
                with_reason(
                    FORBIDDEN, "set admin_key to use this endpoint on a non-loopback address or behind a proxy"
                ),
                403,
            )
        if has_key(request.headers, self._admin_key):
            return None
        return error_answer(with_reason(UNAUTHORIZED, "this endpoint needs Authorization: Bearer <admin_key>"), 401)

    def _showcache(self, query_string: str) -> Response:
        query = parse_qs(query_string)
        try:
            offset = int(query.get("offset", ["0"])[0])
            limit = int(query.get("limit", ["100"])[0])
        except ValueError:
            return _answer_body(error_answer(with_reason(BAD_REQUEST, "offset and limit must be integers"), 400))
        if offset < 0 or limit < 1:
            return _answer_body(error_answer(with_reason(BAD_REQUEST, "offset must be >= 0 and limit >= 1"), 400))
        limit = min(limit, SHOWCACHE_MAX_LIMIT)
        entries = self.service.cached_answers(offset, limit)
        body = {"offset": offset, "limit": limit, "total": len(self.service.cache), "entries": entries}
        return 200, orjson.dumps(body), _NO_STORE


def _not_allowed(method: str, allowed: str, reason: str) -> Response:
    """405, with the ``Allow`` header HTTP requires."""
    answer = error_answer(with_reason(METHOD_NOT_ALLOWED, f"{method}: {reason}"), 405)
    return 405, answer.encode(), b"allow: " + allowed.encode() + b"\r\n"


def _local(request: Request) -> bool:
    """A request from this host, not relayed: its Host is a loopback name or address, and it carries
    no proxy-style header (a proxy's client is elsewhere, whatever the peer address)."""
    host = b""
    for name, value in request.headers:
        if name in _FORWARDING_HEADERS or name.startswith(b"x-forwarded-"):
            return False
        if name == b"host":
            if host:
                return False  # two Host headers: not a request to trust
            host = value.strip().lower()
    return _loopback_host(host)


def _loopback_host(host: bytes) -> bool:
    if host.startswith(b"["):
        name = host.partition(b"]")[0] + b"]"
    else:
        name = host.rpartition(b":")[0] if b":" in host else host
    if name in _LOOPBACK_HOSTS:
        return True
    parts = name.split(b".")
    return len(parts) == 4 and parts[0] == b"127" and all(p.isdigit() and int(p) <= 255 for p in parts)


def _answer_body(answer: Answer) -> Response:
    return answer.status, answer.encode()
