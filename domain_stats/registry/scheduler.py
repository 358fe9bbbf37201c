"""Upstream servers as a scheduled resource: one line per server, served in priority order.

An RDAP server (or the central server) is shared by every lookup, every refresh and every
imported name. Each request to it waits for a *turn* at that server's :class:`ServerSchedule`,
which hands turns out within the server's concurrency and rate, best :class:`Priority` first
and first come first served within a priority. Waiting in line is our own queueing: it never
counts against the server. Only the server's own failures pause it (short at first, growing),
and a ``429`` holds the line for its ``Retry-After`` without counting as a failure.

The lookup's waiting rule (how long an asker waits before being answered "queued") is not
here: a :class:`Job` says where a query stands, and :mod:`domain_stats.registry.singleflight` watches it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

__all__ = ["PAUSE_FAILURES", "PAUSE_RATE_LIMITED", "Job", "Priority", "ServerSchedule"]

log = logging.getLogger(__name__)

#: Why a server is paused (``/stats`` shows it).
PAUSE_FAILURES = "failures"
PAUSE_RATE_LIMITED = "429"


class Priority(IntEnum):
    """Who gets the next turn at a server: lowest value first."""

    LIVE = 0  # a lookup someone is waiting for now
    ANSWERED = 1  # already answered with a transient token (queued): resolve it before the next ask
    REFRESH = 2  # an expired record, already answered from the store
    IMPORT = 3  # a name queued by ``import`` of a plain list


class Job:
    """One upstream query's place in line, and what an asker watching it needs to know.

    ``priority`` may change while the job waits (a live asker arriving promotes it; the last
    asker giving up demotes it); ``in_line`` is True while it waits for a turn (not while a
    request is out or its answer is being stored); :meth:`changed` is a future that a change of
    it resolves (a plain future: watching it creates no task, so nothing to cancel).
    ``patience`` (seconds, from the first turn asked) bounds the wait in line for callers that
    want an error rather than a queue.
    """

    __slots__ = ("_changed", "_priority", "_waiter", "gave_up", "in_line", "patience")

    def __init__(self, priority: Priority = Priority.LIVE, *, patience: float | None = None) -> None:
        self._priority = priority
        self._waiter: _Waiter | None = None
        self.in_line = False
        self.patience = patience
        #: An asker was answered without this query's result (it goes on in the background).
        self.gave_up = False
        self._changed: asyncio.Future[None] | None = None

    @property
    def priority(self) -> Priority:
        return self._priority

    def reprioritize(self, priority: Priority) -> None:
        if priority == self._priority:
            return
        self._priority = priority
        waiter = self._waiter
        if waiter is not None:
            waiter.schedule._requeue(waiter)

    def expected_wait(self) -> float | None:
        """Seconds until its turn, as the line stands now (None: not in a server's line)."""
        waiter = self._waiter
        return None if waiter is None else waiter.schedule.expected_wait(waiter.priority)

    def set_in_line(self, in_line: bool) -> None:
        """Waiting for a turn (a server's line, or an upstream's own "ask again later"), or not."""
        self.in_line = in_line
        changed = self._changed
        if changed is not None and not changed.done():
            changed.set_result(None)

    def changed(self) -> asyncio.Future[None]:
        """Resolved by the next change of ``in_line`` (the same future for every watcher until then)."""
        if self._changed is None or self._changed.done():
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed


@dataclass(eq=False, slots=True)
class _Waiter:
    schedule: ServerSchedule
    job: Job
    future: asyncio.Future[None]
    seq: int
    priority: int  # the priority of its live heap entry (older entries are skipped)
    gone: bool = False


class ServerSchedule:
    """The line at one upstream server: its limits, its health and its counters."""

    def __init__(
        self,
        name: str,
        *,
        concurrency: int,
        rate: float,
        failures_before_pause: int = 3,
        pause_initial: float = 30.0,
        pause_max: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.concurrency = max(1, concurrency)
        self.interval = 1.0 / rate
        self._failures_before_pause = failures_before_pause
        self._pause_initial = pause_initial
        self._pause_max = pause_max
        self._clock = clock
        self._heap: list[tuple[int, int, _Waiter]] = []
        self._seq = itertools.count()
        self._queued = [0] * len(Priority)
        self._timer: asyncio.TimerHandle | None = None
        self._next_turn = 0.0
        self._consecutive_failures = 0
        self._backoff = 0.0
        self.in_flight = 0
        self.paused_until = 0.0
        self.pause_reason = ""
        self.requests = 0
        self.rate_limited = 0
        self.failures = 0
        self.pauses = 0

    # -- health --------------------------------------------------------------------------
    def paused_for(self, now: float | None = None) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        return max(0.0, self.paused_until - (self._clock() if now is None else now))

    def refuses(self, job: Job) -> float:
        """Seconds of pause left if ``job`` must not wait for this server: a live lookup while the
        server is paused for its own failures (answered at once instead); else 0."""
        if job.priority != Priority.LIVE or self.pause_reason != PAUSE_FAILURES:
            return 0.0
        return self.paused_for()

    def succeeded(self) -> None:
        self._consecutive_failures = 0
        self._backoff = 0.0

    def failed(self, why: str) -> None:
        """The server's own failure (refused, reset, 5xx, a sent request that timed out)."""
        self.failures += 1
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._failures_before_pause:
            self._consecutive_failures = 0
            self._backoff = min(self._pause_max, (self._backoff * 2) or self._pause_initial)
            self._pause(
                self._backoff, PAUSE_FAILURES, f"it failed {self._failures_before_pause} times in a row ({why})"
            )

    def told_to_wait(self, seconds: float, reason: str = PAUSE_RATE_LIMITED) -> None:
        """A ``429`` (or a WHOIS "limit exceeded", ``reason``): hold the line for ``seconds``
        (already bounded by the caller); not a failure."""
        self.rate_limited += 1
        self._pause(seconds, reason, f"it answered {reason} (rate limited)")

    def _pause(self, seconds: float, reason: str, why: str) -> None:
        now = self._clock()
        if now + seconds <= self.paused_until:
            return
        if self.paused_until <= now:  # a new pause, not a longer one: say why, once
            self.pauses += 1
            log.warning("upstream server %s paused for %.0f s: %s", self.name, seconds, why)
        self.paused_until = now + seconds
        self.pause_reason = reason
        self._dispatch()

    # -- turns ---------------------------------------------------------------------------
    def release(self, job: Job) -> None:
        """The request that :meth:`acquire` allowed is over: the next in line may go."""
        self.in_flight -= 1
        self._dispatch()

    async def acquire(self, job: Job) -> None:
        """Wait in line for one request's turn; :meth:`release` must follow (cancellation-safe)."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(self, job, loop.create_future(), next(self._seq), int(job.priority))
        job._waiter = waiter
        self._queued[waiter.priority] += 1
        heapq.heappush(self._heap, (waiter.priority, waiter.seq, waiter))
        self._dispatch()
        job.set_in_line(True)
        try:
            await waiter.future
        except BaseException:
            if waiter.future.done() and not waiter.future.cancelled():
                self.in_flight -= 1  # granted just as the wait was cancelled: give the turn back
                self._dispatch()
            elif not waiter.gone:
                waiter.gone = True
                self._queued[waiter.priority] -= 1
            raise
        finally:
            job._waiter = None
            job.set_in_line(False)
        self.requests += 1

    def _requeue(self, waiter: _Waiter) -> None:
        if waiter.gone:
            return
        self._queued[waiter.priority] -= 1
        waiter.priority = int(waiter.job.priority)
        self._queued[waiter.priority] += 1
        heapq.heappush(self._heap, (waiter.priority, waiter.seq, waiter))
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand out every turn the limits allow now; set a timer for the next one."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._heap and self.in_flight < self.concurrency:
            priority, _, waiter = self._heap[0]
            if waiter.gone or priority != waiter.priority:
                heapq.heappop(self._heap)  # left the line, or an entry from before a priority change
                continue
            if waiter.future.done():  # cancelled, its task not yet told: it leaves the line, takes no turn
                heapq.heappop(self._heap)
                waiter.gone = True
                self._queued[priority] -= 1
                continue
            # The rate is kept on the event loop's clock; pauses on ``clock`` (which tests move).
            loop = asyncio.get_running_loop()
            now = loop.time()
            wait = max(self.paused_until - self._clock(), self._next_turn - now)
            if wait > 0:
                self._timer = loop.call_later(wait, self._dispatch)
                return
            heapq.heappop(self._heap)
            waiter.gone = True
            self._queued[priority] -= 1
            self.in_flight += 1
            self._next_turn = max(now, self._next_turn) + self.interval
            waiter.future.set_result(None)

    def expected_wait(self, priority: int) -> float:
        """Seconds until the last waiter of ``priority`` gets its turn if nothing better arrives:
        what the pause and the rate leave, one interval for each waiter at this priority or better.
        (The concurrency limit is not counted: it is the rate that queues, at ordinary latencies.)"""
        ahead = sum(self._queued[: priority + 1])
        start = max(self.paused_until - self._clock(), self._next_turn - asyncio.get_running_loop().time(), 0.0)
        return start + max(0, ahead - 1) * self.interval

    def stats(self) -> dict[str, Any]:
        paused = self.paused_for()
        return {
            "queued": {p.name.lower(): self._queued[p] for p in Priority},
            "in_flight": self.in_flight,
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "failures": self.failures,
            "pauses": self.pauses,
            "paused": paused > 0,
            "paused_seconds": round(paused, 1),
            "pause_reason": self.pause_reason if paused > 0 else "",
        }
