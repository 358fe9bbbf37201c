"""In-process HTTP harnesses on a socket bound to 127.0.0.1:0.

:class:`ServiceServer` serves a lookup runtime with the service's own HTTP server
(:mod:`domain_stats.lookup.http_server`), exactly as each worker of ``domain-stats serve`` does;
:class:`AsgiServer` serves the central server's ASGI app on uvicorn (production runs it under
granian; ``tests/central/test_cli.py`` drives that one). In-process serving lets a test share
the event loop with its RDAP server and inject a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from domain_stats.lookup.app import error_body
from domain_stats.lookup.http_server import HttpServer
from domain_stats.lookup.http_types import HttpLimits
from domain_stats.lookup.runtime import Runtime


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    return sock


class ServiceServer:
    """A started runtime served over HTTP on 127.0.0.1 until :meth:`stop`."""

    def __init__(self, runtime: Runtime, port: int = 0, limits: HttpLimits | None = None) -> None:
        self.runtime = runtime
        self.socket = listening_socket(port)
        self.http = HttpServer(runtime.http_app(), error_body, limits)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    async def start(self) -> None:
        await self.http.start(self.socket)

    async def stop(self) -> None:
        await self.http.stop()
        self.socket.close()
        await self.runtime.close()


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test process keeps its own signal handling
        yield


class AsgiServer:
    """An object with ``http_app()`` (an ASGI app) and ``close()`` served on uvicorn until :meth:`stop`."""

    def __init__(self, runtime: Any, port: int = 0) -> None:
        self.runtime = runtime
        self.socket = listening_socket(port)
        config = uvicorn.Config(
            runtime.http_app(), lifespan="off", access_log=False, log_config=None, proxy_headers=False
        )
        self._server = _Uvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._server.serve(sockets=[self.socket]))

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self.socket.close()
        await self.runtime.close()
