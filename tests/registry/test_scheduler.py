"""One line per upstream server: a waiter cancelled while its turn comes up takes no turn."""

from __future__ import annotations

import asyncio
import contextlib
import math

from domain_stats.registry.scheduler import Job, ServerSchedule


async def test_a_waiter_cancelled_just_before_its_turn_takes_none_and_leaks_nothing() -> None:
    """Cancelled, its task not yet run: the next release once set a result on the cancelled future
    (InvalidStateError at every stop) and kept its turn for good (an in-flight slot leaked)."""
    line = ServerSchedule("https://rdap.example/", concurrency=1, rate=math.inf)
    first, second = Job(), Job()
    await line.acquire(first)
    joined = second.changed()
    waiting = asyncio.ensure_future(line.acquire(second))
    await joined  # resolved when it joins the line
    assert second.in_line
    waiting.cancel()
    line.release(first)  # the turn comes up before the cancelled task runs again
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    assert waiting.cancelled()
    assert line.in_flight == 0 and sum(line.stats()["queued"].values()) == 0
    third = Job()
    await asyncio.wait_for(line.acquire(third), 10)  # the one slot is free
    assert line.in_flight == 1
