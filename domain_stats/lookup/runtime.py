"""Builds a running lookup service from a data directory, and takes it down in order.

Start-up never waits on RDAP: the bootstrap comes from disk (the configured file, the cached
copy or the packaged snapshot) and the IANA refresh runs in the background. In ``mode: central``
it asks the central server for its configuration once (bounded by ``server_timeout_seconds``;
an unreachable server does not stop the start, it is asked again with the status reports).
Shutdown saves the memory cache, then closes the database and the HTTP pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain_stats import __version__
from domain_stats.central_protocol import CentralRefused, StatusReport
from domain_stats.feed import FeedError, UpdateReport
from domain_stats.lookup.answer import AnswerFormatter
from domain_stats.lookup.app import LookupApp
from domain_stats.lookup.cache import MemoryCache, load_cache, save_cache
from domain_stats.lookup.central_client import CentralClient, CentralMembership, CentralUpstream
from domain_stats.lookup.config import Settings
from domain_stats.lookup.metrics import (
    SNAPSHOT_SECONDS,
    Activity,
    SnapshotWriter,
    exposition,
    metrics_dir,
    read_snapshots,
)
from domain_stats.lookup.resolve_queue import ResolveQueue
from domain_stats.lookup.service import LookupService
from domain_stats.lookup.starter import load_starter_data
from domain_stats.lookup.ui import CONTACTS_LIMIT, contacts_page, overview_page
from domain_stats.lookup.updates import apply_feed, client_feed, meet_minimum_database
from domain_stats.lookup.upstream import RegistryUpstream, Upstream
from domain_stats.names import NameReducer
from domain_stats.registry.engine import Registries, open_registries
from domain_stats.registry.rdap.setup import keep_bootstrap_fresh
from domain_stats.storage import Storage, StorageError, open_storage

__all__ = ["Runtime"]

log = logging.getLogger(__name__)

#: How often each worker looks for a new database version (a feed update made by another process).
DATABASE_CHECK_SECONDS = 60.0


class Runtime:
    """Everything one service process owns."""

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        service: LookupService,
        registries: Registries,
        clock: Callable[[], float],
        cache_file: Path,
        worker: dict[str, int],
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.cache_file = cache_file
        self.data_dir = Path(data_dir)
        self.service = service
        self.registries = registries
        self.membership: CentralMembership | None = None
        self.resolver = ResolveQueue(service, settings.import_resolve_rate)
        #: Set after each background round of feed updates (whatever its outcome).
        self.feed_checked = asyncio.Event()
        self._database_version = "1.0"
        #: Called with the central server's message when it stops this service (deny, too old).
        self.on_refused: Callable[[str], None] = lambda message: None
        self._background: list[asyncio.Task[None]] = []
        #: What :meth:`close` closes last, in the reverse order it was opened (storage last of all).
        self._resources = contextlib.AsyncExitStack()
        #: Which worker of the service this is (``slot``, ``of``, ``pid``): every figure in ``/stats``
        #: is this worker's own.
        self.worker = worker
        #: Lookups a minute, for the status page's charts.
        self.activity = Activity()

    @classmethod
    async def start(
        cls,
        settings: Settings,
        data_dir: Path,
        *,
        refresh_bootstrap: bool = True,
        clock: Callable[[], float] = time.time,
        worker: int | None = None,
        workers: int = 1,
        reload_cache: bool = True,
        primary: bool = True,
    ) -> Runtime:
        """Open the database, pick the bootstrap, reload the cache. ``clock`` is wall-clock UTC seconds.

        ``worker`` (one of several processes on one port) gives this process its own saved cache file;
        ``workers`` processes share the per-RDAP-server limits, each taking an equal part.
        A new database gets the starter data. In ``mode: central`` it asks the central server for its
        ``config`` (raising :class:`CentralRefused` if this software is too old) and updates the
        database from the feed first if the server requires a newer one. The ``primary`` process
        (one per service) does the background duties: status reports, feed updates, queued names.
        Whatever fails along the way, what was opened before it is closed again.
        """
        data_dir = Path(data_dir)
        async with contextlib.AsyncExitStack() as opened:
            storage = await open_storage(settings.database_location(data_dir))
            opened.push_async_callback(storage.close)
            names = NameReducer(settings.prohibited_tlds, only_icann=not settings.psl_private)
            if settings.starter_data:
                await load_starter_data(storage, names)
            registries = await open_registries(settings, data_dir, share=workers, clock=clock)
            opened.push_async_callback(registries.close)
            formatter = AnswerFormatter(
                established_days_age=settings.established_days_age, timezone_offset=settings.timezone_offset
            )
            cache_file = _cache_file(settings, data_dir, worker)
            cache = await _reloaded_cache(settings, cache_file, clock(), formatter) if reload_cache else None
            upstream, membership = await _open_upstream(settings, data_dir, storage, names, registries, clock, opened)
            service = LookupService(
                names=names,
                storage=storage,
                upstream=upstream,
                cache=cache or MemoryCache(settings.cached_max_items),
                formatter=formatter,
                cache_max_seconds=settings.cache_max_hours * 3600,
                retry_seconds=settings.registry_error_ttl_hours * 3600,
                queue_wait_seconds=settings.upstream_queue_wait_seconds,
                queued_answer_seconds=settings.queued_answer_seconds,
                line_max=settings.upstream_line_max,
                clock=clock,
            )
            worker_figures = {"slot": worker or 0, "of": workers, "pid": os.getpid()}
            runtime = cls(settings, data_dir, service, registries, clock, cache_file, worker_figures)
            runtime.membership = membership
            await service.load_re_registered()
            runtime._database_version = await storage.database_version()
            runtime._resources = opened.pop_all()
        runtime._start_background(refresh_bootstrap=refresh_bootstrap, primary=primary)
        return runtime

    def _start_background(self, *, refresh_bootstrap: bool, primary: bool) -> None:
        """Every worker follows the database and samples its figures; the ``primary`` one also reports to
        the central server, applies the update feed and resolves queued names."""
        settings, background = self.settings, self._background
        background.append(asyncio.create_task(self._follow_database()))
        background.append(asyncio.create_task(self._keep_figures()))
        if refresh_bootstrap:
            background.append(asyncio.create_task(keep_bootstrap_fresh(self.registries.rdap, settings, self.data_dir)))
        if primary:
            if self.membership is not None:
                background.append(asyncio.create_task(self._keep_reporting()))
            if settings.update_interval_hours > 0 and (settings.target_updates or settings.mode == "central"):
                background.append(asyncio.create_task(self._keep_updating()))
            background.append(asyncio.create_task(self.resolver.run()))

    def stats(self) -> dict[str, Any]:
        """``/stats``: the lookup service's counters, the database version, background resolution."""
        return {
            **self.service.stats(),
            "database_version": self._database_version,
            "resolve_queue": self.resolver.stats(),
            "worker": self.worker,
        }

    async def update_database(self, source: str | None = None) -> UpdateReport:
        """Apply the update feed now (``source`` or the configured one); raises FeedError."""
        feed = client_feed(self.settings, self.data_dir, source)
        if feed is None:
            raise FeedError("no update feed: set target_updates (or use mode central), or name one with --from")
        try:
            report = await apply_feed(self.service.storage, self.service.names, feed, self.data_dir)
        finally:
            await feed.close()
        self._adopt_database_version(report.version)
        return report

    async def check_database_version(self) -> None:
        """Notice a feed update another process made (the primary worker, ``db update`` by hand)."""
        self._adopt_database_version(await self.service.storage.database_version())

    def _adopt_database_version(self, version: str) -> None:
        """A new database version empties the memory cache: its answers may show registrations the
        update changed or removed. First contacts are in the database, so nothing else is lost."""
        if version == self._database_version:
            return
        dropped = self.service.cache.clear()
        log.info("database version %s -> %s: dropped %d cached answers", self._database_version, version, dropped)
        self._database_version = version

    async def _follow_database(self) -> None:
        """Every worker, every ``DATABASE_CHECK_SECONDS``: :meth:`check_database_version`, and which
        domains another process's refreshes found re-registered."""
        while True:
            await asyncio.sleep(DATABASE_CHECK_SECONDS)
            try:
                await self.check_database_version()
                await self.service.load_re_registered()
            except StorageError as err:
                log.warning("database version check skipped: %s", err)

    async def _keep_updating(self) -> None:
        """Apply new feed versions now and every ``update_interval_hours``; a failure waits for the next round."""
        while True:
            try:
                await self.update_database()
            except (FeedError, StorageError) as err:
                log.warning("update feed: %s", err)
            except Exception:  # whatever a feed does, the service keeps serving and tries again next round
                log.exception(
                    "update feed: unexpected failure; trying again in %g h", self.settings.update_interval_hours
                )
            self.feed_checked.set()
            await asyncio.sleep(self.settings.update_interval_hours * 3600)

    def status_report(self) -> StatusReport:
        """What ``status`` tells the central server: versions, cache and database efficiency."""
        cache, counters = self.service.cache, self.service.counters
        return StatusReport(
            client_version=__version__,
            database_version=self._database_version,
            cache_efficiency=(cache.hits, cache.misses, cache.expired),
            database_efficiency=(counters.database_hits, counters.database_misses),
        )

    async def report_status(self) -> None:
        """One ``status`` (joining first if the server was unreachable at start); raises
        :class:`CentralRefused` when the server denies this client or requires newer software."""
        membership = self.membership
        if membership is None:
            return
        await self.check_database_version()
        if not membership.joined:
            await membership.join()
        await membership.report(self.status_report())

    async def _keep_reporting(self) -> None:
        """``status`` now and every ``interval`` minutes (a minute after a failure); stop when refused."""
        assert self.membership is not None
        while True:
            try:
                await self.report_status()
            except CentralRefused as refused:
                log.critical("%s", refused)
                self.on_refused(str(refused))
                return
            except StorageError as err:
                log.warning("status report skipped: %s", err)
            minutes = self.membership.interval_minutes
            if not self.membership.joined:
                minutes = min(minutes, 1.0)
            await asyncio.sleep(minutes * 60)

    def http_app(self) -> LookupApp:
        """The HTTP handler over this runtime's service, with the admin rule its settings call for."""
        settings = self.settings
        return LookupApp(
            self.service,
            admin_key=settings.admin_key,
            admin_open=settings.is_loopback,
            stats=self.stats,
            views=self,
        )

    def figures(self) -> dict[str, Any]:
        """This process's figures for ``/metrics`` and ``/ui``: the service's, each upstream server's,
        lookups a minute, the latest one-off alerts."""
        servers = self.registries.servers()
        if isinstance(self.service.upstream, CentralUpstream):
            servers = {"central": self.service.upstream.line.stats(), **servers}
        figures = self._sample_activity()
        return {
            **figures,
            "upstream": servers,
            "worker": self.worker,
            "activity": {str(minute): counts for minute, counts in self.activity.minutes.items()},
            "recent_once": list(self.service.recent_once),
        }

    async def service_figures(self) -> list[dict[str, Any]]:
        """Every worker's figures: this one's, live, and the other workers' last snapshots."""
        others: list[dict[str, Any]] = []
        if self.worker["of"] > 1:
            others = await asyncio.to_thread(read_snapshots, metrics_dir(self.data_dir), besides=self.worker["slot"])
        return [self.figures(), *others]

    async def metrics(self) -> bytes:
        """``/metrics``: the whole service, in the Prometheus text format."""
        return exposition(await self.service_figures())

    async def overview(self) -> bytes:
        """``/ui``: the whole service's figures as the status page's overview."""
        return overview_page(await self.service_figures(), self.clock())

    async def contacts(self, search: str, *, only_new: bool) -> bytes:
        """``/ui/contacts``: today's first contacts (since midnight at ``timezone_offset``), newest first."""
        now = self.clock()
        offset = self.settings.timezone_offset * 3600
        since = (now + offset) // 86400 * 86400 - offset
        created_after = now - self.settings.established_days_age * 86400 if only_new else None
        found = await self.service.storage.recent_contacts(
            since, CONTACTS_LIMIT, containing=search, created_after=created_after
        )
        return contacts_page(
            found, formatter=self.service.formatter, now=now, query=search, only_new=only_new, since=since
        )

    def _sample_activity(self) -> dict[str, Any]:
        """Add what the lookups grew by to this minute's activity; returns the service's figures."""
        figures = self.service.metrics()
        lookups = figures["lookups"]
        self.activity.sample(self.clock(), sum(lookups.values()), lookups["memory"])
        return figures

    async def _keep_figures(self) -> None:
        """Sample the activity every second; with several workers, leave a snapshot for the others."""
        writer = SnapshotWriter(metrics_dir(self.data_dir), self.worker["slot"]) if self.worker["of"] > 1 else None
        while True:
            if writer is None:
                self._sample_activity()
            else:
                await writer.write(self.figures())
            await asyncio.sleep(SNAPSHOT_SECONDS)

    async def close(self, *, keep_cache: bool = True) -> None:
        """Stop background work and upstream queries, save the memory cache (unless ``keep_cache`` is
        False), close. The cache is saved from a thread: nothing may change it by then (a query
        landing during the save used to stop it with "dictionary changed size during iteration")."""
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.service.close()
        if keep_cache:
            await self._save_cache()
        await self._resources.aclose()  # the upstream, the registry engine, then the database

    async def _save_cache(self) -> None:
        cache, fingerprint = self.service.cache, _cache_fingerprint(self.settings, self.service.formatter)
        try:
            saved = await asyncio.to_thread(save_cache, cache, self.cache_file, self.clock(), fingerprint)
            log.info("saved %d cached answers to %s", saved, self.cache_file)
        except OSError as err:
            log.warning("could not save the memory cache to %s: %s", self.cache_file, err)


