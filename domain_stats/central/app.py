"""The central server's HTTP layer: ``POST /api`` and ``GET /feed/...`` (authenticated), ``GET /health``.

Thin on purpose: it reads the body, checks the key, parses the request with
:mod:`domain_stats.central_protocol` and hands it to :class:`CentralService`. Every failure
answers ``{"error": "..."}``: 401 for a missing, unknown or revoked key (before the body is
even read, so an outsider learns nothing), 400 for a malformed request, 413 for an
oversized one, 429 (with ``Retry-After``) for a member querying faster than its rate or an
address with too many requests under way, 503 while the database fails or the server stops.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from domain_stats.authorization import bearer_key
from domain_stats.central.rate_limit import MemberRateLimit
from domain_stats.central.service import CentralService
from domain_stats.central_protocol import (
    API_PATH,
    MAX_REQUEST_BYTES,
    ProtocolError,
    QueryAnswer,
    QueryError,
    parse_request,
)
from domain_stats.storage import StorageError

__all__ = ["CentralApp", "ClientLimits", "Receive", "Scope", "Send", "member_address"]

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_FEED_FILE = re.compile(r"^(version\.json|\d{1,9}/\d{1,9}\.txt)$")
_CHUNK = 256 * 1024


class _Refusal(Exception):
    def __init__(self, status: int, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass
class ClientLimits:
    """How much one client may ask: ``rate`` per member (queries), ``per_address`` requests at once."""

    rate: MemberRateLimit | None = None
    per_address: int = 512
    under_way: Counter[str] = field(default_factory=Counter)


class CentralApp:
    """``feed_dir`` holds the published update feed (``central publish``), served to members under ``/feed/``."""

    def __init__(
        self,
        service: CentralService,
        feed_dir: Path | None = None,
        trusted_proxies: frozenset[str] = frozenset(),
        *,
        limits: ClientLimits | None = None,
    ) -> None:
        self.service = service
        self.feed_dir = feed_dir
        self.trusted_proxies = trusted_proxies
        self.limits = limits or ClientLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan belongs to the wrapper that owns the runtime
        extra: list[tuple[bytes, bytes]] = []
        address = member_address(scope, self.trusted_proxies)
        under_way = self.limits.under_way
        under_way[address] += 1
        try:
            if under_way[address] > self.limits.per_address:
                raise _Refusal(429, f"more than {self.limits.per_address} requests under way from {address}", 1.0)
            status, answer = await self._route(scope, receive)
        except _FeedFile as feed:
            await _send_file(feed.path, send)
            return
        except _Refusal as refusal:
            status, answer = refusal.status, {"error": str(refusal)}
            if status == 401:
                extra.append((b"www-authenticate", b"Bearer"))
            if refusal.retry_after:
                extra.append((b"retry-after", str(math.ceil(refusal.retry_after)).encode()))
        except StorageError as err:
            log.error("central database failed: %s", err)
            status, answer = 503, {"error": "the server's database is unavailable; try again later"}
        except asyncio.CancelledError:
            if _being_cancelled():
                raise  # this request itself is being cancelled (its client went away)
            # A query this request waited for was cancelled by the stop: an answer, not a traceback.
            status, answer = 503, {"error": "the server is stopping; ask again"}
        except Exception:
            log.exception("unexpected error answering %s", scope.get("path"))
            status, answer = 500, {"error": "internal error; see the server log"}
        finally:
            under_way[address] -= 1
            if not under_way[address]:
                del under_way[address]
        body = orjson.dumps(answer)
        headers = [_JSON, (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _route(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        path, method = scope["path"], scope["method"]
        if path == "/health" and method == "GET":
            return 200, {"status": "ok"}
        if path.startswith("/feed/") and method == "GET":
            if await self.service.client_for(_bearer(scope)) is None:
                raise _Refusal(401, "a valid API key is required (Authorization: Bearer KEY)")
            raise _FeedFile(self._feed_file(path[len("/feed/") :]))
        if path != API_PATH:
            raise _Refusal(404, f"not found; the endpoint is POST {API_PATH}")
        if method != "POST":
            raise _Refusal(405, f"use POST {API_PATH}")
        client = await self.service.client_for(_bearer(scope))
        if client is None:
            raise _Refusal(401, "a valid API key is required (Authorization: Bearer KEY)")
        body = await _read_body(receive)
        try:
            command, request = parse_request(body)
            if command in ("query", "query_many") and self.limits.rate is not None:
                wait = self.limits.rate.retry_after(client, len(request.get("domains", ())) or 1)
                if wait > 0:
                    raise _Refusal(429, f"{client} queries faster than {self.limits.rate.rate:g} a second", wait)
            if command == "config":
                return 200, (await self.service.config()).to_json()
            if command == "status":
                address = member_address(scope, self.trusted_proxies)
                return 200, (await self.service.status(client, request["report"], address)).to_json()
            if command == "query_many":
                answers = await self.service.query_many(client, request["domains"])
                return 200, {"answers": [_answer_json(answer) for answer in answers]}
            return 200, (await self.service.query(client, request["domain"])).to_json()
        except ProtocolError as err:
            raise _Refusal(400, str(err)) from None

    def _feed_file(self, name: str) -> Path:
        if self.feed_dir is None or not _FEED_FILE.match(name):
            raise _Refusal(404, "no such feed file")
        path = self.feed_dir / name
        if not path.is_file():
            raise _Refusal(404, "no such feed file (nothing published yet?)")
        return path


class _FeedFile(Exception):
    def __init__(self, path: Path) -> None:
        self.path = path


async def _send_file(path: Path, send: Send) -> None:
    """Stream a feed file in chunks read off the event loop."""
    handle = await asyncio.to_thread(open, path, "rb")
    try:
        size = os.fstat(handle.fileno()).st_size
        kind = b"application/json" if path.suffix == ".json" else b"text/plain; charset=utf-8"
        headers = [(b"content-type", kind), (b"content-length", str(size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        while chunk := await asyncio.to_thread(handle.read, _CHUNK):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await asyncio.to_thread(handle.close)


def _answer_json(answer: QueryAnswer | QueryError | ProtocolError) -> dict[str, Any]:
    """One name's answer in a ``query_many``: what ``query`` answers for it (its 400 as the body)."""
    if isinstance(answer, ProtocolError):
        return {"error": str(answer)}
    return answer.to_json()


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _bearer(scope: Scope) -> str:
    return bearer_key(scope["headers"]).decode("latin-1")


async def _read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise _Refusal(413, f"a request body may be at most {MAX_REQUEST_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def member_address(scope: Scope, trusted_proxies: frozenset[str]) -> str:
    """The member's address as ``central clients`` shows it: the peer's, or, when the peer is one
    of our reverse proxies, the nearest address in ``X-Forwarded-For`` that is not (a client may
    put anything at the left of that header; only what our proxies appended is believed)."""
    address = (scope.get("client") or ("", 0))[0]
    if address not in trusted_proxies:
        return address
    forwarded = b",".join(value for name, value in scope["headers"] if name == b"x-forwarded-for")
    for hop in reversed(forwarded.decode("latin-1").split(",")):
        hop = hop.strip()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address  # not an address: believe nothing further left
        if hop not in trusted_proxies:
            return hop
        address = hop
    return address
