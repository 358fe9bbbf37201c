"""Builds a running lookup service from a data directory, and takes it down in order.

Start-up never waits on the network: the bootstrap comes from disk (the configured file,
the cached copy or the packaged snapshot) and the IANA refresh runs in the background.
Shutdown saves the memory cache, then closes the database and the HTTP pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from pathlib import Path
from typing import Callable

import aiohttp

from domain_stats.answer import AnswerFormatter
from domain_stats.app import LookupApp
from domain_stats.cache import MemoryCache, load_cache, save_cache
from domain_stats.config import Settings
from domain_stats.names import NameReducer
from domain_stats.rdap import Bootstrap, RdapClient, RdapLimits
from domain_stats.rdap.bootstrap import REFRESH_AFTER_SECONDS, fetch_bootstrap, refresh_cached_bootstrap
from domain_stats.service import LookupService
from domain_stats.storage import open_storage
from domain_stats.upstream import RdapUpstream

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """Everything one service process owns."""

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        service: LookupService,
        rdap: RdapClient,
        clock: Callable[[], float],
        cache_file: Path,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.cache_file = cache_file
        self.data_dir = Path(data_dir)
        self.service = service
        self.rdap = rdap
        self._background: list[asyncio.Task[None]] = []

    @classmethod
    async def start(
        cls,
        settings: Settings,
        data_dir: Path,
        *,
        refresh_bootstrap: bool = True,
        clock: Callable[[], float] = time.time,
        worker: int | None = None,
        reload_cache: bool = True,
    ) -> "Runtime":
        """Open the database, pick the bootstrap, reload the cache. ``clock`` is wall-clock UTC seconds.

        ``worker`` (one of several processes on one port) gives this process its own saved cache file.
        """
        data_dir = Path(data_dir)
        storage = await open_storage(settings.data_path(data_dir, settings.database_file))
        try:
            tls = settings.rdap_ssl_context(data_dir)
            rdap = RdapClient(
                await _initial_bootstrap(settings, data_dir, tls),
                RdapLimits(
                    timeout=settings.rdap_timeout_seconds,
                    per_server_concurrency=settings.rdap_server_concurrency,
                    per_server_rate=settings.rdap_server_rate,
                ),
                ssl_context=tls,
            )
        except BaseException:
            await storage.close()
            raise
        formatter = AnswerFormatter(
            established_days_age=settings.established_days_age, timezone_offset=settings.timezone_offset
        )
        cache = MemoryCache(settings.cached_max_items)
        cache_file = settings.data_path(data_dir, settings.memory_cache)
        if worker is not None:
            cache_file = cache_file.with_name(f"{cache_file.stem}.{worker}{cache_file.suffix}")
        loaded = 0
        if reload_cache:
            loaded = await asyncio.to_thread(load_cache, cache, cache_file, clock(), formatter.fingerprint)
        if loaded:
            log.info("reloaded %d cached answers from %s", loaded, cache_file)
        service = LookupService(
            names=NameReducer(settings.prohibited_tlds, only_icann=not settings.psl_private),
            storage=storage,
            upstream=RdapUpstream(rdap, settings.rdap_error_ttl_hours * 3600),
            cache=cache,
            formatter=formatter,
            cache_max_seconds=settings.cache_max_hours * 3600,
            retry_seconds=settings.rdap_error_ttl_hours * 3600,
            clock=clock,
        )
        runtime = cls(settings, data_dir, service, rdap, clock, cache_file)
        if refresh_bootstrap and not settings.rdap_bootstrap and settings.rdap_bootstrap_refresh_url:
            runtime._background.append(asyncio.create_task(runtime._refresh_bootstrap()))
        return runtime

    def http_app(self) -> LookupApp:
        """The ASGI app over this runtime's service, with the admin rule its settings call for."""
        settings = self.settings
        return LookupApp(self.service, admin_key=settings.admin_key, admin_open=settings.is_loopback)

    async def _refresh_bootstrap(self) -> None:
        """Check once at start, then daily; a failure has already been logged and changes nothing."""
        while True:
            fresh = await refresh_cached_bootstrap(
                self.rdap.session, self.settings.rdap_bootstrap_refresh_url, self.data_dir
            )
            if fresh is not None:
                self.rdap.bootstrap = fresh
            await asyncio.sleep(REFRESH_AFTER_SECONDS)

    async def close(self, *, keep_cache: bool = True) -> None:
        """Stop background work, save the memory cache (unless ``keep_cache`` is False), close."""
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if keep_cache:
            await self._save_cache()
        await self.service.close()
        await self.service.storage.close()

    async def _save_cache(self) -> None:
        cache, fingerprint = self.service.cache, self.service.formatter.fingerprint
        try:
            saved = await asyncio.to_thread(save_cache, cache, self.cache_file, self.clock(), fingerprint)
            log.info("saved %d cached answers to %s", saved, self.cache_file)
        except OSError as err:
            log.warning("could not save the memory cache to %s: %s", self.cache_file, err)


async def _initial_bootstrap(settings: Settings, data_dir: Path, tls: ssl.SSLContext | None) -> Bootstrap:
    source = settings.rdap_bootstrap
    if not source:
        return await asyncio.to_thread(Bootstrap.best_local, data_dir)
    if source.startswith(("http://", "https://")):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls if tls is not None else True)) as session:
            bootstrap, _ = await fetch_bootstrap(session, source)
        return bootstrap
    return await asyncio.to_thread(Bootstrap.from_path, settings.data_path(data_dir, source))
