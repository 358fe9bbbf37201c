"""Where facts for unknown domains come from: the lookup service sees one small interface.

``mode: rdap`` resolves through our own RDAP client; the central-server client (``mode:
isc``) implements the same :class:`Upstream` so the lookup rules do not care which is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from domain_stats.alerts import RDAP_QUEUED
from domain_stats.errors import DomainStatsError
from domain_stats.rdap import RdapClient, RdapError
from domain_stats.scheduler import Job
from domain_stats.storage import ORIGIN_RDAP, Registration

__all__ = ["RdapUpstream", "Resolution", "Upstream", "UpstreamError"]


@dataclass(frozen=True, slots=True)
class Resolution:
    """A good upstream answer. ``commit`` False: cache for ``cache_for`` seconds, do not store.

    ``alerts`` stay with the cached answer; ``once`` (``ISC-FIRST-CONTACT``) goes into exactly
    one answer, the one whose lookup asked upstream, and is never cached or stored.
    """

    registration: Registration
    alerts: tuple[str, ...] = ()
    commit: bool = True
    cache_for: float | None = None
    once: tuple[str, ...] = ()


class UpstreamError(DomainStatsError):
    """The upstream could not answer; ``alerts`` go into the ERROR answer.

    ``cache_for`` is seconds to cache the error: ``0`` not cached, ``math.inf`` without expiry
    (the LRU may still evict it); ``pinned`` never evicted either.
    """

    def __init__(self, alerts: tuple[str, ...], cache_for: float, detail: str = "", *, pinned: bool = False) -> None:
        super().__init__(detail or alerts[0])
        self.alerts = alerts
        self.cache_for = cache_for
        self.detail = detail
        self.pinned = pinned


class Upstream(Protocol):
    name: str
    #: The transient token of an answer given while the query still waits in this upstream's line.
    queued_alert: str

    async def resolve(self, domain: str, job: Job) -> Resolution:
        """``job``: the query's place in the upstream's line (priority, whether it is on the wire)."""
        ...

    def stats(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class RdapUpstream:
    name = "rdap"
    queued_alert = RDAP_QUEUED

    def __init__(self, client: RdapClient, error_ttl_seconds: float) -> None:
        self.client = client
        self._error_ttl = error_ttl_seconds

    async def resolve(self, domain: str, job: Job) -> Resolution:
        try:
            dates = await self.client.lookup(domain, job)
        except RdapError as err:
            raise UpstreamError((err.alert,), self._error_ttl, str(err)) from None
        return Resolution(Registration(dates.created, dates.expires, ORIGIN_RDAP))

    def stats(self) -> dict[str, Any]:
        s = self.client.stats
        return {
            "successes": s.successes,
            "failures": s.failures,
            "in_flight": s.in_flight,
            "servers": self.client.servers(),
        }

    async def close(self) -> None:
        await self.client.close()
