"""Names imported as a plain list, resolved in the background at a polite rate.

Resolving a queued name is not anyone asking about the domain: it records no contact.
"""

from __future__ import annotations

import asyncio
import logging

from domain_stats.lookup.upstream import Upstream, UpstreamError
from domain_stats.storage import Storage, StorageError

__all__ = ["ResolveQueue"]

log = logging.getLogger(__name__)


class ResolveQueue:
    """Resolves names imported as a plain list, ``rate`` a second, through the service's upstream."""

    def __init__(self, storage: Storage, upstream: Upstream, rate: float) -> None:
        self.storage = storage
        self.upstream = upstream
        self.rate = rate
        self.waiting = 0
        self.resolved = 0
        self.failed = 0
        self._draining = asyncio.Lock()  # one drain at a time, or two would resolve the same names

    def stats(self) -> dict[str, int]:
        return {"waiting": self.waiting, "resolved": self.resolved, "failed": self.failed}

    async def run(self, idle_seconds: float = 30.0) -> None:
        """Forever: take what is queued, resolve it politely, look again after ``idle_seconds`` when empty."""
        while True:
            try:
                busy = await self.drain_once()
            except StorageError as err:
                log.warning("background resolution paused: %s", err)
                busy = False
            if not busy:
                await asyncio.sleep(idle_seconds)

    async def drain_once(self, batch: int = 100) -> bool:
        """Resolve up to ``batch`` queued names at the configured rate; False when nothing was queued."""
        async with self._draining:
            return await self._drain(batch)

    async def _drain(self, batch: int) -> bool:
        names = await self.storage.queued_for_resolution(batch)
        self.waiting = await self.storage.queue_length()
        for domain in names:
            if (await self.storage.get(domain)).registration is None:
                await self._resolve(domain)
                await asyncio.sleep(1.0 / self.rate)
            await self.storage.unqueue(domain)
            self.waiting = max(0, self.waiting - 1)
        return bool(names)

    async def _resolve(self, domain: str) -> None:
        try:
            resolution = await self.upstream.resolve(domain)
        except UpstreamError as err:
            self.failed += 1
            log.info("background resolution of %s failed: %s", domain, ", ".join(err.alerts))
            return
        if resolution.commit:
            await self.storage.save_registration(domain, resolution.registration)
        self.resolved += 1
