"""Runs the HTTP app on uvicorn: binds the socket first (a busy port is a clear error, not a
traceback), starts the runtime, serves until SIGINT/SIGTERM, then closes the runtime so the
memory cache is saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from pathlib import Path
from typing import Iterator

import uvicorn

from domain_stats.app import LookupApp
from domain_stats.config import Settings
from domain_stats.runtime import Runtime

__all__ = ["BindError", "ServiceServer", "bind_socket", "serve_forever"]


class BindError(OSError):
    """The configured address cannot be listened on (busy port, unknown address)."""


def bind_socket(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
        sock.listen(2048)
    except OSError as err:
        sock.close()
        raise BindError(f"cannot listen on {address}:{port}: {err.strerror}") from None
    sock.setblocking(False)
    return sock


class _Uvicorn(uvicorn.Server):
    """SIGINT/SIGTERM stop serving; unlike uvicorn's default they are not re-raised afterwards,
    because the runtime still has to save the memory cache and close the database."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


class ServiceServer:
    """A started runtime served over HTTP on an already bound socket."""

    def __init__(self, runtime: Runtime, sock: socket.socket) -> None:
        self.runtime = runtime
        self.socket = sock
        app = LookupApp(
            runtime.service, admin_key=runtime.settings.admin_key, admin_open=runtime.settings.is_loopback
        )
        config = uvicorn.Config(
            app,
            lifespan="off",
            access_log=False,
            log_config=None,
            http="httptools",
            server_header=False,
            date_header=False,
            proxy_headers=False,  # the client address is never used; skip the per-request parsing
            timeout_graceful_shutdown=10,
        )
        self._server = _Uvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]

    @property
    def url(self) -> str:
        host = self.socket.getsockname()[0]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def serve(self) -> None:
        """Serve until a signal (or :meth:`stop`), then close the runtime."""
        try:
            await self._server.serve(sockets=[self.socket])
        finally:
            await self.runtime.close()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self.serve())

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task


async def serve_forever(settings: Settings, data_dir: Path, sock: socket.socket, worker: int | None = None) -> None:
    runtime = await Runtime.start(settings, data_dir, worker=worker)
    server = ServiceServer(runtime, sock)
    with contextlib.closing(sock):
        await server.serve()
