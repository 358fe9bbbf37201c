"""Async RDAP client: pooled connections, one scheduled line per server, a hard time budget per request.

Each RDAP server has a :class:`~domain_stats.registry.scheduler.ServerSchedule`: its concurrency and
rate, its priorities, its health. Waiting in that line is our own queueing and never counts
against the server; a server that keeps failing is paused (growing) and live lookups for it
answer :class:`RdapBackedOff` at once; a ``429`` holds the line for its ``Retry-After`` (at
most ``retry_after_max``) and the query waits its turn again, which is not a failure either.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from domain_stats import __version__
from domain_stats.registry.rdap.bootstrap import Bootstrap
from domain_stats.registry.rdap.errors import (
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
from domain_stats.registry.rdap.parse import parse_domain_response
from domain_stats.registry.rdap.redirects import MAX_REDIRECTS, REDIRECT_STATUSES, check_redirect
from domain_stats.registry.registration import Registration
from domain_stats.registry.scheduler import Job, Priority, ServerSchedule

__all__ = ["RdapClient", "RdapLimits", "RdapStats"]

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
_ACCEPT = "application/rdap+json, application/json;q=0.9"
#: A query answered 429 this many times in a row gives up (RDAP-RATE-LIMITED) instead of queueing again.
MAX_429_ROUNDS = 5


@dataclass(frozen=True, slots=True)
class RdapLimits:
    """Finite defaults for everything; ``timeout`` bounds one request (and, for a lookup without a
    :class:`~domain_stats.registry.scheduler.Job` of its own, the wait in line too)."""

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


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


class _TryAgain(Exception):
    """A 429: the server holds the line; the query waits its turn again."""


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
        self._servers: dict[str, ServerSchedule] = {}
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

    def servers(self) -> dict[str, dict[str, Any]]:
        """Each RDAP server asked so far: its line by priority, requests, 429s, failures, pause."""
        return {base: schedule.stats() for base, schedule in self._servers.items()}

    async def lookup(self, domain: str, job: Job | None = None) -> Registration:
        """Registration and expiration dates of ``domain``; raises an :class:`RdapError`.

        ``job``: the query's place in line (its priority); without one, a live lookup that waits
        in line at most ``timeout`` seconds (then :class:`RdapRateLimited`, "our own limits").
        """
        try:
            dates = await self._lookup(domain, job or Job(Priority.LIVE, patience=self.limits.timeout))
        except RdapError:
            self.stats.failures += 1
            raise
        self.stats.successes += 1
        return dates

    async def _lookup(self, domain: str, job: Job) -> Registration:
        base = self.bootstrap.server_for(domain)
        if base is None:
            raise RdapNoServer(f"no RDAP server is known for {domain!r}")
        schedule = self._schedule(base)
        deadline = None if job.patience is None else self._clock() + job.patience
        url = f"{base}domain/{domain}"
        redirects = rate_limited = 0
        while True:
            if refused := schedule.refuses(job):
                raise RdapBackedOff(f"{base} is paused for {refused:.0f}s after failures")
            paused = schedule.paused_for()
            if deadline is not None and paused > deadline - self._clock():
                raise RdapRateLimited(f"{base} asked us to wait {paused:.0f}s (429): longer than this lookup may")
            try:
                return await self._turn(base, schedule, url, domain, job, deadline)
            except _Redirect as redirect:
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise RdapBadResponse(f"{base}: more than {MAX_REDIRECTS} redirects for {domain}") from None
                url = redirect.url
            except _TryAgain:
                rate_limited += 1
                if rate_limited >= MAX_429_ROUNDS:
                    raise RdapRateLimited(f"{base} answered 429 {rate_limited} times in a row") from None

    async def _turn(
        self, base: str, schedule: ServerSchedule, url: str, domain: str, job: Job, deadline: float | None
    ) -> Registration:
        """One request: wait for the turn (bounded by ``deadline``), then send it within ``timeout``."""
        try:
            async with asyncio.timeout(None if deadline is None else max(0.0, deadline - self._clock())):
                await schedule.acquire(job)
        except TimeoutError:
            paused = schedule.paused_for()
            why = f"{base} asked us to wait ({paused:.0f} s left)" if paused else f"our own limits for {base}"
            raise RdapRateLimited(f"{why} left no room within {job.patience:g}s") from None
        try:
            self.stats.in_flight += 1
            try:
                async with asyncio.timeout(self.limits.timeout):
                    dates = await self._request(base, schedule, url, domain)
            except TimeoutError:
                schedule.failed("timeout")
                raise RdapTimeout(f"{base} did not answer within {self.limits.timeout:g}s") from None
            except RdapError as err:
                if err.server_fault:
                    schedule.failed(err.alert)
                elif not isinstance(err, RdapRateLimited):
                    schedule.succeeded()  # it answered: a 404 or a bad body is not the server failing
                raise
            finally:
                self.stats.in_flight -= 1
        finally:
            schedule.release(job)
        schedule.succeeded()
        return dates

    async def _request(self, base: str, schedule: ServerSchedule, url: str, domain: str) -> Registration:
        try:
            async with self._http().get(url, allow_redirects=False) as resp:
                if resp.status in REDIRECT_STATUSES:
                    raise _Redirect(await check_redirect(url, resp.headers.get("Location"), self.bootstrap.origins))
                if resp.status == 429:
                    wait = _retry_after(resp.headers.get("Retry-After"))
                    pause = min(wait if wait is not None else self.limits.backoff_initial, self.limits.retry_after_max)
                    schedule.told_to_wait(pause)
                    raise _TryAgain
                body = await _read_limited(resp)
                return _interpret(resp.status, body, domain, base)
        except aiohttp.ClientError as err:
            raise RdapTransportError(f"{base}: {err or type(err).__name__}") from None

    def _schedule(self, base: str) -> ServerSchedule:
        schedule = self._servers.get(base)
        if schedule is None:
            limits = self.limits
            schedule = self._servers[base] = ServerSchedule(
                base,
                concurrency=limits.per_server_concurrency,
                rate=limits.per_server_rate,
                failures_before_pause=limits.failures_before_backoff,
                pause_initial=limits.backoff_initial,
                pause_max=limits.backoff_max,
                clock=self._clock,
            )
        return schedule


def _interpret(status: int, body: bytes, domain: str, base: str) -> Registration:
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
