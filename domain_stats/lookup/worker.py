"""One worker process of ``domain-stats serve``: a runtime and the HTTP server on the shared socket.

The supervisor (:mod:`domain_stats.lookup.supervisor`) binds the listening socket once and starts N of
these with it (``python -m domain_stats.lookup.worker DATA_DIR FD SLOT WORKERS``); the kernel hands
each new connection to whichever worker accepts it first. ``SLOT`` is the worker's number:
slot 0 is the primary (status reports, feed updates, queued names), and with several workers
each saves and reloads its own memory cache file (``memory_cache.SLOT.json``).

SIGTERM or SIGINT stops it gracefully: no new connections, requests under way finish, the
memory cache is saved. When the central server refuses the client (``mode: isc``) the worker
leaves the message in the data directory and stops the whole service, and ``serve`` exits
with it. A worker whose supervisor has gone away stops too.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from domain_stats.central_protocol import CentralRefused
from domain_stats.console import SHOWN_ERRORS, configure_logging, run_async
from domain_stats.lookup.app import error_body
from domain_stats.lookup.config import Settings, load_settings
from domain_stats.lookup.http_server import HttpServer
from domain_stats.lookup.http_types import HttpLimits
from domain_stats.lookup.runtime import Runtime

__all__ = [
    "EXIT_CANNOT_START",
    "EXIT_REFUSED",
    "http_limits",
    "record_refusal",
    "serve_worker",
    "take_refusal",
]

log = logging.getLogger("domain_stats.lookup.worker")  # also when run as __main__

#: Exit statuses the supervisor must not answer by starting the worker again.
EXIT_CANNOT_START = 3
EXIT_REFUSED = 4
REFUSAL_FILE = ".refused-by-central"
_PARENT_CHECK_SECONDS = 1.0


async def serve_worker(settings: Settings, data_dir: Path, sock: socket.socket, slot: int, workers: int) -> int:
    """Serve on ``sock`` until told to stop; returns the process exit status."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    parent = os.getppid()

    def refused(message: str) -> None:
        record_refusal(data_dir, message)
        os.kill(parent, signal.SIGTERM)  # the supervisor stops every worker, this one included

    try:
        runtime = await Runtime.start(
            settings, data_dir, worker=slot if workers > 1 else None, workers=workers, primary=slot == 0
        )
    except CentralRefused as err:
        log.error("%s", err)
        refused(str(err))
        return EXIT_REFUSED
    except SHOWN_ERRORS as err:
        log.error("cannot start: %s", err)
        return EXIT_CANNOT_START
    runtime.on_refused = refused
    # What start-up built (the suffix list, the reloaded cache, modules) lives as long as the worker:
    # out of the collector's way, a full collection under a burst of lookups takes half as long.
    gc.collect()
    gc.freeze()
    server = HttpServer(runtime.http_app(), error_body, http_limits(settings))
    try:
        await server.start(sock)
        log.info("worker ready to answer lookups (process %d)", os.getpid())
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), _PARENT_CHECK_SECONDS)
            except TimeoutError:
                if os.getppid() != parent:
                    log.warning("the supervisor (process %d) has gone; stopping", parent)
                    break
    finally:
        await server.stop()
        await runtime.close()
    return 0


def http_limits(settings: Settings) -> HttpLimits:
    """The HTTP limits the settings choose; the rest are the protocol's own (``HttpLimits``)."""
    return HttpLimits(max_connections=settings.max_connections)


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


def main(argv: list[str]) -> int:
    data_dir, fd, slot, workers = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    try:
        settings = load_settings(data_dir)
    except SHOWN_ERRORS as err:
        print(f"domain-stats worker {slot}: cannot start: {err}", file=sys.stderr)
        return EXIT_CANNOT_START
    configure_logging(settings.log_detail)
    sock = socket.socket(fileno=fd)
    try:
        return run_async(serve_worker(settings, data_dir, sock, slot, workers))
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
