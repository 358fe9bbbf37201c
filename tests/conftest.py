"""Fixtures: a real RDAP server, WHOIS server, feed server, central server and domain-stats services, all on 127.0.0.1.

The servers and helpers themselves live in :mod:`tests.support`; tests import them from there.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from tests.support import loopback_only
from tests.support.central_server import CentralTestServer
from tests.support.feed_server import FeedTestServer
from tests.support.postgres import fresh_schema_url, postgres_unavailable
from tests.support.rdap_server import RdapTestServer, write_bootstrap
from tests.support.services import RunningService, start_central, start_service, write_config
from tests.support.whois_server import WhoisTestServer


def pytest_configure(config: pytest.Config) -> None:
    loopback_only.install()


@pytest.fixture
async def rdap_server() -> AsyncIterator[RdapTestServer]:
    server = await RdapTestServer().start()
    yield server
    await server.close()


@pytest.fixture
async def whois_server() -> AsyncIterator[WhoisTestServer]:
    """A WHOIS server on 127.0.0.1 (point ``whois_servers`` at its ``address``)."""
    server = await WhoisTestServer().start()
    yield server
    await server.close()


@pytest.fixture
async def https_rdap_server(tmp_path: Path) -> AsyncIterator[tuple[RdapTestServer, Path]]:
    """An RDAP server on https://127.0.0.1 with a certificate from a throwaway CA (and that CA's PEM)."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = await RdapTestServer().start(tls=server_tls)
    yield server, ca_file
    await server.close()


@pytest.fixture
async def feed_server(tmp_path: Path) -> AsyncIterator[FeedTestServer]:
    """An HTTP server on 127.0.0.1 serving tmp_path/served-feed as a feed (write it with write_feed)."""
    server = await FeedTestServer(tmp_path / "served-feed").start()
    yield server
    await server.close()


@pytest.fixture
def bootstrap_file(tmp_path: Path, rdap_server: RdapTestServer) -> Path:
    """An RDAP bootstrap sending every TLD (but .tv, which has no server) to the test RDAP server."""
    return write_bootstrap(tmp_path / "bootstrap.json", rdap_server.url, without=("tv",))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that uses it runs on both database backends."""
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    """ "" for SQLite; for PostgreSQL a URL whose search_path is a fresh schema, dropped afterwards."""
    if backend == "sqlite":
        return ""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    return fresh_schema_url(request)


@pytest.fixture
def data_dir(tmp_path: Path, bootstrap_file: Path, database_url: str) -> Path:
    """A data directory whose bootstrap sends every TLD (but .tv) to the test RDAP server; on each backend."""
    directory = tmp_path / "data"
    write_config(
        directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="", database_url=database_url
    )
    return directory


@pytest.fixture
async def central(tmp_path: Path, bootstrap_file: Path, database_url: str) -> AsyncIterator[CentralTestServer]:
    """A real central server on 127.0.0.1 whose RDAP engine asks the test RDAP server; its own clock;
    on each database backend."""
    server = await start_central(
        tmp_path / "central",
        rdap_bootstrap=str(bootstrap_file),
        registry_error_ttl_hours=1,
        database_url=database_url,
        # Bursts in these tests are about the community's first contacts, not the registry's line.
        upstream_queue_wait_seconds=30,
    )
    yield server
    await server.stop()


@pytest.fixture
async def service(data_dir: Path) -> AsyncIterator[RunningService]:
    running = await start_service(data_dir)
    yield running
    await running.stop()


@pytest.fixture
async def old_and_new_service(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> AsyncIterator[RunningService]:
    """A service on SQLite whose RDAP server knows example.com (registered 2001) and
    fresh-news.net (registered 3 days ago: NEW)."""
    rdap_server.add_domain("example.com", "2001-02-03T04:05:06Z", "2099-01-01T00:00:00Z")
    fresh = datetime.now(UTC) - timedelta(days=3)
    rdap_server.add_domain("fresh-news.net", fresh.strftime("%Y-%m-%dT%H:%M:%SZ"), "2099-01-01T00:00:00Z")
    directory = tmp_path / "old-and-new"
    write_config(directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="")
    running = await start_service(directory)
    yield running
    await running.stop()
