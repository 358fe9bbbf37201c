"""Runs the service: one supervisor process, N worker processes on one listening socket.

The supervisor binds the port (so a busy port is one clear error before anything starts),
starts the workers (:mod:`domain_stats.lookup.worker`) with the socket, and waits. A worker that
exits unexpectedly is started again in its slot (at most ``_RESTARTS`` times a minute); a
worker that cannot start, or that the central server refused, stops the service. SIGINT or
SIGTERM to the supervisor closes the listening socket at once (new clients are refused, not
queued for nobody) and becomes a graceful stop of every worker (each answers what it has
received, then saves its memory cache); workers run in their own process group, so a Ctrl-C in the terminal reaches them
only through the supervisor. Everything a user can get wrong is checked before the workers
start (:func:`preflight`), so that a mistake is one clear message rather than a worker's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from domain_stats.central_protocol import CentralRefused
from domain_stats.errors import UserError
from domain_stats.listening import listen
from domain_stats.lookup.config import CONFIG_NAME, Settings
from domain_stats.lookup.metrics import metrics_dir, remove_snapshots
from domain_stats.lookup.worker import EXIT_CANNOT_START, EXIT_REFUSED, take_refusal
from domain_stats.private_files import warn_if_readable_by_others

__all__ = ["ServeError", "Supervisor", "preflight", "raise_open_files_limit", "serve"]

log = logging.getLogger(__name__)

_RESTARTS = 5  # per minute, per service, before the supervisor gives up
_STOP_SECONDS = 45.0  # a worker's own stop allows 30 s for requests under way, then saves its cache


class ServeError(UserError):
    """The workers could not be kept running; the log above says why."""


async def preflight(settings: Settings, data_dir: Path) -> None:
    """Open the database and the bootstrap once: bad files fail here, with their own message.

    Files that others can read are named in a warning. In ``mode: central`` also the first
    ``config`` and ``status``: a client the central server refuses (too old, denied) stops here
    with the server's message.
    """
    from domain_stats.lookup.runtime import Runtime

    cache = settings.data_path(data_dir, settings.memory_cache)
    saved = sorted(cache.parent.glob(f"{cache.stem}*{cache.suffix}"))
    warn_if_readable_by_others([*settings.private_paths(data_dir, CONFIG_NAME), *saved])
    runtime = await Runtime.start(settings, data_dir, refresh_bootstrap=False, reload_cache=False, primary=False)
    try:
        await runtime.report_status()  # mode central: a denied client stops here, before it listens
    finally:
        await runtime.close(keep_cache=False)


def serve(settings: Settings, data_dir: Path, workers: int) -> None:
    """Serve lookups until SIGINT/SIGTERM (blocking)."""
    take_refusal(data_dir)  # a message left by an earlier run is not this run's
    remove_snapshots(metrics_dir(data_dir))  # nor are an earlier run's /metrics figures
    raise_open_files_limit()
    sock = listen(settings.local_address, settings.local_port)
    try:
        healthy = asyncio.run(Supervisor(Path(data_dir).resolve(), sock, workers).run())
    finally:
        sock.close()
    refusal = take_refusal(data_dir)
    if refusal is not None:
        raise CentralRefused(refusal)
    if not healthy:
        raise ServeError("the service stopped because its workers could not run (see the log above)")


def raise_open_files_limit(wanted: int = 65536) -> int:
    """Raise this process's (and so its workers') open-files soft limit towards the hard limit.

    Each connection is an open file; a soft limit of 1,024 (the usual default) would refuse
    clients long before ``max_connections``. Returns the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as err:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, err)
    return soft


class Supervisor:
    """Starts the workers, starts them again when they die, stops them all on a signal."""

    def __init__(self, data_dir: Path, sock: socket.socket, workers: int, worker_command: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        self.sock = sock
        self.workers = workers
        #: The program a worker runs; it is given DATA_DIR FD SLOT WORKERS.
        self.worker_command = list(worker_command) or [sys.executable, "-m", "domain_stats.lookup.worker"]
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self._restarts: deque[float] = deque()

    async def run(self) -> bool:
        """Until a signal (True) or a worker that cannot run (False)."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        healthy = True
        try:
            for slot in range(self.workers):
                self.procs[slot] = await self._spawn(slot)
            stopping = asyncio.ensure_future(stop.wait())
            while not stop.is_set():
                exits = {asyncio.ensure_future(proc.wait()): slot for slot, proc in self.procs.items()}
                done, _ = await asyncio.wait({stopping, *exits}, return_when=asyncio.FIRST_COMPLETED)
                for waiter in exits:
                    waiter.cancel()
                if stop.is_set():
                    break
                for waiter in done & exits.keys():
                    if not self._may_restart(exits[waiter], waiter.result()):
                        healthy = False
                        stop.set()
                        break
                    self.procs[exits[waiter]] = await self._spawn(exits[waiter])
        finally:
            await self._stop_all()
        return healthy

    def _may_restart(self, slot: int, status: int) -> bool:
        if status in (EXIT_CANNOT_START, EXIT_REFUSED):
            return False
        now = time.monotonic()
        self._restarts.append(now)
        while self._restarts and self._restarts[0] < now - 60:
            self._restarts.popleft()
        if len(self._restarts) > _RESTARTS:
            log.error("workers keep exiting (%d restarts within a minute); stopping", len(self._restarts))
            return False
        log.warning("worker %d exited with status %d; starting it again", slot, status)
        return True

    async def _spawn(self, slot: int) -> asyncio.subprocess.Process:
        fd = self.sock.fileno()
        return await asyncio.create_subprocess_exec(
            *self.worker_command,
            str(self.data_dir),
            str(fd),
            str(slot),
            str(self.workers),
            pass_fds=(fd,),
            stdin=asyncio.subprocess.DEVNULL,
            process_group=0,
        )

    async def _stop_all(self) -> None:
        # Stop listening at once: the workers close their copies as they begin to stop, and with
        # this last one gone the kernel refuses new connections instead of queueing them for nobody.
        self.sock.close()
        live = [proc for proc in self.procs.values() if proc.returncode is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):  # it exited since
                proc.send_signal(signal.SIGTERM)
        if not live:
            return
        await asyncio.wait([asyncio.ensure_future(p.wait()) for p in live], timeout=_STOP_SECONDS)
        for proc in live:
            if proc.returncode is None:
                log.error("worker process %d did not stop within %.0f s; killing it", proc.pid, _STOP_SECONDS)
                proc.kill()
                await proc.wait()
