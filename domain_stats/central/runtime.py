"""Builds a running central server from its data directory, and takes it down in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from domain_stats.central.app import CentralApp, ClientLimits
from domain_stats.central.config import CentralSettings
from domain_stats.central.rate_limit import MemberRateLimit
from domain_stats.central.service import CentralService
from domain_stats.central.store import open_central_store
from domain_stats.names import DEFAULT_PROHIBITED, NameReducer
from domain_stats.registry.engine import open_registries
from domain_stats.registry.rdap.setup import keep_bootstrap_fresh

__all__ = ["CentralRuntime", "feed_directory"]

log = logging.getLogger(__name__)


def feed_directory(data_dir: Path) -> Path:
    """Where ``central publish`` writes the update feed the server serves under ``/feed/``."""
    return Path(data_dir) / "feed"


class CentralRuntime:
    def __init__(self, settings: CentralSettings, service: CentralService, feed_dir: Path, share: int = 1) -> None:
        self.settings = settings
        self.share = share
        self.service = service
        self.feed_dir = feed_dir
        self._background: list[asyncio.Task[None]] = []

    @classmethod
    async def start(
        cls,
        settings: CentralSettings,
        data_dir: Path,
        *,
        refresh_bootstrap: bool = True,
        clock: Callable[[], float] = time.time,
        share: int = 1,
    ) -> CentralRuntime:
        """``share``: worker processes on the port, each taking that share of every registry's limits
        and of each member's query rate."""
        data_dir = Path(data_dir)
        store = await open_central_store(settings, data_dir)
        try:
            registries = await open_registries(settings, data_dir, share=share, clock=clock)
        except BaseException:
            await store.close()
            raise
        service = CentralService(
            store=store,
            registries=registries,
            names=NameReducer(DEFAULT_PROHIBITED, only_icann=not settings.psl_private),
            registry_error_ttl_hours=settings.registry_error_ttl_hours,
            queue_wait_seconds=settings.upstream_queue_wait_seconds,
            line_max=settings.upstream_line_max,
            clock=clock,
        )
        runtime = cls(settings, service, feed_directory(data_dir), share)
        if refresh_bootstrap:
            runtime._background.append(asyncio.create_task(keep_bootstrap_fresh(registries.rdap, settings, data_dir)))
        return runtime

    def http_app(self) -> CentralApp:
        settings = self.settings
        return CentralApp(
            self.service,
            self.feed_dir,
            frozenset(settings.trusted_proxies),
            limits=ClientLimits(
                MemberRateLimit(settings.member_query_rate / self.share, settings.member_query_rate * 10 / self.share),
                settings.max_requests_per_address,
            ),
        )

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.service.close()
        await self.service.registries.close()
        await self.service.store.close()
