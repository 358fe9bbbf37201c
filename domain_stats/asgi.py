"""The ASGI application as the HTTP server loads it in each worker process.

``domain-stats serve`` names the data directory and the worker count in the environment
(``DOMAIN_STATS_DATA``, ``DOMAIN_STATS_WORKERS``) and starts the server with
``domain_stats.asgi:create_app``. ASGI lifespan starts this worker's runtime and saves its
memory cache at shutdown. With several workers each claims a slot number (a lock file in
the data directory) so that it saves and reloads its own cache file across restarts. When
the central server refuses the client (``mode: isc``), the worker leaves the message in the
data directory and stops the whole server, and ``serve`` exits with it.
"""

from __future__ import annotations

import abc
import fcntl
import logging
import os
import signal
from pathlib import Path
from typing import IO, Any

from domain_stats.app import LookupApp, Receive, Scope, Send
from domain_stats.central.protocol import CommunityRefused
from domain_stats.config import load_settings
from domain_stats.runtime import Runtime

__all__ = ["LifespanApp", "ServiceApp", "create_app", "record_refusal", "take_refusal", "DATA_ENV", "WORKERS_ENV"]

log = logging.getLogger(__name__)

DATA_ENV = "DOMAIN_STATS_DATA"
WORKERS_ENV = "DOMAIN_STATS_WORKERS"
REFUSAL_FILE = ".refused-by-central"


class LifespanApp(abc.ABC):
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

    @abc.abstractmethod
    async def start(self) -> Any:
        """Start the runtime; return the ASGI app that answers requests."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Save what must be saved and close."""


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
        try:
            # One primary per service, the first worker: status reports, feed updates, queued names.
            self.runtime = await Runtime.start(settings, self.data_dir, worker=worker, primary=worker in (None, 0))
        except CommunityRefused as refused:
            self._stop_server(str(refused))
            raise
        self.runtime.on_refused = self._stop_server
        log.info("worker ready to answer lookups (process %d)", os.getpid())
        return self.runtime.http_app()

    def _stop_server(self, message: str) -> None:
        """The central server refused this client: stop every worker, and let ``serve`` exit with the message."""
        record_refusal(self.data_dir, message)
        os.kill(os.getppid(), signal.SIGTERM)

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


def record_refusal(data_dir: Path, message: str) -> None:
    (Path(data_dir) / REFUSAL_FILE).write_text(message, encoding="utf-8")


def take_refusal(data_dir: Path) -> str | None:
    """The message a worker left when the central server refused it (and forget it)."""
    path = Path(data_dir) / REFUSAL_FILE
    try:
        message = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    return message


def create_app() -> ServiceApp:
    """Factory for the HTTP server (``domain_stats.asgi:create_app``)."""
    return ServiceApp(Path(os.environ[DATA_ENV]), int(os.environ.get(WORKERS_ENV, "1")))
