"""Shared fixtures: a real RDAP server and real domain-stats services, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import asyncpg
import pytest
import trustme
import yaml

from domain_stats.central.config import CENTRAL_CONFIG_NAME
from domain_stats.config import CONFIG_NAME, load_settings
from domain_stats.http_server import HttpLimits
from domain_stats.runtime import Runtime
from domain_stats.service import LookupService
from tests.central_server import CentralTestServer
from tests.feed_server import FeedTestServer
from tests.http_server import ServiceServer
from tests.rdap_server import RdapTestServer, write_bootstrap

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared (RDAP corpus, top1m.import) is not present")


@pytest.fixture
async def rdap_server() -> AsyncIterator[RdapTestServer]:
    server = await RdapTestServer().start()
    yield server
    await server.close()


def write_config(data_dir: Path, **settings: Any) -> Path:
    """A data directory's configuration; without the starter data unless asked (tests choose their domains)."""
    settings.setdefault("starter_data", False)
    if not settings.get("database_url"):
        settings.pop("database_url", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CONFIG_NAME
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


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


POSTGRES_URL = os.environ.get("DOMAIN_STATS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def on_postgres(statement: str) -> None:
    """Run one statement on the test server, from a thread of its own (whatever loop the caller is in)."""

    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    failure: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(failure, lambda: asyncio.run(run())))
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _capture(failure: list[BaseException], call: Any) -> None:
    try:
        call()
    except BaseException as err:  # handed to the calling thread
        failure.append(err)


@functools.cache
def postgres_unavailable() -> str | None:
    try:
        on_postgres("SELECT 1")
    except Exception as err:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(err).__name__}); set DOMAIN_STATS_TEST_POSTGRES"
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that uses it runs on both database backends."""
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    """"" for SQLite; for PostgreSQL a URL whose search_path is a fresh schema, dropped afterwards."""
    if backend == "sqlite":
        return ""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    return fresh_schema_url(request)


def fresh_schema_url(request: pytest.FixtureRequest) -> str:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    on_postgres(f"CREATE SCHEMA {schema}")
    request.addfinalizer(lambda: on_postgres(f"DROP SCHEMA {schema} CASCADE"))
    return f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}search_path={schema}"


@pytest.fixture
def data_dir(tmp_path: Path, bootstrap_file: Path, database_url: str) -> Path:
    """A data directory whose bootstrap sends every TLD (but .tv) to the test RDAP server; on each backend."""
    directory = tmp_path / "data"
    write_config(directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="", database_url=database_url)
    return directory


@pytest.fixture
async def central(tmp_path: Path, bootstrap_file: Path, database_url: str) -> AsyncIterator[CentralTestServer]:
    """A real central server on 127.0.0.1 whose RDAP engine asks the test RDAP server; its own clock;
    on each database backend."""
    directory = tmp_path / "central"
    directory.mkdir()
    config = {"rdap_bootstrap": str(bootstrap_file), "rdap_bootstrap_refresh_url": "", "rdap_error_ttl_hours": 1}
    if database_url:
        config["database_url"] = database_url
    (directory / CENTRAL_CONFIG_NAME).write_text(yaml.safe_dump(config))
    server = await CentralTestServer(directory, Clock()).start()
    yield server
    await server.stop()


async def start_isc_client(
    tmp_path: Path, name: str, central: CentralTestServer, clock: "Clock | None" = None, key: str | None = None, **overrides: Any
) -> RunningService:
    """A lookup service in mode isc with its own data directory and a fresh key for ``name``."""
    directory = tmp_path / f"client-{name}"
    write_config(
        directory,
        mode="isc",
        server_url=central.url,
        api_key=key or await central.add_key(name),
        rdap_bootstrap_refresh_url="",
        **overrides,
    )
    return await start_service(directory, clock)


class RunningService:
    """A real domain-stats HTTP server on 127.0.0.1 and a client for it."""

    def __init__(self, server: ServiceServer, client: aiohttp.ClientSession) -> None:
        self.server = server
        self.client = client
        self.url = server.url

    @property
    def service(self) -> LookupService:
        return self.server.runtime.service

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.client.get(self.url + "/" + path.lstrip("/"), **kwargs) as resp:
            assert resp.headers["Content-Type"].startswith("application/json")
            return resp.status, await resp.json(content_type=None)

    async def lookup(self, name: str) -> dict[str, Any]:
        status, body = await self.get(name)
        assert status == 200, body
        return body

    async def stop(self) -> None:
        await self.client.close()
        await self.server.stop()


class Clock:
    """Wall-clock time the test can move forward (registrations expire, cache entries age)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


async def start_service(
    data_dir: Path, clock: Clock | None = None, *, http_limits: HttpLimits | None = None, **overrides: Any
) -> RunningService:
    settings = load_settings(data_dir, overrides)
    runtime = await Runtime.start(settings, data_dir, clock=clock or time.time)
    server = ServiceServer(runtime, limits=http_limits)
    await server.start()
    return RunningService(server, aiohttp.ClientSession())


@pytest.fixture
async def service(data_dir: Path) -> AsyncIterator[RunningService]:
    running = await start_service(data_dir)
    yield running
    await running.stop()


async def serve_subprocess(data_dir: Path, *args: str, workers: int = 1) -> "asyncio.subprocess.Process":
    """``domain-stats serve DATA_DIR ARGS`` as a user runs it; returns once every worker answers.

    The supervisor binds the port before it starts the workers, and each worker logs "ready"
    once it accepts connections on it.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "domain_stats", "serve", str(data_dir), *args, stderr=asyncio.subprocess.PIPE
    )
    seen = b""
    while seen.count(b"worker ready to answer lookups") < workers:
        line = await proc.stderr.readline()
        if not line:
            raise AssertionError(f"serve exited before it was ready:\n{seen.decode()}")
        seen += line
    return proc


async def cli_process(*args: str) -> tuple[int, str, str]:
    """``domain-stats ARGS`` in its own process (from an async test, beside servers on its loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "domain_stats", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def listen_on_free_port(data_dir: Path, config_name: str = CONFIG_NAME) -> int:
    """Point the data directory's configuration at a free port on 127.0.0.1; returns it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = data_dir / config_name
    config.write_text(config.read_text() + f"local_port: {port}\n")
    return port


async def stop_subprocess(proc: "asyncio.subprocess.Process") -> int:
    """SIGTERM, drain its log while it stops, and return its exit status (killing it if need be)."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.communicate(), timeout=60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    return proc.returncode
