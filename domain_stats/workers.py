"""``serve --workers N``: N processes answering on one port.

The parent binds the socket (so a busy port is still one clear error), then forks workers
that inherit it; the kernel hands each new connection to one of them. Each worker has its own
runtime: memory cache (saved to its own file), database connections, RDAP pool. First contact
stays exactly-once across workers because the database decides it, not the process.
The parent only supervises: a worker that dies is restarted, SIGINT/SIGTERM stop them all.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Callable

from domain_stats.config import Settings

__all__ = ["supervise"]

log = logging.getLogger(__name__)

_RESTART_WINDOW = 60.0
_MAX_RESTARTS = 5


def supervise(
    settings: Settings,
    data_dir: Path,
    sock: socket.socket,
    workers: int,
    run_worker: Callable[[Settings, Path, socket.socket, int], None],
) -> int:
    """Run ``workers`` forked copies of ``run_worker`` until a signal; returns the exit status."""
    context = multiprocessing.get_context("fork")
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    restarts: list[float] = []
    status = 0

    def spawn(index: int) -> BaseProcess:
        process = context.Process(
            target=run_worker, args=(settings, data_dir, sock, index), name=f"domain-stats-worker-{index}"
        )
        process.start()
        return process

    procs = {index: spawn(index) for index in range(workers)}
    try:
        while not stopping:
            wait([p.sentinel for p in procs.values()], timeout=0.5)
            for index, process in list(procs.items()):
                if process.is_alive() or stopping:
                    continue
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < _RESTART_WINDOW] + [now]
                if len(restarts) > _MAX_RESTARTS:
                    log.error("workers keep dying (exit code %s); stopping", process.exitcode)
                    stopping, status = True, 1
                    break
                log.warning("worker %d exited with %s; starting it again", index, process.exitcode)
                procs[index] = spawn(index)
    finally:
        for process in procs.values():
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker saves its cache and closes cleanly
        for process in procs.values():
            process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
