"""Async WHOIS client: one TCP query per lookup, one scheduled line per server, a hard budget.

WHOIS servers are smaller and stricter than RDAP servers: by default one query at a time and
one a second per server (``whois_server_limits`` raises them per server). Each query takes a
turn at the server's :class:`~domain_stats.registry.scheduler.ServerSchedule`, as RDAP does: waiting
is ours, never the server's fault; a connection that fails or an answer that does not finish
within ``timeout`` (a server that never answers, or trickles bytes forever) is the server's
failure and pauses it after three in a row; an answer over :data:`MAX_ANSWER_BYTES` is cut
off and refused. A "limit exceeded" answer holds the server's line for ``limit_pause``
seconds, like an RDAP 429, and the query waits its turn again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain_stats.registry.registration import Registration
from domain_stats.registry.scheduler import Job, ServerSchedule
from domain_stats.registry.whois.errors import (
    WhoisBackedOff,
    WhoisBadResponse,
    WhoisError,
    WhoisNoServer,
    WhoisRateLimited,
    WhoisTimeout,
    WhoisUnreachable,
)
from domain_stats.registry.whois.parse import parse_whois_answer
from domain_stats.registry.whois.rules import rule_for
from domain_stats.registry.whois.servers import WhoisServer, WhoisServers

__all__ = ["MAX_ANSWER_BYTES", "WhoisClient", "WhoisLimits"]

#: The longest answer read; real ones are under 20 kB.
MAX_ANSWER_BYTES = 1024 * 1024
#: Answers up to this size are read on the event loop (well under a millisecond); a larger one,
#: which only a broken or hostile server sends, in a thread.
PARSE_ON_LOOP_BYTES = 64 * 1024
#: A query answered "limit exceeded" this many times in a row gives up (WHOIS-RATE-LIMITED).
MAX_LIMIT_ROUNDS = 5
PAUSE_LIMIT_TEXT = "limit exceeded"


@dataclass(frozen=True, slots=True)
class WhoisLimits:
    """``timeout`` bounds one query from connecting to the end of the answer."""

    timeout: float = 10.0
    concurrency: int = 1
    rate: float = 1.0
    #: host -> (concurrency, rate) for servers that allow more (or less) than the default.
    per_server: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    failures_before_backoff: int = 3
    backoff_initial: float = 30.0
    backoff_max: float = 600.0
    limit_pause: float = 60.0


class WhoisClient:
    def __init__(
        self, servers: WhoisServers, limits: WhoisLimits = WhoisLimits(), *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.servers_map = servers
        self.limits = limits
        self._clock = clock
        self._lines: dict[WhoisServer, ServerSchedule] = {}
        self.successes = 0
        self.failures = 0
        self.in_flight = 0

    def server_for(self, domain: str) -> WhoisServer | None:
        return self.servers_map.server_for(domain)

    def servers(self) -> dict[str, dict[str, Any]]:
        """Each WHOIS server asked so far, as ``whois://host[:port]``: its line and counters."""
        return {f"whois://{server}": line.stats() for server, line in self._lines.items()}

    async def lookup(self, domain: str, job: Job) -> Registration:
        """Registration dates of ``domain`` from its registry's WHOIS server; raises a :class:`WhoisError`."""
        try:
            dates = await self._lookup(domain, job)
        except WhoisError:
            self.failures += 1
            raise
        self.successes += 1
        return dates

    async def _lookup(self, domain: str, job: Job) -> Registration:
        server = self.server_for(domain)
        if server is None:
            raise WhoisNoServer(f"no WHOIS server is known for {domain!r}")
        line = self._line(server)
        tld = domain.rsplit(".", 1)[-1]
        query = (rule_for(tld).query.format(domain=domain) + "\r\n").encode("ascii", "replace")
        limited = 0
        while True:
            if refused := line.refuses(job):
                raise WhoisBackedOff(f"{server} is paused for {refused:.0f}s after failures")
            await line.acquire(job)
            try:
                raw = await self._ask(server, line, query)
                try:
                    if len(raw) <= PARSE_ON_LOOP_BYTES:
                        return parse_whois_answer(raw, domain, tld)
                    return await asyncio.to_thread(parse_whois_answer, raw, domain, tld)
                except WhoisRateLimited:
                    line.told_to_wait(self.limits.limit_pause, PAUSE_LIMIT_TEXT)
                    limited += 1
                    if limited >= MAX_LIMIT_ROUNDS:
                        raise WhoisRateLimited(f"{server} refused {limited} times in a row: limit exceeded") from None
            finally:
                line.release(job)

    async def _ask(self, server: WhoisServer, line: ServerSchedule, query: bytes) -> bytes:
        """One query on its own connection, read to the end; health is recorded on ``line``."""
        self.in_flight += 1
        try:
            async with asyncio.timeout(self.limits.timeout):
                raw = await _exchange(server, query)
        except TimeoutError:
            line.failed("timeout")
            raise WhoisTimeout(f"{server} did not finish its answer within {self.limits.timeout:g}s") from None
        except OSError as err:
            line.failed("unreachable")
            raise WhoisUnreachable(f"{server}: {err.strerror or type(err).__name__}") from None
        finally:
            self.in_flight -= 1
        line.succeeded()
        return raw

    def _line(self, server: WhoisServer) -> ServerSchedule:
        line = self._lines.get(server)
        if line is None:
            limits = self.limits
            concurrency, rate = limits.per_server.get(server.host, (limits.concurrency, limits.rate))
            line = self._lines[server] = ServerSchedule(
                f"whois://{server}",
                concurrency=concurrency,
                rate=rate,
                failures_before_pause=limits.failures_before_backoff,
                pause_initial=limits.backoff_initial,
                pause_max=limits.backoff_max,
                clock=self._clock,
            )
        return line


async def _exchange(server: WhoisServer, query: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(query)
        await writer.drain()
        chunks: list[bytes] = []
        size = 0
        while chunk := await reader.read(65536):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise WhoisBadResponse(f"{server} sent more than {MAX_ANSWER_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
