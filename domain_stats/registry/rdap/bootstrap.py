"""The IANA RDAP bootstrap registry (``dns.json``): which RDAP server answers for which TLD.

A snapshot ships with the package so an isolated sensor works from its first minute; a
fresh copy is fetched into the data directory in the background (tldextract's habit: fetch
fails -> warn -> keep the snapshot). A bootstrap named in the configuration is used as it
is and never replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from domain_stats.errors import UserError

if TYPE_CHECKING:  # the HTTP client is imported where it is used: commands that never fetch start faster
    import aiohttp

__all__ = [
    "CACHED_NAME",
    "IANA_BOOTSTRAP_URL",
    "Bootstrap",
    "BootstrapError",
    "fetch_bootstrap",
    "refresh_cached_bootstrap",
]

log = logging.getLogger(__name__)

IANA_BOOTSTRAP_URL = "https://data.iana.org/rdap/dns.json"
CACHED_NAME = "iana-dns-bootstrap.json"
REFRESH_AFTER_SECONDS = 86400


class BootstrapError(UserError):
    """The bootstrap file is missing or not a bootstrap registry."""


class Bootstrap:
    def __init__(self, servers: dict[str, str], publication: str = "", source: str = "") -> None:
        self._servers = servers
        self._origins: frozenset[str] | None = None
        self.publication = publication
        self.source = source

    def __len__(self) -> int:
        return len(self._servers)

    @property
    def origins(self) -> frozenset[str]:
        """``scheme://host:port`` of every server this bootstrap names (redirects there are followed)."""
        from domain_stats.registry.rdap.redirects import origin

        if self._origins is None:
            self._origins = frozenset(origin(url) for url in self._servers.values())
        return self._origins

    @property
    def tlds(self) -> frozenset[str]:
        return frozenset(self._servers)

    def server_for(self, domain: str) -> str | None:
        """Base URL (ending in ``/``) of the RDAP server for ``domain``'s longest known suffix."""
        labels = domain.split(".")
        for i in range(1, len(labels)):
            url = self._servers.get(".".join(labels[i:]))
            if url is not None:
                return url
        return None

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "") -> Bootstrap:
        try:
            doc = orjson.loads(data)
            services = doc["services"]
            servers: dict[str, str] = {}
            for entry in services:
                tlds, urls = entry[0], entry[1]
                url = _pick_url(urls)
                if url is None:
                    continue
                for tld in tlds:
                    servers[str(tld).lower().strip(".")] = url
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as err:
            raise BootstrapError(f"{source or 'bootstrap'} is not an RDAP bootstrap registry: {err}") from None
        if not servers:
            raise BootstrapError(f"{source or 'bootstrap'} names no RDAP servers")
        return cls(servers, str(doc.get("publication", "")), source)

    @classmethod
    def packaged(cls) -> Bootstrap:
        data = resources.files("domain_stats").joinpath("data", CACHED_NAME).read_bytes()
        return cls.from_bytes(data, "packaged snapshot")

    @classmethod
    def from_path(cls, path: Path) -> Bootstrap:
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise BootstrapError(f"cannot read bootstrap {path}: {err.strerror}") from None
        return cls.from_bytes(data, str(path))

    @classmethod
    def best_local(cls, data_dir: Path) -> Bootstrap:
        """The newer of the cached copy in ``data_dir`` and the packaged snapshot."""
        snapshot = cls.packaged()
        cached_path = Path(data_dir) / CACHED_NAME
        if cached_path.exists():
            try:
                cached = cls.from_path(cached_path)
            except BootstrapError as err:
                log.warning("ignoring cached bootstrap: %s", err)
            else:
                if cached.publication >= snapshot.publication:
                    return cached
        return snapshot


def _pick_url(urls: list[str]) -> str | None:
    """Prefer https; keep http for servers that only offer it (and for tests on loopback)."""
    usable = [u for u in urls if isinstance(u, str) and u.startswith(("https://", "http://"))]
    if not usable:
        return None
    usable.sort(key=lambda u: not u.startswith("https://"))
    url = usable[0]
    return url if url.endswith("/") else url + "/"


async def fetch_bootstrap(session: aiohttp.ClientSession, url: str, timeout: float = 15.0) -> tuple[Bootstrap, bytes]:
    import aiohttp

    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status != 200:
                raise BootstrapError(f"{url} answered HTTP {resp.status}")
            data = await resp.read()
    except (aiohttp.ClientError, TimeoutError) as err:
        raise BootstrapError(f"cannot fetch {url}: {err or type(err).__name__}") from None
    return Bootstrap.from_bytes(data, url), data


async def refresh_cached_bootstrap(session: aiohttp.ClientSession, url: str, data_dir: Path) -> Bootstrap | None:
    """Fetch a fresh registry into ``data_dir`` if the cached one is a day old; None if not needed or failed."""
    cached_path = Path(data_dir) / CACHED_NAME
    with contextlib.suppress(FileNotFoundError):  # no cached copy yet: fetch one
        if time.time() - cached_path.stat().st_mtime < REFRESH_AFTER_SECONDS:
            return None
    try:
        bootstrap, data = await fetch_bootstrap(session, url)
    except BootstrapError as err:
        log.warning(
            "RDAP bootstrap refresh failed, keeping %s: %s",
            "the cached copy" if cached_path.exists() else "the packaged snapshot",
            err,
        )
        return None
    await asyncio.to_thread(_write_atomic, cached_path, data)
    log.info("RDAP bootstrap refreshed from %s (publication %s)", url, bootstrap.publication)
    return bootstrap


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
