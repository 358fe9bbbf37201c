"""The ``mode: central`` client: asks the community's central server instead of RDAP.

:class:`CentralClient` speaks the protocol (:mod:`domain_stats.central_protocol`) over one
pooled aiohttp session; when the server cannot be reached it fails fast and backs off
(1 s, doubling to a minute) so that lookups answer ERROR at once instead of piling up
behind timeouts. :class:`CentralUpstream` turns query answers into the lookup service's
:class:`~domain_stats.lookup.upstream.Resolution` with the caching rules of ``docs/protocol.md``,
and :class:`CentralMembership` does the rest of membership: ``config`` at start, ``status`` in the
background, and stopping the service when the server denies it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from domain_stats import __version__, alerts
from domain_stats.central_protocol import (
    API_PATH,
    MAX_ANSWER_BYTES,
    MAX_RETRY_AFTER_SECONDS,
    TTL_NO_EXPIRY,
    TTL_PERMANENT,
    CentralRefused,
    ConfigAnswer,
    ProtocolError,
    QueryError,
    StatusAnswer,
    StatusReport,
    parse_config_answer,
    parse_query_answer,
    parse_status_answer,
)
from domain_stats.errors import DomainStatsError
from domain_stats.lookup.central_batching import Coalescer
from domain_stats.lookup.upstream import Resolution, Upstream, UpstreamError
from domain_stats.names import NameReducer
from domain_stats.registry.registration import ORIGIN_CENTRAL, Registration
from domain_stats.registry.scheduler import Job, ServerSchedule
from domain_stats.versions import parse_software_version

__all__ = [
    "ALERT_CACHE_SECONDS",
    "CentralClient",
    "CentralMembership",
    "CentralRateLimited",
    "CentralUnavailable",
    "CentralUpstream",
]

log = logging.getLogger(__name__)

ALERT_CACHE_SECONDS = 24 * 3600  # answers with central-server alerts: cached a day, never stored
#: Queries to the central server at once, per process: its own line (priorities as for RDAP).
CENTRAL_CONCURRENCY = 100
#: While the central server answers RDAP-QUEUED (or WHOIS-QUEUED), ask again this often (askers were answered
#: ISC-QUEUED), at most this many times.
QUEUED_RETRY_SECONDS = 2.0
QUEUED_RETRIES = 30
#: A query answered 429 this many times in a row is answered ISC-QUEUED (not cached) instead.
MAX_429_ROUNDS = 5
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 60.0


class CentralUnavailable(DomainStatsError):
    """The central server gave no usable answer; ``alert`` (ISC-...) goes into the ERROR answer."""

    def __init__(self, alert: str, detail: str) -> None:
        super().__init__(f"{alert}: {detail}")
        self.alert = alert
        self.detail = detail


class CentralRateLimited(CentralUnavailable):
    """The server answered 429: this member asks too fast. Not a failure: the line holds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(alerts.ISC_QUEUED, f"the central server asked us to wait {retry_after:g} s (429)")
        self.retry_after = retry_after


