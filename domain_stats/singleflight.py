"""Concurrent requests for one key share one upstream call (the lookup service and the central server)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    """The first caller for a key starts the call; callers that come while it runs wait for it.

    The call runs as its own task, shielded from any one caller going away, so the others
    still get the result; :meth:`cancel_all` ends what is left at shutdown.
    """

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[T]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The call's result, and whether this caller is the one that started it."""
        task = self._running.get(key)
        started = task is None
        if task is None:
            task = asyncio.ensure_future(call())
            self._running[key] = task
            task.add_done_callback(lambda _t: self._running.pop(key, None))
        return await asyncio.shield(task), started

    async def cancel_all(self) -> None:
        pending = list(self._running.values())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
