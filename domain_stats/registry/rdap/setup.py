"""The RDAP engine as the settings describe it: the lookup service and the central server both start it here.

Start-up never waits on the network for the bootstrap: it comes from disk (the configured file,
the cached copy or the packaged snapshot), and the IANA refresh runs in the background.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp

from domain_stats.registry.rdap.bootstrap import (
    REFRESH_AFTER_SECONDS,
    Bootstrap,
    fetch_bootstrap,
    refresh_cached_bootstrap,
)
from domain_stats.registry.rdap.client import RdapClient, RdapLimits
from domain_stats.registry.settings import RegistrySettings, data_path

__all__ = ["keep_bootstrap_fresh", "open_rdap_client"]


async def open_rdap_client(settings: RegistrySettings, data_dir: Path, *, share: int = 1) -> RdapClient:
    """The RDAP engine as the settings describe it (the lookup service and the central server share it).

    The per-server limits are the whole service's: each of ``share`` processes gets an equal part
    (at least one request at a time), so ``--workers N`` does not multiply what a registry sees.
    """
    tls = settings.rdap_ssl_context(data_dir)
    return RdapClient(
        await _initial_bootstrap(settings, data_dir, tls),
        RdapLimits(
            timeout=settings.rdap_timeout_seconds,
            per_server_concurrency=max(1, settings.rdap_server_concurrency // share),
            per_server_rate=settings.rdap_server_rate / share,
        ),
        ssl_context=tls,
    )


async def keep_bootstrap_fresh(rdap: RdapClient, settings: RegistrySettings, data_dir: Path) -> None:
    """Refresh the IANA bootstrap at start, then daily (unless the settings name their own).

    A failure has already been logged and changes nothing.
    """
    if settings.rdap_bootstrap or not settings.rdap_bootstrap_refresh_url:
        return
    while True:
        fresh = await refresh_cached_bootstrap(rdap.session, settings.rdap_bootstrap_refresh_url, data_dir)
        if fresh is not None:
            rdap.bootstrap = fresh
        await asyncio.sleep(REFRESH_AFTER_SECONDS)


async def _initial_bootstrap(settings: RegistrySettings, data_dir: Path, tls: ssl.SSLContext | None) -> Bootstrap:
    source = settings.rdap_bootstrap
    if not source:
        return await asyncio.to_thread(Bootstrap.best_local, data_dir)
    if source.startswith(("http://", "https://")):
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls if tls is not None else True)
        ) as session:
            bootstrap, _ = await fetch_bootstrap(session, source)
        return bootstrap
    return await asyncio.to_thread(Bootstrap.from_path, data_path(data_dir, source))
