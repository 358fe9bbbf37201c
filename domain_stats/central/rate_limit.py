"""How fast one member may query the central server: a token bucket per member.

Members are other organisations' services: one that floods (20,000 queries in 22 s, once
accepted) takes the registry lines and the database from everyone else. A member over its
rate is answered 429 with ``Retry-After`` (``docs/protocol.md``); members hold their line for
it, as for a registry's 429, and never count it as a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["MemberRateLimit"]

#: Members remembered at once; past it the fullest buckets are forgotten (a full bucket is the default).
_MAX_MEMBERS = 100_000


class MemberRateLimit:
    """``rate`` queries a second per member, ``burst`` at once after a quiet spell."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        #: member -> (tokens left, when they were counted)
        self._buckets: dict[str, tuple[float, float]] = {}
        self.refused = 0

    def retry_after(self, member: str, cost: float = 1.0) -> float:
        """0 when the member may query now (``cost`` names, counted); else seconds until it may.

        A request of more names than a burst holds (a ``query_many``) goes when the bucket is full
        and leaves it in debt, so that it is never refused for good.
        """
        now = self._clock()
        tokens, then = self._buckets.get(member, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        needed = min(cost, self.burst)
        if tokens >= needed:
            if len(self._buckets) >= _MAX_MEMBERS and member not in self._buckets:
                self._buckets.clear()
            self._buckets[member] = (tokens - cost, now)
            return 0.0
        self._buckets[member] = (tokens, now)
        self.refused += 1
        return (needed - tokens) / self.rate
