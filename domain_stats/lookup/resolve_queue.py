"""Background resolution, in the primary worker: refreshes of expired records, then imported names.

Both queues are in the database, so they survive a restart. Refreshes go first (third in an
upstream server's line, after live lookups and queued answers); names imported as a plain list
go last, at ``import_resolve_rate``. Resolving a queued name is not anyone asking about the
domain: it records no contact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from domain_stats.lookup.service import LookupService
from domain_stats.storage import StorageError

__all__ = ["ResolveQueue"]

log = logging.getLogger(__name__)

#: How often an idle worker looks for refreshes queued by other workers.
IDLE_SECONDS = 5.0


class ResolveQueue:
    """Works through the refresh queue and the import queue of ``service``'s database."""

    def __init__(self, service: LookupService, rate: float) -> None:
        self.service = service
        self.storage = service.storage
        self.rate = rate
        self.waiting = 0
        self.refresh_waiting = 0
        self.resolved = 0
        self.failed = 0
        self._draining = asyncio.Lock()  # one drain at a time, or two would resolve the same names

    def stats(self) -> dict[str, int]:
        return {
            "waiting": self.waiting,
            "refresh_waiting": self.refresh_waiting,
            "resolved": self.resolved,
            "failed": self.failed,
        }

    async def run(self, idle_seconds: float = IDLE_SECONDS) -> None:
        """Forever: drain what is queued; when nothing is, wait for a refresh to be queued (or ``idle_seconds``)."""
        wanted = self.service.refresh_wanted
        while True:
            try:
                busy = await self.drain_once()
            except StorageError as err:
                log.warning("background resolution paused: %s", err)
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wanted.wait(), idle_seconds)

    async def drain_once(self, batch: int = 100) -> bool:
        """Refresh up to ``batch`` expired records, or else resolve up to ``batch`` imported names at the
        configured rate; False when nothing was queued."""
        async with self._draining:
            self.service.refresh_wanted.clear()
            refreshes = await self.storage.queued_refreshes(batch)
            self.refresh_waiting = await self.storage.refresh_queue_length()
            if refreshes:
                # All at once: the upstream server's line orders them behind live lookups, at its rate.
                await asyncio.gather(*(self.service.refresh(domain) for domain in refreshes))
                self.refresh_waiting = max(0, self.refresh_waiting - len(refreshes))
                return True
            return await self._resolve_imported(batch)

    async def _resolve_imported(self, batch: int) -> bool:
        names = await self.storage.queued_for_resolution(batch)
        self.waiting = await self.storage.queue_length()
        for domain in names:
            if await self.service.resolve_queued(domain):
                self.resolved += 1
            else:
                self.failed += 1
            await self.storage.unqueue(domain)
            self.waiting = max(0, self.waiting - 1)
            await asyncio.sleep(1.0 / self.rate)
        return bool(names)
