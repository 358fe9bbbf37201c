"""The central server as granian runs it: an ASGI app whose runtime lives as long as the worker.

The central server answers a few requests per client per lookup it cannot answer locally, so
it stays on a general-purpose server (granian, with TLS) rather than the lookup service's own
HTTP protocol (:mod:`domain_stats.lookup.http_server`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from domain_stats.central.app import CentralApp, Receive, Scope, Send
from domain_stats.central.config import CentralSettings, load_central_settings
from domain_stats.central.runtime import CentralRuntime
from domain_stats.logs import LEVELS, log_config

__all__ = ["CENTRAL_DATA_ENV", "CENTRAL_WORKERS_ENV", "CentralServerApp", "create_app", "run_central"]

log = logging.getLogger(__name__)

CENTRAL_DATA_ENV = "DOMAIN_STATS_CENTRAL_DATA"
#: How many worker processes share the port: each takes that share of every registry's limits and
#: of each member's query rate, so ``--workers N`` does not multiply what a registry sees.
CENTRAL_WORKERS_ENV = "DOMAIN_STATS_CENTRAL_WORKERS"


class CentralServerApp:
    """ASGI lifespan starts the runtime and closes it at shutdown; HTTP goes to :class:`CentralApp`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.runtime: CentralRuntime | None = None
        self._app: CentralApp | None = None

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
                    share = int(os.environ.get(CENTRAL_WORKERS_ENV, "1"))
                    settings = load_central_settings(self.data_dir)
                    self.runtime = await CentralRuntime.start(settings, self.data_dir, share=share)
                except Exception as err:  # the server logs it and stops this worker
                    log.error("cannot start: %s", err)
                    await send({"type": "lifespan.startup.failed", "message": str(err)})
                    return
                self._app = self.runtime.http_app()
                log.info("central server ready (process %d)", os.getpid())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.runtime is not None:
                    await self.runtime.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app() -> CentralServerApp:
    """Factory for granian (``domain_stats.central.asgi:create_app``)."""
    return CentralServerApp(Path(os.environ[CENTRAL_DATA_ENV]))


def run_central(
    settings: CentralSettings, data_dir: Path, *, tls: tuple[Path, Path] | None = None, workers: int = 1
) -> None:
    """Serve until SIGINT/SIGTERM (blocking); ``tls`` is (cert, key); ``workers`` processes on one port,
    each with its own runtime (exactly once holds in the database: one statement decides it)."""
    from granian.constants import HTTPModes, Interfaces, Loops, SSLProtocols
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.mp import MPServer

    os.environ[CENTRAL_DATA_ENV] = str(Path(data_dir).resolve())
    os.environ[CENTRAL_WORKERS_ENV] = str(workers)
    options: dict[str, Any] = {"ssl_cert": tls[0], "ssl_key": tls[1]} if tls else {}
    server = MPServer(
        "domain_stats.central.asgi:create_app",
        factory=True,
        address=settings.local_address,
        port=settings.local_port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=int(settings.header_timeout_seconds * 1000)),
        websockets=False,
        log_level=LogLevels(logging.getLevelName(LEVELS[settings.log_detail]).lower()),
        log_dictconfig=log_config(settings.log_detail),
        workers_kill_timeout=30,
        respawn_failed_workers=True,
        ssl_protocol_min=SSLProtocols.tls12,
        **options,
    )
    server.serve()
