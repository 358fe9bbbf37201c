"""The in-process HTTP harness: our ASGI app on uvicorn, on a socket bound to 127.0.0.1:0.

Production runs the same app under granian in worker processes (``domain-stats serve``;
``tests/test_cli.py`` and ``tests/test_workers.py`` drive that one). In-process serving lets
a test share the event loop with its RDAP server and inject a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Iterator

import uvicorn

from domain_stats.runtime import Runtime


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test process keeps its own signal handling
        yield


class ServiceServer:
    """A started runtime served over HTTP on 127.0.0.1 until :meth:`stop`."""

    def __init__(self, runtime: Runtime, port: int = 0) -> None:
        self.runtime = runtime
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.socket.listen(1024)
        config = uvicorn.Config(runtime.http_app(), lifespan="off", access_log=False, log_config=None, proxy_headers=False)
        self._server = _Uvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._server.serve(sockets=[self.socket]))

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self.socket.close()
        await self.runtime.close()
