"""Concurrent requests for one key share one upstream query, and none waits on it for long.

Used by the lookup service and the central server. The query runs as its own task with its
own :class:`~domain_stats.registry.scheduler.Job`, shielded from any asker going away, so the others
still get the result. An asker that gives a ``wait`` stops waiting when that much time has
gone by and the query is *in line* (not while a request is out: the upstream bounds those
itself), or at once when the line ahead is longer than the time it has left, and gets
:class:`Queued`; the query goes on in the background, demoted to
:attr:`Priority.ANSWERED` once no live asker waits for it any more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from domain_stats.errors import DomainStatsError
from domain_stats.registry.scheduler import Job, Priority

__all__ = ["Queued", "SingleFlight"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Queued(DomainStatsError):
    """The asker waited as long as it may; the query stays in line and finishes in the background."""


class _Flight(Generic[T]):
    __slots__ = ("job", "live_askers", "task")

    def __init__(self, task: asyncio.Task[T], job: Job) -> None:
        self.task = task
        self.job = job
        self.live_askers = 0


class SingleFlight(Generic[K, T]):
    """The first caller for a key starts the query; callers that come while it runs share it."""

    def __init__(self) -> None:
        self._running: dict[K, _Flight[T]] = {}

    def __len__(self) -> int:
        return len(self._running)

    def __contains__(self, key: K) -> bool:
        return key in self._running

    def submit(self, key: K, call: Callable[[Job], Awaitable[T]], priority: Priority) -> asyncio.Task[T]:
        """Start the query in the background (or raise the running one's priority to ``priority``)."""
        return self._flight(key, call, priority)[0].task

    async def run(self, key: K, call: Callable[[Job], Awaitable[T]], *, wait: float | None = None) -> tuple[T, bool]:
        """The query's result, and whether this caller started it; :class:`Queued` after ``wait``
        seconds in line (None: wait for the result however long the line is)."""
        flight, started = self._flight(key, call, Priority.LIVE)
        if wait is None:
            return await asyncio.shield(flight.task), started
        flight.live_askers += 1
        try:
            return await _wait(flight.task, flight.job, wait), started
        except Queued:
            flight.job.gave_up = True
            raise
        finally:
            flight.live_askers -= 1
            if not flight.live_askers and flight.job.priority == Priority.LIVE and not flight.task.done():
                flight.job.reprioritize(Priority.ANSWERED)

    def _flight(self, key: K, call: Callable[[Job], Awaitable[T]], priority: Priority) -> tuple[_Flight[T], bool]:
        flight = self._running.get(key)
        if flight is not None:
            if priority < flight.job.priority:
                flight.job.reprioritize(priority)
            return flight, False
        job = Job(priority)
        task = asyncio.ensure_future(call(job))
        flight = self._running[key] = _Flight(task, job)

        def finished(done: asyncio.Task[T]) -> None:
            if self._running.get(key) is flight:
                del self._running[key]
            if not done.cancelled():
                done.exception()  # retrieved: askers who were answered "queued" never will

        task.add_done_callback(finished)
        return flight, True

    async def settle(self) -> None:
        """Until no query runs (those started meanwhile included), whatever their outcome."""
        while self._running:
            await asyncio.wait([flight.task for flight in self._running.values()])

    async def cancel_all(self) -> None:
        pending = [flight.task for flight in self._running.values()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _wait(task: asyncio.Task[T], job: Job, wait: float) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while not task.done():
        changed = job.changed()
        timeout: float | None = None  # a request is out (the upstream bounds it), or its answer is being stored
        if job.in_line:
            timeout = deadline - loop.time()
            expected = job.expected_wait()
            if timeout <= 0 or (expected is not None and expected > timeout):
                # Out of time, or the line is longer than the time left: answer now, not at the deadline.
                raise Queued(f"no upstream turn within {wait:g} s")
        await asyncio.wait((task, changed), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    return task.result()
