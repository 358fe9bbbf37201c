"""The lookup rules, in plain Python: the HTTP app, the CLI and the tests all drive this.

Order (``docs/architecture.md``): reduce the name -> memory cache -> local database -> upstream. The
organisation's first contact is written to the database before anything is answered, so
``YOUR-FIRST-CONTACT`` appears in exactly one answer per domain, ever; the memory cache only
ever holds encoded answers (without that alert) for domains whose contact is recorded.

No answer waits long on upstream: a lookup waits at most ``queue_wait`` seconds in the upstream
server's line, then is answered with the upstream's transient token (``RDAP-QUEUED``) while the
query goes on in the background; an expired record is answered from the store at once and
refreshed in the background (``RE-REGISTERED`` once when its creation date changed).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast, final

import orjson

from domain_stats.alerts import DATABASE_UNAVAILABLE, RE_REGISTERED
from domain_stats.lookup.answer import (
    NEW,
    PROHIBITED_BODY,
    AnswerFormatter,
    Facts,
    invalid_name_answer,
    with_first_contact,
)
from domain_stats.lookup.cache import MemoryCache
from domain_stats.lookup.counters import ServiceCounters, figures
from domain_stats.lookup.upstream import Resolution, Upstream, UpstreamError
from domain_stats.names import InvalidName, NameReducer
from domain_stats.registry.registration import Registration
from domain_stats.registry.scheduler import Job, Priority
from domain_stats.registry.singleflight import Queued, SingleFlight
from domain_stats.storage import Storage, StorageError

__all__ = ["LookupService"]

log = logging.getLogger(__name__)

_BATCH_SLICE = 32  # names reduced between two looks at the clock
_BATCH_SLICE_SECONDS = 0.005  # longest a batch holds the event loop before it lets others run
_MISS_SLICE = 128  # a batch's misses started between two turns of the loop
_MAX_OWED = 10_000  # one-off alerts kept for domains whose askers were answered "queued"
_RECENT_ONCE = 50  # one-off alerts the status page lists


@final
class Miss:
    """A name the memory cache could not answer: the registered domain to look up.

    A class of its own (final, tested with ``type(x) is Miss``) rather than a bare string, so the
    hot path tells it from an answer in one cheap check that the type checker follows too.
    """

    __slots__ = ("domain",)

    def __init__(self, domain: str) -> None:
        self.domain = domain


class LookupService:
    def __init__(
        self,
        *,
        names: NameReducer,
        storage: Storage,
        upstream: Upstream,
        cache: MemoryCache,
        formatter: AnswerFormatter,
        cache_max_seconds: float,
        retry_seconds: float = 3600.0,
        queue_wait_seconds: float = 1.0,
        queued_answer_seconds: float = 5.0,
        line_max: int = 20_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.names = names
        self.storage = storage
        self.upstream = upstream
        self.cache = cache
        self.formatter = formatter
        self.counters = ServiceCounters(started=clock())
        self._cache_max = cache_max_seconds
        self._retry = retry_seconds
        self._clock = clock
        self._queue_wait = queue_wait_seconds
        self._queued_for = queued_answer_seconds
        #: Most names waiting for upstream at once (a burst of millions would take gigabytes).
        self._line_max = line_max
        self._inflight: SingleFlight[str, Resolution] = SingleFlight()  # asked: this lookup asked upstream
        self._refreshing: SingleFlight[str, None] = SingleFlight()
        self._refresh_queued: set[str] = set()  # queued for refresh by this process (saves a write per ask)
        #: Domains the database says were re-registered (a hint, loaded by :meth:`load_re_registered`).
        self._re_registered: set[str] = set()
        #: One-off alerts (ISC-FIRST-CONTACT) found in the background after the askers were answered.
        self._owed_once: dict[str, tuple[str, ...]] = {}
        #: Set when a refresh is queued: wakes the background resolution (:mod:`.resolve_queue`).
        self.refresh_wanted = asyncio.Event()
        #: The latest one-off alerts given (``ISC-FIRST-CONTACT``, ``RE-REGISTERED``): when, domain, alert.
        self.recent_once: collections.deque[tuple[float, str, str]] = collections.deque(maxlen=_RECENT_ONCE)

    async def lookup(self, raw: str) -> tuple[int, bytes]:
        """HTTP status and JSON body of the answer for ``raw`` (any host name a log carries)."""
        answer = self.start_lookup(raw)
        return answer if isinstance(answer, tuple) else await answer

    def start_lookup(self, raw: str) -> tuple[int, bytes] | Coroutine[Any, Any, tuple[int, bytes]]:
        """:meth:`lookup`, but the answer itself when no I/O is needed (most lookups: the memory
        cache), so the HTTP server writes it without scheduling anything; else a coroutine to await."""
        now = self._clock()
        quick = self._answer_from_memory(raw, now)
        if type(quick) is Miss:
            return self._lookup_domain(quick.domain, now)
        return quick

    async def lookup_many(self, names: list[str]) -> list[tuple[int, bytes]]:
        """Answers in the order asked; what memory cannot answer is looked up concurrently.

        The first pass (names, memory cache) is CPU work on the event loop: it runs in slices and
        lets the loop run between them whenever it has held it for ``_BATCH_SLICE_SECONDS``, so a
        batch of long names that need IDNA does not hold up every other connection.
        """
        now = self._clock()
        answers: list[tuple[int, bytes] | Miss] = []
        started = time.perf_counter()
        for first in range(0, len(names), _BATCH_SLICE):
            answers.extend([self._answer_from_memory(raw, now) for raw in names[first : first + _BATCH_SLICE]])
            if time.perf_counter() - started > _BATCH_SLICE_SECONDS:
                await asyncio.sleep(0)
                started = time.perf_counter()
        misses = [(i, answer.domain) for i, answer in enumerate(answers) if type(answer) is Miss]
        # All under way together (a batch is at most MAX_BATCH_NAMES): each waits its own queue
        # wait at most, so the whole batch answers in about one queue wait plus one round trip.
        # They are started a slice at a time, the loop running between slices, so that other
        # requests are answered while 10,000 first steps run (once: /health held for a second).
        started_lookups: list[asyncio.Future[tuple[int, bytes]]] = []
        for first in range(0, len(misses), _MISS_SLICE):
            slice_ = misses[first : first + _MISS_SLICE]
            started_lookups.extend(asyncio.ensure_future(self._lookup_domain(domain, now)) for _, domain in slice_)
            await asyncio.sleep(0)
        found = await asyncio.gather(*started_lookups)
        for (i, _), answer in zip(misses, found, strict=True):
            answers[i] = answer
        return cast("list[tuple[int, bytes]]", answers)  # every Miss was replaced by its answer

    def _answer_from_memory(self, raw: str, now: float) -> tuple[int, bytes] | Miss:
        """The answer when no I/O is needed (invalid, prohibited, cached); else the domain to look up."""
        try:
            domain = self.names.reduce(raw).domain
        except InvalidName as err:
            self.counters.invalid += 1
            return 400, invalid_name_answer(str(err)).encode()
        if domain is None:
            self.counters.prohibited += 1
            return 200, PROHIBITED_BODY
        body = self.cache.get(domain, now)
        if body is not None:
            return 200, body
        return Miss(domain)

    async def _lookup_domain(self, domain: str, now: float) -> tuple[int, bytes]:
        started = time.perf_counter()
        try:
            return 200, await self._lookup_uncached(domain, now)
        except StorageError as err:
            log.error("lookup of %s failed: %s", domain, err)
            self.counters.error_answers += 1
            facts = Facts.failed(now, (DATABASE_UNAVAILABLE,))
            return 200, self.formatter.render(facts, now=now).encode()
        finally:
            self.counters.latency.observe(time.perf_counter() - started)

    async def _lookup_uncached(self, domain: str, now: float) -> bytes:
        registration, seen_by_you, first = await self.storage.visit(domain, now)
        if registration is not None:
            self.counters.database_hits += 1
            # One-off alerts are rare: the common hit pays two lookups in empty containers, no await.
            once = await self._take_once(domain) if domain in self._re_registered or self._owed_once else ()
            facts = Facts.known(registration, seen_by_you)
            if not registration.expired(now):
                return self._answer(domain, facts, now, first, self._good_until(now, registration.expires), once=once)
            # Expired: answer what is stored now, refresh in the background (the cached answer is
            # dropped when the refresh lands; if it fails, asked again after ``retry``).
            await self._queue_refresh(domain, now)
            return self._answer(domain, facts, now, first, now + self._retry, once=once)
        self.counters.database_misses += 1
        if len(self._inflight) >= self._line_max and domain not in self._inflight:
            # The line is full: answered as queued, not kept (the next lookup asks again).
            self.counters.line_overflows += 1
            self.counters.queued_answers += 1
            facts = Facts.failed(seen_by_you, (self.upstream.queued_alert(domain),))
            return self._answer(domain, facts, now, first, now + self._queued_for if self._queued_for > 0 else None)
        try:
            resolution, asked = await self._inflight.run(
                domain, lambda job: self._resolve_for(domain, job, seen_by_you), wait=self._queue_wait
            )
        except Queued:
            self.counters.queued_answers += 1
            facts = Facts.failed(seen_by_you, (self.upstream.queued_alert(domain),))
            return self._answer(domain, facts, now, first, now + self._queued_for if self._queued_for > 0 else None)
        except UpstreamError as err:
            self.counters.error_answers += 1
            facts = Facts.failed(seen_by_you, err.alerts)
            until = now + err.cache_for if err.cache_for > 0 else None
            return self._answer(domain, facts, now, first, until, pinned=err.pinned)
        self.counters.upstream_answers += 1
        facts = Facts.known(resolution.registration, seen_by_you, resolution.alerts)
        return self._answer(
            domain, facts, now, first, self._resolution_until(resolution, now), once=resolution.once if asked else ()
        )

    def _resolution_until(self, resolution: Resolution, now: float) -> float | None:
        if resolution.commit:
            return self._good_until(now, resolution.registration.expires)
        return now + resolution.cache_for if resolution.cache_for else None

    async def _take_once(self, domain: str) -> tuple[str, ...]:
        """One-off alerts owed to the next answer for ``domain``: RE-REGISTERED, a late ISC-FIRST-CONTACT."""
        once = self._owed_once.pop(domain, ())
        if domain in self._re_registered:
            self._re_registered.discard(domain)
            if await self.storage.take_re_registered(domain):
                self.counters.re_registered += 1
                once = (RE_REGISTERED, *once)
        return once

    async def load_re_registered(self) -> None:
        """Learn which domains owe RE-REGISTERED (at start, and after another process's refreshes)."""
        self._re_registered.update(await self.storage.re_registered_domains())

    def _good_until(self, now: float, expires: float | None) -> float:
        """Cache a good answer until the registration expires (at most ``cache_max``). A registration
        that upstream itself reports as expired (a lapsed domain) is asked again after ``retry``."""
        if expires is not None and expires <= now:
            return now + self._retry
        until = now + self._cache_max
        return until if expires is None else min(until, expires)

    def _answer(
        self,
        domain: str,
        facts: Facts,
        now: float,
        first: bool,
        cache_until: float | None,
        *,
        pinned: bool = False,
        once: tuple[str, ...] = (),
    ) -> bytes:
        """Encode the answer; cache the plain form (no first-contact alerts) until ``cache_until``.

        ``cache_until`` None: not cached; ``math.inf``: no expiry. ``once`` alerts go first into
        this answer only.
        """
        body, new = self._cache(domain, facts, now, cache_until, pinned=pinned)
        if once:
            body = self.formatter.render(facts._replace(alerts=once + facts.alerts), now=now).encode()
            self.recent_once.extend((now, domain, alert) for alert in once)
        if new:
            self.counters.new_answers += 1
        if first:
            self.counters.first_contacts += 1
            return with_first_contact(body)
        return body

    def _cache(
        self, domain: str, facts: Facts, now: float, cache_until: float | None, *, pinned: bool
    ) -> tuple[bytes, bool]:
        """The plain answer, encoded and cached until ``cache_until`` (None: not cached), and whether
        its category is NEW (worked out once: the cache entry and the counters both need it)."""
        body = self.formatter.render(facts, now=now).encode()
        new = facts.created is not None and self.formatter.category(facts.created, now) == NEW
        if cache_until is not None:
            stable = self.formatter.stable_until(facts, now)
            until = cache_until if stable is None else min(cache_until, stable)
            expires = None if until == math.inf else until
            self.cache.set(domain, body, expires, pinned=pinned, new=new)
        return body, new

    async def _resolve_for(self, domain: str, job: Job, seen_by_you: float | None) -> Resolution:
        """The query a flight runs. When its askers were answered "queued" (``job.gave_up``), what it
        finds goes where the next ask looks: stored, or the memory cache (errors, answers with alerts)."""
        try:
            resolution = await self._resolve_and_store(domain, job)
        except UpstreamError as err:
            if job.gave_up:
                self.cache.discard(domain)
                if seen_by_you is not None and err.cache_for > 0:
                    now = self._clock()
                    facts = Facts.failed(seen_by_you, err.alerts)
                    self._cache(domain, facts, now, now + err.cache_for, pinned=err.pinned)
            raise
        if job.gave_up:
            self.cache.discard(domain)
            if resolution.once:
                if len(self._owed_once) >= _MAX_OWED:
                    del self._owed_once[next(iter(self._owed_once))]
                self._owed_once[domain] = resolution.once
            if not resolution.commit and seen_by_you is not None:
                now = self._clock()
                facts = Facts.known(resolution.registration, seen_by_you, resolution.alerts)
                self._cache(domain, facts, now, self._resolution_until(resolution, now), pinned=False)
        return resolution

    async def _resolve_and_store(self, domain: str, job: Job) -> Resolution:
        # A lookup that read the database just before another one's answer was stored (and left
        # the single flight), or another instance's, would otherwise ask upstream a second time.
        stored = (await self.storage.get(domain)).registration
        if stored is not None and not stored.expired(self._clock()):
            return Resolution(stored)
        resolution = await self.upstream.resolve(domain, job)
        if resolution.commit:
            try:
                await self.storage.save_registration(domain, resolution.registration)
            except StorageError as err:
                # The answer is still good (and cached); the next miss asks upstream again.
                log.warning("could not store the registration of %s: %s", domain, err)
        return resolution

    async def resolve_queued(self, domain: str) -> bool:
        """Resolve a name imported as a plain list (last in line; records no contact).

        False when upstream could not answer (the reason is logged).
        """
        if (await self.storage.get(domain)).registration is not None:
            return True
        task = self._inflight.submit(domain, lambda job: self._resolve_for(domain, job, None), Priority.IMPORT)
        try:
            await asyncio.shield(task)
        except UpstreamError as err:
            log.info("background resolution of %s failed: %s", domain, ", ".join(err.alerts))
            return False
        return True

    async def _queue_refresh(self, domain: str, now: float) -> None:
        if domain in self._refresh_queued:
            return
        if len(self._refresh_queued) >= _MAX_OWED:
            self._refresh_queued.clear()  # only saves writes; the queue itself is in the database
        self._refresh_queued.add(domain)
        try:
            await self.storage.queue_refresh(domain, now)
        except StorageError as err:
            self._refresh_queued.discard(domain)
            log.warning("could not queue the refresh of %s: %s", domain, err)
        self.refresh_wanted.set()

    async def refresh(self, domain: str) -> None:
        """Refresh an expired record (third in line): store what upstream says now, RE-REGISTERED if
        its creation date changed, and take it off the refresh queue whatever happens."""
        await asyncio.shield(self._refreshing.submit(domain, lambda job: self._refresh(domain, job), Priority.REFRESH))

    async def _refresh(self, domain: str, job: Job) -> None:
        # Taken off the queue only when done: a refresh cut short by a stop is done after the next start.
        stored = (await self.storage.get(domain)).registration
        if stored is not None and stored.expired(self._clock()):
            await self._refresh_stored(domain, stored, job)
        self._refresh_queued.discard(domain)
        await self.storage.unqueue_refresh(domain)

    async def _refresh_stored(self, domain: str, stored: Registration, job: Job) -> None:
        try:
            resolution = await self.upstream.resolve(domain, job)
        except UpstreamError as err:
            self.counters.refresh_failures += 1
            log.info("refresh of expired %s failed (%s); its stored facts stand", domain, err.alerts[0])
            return
        if not resolution.commit:
            return
        fresh = resolution.registration
        changed = int(fresh.created) != int(stored.created)
        await self.storage.save_registration(domain, fresh, re_registered=changed)
        if changed:
            log.info("%s was registered again (created %d, was %d)", domain, fresh.created, stored.created)
            self._re_registered.add(domain)
        self.counters.refreshed += 1
        self.cache.discard(domain)

    async def settle(self) -> None:
        """Until the background queries under way (answered "queued", refreshes) have landed."""
        while len(self._inflight) or len(self._refreshing):
            await self._inflight.settle()
            await self._refreshing.settle()

    async def close(self) -> None:
        """Cancel upstream queries still running (queued ones are asked again after a restart: refreshes
        from their durable queue, lookups when asked again). The upstream is its opener's to close."""
        await self._inflight.cancel_all()
        await self._refreshing.cancel_all()

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
            "background": {
                "queued_answers": self.counters.queued_answers,
                "resolving": len(self._inflight),
                "line_max": self._line_max,
                "line_overflows": self.counters.line_overflows,
                "refreshing": len(self._refreshing),
                "refreshed": self.counters.refreshed,
                "refresh_failures": self.counters.refresh_failures,
                "re_registered": self.counters.re_registered,
            },
            self.upstream.name: self.upstream.stats(),
            "uptime_seconds": round(self._clock() - self.counters.started, 3),
        }

    def metrics(self) -> dict[str, Any]:
        """This process's figures for ``/metrics`` and ``/ui`` (:mod:`domain_stats.lookup.counters`)."""
        return figures(self.counters, self.cache, len(self._inflight))

    def cached_answers(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """A page of what the memory cache holds, as answers (no first-contact alerts)."""
        entries = itertools.islice(self.cache.entries(self._clock()), offset, offset + limit)
        return [
            {"domain": domain, "cached_until": expires_at, **orjson.loads(body)}
            for domain, body, expires_at, _pinned in entries
        ]
