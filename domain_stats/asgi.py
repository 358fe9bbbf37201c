"""The ASGI application as the HTTP server loads it in each worker process.

``domain-stats serve`` names the data directory and the worker count in the environment
(``DOMAIN_STATS_DATA``, ``DOMAIN_STATS_WORKERS``) and starts the server with
``domain_stats.asgi:create_app``. ASGI lifespan starts this worker's runtime and saves its
memory cache at shutdown. With several workers each claims a slot number (a lock file in
the data directory) so that it saves and reloads its own cache file across restarts.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Any

from domain_stats.app import LookupApp, Receive, Scope, Send
from domain_stats.config import load_settings
from domain_stats.runtime import Runtime

__all__ = ["LifespanApp", "ServiceApp", "create_app", "DATA_ENV", "WORKERS_ENV"]

log = logging.getLogger(__name__)

DATA_ENV = "DOMAIN_STATS_DATA"
WORKERS_ENV = "DOMAIN_STATS_WORKERS"


class LifespanApp:
    """An ASGI app whose runtime lives exactly as long as the worker serves (ASGI lifespan).

    Subclasses say how to start (returning the HTTP app to route to) and how to stop.
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif self._app is not None:
            await self._app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self._app = await self.start()
                except Exception as err:  # the server logs it and stops this worker
                    log.error("cannot start: %s", err)
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def start(self) -> Any:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError


class ServiceApp(LifespanApp):
    """The lookup service in one worker process."""

    def __init__(self, data_dir: Path, workers: int = 1) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.workers = workers
        self.runtime: Runtime | None = None
        self._slot: IO[Any] | None = None

    async def start(self) -> LookupApp:
        settings = load_settings(self.data_dir)
        worker = None
        if self.workers > 1:
            worker, self._slot = _claim_slot(self.data_dir, self.workers)
        self.runtime = await Runtime.start(settings, self.data_dir, worker=worker)
        log.info("worker ready to answer lookups (process %d)", os.getpid())
        return self.runtime.http_app()

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.close()
        if self._slot is not None:
            self._slot.close()


def _claim_slot(data_dir: Path, workers: int) -> tuple[int | None, IO[Any] | None]:
    """The first free worker number (held by a lock while this process lives)."""
    for index in range(workers):
        handle = open(data_dir / f".worker-{index}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        return index, handle
    return None, None  # a respawned worker while the old one still exits: share the default file


def create_app() -> ServiceApp:
    """Factory for the HTTP server (``domain_stats.asgi:create_app``)."""
    return ServiceApp(Path(os.environ[DATA_ENV]), int(os.environ.get(WORKERS_ENV, "1")))