class CentralClient:
    def __init__(
        self,
        server_url: str,
        api_key: str,
        *,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = server_url.rstrip("/") + API_PATH
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._failures = 0
        self._paused_until = 0.0
        self.requests = 0
        self.failed = 0
        self.refused_fast = 0
        self.rate_limited = 0

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=100, ssl=self._ssl, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, raise_for_status=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def config(self) -> ConfigAnswer:
        return parse_config_answer(await self._post({"command": "config"}))

    async def status(self, report: StatusReport) -> StatusAnswer:
        return parse_status_answer(await self._post(report.to_request()))

    async def query(self, domain: str) -> Any:
        return parse_query_answer(await self._post({"command": "query", "domain": domain}), self._clock())

    async def query_many(self, domains: list[str]) -> list[Any]:
        """Each name's answer (as :meth:`query` returns it) or the error it raises, in order; a
        server that does not know ``query_many`` raises :class:`CentralUnavailable` with
        ``ISC-BAD-REQUEST`` (its 400), and the caller asks with ``query`` instead."""
        answer = await self._post(
            {"command": "query_many", "domains": domains}, max_bytes=MAX_ANSWER_BYTES * (1 + len(domains) // 32)
        )
        found = answer.get("answers") if isinstance(answer, dict) else None
        if not isinstance(found, list) or len(found) != len(domains):
            raise self._failed(alerts.ISC_BAD_RESPONSE, f"{self.url} answered query_many with something else")
        return [self._one_of_many(one) for one in found]

    def _one_of_many(self, one: Any) -> Any:
        if isinstance(one, dict) and set(one) == {"error"}:
            return CentralUnavailable(alerts.ISC_BAD_REQUEST, f"the server refused the name: {str(one['error'])[:200]}")
        try:
            return parse_query_answer(one, self._clock())
        except ProtocolError as err:
            return err

    async def _post(self, request: dict[str, Any], *, max_bytes: int = MAX_ANSWER_BYTES) -> Any:
        if self._clock() < self._paused_until:
            self.refused_fast += 1
            raise CentralUnavailable(alerts.ISC_BACKED_OFF, "the central server failed recently; retrying later")
        self.requests += 1
        try:
            # Never redirected: a 307 would re-post the query (and the key) to another origin, whose
            # answer would then be trusted. An answer is read up to MAX_ANSWER_BYTES and no further.
            async with self._http().post(
                self.url, data=orjson.dumps(request), headers=self._headers, allow_redirects=False
            ) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After", "")
                body = await _read_capped(resp, max_bytes)
        except TimeoutError:
            raise self._failed(alerts.ISC_TIMEOUT, f"no answer from {self.url} in time") from None
        except (aiohttp.ClientError, OSError) as err:
            raise self._failed(alerts.ISC_UNREACHABLE, f"{self.url}: {err}") from None
        if status == 401:
            raise self._failed(alerts.ISC_UNAUTHORIZED, "the central server refused the api_key")
        if status == 429:
            self.rate_limited += 1
            raise CentralRateLimited(_retry_after(retry_after))
        if status >= 500:
            raise self._failed(alerts.ISC_SERVER_ERROR, f"{self.url} answered HTTP {status}")
        if 300 <= status < 400:
            raise self._failed(alerts.ISC_BAD_RESPONSE, f"{self.url} answered a redirect (HTTP {status}): not followed")
        if body is None:
            raise self._failed(alerts.ISC_BAD_RESPONSE, f"{self.url} answered more than {max_bytes} bytes")
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise self._failed(alerts.ISC_BAD_RESPONSE, f"{self.url} answered HTTP {status} without JSON") from None
        if status != 200:
            error = answer.get("error") if isinstance(answer, dict) else None
            raise CentralUnavailable(alerts.ISC_BAD_REQUEST, f"HTTP {status}: {error or body[:200]!r}")
        self._failures = 0
        return answer

    def _failed(self, alert: str, detail: str) -> CentralUnavailable:
        """Count a failure and pause: 1 s after the first, doubling to a minute."""
        self.failed += 1
        self._failures += 1
        pause = min(_BACKOFF_FIRST * 2 ** (self._failures - 1), _BACKOFF_MAX)
        self._paused_until = self._clock() + pause
        log.warning("central server: %s (%s); next try in %.0f s", alert, detail, pause)
        return CentralUnavailable(alert, detail)

    def stats(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "failures": self.failed,
            "refused_while_backing_off": self.refused_fast,
            "rate_limited": self.rate_limited,
        }


def _retry_after(value: str) -> float:
    """A 429's ``Retry-After`` in seconds (1 s when it says nothing usable), at most the protocol's cap."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.1), MAX_RETRY_AFTER_SECONDS) if seconds == seconds else 1.0


def _older_server(err: Exception) -> bool:
    """A 400 to ``query_many``: the server does not know the command (its protocol is older)."""
    return isinstance(err, CentralUnavailable) and err.alert == alerts.ISC_BAD_REQUEST


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes | None:
    """The body; None when it is longer than ``max_bytes`` (read no further than that)."""
    if resp.content_length is not None and resp.content_length > max_bytes:
        return None
    body = bytearray()
    async for chunk in resp.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > max_bytes:
            return None
    return bytes(body)


class CentralUpstream:
    """The lookup service's upstream in ``mode: central``; ``fallback`` (RDAP) only while the server is unreachable.

    Queries wait in one line (:class:`ServerSchedule`, ``CENTRAL_CONCURRENCY`` at once, live lookups
    first). When the central server's own registry line is long it answers ``RDAP-QUEUED`` (``WHOIS-QUEUED``); the query
    then stays with us and asks again every ``QUEUED_RETRY_SECONDS`` until it has the answer.
    """

    name = "central"

    def __init__(self, client: CentralClient, fallback: Upstream | None = None) -> None:
        self.client = client
        self.fallback = fallback
        self.fallbacks = 0
        self.line = ServerSchedule(client.url, concurrency=CENTRAL_CONCURRENCY, rate=math.inf)
        self.coalescer = Coalescer(client, _older_server)

    def queued_alert(self, domain: str) -> str:
        return alerts.ISC_QUEUED

    async def resolve(self, domain: str, job: Job) -> Resolution:
        for _ in range(QUEUED_RETRIES):
            try:
                return await self._ask(domain, job)
            except UpstreamError as err:
                if alerts.RDAP_QUEUED not in err.alerts and alerts.WHOIS_QUEUED not in err.alerts:
                    raise
            job.set_in_line(True)  # in the central server's line: our askers need not wait for it
            try:
                await asyncio.sleep(QUEUED_RETRY_SECONDS)
            finally:
                job.set_in_line(False)
        raise UpstreamError((alerts.ISC_QUEUED,), 0, "the central server kept the query in its line")

    async def _ask(self, domain: str, job: Job) -> Resolution:
        for _ in range(MAX_429_ROUNDS):
            await self.line.acquire(job)
            try:
                answer = await self.coalescer.query(domain)
            except CentralRateLimited as limited:  # hold the line as for a registry's 429; ask again
                self.line.told_to_wait(limited.retry_after)
                continue
            except CentralUnavailable as err:
                unavailable = err
            except ProtocolError as err:
                raise UpstreamError((alerts.ISC_BAD_RESPONSE,), 0, str(err)) from None
            else:
                return _resolution(answer)
            finally:
                self.line.release(job)
            break
        else:
            raise UpstreamError((alerts.ISC_QUEUED,), 0, "the central server asked us to wait, again and again")
        if self.fallback is not None and unavailable.alert != alerts.ISC_BAD_REQUEST:
            self.fallbacks += 1
            return await self.fallback.resolve(domain, job)
        raise UpstreamError((unavailable.alert,), 0, unavailable.detail)

    def stats(self) -> dict[str, Any]:
        return {
            **self.client.stats(),
            **self.coalescer.stats(),
            "rdap_fallbacks": self.fallbacks,
            "line": self.line.stats(),
        }

    async def close(self) -> None:
        """Close the connection to the central server (the fallback's engine is its opener's to close)."""
        await self.client.close()


def _resolution(answer: Any) -> Resolution:
    """A query answer in the lookup service's terms (see ``docs/protocol.md`` for the caching rules)."""
    if isinstance(answer, QueryError):
        raise _cached_error(answer)
    once = tuple(a for a in answer.alerts if a == alerts.ISC_FIRST_CONTACT)
    others = tuple(a for a in answer.alerts if a not in (alerts.ISC_FIRST_CONTACT, alerts.YOUR_FIRST_CONTACT))
    registration = Registration(answer.created, answer.expires, ORIGIN_CENTRAL, answer.seen_by_isc)
    if others:
        return Resolution(registration, others, commit=False, cache_for=ALERT_CACHE_SECONDS, once=once)
    return Resolution(registration, once=once)


def _cached_error(answer: QueryError) -> UpstreamError:
    """The server's TTL: hours, 0 not cached, -1 no expiry (evictable), -2 permanent."""
    reasons = answer.alerts or (alerts.ISC_ERROR,)
    if answer.ttl == TTL_PERMANENT:
        return UpstreamError(reasons, math.inf, "central server: permanent", pinned=True)
    if answer.ttl == TTL_NO_EXPIRY:
        return UpstreamError(reasons, math.inf, "central server: no expiry")
    return UpstreamError(reasons, answer.ttl * 3600.0, f"central server: cache {answer.ttl} h")


class CentralMembership:
    """Membership of the community: ``config`` at start, ``status`` reports, stopping when denied."""

    def __init__(self, client: CentralClient, names: NameReducer) -> None:
        self.client = client
        self.names = names
        self.joined = False
        self.interval_minutes = 60.0

    async def join(self) -> ConfigAnswer | None:
        """Ask for ``config`` and apply it; None if the server cannot be reached (asked again later).

        Raises :class:`CentralRefused` when this software is older than the server requires.
        The database minimum is the caller's to meet (it owns the database).
        """
        try:
            config = await self.client.config()
        except (CentralUnavailable, ProtocolError) as err:
            log.warning(
                "central server: cannot get its configuration yet (%s); serving with the local prohibited list", err
            )
            return None
        if parse_software_version(__version__) < parse_software_version(config.min_software_version):
            raise CentralRefused(
                f"the central server requires domain-stats {config.min_software_version} or newer; "
                f"this is {__version__}. Upgrade domain-stats to keep using the community server."
            )
        self.names.add_prohibited(config.prohibited_tlds)
        self.joined = True
        return config

    async def report(self, report: StatusReport) -> StatusAnswer | None:
        """Send one ``status``; raises :class:`CentralRefused` when the server denies this client."""
        try:
            answer = await self.client.status(report)
        except (CentralUnavailable, ProtocolError) as err:
            log.warning("central server: status report failed (%s)", err)
            return None
        self.interval_minutes = answer.interval
        if answer.deny_client:
            raise CentralRefused(f"the central server denied this client: {answer.deny_client}")
        return answer
