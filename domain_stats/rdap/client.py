"""Async RDAP client: pooled connections, a hard time budget per lookup, and manners.

Each RDAP server gets a concurrency limit, a request-rate limit, and a health record: a
server that keeps failing is paused (exponential backoff) instead of hammered, and lookups
for it answer :class:`RdapBackedOff` at once. A ``429`` whose ``Retry-After`` fits in the
lookup's remaining budget is waited out and retried; a longer one pauses the server.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import aiohttp

from domain_stats import __version__
from domain_stats.rdap.bootstrap import Bootstrap
from domain_stats.rdap.errors import (
    RdapBackedOff,
    RdapBadResponse,
    RdapError,
    RdapNoServer,
    RdapNotFound,
    RdapRateLimited,
    RdapServerError,
    RdapTimeout,
    RdapTransportError,
)
from domain_stats.rdap.parse import RdapDates, parse_domain_response
from domain_stats.rdap.redirects import MAX_REDIRECTS, REDIRECT_STATUSES, check_redirect

__all__ = ["RdapClient", "RdapLimits", "RdapStats"]

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
_ACCEPT = "application/rdap+json, application/json;q=0.9"


@dataclass(frozen=True, slots=True)
class RdapLimits:
    """Finite defaults for everything; ``timeout`` is the whole budget of one lookup."""

    timeout: float = 10.0
    connect_timeout: float = 5.0
    per_server_concurrency: int = 10
    per_server_rate: float = 20.0
    failures_before_backoff: int = 3
    backoff_initial: float = 30.0
    backoff_max: float = 600.0
    #: Longest pause a 429's Retry-After can impose on a server (a registry asking for a day is
    #: asked again after this).
    retry_after_max: float = 300.0


@dataclass(slots=True)
class RdapStats:
    successes: int = 0
    failures: int = 0
    in_flight: int = 0


@dataclass(slots=True)
class _Server:
    semaphore: asyncio.Semaphore
    next_slot: float = 0.0
    failures: int = 0
    paused_until: float = 0.0
    backoff: float = 0.0

    def pause(self, now: float, seconds: float) -> None:
        self.paused_until = max(self.paused_until, now + seconds)


@dataclass(slots=True)
class _Budget:
    deadline: float
    clock: Callable[[], float] = field(default=time.monotonic)
    #: A request is on the wire: a timeout now is the server's, not our own queueing's.
    sent: bool = False

    def remaining(self) -> float:
        return self.deadline - self.clock()


class RdapClient:
    def __init__(
        self,
        bootstrap: Bootstrap,
        limits: RdapLimits = RdapLimits(),
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``ssl_context``: to trust a private CA (``rdap_ca_file``); None verifies with the system's."""
        self.bootstrap = bootstrap
        self.limits = limits
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self.stats = RdapStats()
        self._clock = clock
        self._servers: dict[str, _Server] = {}
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=0, limit_per_host=self.limits.per_server_concurrency, ttl_dns_cache=300, ssl=self._ssl
                ),
                headers={"Accept": _ACCEPT, "User-Agent": f"domain-stats/{__version__}"},
                timeout=aiohttp.ClientTimeout(total=self.limits.timeout, connect=self.limits.connect_timeout),
            )
        return self._session

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled HTTP session, shared with the bootstrap refresh."""
        return self._http()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def lookup(self, domain: str) -> RdapDates:
        """Registration and expiration dates of ``domain``; raises an :class:`RdapError`."""
        try:
            dates = await self._lookup(domain)
        except RdapError:
            self.stats.failures += 1
            raise
        self.stats.successes += 1
        return dates

    async def _lookup(self, domain: str) -> RdapDates:
        base = self.bootstrap.server_for(domain)
        if base is None:
            raise RdapNoServer(f"no RDAP server is known for {domain!r}")
        server = self._server(base)
        now = self._clock()
        if server.paused_until > now:
            raise RdapBackedOff(f"{base} is paused for {server.paused_until - now:.0f}s after failures")
        budget = _Budget(now + self.limits.timeout, self._clock)
        try:
            async with asyncio.timeout(self.limits.timeout):
                async with server.semaphore:
                    dates = await self._query(base, server, domain, budget)
        except TimeoutError:
            if not budget.sent:  # the time went waiting for our own per-server limits: not the server's fault
                raise RdapRateLimited(
                    f"our own limits for {base} left no room within {self.limits.timeout:g}s"
                ) from None
            self._failed(base, server, RdapTimeout())
            raise RdapTimeout(f"{base} did not answer within {self.limits.timeout:g}s") from None
        except RdapError as err:
            if err.server_fault:
                self._failed(base, server, err)
            elif not isinstance(err, RdapRateLimited):
                server.failures = 0
            raise
        server.failures = 0
        server.backoff = 0.0
        return dates

    async def _query(self, base: str, server: _Server, domain: str, budget: _Budget) -> RdapDates:
        url = f"{base}domain/{domain}"
        redirects = 0
        while True:
            await self._rate_slot(server, budget)
            self.stats.in_flight += 1
            budget.sent = True
            try:
                async with self._http().get(url, allow_redirects=False) as resp:
                    if resp.status in REDIRECT_STATUSES:
                        redirects += 1
                        if redirects > MAX_REDIRECTS:
                            raise RdapBadResponse(f"{base}: more than {MAX_REDIRECTS} redirects for {domain}")
                        url = await check_redirect(url, resp.headers.get("Location"), self.bootstrap.origins)
                        continue
                    if resp.status == 429:
                        wait = _retry_after(resp.headers.get("Retry-After"))
                        if wait is not None and wait < budget.remaining():
                            log.info("%s asked us to wait %.1fs (429); waiting", base, wait)
                        else:
                            pause = min(
                                wait if wait is not None else self.limits.backoff_initial, self.limits.retry_after_max
                            )
                            server.pause(self._clock(), pause)  # as the server asked: not a failure
                            raise RdapRateLimited(f"{base} rate-limited us (429, Retry-After {wait})")
                    else:
                        body = await _read_limited(resp)
                        return _interpret(resp.status, body, domain, base)
            except aiohttp.ClientError as err:
                raise RdapTransportError(f"{base}: {err or type(err).__name__}") from None
            finally:
                self.stats.in_flight -= 1
            budget.sent = False  # answered (429): waiting as asked is not the server's failure either
            await asyncio.sleep(wait)

    async def _rate_slot(self, server: _Server, budget: _Budget) -> None:
        now = self._clock()
        slot = max(now, server.next_slot)
        if slot - now >= budget.remaining():
            raise RdapRateLimited("our own per-server rate limit leaves no room in this lookup's time budget")
        server.next_slot = slot + 1.0 / self.limits.per_server_rate
        if slot > now:
            await asyncio.sleep(slot - now)

    def _server(self, base: str) -> _Server:
        server = self._servers.get(base)
        if server is None:
            server = self._servers[base] = _Server(asyncio.Semaphore(self.limits.per_server_concurrency))
        return server

    def _failed(self, base: str, server: _Server, err: RdapError) -> None:
        server.failures += 1
        if server.failures >= self.limits.failures_before_backoff:
            server.backoff = min(self.limits.backoff_max, (server.backoff * 2) or self.limits.backoff_initial)
            server.pause(self._clock(), server.backoff)
            server.failures = 0
            log.warning("RDAP server %s failed repeatedly (%s); pausing it for %.0fs", base, err.alert, server.backoff)


def _interpret(status: int, body: bytes, domain: str, base: str) -> RdapDates:
    if status == 404:
        raise RdapNotFound(f"{base} has no record of {domain}")
    if status >= 500:
        raise RdapServerError(f"{base} answered HTTP {status}")
    if status != 200:
        # Some servers send an errorCode body with a 4xx; let the parser name it.
        parse_domain_response(body, domain)
        raise RdapBadResponse(f"{base} answered HTTP {status}")
    return parse_domain_response(body, domain)


async def _read_limited(resp: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise RdapBadResponse(f"response larger than {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
