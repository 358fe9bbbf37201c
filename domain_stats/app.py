"""The HTTP layer: a raw ASGI app, because the hot path is one GET and a JSON body.

``GET /<name>`` asks the lookup service, ``POST /batch`` asks it for many names at once;
``/health``, ``/stats`` and ``/showcache`` are the operator endpoints. Every error, whatever its cause, answers the lookup JSON shape with the
reason in ``alerts``; unexpected failures answer a generic body and log the details.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

import orjson

from domain_stats.answer import Answer, error_answer
from domain_stats.service import LookupService

__all__ = ["LookupApp", "MAX_BATCH_BYTES", "MAX_BATCH_NAMES", "SHOWCACHE_MAX_LIMIT"]

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

SHOWCACHE_MAX_LIMIT = 1000
MAX_BATCH_NAMES = 10_000
MAX_BATCH_BYTES = 4 * 1024 * 1024
_JSON_HEADERS = [(b"content-type", b"application/json")]


class LookupApp:
    """ASGI app over a running :class:`LookupService`.

    ``admin_key`` guards ``/stats`` and ``/showcache`` when set. When it is not set they are
    open only if the service listens on loopback (``admin_open``), because they reveal the
    organisation's DNS history.
    """

    def __init__(
        self,
        service: LookupService,
        *,
        admin_key: str = "",
        admin_open: bool = True,
        stats: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.service = service
        self._stats = stats or service.stats
        self._admin_key = admin_key.encode()
        self._admin_open = admin_open
        self._debug = log.isEnabledFor(logging.DEBUG)  # log_detail 2: every lookup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan belongs to ServiceApp (domain_stats.asgi), which wraps this app
        try:
            status, body = await self._route(scope, receive)
        except Exception:
            log.exception("unexpected error answering %s", scope.get("path"))
            status, body = _answer_body(error_answer("INTERNAL-ERROR: see the service log", 500))
        headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _route(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        path: str = scope["path"]
        if path == "/batch" and scope["method"] == "POST":
            return await self._batch(receive)
        if scope["method"] != "GET":
            return _answer_body(error_answer(f"METHOD-NOT-ALLOWED: {scope['method']}", 405))
        if path == "/health":
            return 200, b'{"status":"ok"}'
        if path in ("/stats", "/showcache"):
            denied = self._deny_admin(scope)
            if denied is not None:
                return _answer_body(denied)
            if path == "/stats":
                return 200, orjson.dumps(self._stats())
            return self._showcache(scope)
        status, body = await self.service.lookup(path[1:])
        if self._debug:
            log.debug("lookup %r -> %d %s", path[1:], status, body.decode())
        return status, body

    async def _batch(self, receive: Receive) -> tuple[int, bytes]:
        """``POST /batch`` with a JSON list of names: a JSON list of answers, in the same order."""
        chunks = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BATCH_BYTES:
                return _answer_body(error_answer(f"TOO-LARGE: a batch body may be at most {MAX_BATCH_BYTES} bytes", 413))
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        try:
            names = orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError:
            return _answer_body(error_answer("BAD-REQUEST: the body must be a JSON list of names", 400))
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return _answer_body(error_answer("BAD-REQUEST: the body must be a JSON list of names", 400))
        if len(names) > MAX_BATCH_NAMES:
            return _answer_body(error_answer(f"TOO-LARGE: at most {MAX_BATCH_NAMES} names per batch", 413))
        answers = await self.service.lookup_many(names)
        return 200, b"[" + b",".join(body for _status, body in answers) + b"]"

    def _deny_admin(self, scope: Scope) -> Answer | None:
        if not self._admin_key:
            if self._admin_open:
                return None
            return error_answer("FORBIDDEN: set admin_key to use this endpoint on a non-loopback address", 403)
        for name, value in scope["headers"]:
            if name == b"authorization" and value.startswith(b"Bearer "):
                if hmac.compare_digest(value[7:].strip(), self._admin_key):
                    return None
        return error_answer("UNAUTHORIZED: this endpoint needs Authorization: Bearer <admin_key>", 401)

    def _showcache(self, scope: Scope) -> tuple[int, bytes]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            offset = int(query.get("offset", ["0"])[0])
            limit = int(query.get("limit", ["100"])[0])
        except ValueError:
            return _answer_body(error_answer("BAD-REQUEST: offset and limit must be integers", 400))
        if offset < 0 or limit < 1:
            return _answer_body(error_answer("BAD-REQUEST: offset must be >= 0 and limit >= 1", 400))
        limit = min(limit, SHOWCACHE_MAX_LIMIT)
        entries = self.service.cached_answers(offset, limit)
        return 200, orjson.dumps(
            {"offset": offset, "limit": limit, "total": len(self.service.cache), "entries": entries}
        )


def _answer_body(answer: Answer) -> tuple[int, bytes]:
    return answer.status, answer.encode()
