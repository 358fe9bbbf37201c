"""A real RDAP server on 127.0.0.1 for tests: serves chosen responses and records every request.

Like dnspython's test nameserver: tests talk HTTP to it, nothing is mocked. Each domain can
be given a canned body, a status, a one-off 429, or a hang that lasts until released.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from domain_stats.registry.rdap.bootstrap import Bootstrap

NOT_FOUND = orjson.dumps({"errorCode": 404, "title": "Not Found", "description": ["no such domain"]})


def rdap_domain(name: str, created: str, expires: str | None = None) -> bytes:
    """A plausible registry response (RFC 9083 shape) for a domain."""
    events = [{"eventAction": "registration", "eventDate": created}]
    if expires is not None:
        events.append({"eventAction": "expiration", "eventDate": expires})
    events.append({"eventAction": "last update of RDAP database", "eventDate": "2026-11-01T00:00:00Z"})
    return orjson.dumps(
        {
            "objectClassName": "domain",
            "ldhName": name.upper(),
            "handle": f"{name}-TEST",
            "status": ["active"],
            "events": events,
            "rdapConformance": ["rdap_level_0"],
        }
    )


@dataclass
class Canned:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] | None = None
    once: bool = False  # served once, then the next canned response (or the domain's body)


class RdapTestServer:
    def __init__(self) -> None:
        self.requests: list[str] = []
        #: When each request arrived (time.monotonic()), in order.
        self.arrivals: list[float] = []
        #: Seconds every answer takes (a registry's latency).
        self.latency = 0.0
        #: The server's own rate limit: above this many requests in the last second, a 429.
        self.rate_limit: int | None = None
        self.retry_after = 1
        self.rate_limited = 0
        self._window: deque[float] = deque()
        self.max_concurrent = 0
        self._concurrent = 0
        self._bodies: dict[str, bytes] = {}
        self._queued: dict[str, list[Canned]] = {}
        self._hangs: dict[str, asyncio.Event] = {}
        self._arrived: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, tls: ssl.SSLContext | None = None) -> RdapTestServer:
        """Listen on 127.0.0.1 (over https when ``tls`` is a server context)."""
        app = web.Application()
        app.router.add_get("/domain/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/"
        return self

    async def close(self) -> None:
        for event in self._hangs.values():
            event.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what the server answers ---------------------------------------------------------
    def add_domain(self, name: str, created: str, expires: str | None = None) -> None:
        self._bodies[name] = rdap_domain(name, created, expires)

    def add_body(self, name: str, body: bytes) -> None:
        self._bodies[name] = body

    def queue(self, name: str, canned: Canned) -> None:
        self._queued.setdefault(name, []).append(canned)

    def hang(self, name: str) -> asyncio.Event:
        """Requests for ``name`` wait until the returned event is set (then answer normally)."""
        event = self._hangs[name] = asyncio.Event()
        return event

    # -- what the server saw -------------------------------------------------------------
    def count(self, name: str) -> int:
        return Counter(self.requests)[name]

    async def wait_for_requests(self, count: int) -> None:
        """Until the server has received ``count`` requests in all."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)

    async def wait_for_request(self, name: str) -> None:
        if name in self.requests:
            return
        await self._arrived.setdefault(name, asyncio.Event()).wait()

    async def _handle(self, request: web.Request) -> web.Response:
        self._concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self._concurrent)
        try:
            return await self._answer(request.match_info["name"])
        finally:
            self._concurrent -= 1

    def busiest_second(self) -> int:
        """The most requests that arrived within any one second."""
        most, first = 0, 0
        for last, when in enumerate(self.arrivals):
            while when - self.arrivals[first] >= 1.0:
                first += 1
            most = max(most, last - first + 1)
        return most

    def _over_limit(self, now: float) -> bool:
        if self.rate_limit is None:
            return False
        window = self._window
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.rate_limit:
            return True
        window.append(now)
        return False

    async def _answer(self, name: str) -> web.Response:
        now = time.monotonic()
        self.arrivals.append(now)
        if self._over_limit(now):
            self.rate_limited += 1
            return web.Response(status=429, headers={"Retry-After": str(self.retry_after)})
        self.requests.append(name)
        self._arrived.setdefault(name, asyncio.Event()).set()
        async with self._changed:
            self._changed.notify_all()
        hang = self._hangs.get(name)
        if hang is not None:
            await hang.wait()
        if self.latency:
            await asyncio.sleep(self.latency)
        queued = self._queued.get(name)
        if queued:
            canned = queued[0]
            if canned.once:
                queued.pop(0)
            return web.Response(
                status=canned.status, body=canned.body, headers=canned.headers, content_type="application/rdap+json"
            )
        body = self._bodies.get(name)
        if body is None:
            return web.Response(status=404, body=NOT_FOUND, content_type="application/rdap+json")
        return web.Response(body=body, content_type="application/rdap+json")


def write_bootstrap(
    path: Path, url: str, *, without: tuple[str, ...] = (), publication: str = "2026-11-27T00:00:00Z"
) -> Path:
    """A bootstrap that sends every TLD of the packaged IANA snapshot to ``url``, minus ``without``."""
    tlds = sorted(set(Bootstrap.packaged().tlds) - set(without))
    doc: dict[str, Any] = {
        "version": "1.0",
        "publication": publication,
        "description": "test bootstrap: everything on loopback",
        "services": [[tlds, [url]]],
    }
    path.write_bytes(orjson.dumps(doc))
    return path
