"""The lookup rules, in plain Python: the HTTP app, the CLI and the tests all drive this.

Order (DESIGN.md): reduce the name -> memory cache -> local database -> upstream. The
organisation's first contact is written to the database before anything is answered, so
``YOUR-FIRST-CONTACT`` appears in exactly one answer per domain, ever; the cache only
ever holds facts whose contact is already recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from domain_stats.answer import (
    Answer,
    AnswerFormatter,
    Facts,
    invalid_name_answer,
    prohibited_answer,
)
from domain_stats.cache import MemoryCache
from domain_stats.names import InvalidName, NameReducer
from domain_stats.storage import Registration, Storage, StorageError
from domain_stats.upstream import Resolution, Upstream, UpstreamError

__all__ = ["LookupService", "ServiceCounters", "DATABASE_UNAVAILABLE"]

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "DATABASE-UNAVAILABLE"


@dataclass(slots=True)
class ServiceCounters:
    database_hits: int = 0
    database_misses: int = 0
    started: float = field(default_factory=time.time)


class LookupService:
    def __init__(
        self,
        *,
        names: NameReducer,
        storage: Storage,
        upstream: Upstream,
        cache: MemoryCache[Facts],
        formatter: AnswerFormatter,
        cache_max_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.names = names
        self.storage = storage
        self.upstream = upstream
        self.cache = cache
        self.formatter = formatter
        self.counters = ServiceCounters(started=clock())
        self._cache_max = cache_max_seconds
        self._clock = clock
        self._inflight: dict[str, asyncio.Task[Resolution]] = {}

    async def lookup(self, raw: str) -> Answer:
        try:
            name = self.names.reduce(raw)
        except InvalidName as err:
            return invalid_name_answer(str(err))
        if name.domain is None:
            return prohibited_answer()
        domain = name.domain
        now = self._clock()
        cached = self.cache.get(domain, now)
        if cached is not None:
            return self.formatter.render(cached, now=now)
        try:
            return await self._lookup_uncached(domain, now)
        except StorageError as err:
            log.error("lookup of %s failed: %s", domain, err)
            return self.formatter.render(
                Facts(None, None, "", None, now, (DATABASE_UNAVAILABLE,)), now=now
            )

    async def _lookup_uncached(self, domain: str, now: float) -> Answer:
        stored = await self.storage.get(domain)
        first = False
        seen_by_you = stored.seen_by_you
        if seen_by_you is None:
            seen_by_you, first = await self.storage.record_contact(domain, now)
        registration = stored.registration
        if registration is not None:
            self.counters.database_hits += 1
        else:
            self.counters.database_misses += 1
        if registration is not None and not registration.expired(now):
            facts = _facts(registration, seen_by_you)
            self._remember(domain, facts, now, registration.expires)
            return self.formatter.render(facts, now=now, first_contact=first)
        try:
            resolution = await self._resolve_once(domain)
        except UpstreamError as err:
            if registration is not None:
                # Stale beats ERROR: serve what we had, try the refresh again later.
                log.info("refresh of expired %s failed (%s); serving stored facts", domain, err.alert)
                facts = _facts(registration, seen_by_you)
            else:
                facts = Facts(None, None, "", None, seen_by_you, (err.alert,))
            if err.cache_for > 0:
                self.cache.set(domain, facts, now + err.cache_for)
            return self.formatter.render(facts, now=now, first_contact=first)
        facts = _facts(resolution.registration, seen_by_you, resolution.alerts)
        if resolution.commit:
            self._remember(domain, facts, now, resolution.registration.expires)
        elif resolution.cache_for:
            self.cache.set(domain, facts, now + resolution.cache_for)
        return self.formatter.render(facts, now=now, first_contact=first)

    def _remember(self, domain: str, facts: Facts, now: float, expires: float | None) -> None:
        until = now + self._cache_max
        if expires is not None:
            until = min(until, expires)
        self.cache.set(domain, facts, until)

    async def _resolve_once(self, domain: str) -> Resolution:
        """One upstream query per domain at a time; later askers share the first one's result."""
        task = self._inflight.get(domain)
        if task is None:
            task = asyncio.ensure_future(self._resolve_and_store(domain))
            self._inflight[domain] = task
            task.add_done_callback(lambda _t: self._inflight.pop(domain, None))
        return await asyncio.shield(task)

    async def _resolve_and_store(self, domain: str) -> Resolution:
        resolution = await self.upstream.resolve(domain)
        if resolution.commit:
            await self.storage.save_registration(domain, resolution.registration)
        return resolution

    async def close(self) -> None:
        """Cancel upstream queries nobody waits for any more (their askers went away)."""
        pending = list(self._inflight.values())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.upstream.close()

    def stats(self) -> dict[str, Any]:
        return {
            "cache": {
                "hits": self.cache.hits,
                "misses": self.cache.misses,
                "expired": self.cache.expired,
                "size": len(self.cache),
                "max_items": self.cache.max_items,
            },
            "database": {"hits": self.counters.database_hits, "misses": self.counters.database_misses},
            self.upstream.name: self.upstream.stats(),
            "uptime_seconds": round(self._clock() - self.counters.started, 3),
        }

    def cached_answers(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """A page of what the memory cache holds, as answers (no first-contact alerts)."""
        now = self._clock()
        page = []
        for i, (domain, facts, expires_at, _pinned) in enumerate(self.cache.entries(now)):
            if i < offset:
                continue
            if len(page) >= limit:
                break
            page.append({"domain": domain, "cached_until": expires_at, **self.formatter.render(facts, now=now).as_dict()})
        return page


def _facts(registration: Registration, seen_by_you: float, alerts: tuple[str, ...] = ()) -> Facts:
    return Facts(
        registration.created,
        registration.expires,
        registration.origin,
        registration.seen_by_isc,
        seen_by_you,
        alerts,
    )
