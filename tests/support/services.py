"""Real domain-stats services for the tests, on 127.0.0.1: in this process or as a user runs them."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from domain_stats.central.config import CENTRAL_CONFIG_NAME
from domain_stats.lookup.config import CONFIG_NAME, load_settings
from domain_stats.lookup.http_types import HttpLimits
from domain_stats.lookup.runtime import Runtime
from domain_stats.lookup.service import LookupService
from tests.support.central_server import CentralTestServer
from tests.support.service_server import ServiceServer

__all__ = [
    "Clock",
    "RunningService",
    "add_settings",
    "cli_process",
    "listen_on_free_port",
    "serve_subprocess",
    "start_central",
    "start_central_member",
    "start_service",
    "stop_subprocess",
    "worker_pids",
    "write_config",
]


def write_config(data_dir: Path, **settings: Any) -> Path:
    """A data directory's configuration; without the starter data unless asked (tests choose their domains),
    and without the packaged WHOIS map (no test may ask a real registry)."""
    settings.setdefault("starter_data", False)
    settings.setdefault("whois_packaged_map", False)
    if not settings.get("database_url"):
        settings.pop("database_url", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CONFIG_NAME
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


async def start_central(directory: Path, clock: Clock | None = None, **settings: Any) -> CentralTestServer:
    """A real central server on 127.0.0.1 from a new data directory with these settings; without the
    bootstrap refresh and the packaged WHOIS map (no test may ask a real registry)."""
    settings.setdefault("rdap_bootstrap_refresh_url", "")
    settings.setdefault("whois_packaged_map", False)
    if not settings.get("database_url"):
        settings.pop("database_url", None)
    directory.mkdir(parents=True)
    (directory / CENTRAL_CONFIG_NAME).write_text(yaml.safe_dump(settings), encoding="utf-8")
    return await CentralTestServer(directory, clock or Clock()).start()


async def start_central_member(
    tmp_path: Path,
    name: str,
    central: CentralTestServer,
    clock: Clock | None = None,
    key: str | None = None,
    **overrides: Any,
) -> RunningService:
    """A lookup service in mode central with its own data directory and a fresh key for ``name``."""
    directory = tmp_path / f"client-{name}"
    write_config(
        directory,
        mode="central",
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

    async def batch(self, names: list[str]) -> list[dict[str, Any]]:
        """``POST /batch``: the answers, in the order asked."""
        async with self.client.post(self.url + "/batch", json=names) as resp:
            assert resp.status == 200
            answers: list[dict[str, Any]] = await resp.json()
            return answers

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


async def serve_subprocess(
    data_dir: Path, *args: str, workers: int = 1, startup_log: list[str] | None = None
) -> asyncio.subprocess.Process:
    """``domain-stats serve DATA_DIR ARGS`` as a user runs it; returns once every worker answers.

    The supervisor binds the port before it starts the workers, and each worker logs "ready"
    once it accepts connections on it. ``startup_log`` receives what it logged until then.
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
    if startup_log is not None:
        startup_log.append(seen.decode())
    return proc


async def cli_process(*args: str) -> tuple[int, str, str]:
    """``domain-stats ARGS`` in its own process (from an async test, beside servers on its loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "domain_stats", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def add_settings(data_dir: Path, config_name: str = CONFIG_NAME, **settings: Any) -> None:
    """Add ``settings`` to the data directory's configuration file."""
    config = data_dir / config_name
    config.write_text(config.read_text() + yaml.safe_dump(settings), encoding="utf-8")


def listen_on_free_port(data_dir: Path, config_name: str = CONFIG_NAME) -> int:
    """Point the data directory's configuration at a free port on 127.0.0.1; returns it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    add_settings(data_dir, config_name, local_port=port)
    return port


async def stop_subprocess(proc: asyncio.subprocess.Process) -> int:
    """SIGTERM, drain its log while it stops, and return its exit status (killing it if need be)."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.communicate(), timeout=60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    return proc.returncode


def worker_pids(supervisor: int) -> set[int]:
    """The processes whose parent is ``supervisor`` (its workers)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == supervisor:
                children.add(int(entry.name))
    return children


async def wait_for_central(proc: asyncio.subprocess.Process, url: str, tls: ssl.SSLContext | None = None) -> bytes:
    """Until ``central serve`` logs that it is ready and its port answers (its worker binds the port
    after its start-up: a wait, bounded at a minute); returns the log read so far."""
    assert proc.stderr is not None
    seen = b""
    while b"central server ready" not in seen:
        line = await proc.stderr.readline()
        if not line:
            raise AssertionError(f"central serve exited:\n{seen.decode()}")
        seen += line
    async with aiohttp.ClientSession() as client:
        for _ in range(3000):
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with client.get(url + "/health", ssl=tls if tls is not None else True) as resp:
                    if resp.status == 200:
                        return seen
            await asyncio.sleep(0.02)
    raise AssertionError("central serve did not answer within a minute")