def _cache_file(settings: Settings, data_dir: Path, worker: int | None) -> Path:
    """The saved memory cache: one file per worker of a service with several."""
    cache_file = settings.data_path(data_dir, settings.memory_cache)
    if worker is not None:
        cache_file = cache_file.with_name(f"{cache_file.stem}.{worker}{cache_file.suffix}")
    return cache_file


def _cache_fingerprint(settings: Settings, formatter: AnswerFormatter) -> dict[str, Any]:
    """What the saved answers depend on: the display settings and, in ``mode: central``, which
    central server gave them (its pins never outlive a restart against another server)."""
    return {**formatter.fingerprint, "central_server": settings.server_url if settings.mode == "central" else ""}


async def _reloaded_cache(settings: Settings, cache_file: Path, now: float, formatter: AnswerFormatter) -> MemoryCache:
    """The memory cache with what the last clean stop saved (entries validated one by one)."""
    cache = MemoryCache(settings.cached_max_items)
    fingerprint = _cache_fingerprint(settings, formatter)
    loaded = await asyncio.to_thread(load_cache, cache, cache_file, now, fingerprint)
    if loaded:
        log.info("reloaded %d cached answers from %s", loaded, cache_file)
    return cache


async def _open_upstream(
    settings: Settings,
    data_dir: Path,
    storage: Storage,
    names: NameReducer,
    registries: Registries,
    clock: Callable[[], float],
    opened: contextlib.AsyncExitStack,
) -> tuple[Upstream, CentralMembership | None]:
    """Where unknown domains are resolved: the registry engine, or in ``mode: central`` the central
    server (joined here: its ``config``, and the newer database it may require)."""
    registry_upstream = RegistryUpstream(registries, settings.registry_error_ttl_hours * 3600)
    if settings.mode != "central":
        return registry_upstream, None
    central = CentralClient(
        settings.server_url,
        settings.api_key,
        timeout=settings.server_timeout_seconds,
        ssl_context=settings.server_ssl_context(data_dir),
        clock=clock,
    )
    upstream = CentralUpstream(central, registry_upstream if settings.central_fallback_registry else None)
    opened.push_async_callback(upstream.close)
    membership = CentralMembership(central, names)
    config = await membership.join()
    if config is not None:
        await meet_minimum_database(settings, data_dir, storage, names, config.min_database_version)
    return upstream, membership
