"""Runs the service: granian serves ``domain_stats.asgi:create_app`` in N worker processes.

Granian was measured faster than uvicorn here with the same ASGI app (about 52k against 40k
warm lookups a second with two workers). Each worker process listens on the port itself
(SO_REUSEPORT on Linux: the kernel spreads connections over them); a worker that dies is
started again; SIGINT/SIGTERM become a graceful stop in which every worker saves its memory
cache. Everything a user can get wrong is checked before it starts, so that a mistake is one
clear message rather than a worker's log line.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from domain_stats.asgi import DATA_ENV, WORKERS_ENV, take_refusal
from domain_stats.central.protocol import CommunityRefused
from domain_stats.config import CommonSettings, Settings
from domain_stats.logs import LEVELS, log_config

__all__ = ["BindError", "check_port_free", "preflight", "run_asgi", "serve"]



class BindError(OSError):
    """The configured address cannot be listened on (busy port, unknown address)."""


def check_port_free(address: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As servers do: connections in TIME_WAIT from a previous run must not count as "busy".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as err:
            raise BindError(f"cannot listen on {address}:{port}: {err.strerror}") from None


async def preflight(settings: Settings, data_dir: Path) -> None:
    """Open the database and the bootstrap once: bad files fail here, with their own message.

    In ``mode: isc`` also the first ``config`` and ``status``: a client the central server
    refuses (too old, denied) stops here with the server's message.
    """
    from domain_stats.runtime import Runtime

    runtime = await Runtime.start(settings, data_dir, refresh_bootstrap=False, reload_cache=False, primary=False)
    try:
        await runtime.report_status()  # mode isc: a denied client stops here, before it listens
    finally:
        await runtime.close(keep_cache=False)


def serve(settings: Settings, data_dir: Path, workers: int) -> None:
    """Serve lookups until SIGINT/SIGTERM (blocking)."""
    os.environ[DATA_ENV] = str(Path(data_dir).resolve())
    os.environ[WORKERS_ENV] = str(workers)
    take_refusal(data_dir)  # a message left by an earlier run is not this run's
    run_asgi("domain_stats.asgi:create_app", settings, workers)
    refusal = take_refusal(data_dir)
    if refusal is not None:
        raise CommunityRefused(refusal)


def run_asgi(target: str, settings: CommonSettings, workers: int, *, tls: tuple[Path, Path] | None = None) -> None:
    """Run the ASGI app factory ``target`` under granian until SIGINT/SIGTERM; ``tls`` is (cert, key)."""
    from granian.constants import HTTPModes, Interfaces, Loops, SSLProtocols
    from granian.log import LogLevels
    from granian.server.mp import MPServer

    server = MPServer(
        target,
        factory=True,
        address=settings.local_address,
        port=settings.local_port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        log_level=LogLevels(logging.getLevelName(LEVELS[settings.log_detail]).lower()),
        log_dictconfig=log_config(settings.log_detail),
        workers_kill_timeout=30,
        respawn_failed_workers=True,
        ssl_cert=tls[0] if tls else None,
        ssl_key=tls[1] if tls else None,
        ssl_protocol_min=SSLProtocols.tls12,
    )
    server.serve()
