"""The lookup service's work besides answering: the starter data, the update feed, queued names.

All of it runs in the background or before the service listens, and none of it records a
contact: resolving a queued name or applying a feed is not anyone asking about a domain.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import logging
from pathlib import Path
from typing import Iterator

from domain_stats.dates import parse_plain_date
from domain_stats.feed.source import FeedSource
from domain_stats.feed.update import UpdateReport, update_from_feed
from domain_stats.names import NameReducer
from domain_stats.storage import ADD_IF_ABSENT, ChangeRow, Storage, StorageError
from domain_stats.upstream import Upstream, UpstreamError

__all__ = ["STARTER_FILE", "STARTER_MARK", "ResolveQueue", "apply_feed", "load_starter_data"]

log = logging.getLogger(__name__)

STARTER_FILE = Path(__file__).with_name("data") / "starter-domains.txt.gz"
STARTER_MARK = "starter-data"


async def load_starter_data(storage: Storage, names: NameReducer, path: Path = STARTER_FILE) -> int | None:
    """Import the packaged starter set once per database; returns how many were added (None: done before).

    Rows are only added where the database knows nothing yet, and the database version stays
    where it is: the starter set is not a feed version.
    """
    if await storage.has_mark(STARTER_MARK):
        return None

    def changes() -> Iterator[ChangeRow]:
        with gzip.open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as lines:
            for line in lines:  # our own file: "+,domain,created,expires", checked when it was built
                _, domain, created, expires = line.rstrip("\n").split(",")
                if names.is_registered_domain(domain):  # not, e.g., under a suffix prohibited here
                    yield (domain, ADD_IF_ABSENT, int(parse_plain_date(created) or 0),
                           int(parse_plain_date(expires) or 0) if expires else None)

    counts = await storage.apply_changes(changes, mark=STARTER_MARK)
    log.info("imported %d starter domains into a new database", counts.added)
    return counts.added


async def apply_feed(storage: Storage, names: NameReducer, source: FeedSource, work_dir: Path) -> UpdateReport:
    """One update from the feed, logged; the caller decides what a failure means."""
    report = await update_from_feed(storage, names, source, work_dir)
    if report.applied:
        log.info(
            "update feed %s: applied %s; the database is at %s",
            source.location, ", ".join(name for name, _ in report.applied), report.version,
        )
    return report


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
