"""The central server's ASGI application as granian loads it (``domain_stats.central.asgi:create_app``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from domain_stats.asgi import LifespanApp
from domain_stats.central.app import CentralApp
from domain_stats.central.config import load_central_settings
from domain_stats.central.runtime import CentralRuntime

__all__ = ["CentralServerApp", "create_app", "CENTRAL_DATA_ENV"]

log = logging.getLogger(__name__)

CENTRAL_DATA_ENV = "DOMAIN_STATS_CENTRAL_DATA"


class CentralServerApp(LifespanApp):
    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.runtime: CentralRuntime | None = None

    async def start(self) -> CentralApp:
        self.runtime = await CentralRuntime.start(load_central_settings(self.data_dir), self.data_dir)
        log.info("central server ready (process %d)", os.getpid())
        return self.runtime.http_app()

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.close()


def create_app() -> CentralServerApp:
    return CentralServerApp(Path(os.environ[CENTRAL_DATA_ENV]))
