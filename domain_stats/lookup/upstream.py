"""Where facts for unknown domains come from: the lookup service sees one small interface.

``mode: rdap`` resolves through our own registry engine (RDAP, or WHOIS where a TLD has no
RDAP server); the central-server client (``mode: isc``) implements the same :class:`Upstream`
so the lookup rules do not care which is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from domain_stats.errors import DomainStatsError
from domain_stats.registry.engine import Registries
from domain_stats.registry.registration import Registration, RegistryError
from domain_stats.registry.scheduler import Job

__all__ = ["RegistryUpstream", "Resolution", "Upstream", "UpstreamError"]


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

    def queued_alert(self, domain: str) -> str:
        """The transient token of an answer given while ``domain``'s query still waits in line."""
        ...

    async def resolve(self, domain: str, job: Job) -> Resolution:
        """``job``: the query's place in the upstream's line (priority, whether it is on the wire)."""
        ...

    def stats(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class RegistryUpstream:
    name = "registries"

    def __init__(self, registries: Registries, error_ttl_seconds: float) -> None:
        self.registries = registries
        self._error_ttl = error_ttl_seconds

    def queued_alert(self, domain: str) -> str:
        return self.registries.queued_alert(domain)

    async def resolve(self, domain: str, job: Job) -> Resolution:
        try:
            return Resolution(await self.registries.lookup(domain, job))
        except RegistryError as err:
            raise UpstreamError((err.alert,), self._error_ttl, str(err)) from None

    def stats(self) -> dict[str, Any]:
        return self.registries.stats()

    async def close(self) -> None:
        await self.registries.close()
