"""The registry engine: RDAP where the IANA bootstrap names a server, WHOIS elsewhere.

The lookup service (``mode: rdap``) and the central server both ask :class:`Registries`; it
picks the protocol per TLD, so every answer rule (single flight, queued answers, error TTLs)
is the same whichever protocol answered. ``whois_when_rdap_fails`` also sends a TLD to WHOIS
while its RDAP server is paused or failing, where the WHOIS map names a server for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain_stats.alerts import RDAP_QUEUED, WHOIS_QUEUED
from domain_stats.registry.rdap.client import RdapClient
from domain_stats.registry.rdap.errors import RdapBackedOff, RdapBadResponse, RdapError
from domain_stats.registry.rdap.setup import open_rdap_client
from domain_stats.registry.registration import Registration, RegistryError, implausible_creation, plausible_expiry
from domain_stats.registry.scheduler import Job
from domain_stats.registry.settings import RegistrySettings
from domain_stats.registry.whois.client import WhoisClient, WhoisLimits
from domain_stats.registry.whois.errors import WhoisBadResponse
from domain_stats.registry.whois.servers import WhoisServers

__all__ = ["Registries", "open_registries"]


class Registries:
    def __init__(
        self,
        rdap: RdapClient,
        whois: WhoisClient,
        *,
        whois_when_rdap_fails: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rdap = rdap
        self.whois = whois
        self._whois_when_rdap_fails = whois_when_rdap_fails
        #: Wall-clock UTC seconds: a creation date after tomorrow is no registry's record.
        self._clock = clock

    def uses_rdap(self, domain: str) -> bool:
        return self.rdap.bootstrap.server_for(domain) is not None

    def queued_alert(self, domain: str) -> str:
        """The transient token of an answer given while ``domain``'s query waits in line."""
        return RDAP_QUEUED if self.uses_rdap(domain) else WHOIS_QUEUED

    async def lookup(self, domain: str, job: Job) -> Registration:
        """The registration of ``domain``; raises a :class:`~domain_stats.registry.registration.RegistryError`
        (``*-BAD-RESPONSE`` for a creation date no registry can hold: before 1985, after tomorrow)."""
        if self.uses_rdap(domain):
            try:
                return _plausible(await self.rdap.lookup(domain, job), RdapBadResponse, self._clock())
            except RdapError as err:
                failing = err.server_fault or isinstance(err, RdapBackedOff)
                if not (failing and self._whois_when_rdap_fails and self.whois.server_for(domain) is not None):
                    raise
        # WhoisNoServer (NO-SERVER) when it has none either
        return _plausible(await self.whois.lookup(domain, job), WhoisBadResponse, self._clock())

    def servers(self) -> dict[str, dict[str, Any]]:
        """Every registry server asked so far (RDAP base URLs, ``whois://host``): line and counters."""
        return {**self.rdap.servers(), **self.whois.servers()}

    def stats(self) -> dict[str, Any]:
        rdap = self.rdap.stats
        return {
            "successes": rdap.successes + self.whois.successes,
            "failures": rdap.failures + self.whois.failures,
            "in_flight": rdap.in_flight + self.whois.in_flight,
            "servers": self.servers(),
        }

    async def close(self) -> None:
        await self.rdap.close()


def _plausible(found: Registration, bad: type[RegistryError], now: float) -> Registration:
    problem = implausible_creation(found.created, now)
    if problem is not None:
        raise bad(problem)
    return found._replace(expires=plausible_expiry(found.created, found.expires))


async def open_registries(
    settings: RegistrySettings, data_dir: Path, *, share: int = 1, clock: Callable[[], float] = time.time
) -> Registries:
    """Both engines as the settings describe them; ``share`` processes split each server's limits."""
    rdap = await open_rdap_client(settings, data_dir, share=share)
    servers = WhoisServers.configured(settings.whois_servers, packaged=settings.whois_packaged_map)
    limits = WhoisLimits(
        timeout=settings.whois_timeout_seconds,
        concurrency=max(1, settings.whois_server_concurrency // share),
        rate=settings.whois_server_rate / share,
        per_server={
            host.lower(): (max(1, limit.concurrency // share), limit.rate / share)
            for host, limit in settings.whois_server_limits.items()
        },
        limit_pause=settings.whois_limit_pause_seconds,
    )
    whois = WhoisClient(servers, limits)
    return Registries(rdap, whois, whois_when_rdap_fails=settings.whois_when_rdap_fails, clock=clock)
