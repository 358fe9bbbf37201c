"""``domain-stats doctor``: is this data directory ready to serve, and can it reach its upstreams?

One :class:`Check` per line: the configuration, file modes, the port, the database, the RDAP
bootstrap's age, and a TCP connection to each upstream server it would use first (the RDAP
and WHOIS servers of the busiest TLDs and of every ``whois_servers`` entry, the central server
in mode central). Nothing is written: a data directory that does not exist yet is a failure,
not created.
"""

from __future__ import annotations

import asyncio
import contextlib
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from domain_stats.errors import DomainStatsError
from domain_stats.listening import check_port_free
from domain_stats.lookup.config import CONFIG_NAME, Settings, load_settings
from domain_stats.registry.rdap.bootstrap import Bootstrap
from domain_stats.registry.rdap.redirects import url_port
from domain_stats.registry.whois.servers import WhoisServers
from domain_stats.storage import open_storage

__all__ = ["BOOTSTRAP_STALE_DAYS", "Check", "run_checks"]

#: A bootstrap older than this is worth a warning (serve refreshes it daily when it may).
BOOTSTRAP_STALE_DAYS = 30
#: The TLDs whose servers are tried: most lookups go to these (RDAP and WHOIS alike).
BUSIEST_TLDS = ("com", "net", "org", "io", "cn", "ru", "de", "jp", "uk", "co")
CONNECT_TIMEOUT = 5.0

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


async def run_checks(data_dir: Path) -> AsyncIterator[Check]:
    """Each check as it completes; the first failure to read the configuration ends the list."""
    data_dir = Path(data_dir)
    if not (data_dir / CONFIG_NAME).is_file():
        yield Check("configuration", FAIL, f"no {data_dir / CONFIG_NAME} (serve creates it on first use)")
        return
    try:
        settings = load_settings(data_dir)
    except DomainStatsError as err:
        yield Check("configuration", FAIL, str(err))
        return
    yield Check("configuration", OK, f"{data_dir / CONFIG_NAME}, mode {settings.mode}")
    yield _file_modes(settings, data_dir)
    yield _port(settings)
    yield await _database(settings, data_dir)
    bootstrap = await asyncio.to_thread(_bootstrap, settings, data_dir)
    yield _bootstrap_age(bootstrap)
    for check in await asyncio.gather(
        *(_reach(name, host, port) for name, host, port in _upstreams(settings, bootstrap))
    ):
        yield check


def _file_modes(settings: Settings, data_dir: Path) -> Check:
    exposed = []
    for path in settings.private_paths(data_dir, CONFIG_NAME):
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                exposed.append(f"{path} ({mode:04o})")
    if exposed:
        return Check("file modes", FAIL, "readable by others: " + ", ".join(exposed) + "; chmod go= them")
    return Check("file modes", OK, "the data directory, configuration and database are private")


def _port(settings: Settings) -> Check:
    where = f"{settings.local_address}:{settings.local_port}"
    try:
        check_port_free(settings.local_address, settings.local_port)
    except DomainStatsError as err:
        return Check("port", WARN, f"{err} (a running service holds it, or another program)")
    return Check("port", OK, f"{where} is free")


async def _database(settings: Settings, data_dir: Path) -> Check:
    location = settings.database_location(data_dir)
    shown = "PostgreSQL" if settings.database_url else str(location)
    if not settings.database_url and not Path(location).exists():
        return Check("database", WARN, f"{shown} does not exist yet (serve creates it)")
    try:
        storage = await open_storage(location)
        try:
            version = await storage.database_version()
        finally:
            await storage.close()
    except DomainStatsError as err:
        return Check("database", FAIL, f"{shown}: {err}")
    return Check("database", OK, f"{shown}, database version {version}")


def _bootstrap(settings: Settings, data_dir: Path) -> Bootstrap | None:
    source = settings.rdap_bootstrap
    if source.startswith(("http://", "https://")):
        return None
    if source:
        return Bootstrap.from_path(settings.data_path(data_dir, source))
    return Bootstrap.best_local(data_dir)


def _bootstrap_age(bootstrap: Bootstrap | None) -> Check:
    if bootstrap is None:
        return Check("RDAP bootstrap", OK, "fetched from rdap_bootstrap at start")
    try:
        published = datetime.fromisoformat(bootstrap.publication.replace("Z", "+00:00"))
    except ValueError:
        return Check("RDAP bootstrap", WARN, f"{len(bootstrap)} TLDs, no readable publication date")
    days = (time.time() - published.astimezone(UTC).timestamp()) / 86400
    status = WARN if days > BOOTSTRAP_STALE_DAYS else OK
    return Check(
        "RDAP bootstrap", status, f"{len(bootstrap)} TLDs, published {published:%Y-%m-%d} ({days:.0f} days ago)"
    )


def _upstreams(settings: Settings, bootstrap: Bootstrap | None) -> list[tuple[str, str, int]]:
    """(what, host, port) for each server worth a connection, each once. ``bootstrap`` None: it is
    fetched from a URL at start, so that URL's server stands for the RDAP servers."""
    found: dict[tuple[str, int], str] = {}

    def add(what: str, url: str) -> None:
        parts = urlsplit(url)
        found.setdefault((parts.hostname or "", url_port(parts)), what)

    if settings.mode == "central":
        add("central server", settings.server_url)
        if not settings.central_fallback_registry:
            return [(what, host, port) for (host, port), what in found.items()]
    if bootstrap is None:
        add("RDAP bootstrap source", settings.rdap_bootstrap)
    whois = WhoisServers.configured(settings.whois_servers, packaged=settings.whois_packaged_map)
    tlds = (*BUSIEST_TLDS, *settings.whois_servers) if bootstrap is not None else tuple(settings.whois_servers)
    for tld in tlds:
        domain = f"example.{tld.strip('.').lower()}"
        base = bootstrap.server_for(domain) if bootstrap is not None else None
        if base is not None:
            add(f"RDAP .{tld}", base)
        elif (server := whois.server_for(domain)) is not None:
            found.setdefault((server.host, server.port), f"WHOIS .{tld}")
    return [(what, host, port) for (host, port), what in found.items()]


async def _reach(what: str, host: str, port: int) -> Check:
    name = f"{what} ({host}:{port})"
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return Check(name, FAIL, f"no connection within {CONNECT_TIMEOUT:g}s")
    except OSError as err:
        return Check(name, FAIL, f"cannot connect: {err.strerror or err}")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Check(name, OK, "reachable")
