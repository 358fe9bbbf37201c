"""Answers handed back to the event loop a slice at a time.

A loop turn's database work (one statement for hundreds of lookups) settles every asker's
future at once; each wakes a lookup, and other requests wait for all of one turn's (10,000
at once held ``/health`` for most of a second). Both backends hand them back
:data:`SETTLE_SLICE` a turn instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["SETTLE_SLICE", "Outcome", "settle_all", "settle_in_slices"]

#: ``(future, result, error)``: the error (if not None) is raised to the asker instead.
Outcome = tuple["asyncio.Future[Any]", Any, "BaseException | None"]
#: Askers woken in one turn of the loop.
SETTLE_SLICE = 128


def settle_in_slices(outcomes: list[Outcome]) -> None:
    settle_all(outcomes[:SETTLE_SLICE])
    if len(outcomes) > SETTLE_SLICE:
        asyncio.get_running_loop().call_soon(settle_in_slices, outcomes[SETTLE_SLICE:])


def settle_all(outcomes: list[Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
