"""What a lookup counts, as plain integers bumped on the request path, and the figures read from them.

``/stats`` shows one worker's counters; ``/metrics`` and ``/ui`` add every worker's figures up
(:mod:`domain_stats.lookup.metrics`). No Prometheus object is touched per lookup: they cost
microseconds each, a memory-cache answer costs a few.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Any

from domain_stats.lookup.cache import MemoryCache

__all__ = ["LATENCY_BUCKETS", "LatencyHistogram", "ServiceCounters", "figures"]

#: Upper bounds (seconds) of the lookup latency histogram; answers from memory are in the first.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LatencyHistogram:
    """Seconds from a lookup's start to its answer, in :data:`LATENCY_BUCKETS` (plus +Inf)."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds


@dataclass(slots=True)
class ServiceCounters:
    """Plain integers, bumped on the request path; ``/stats`` and ``/metrics`` read them."""

    database_hits: int = 0
    database_misses: int = 0
    invalid: int = 0
    prohibited: int = 0
    new_answers: int = 0  # worked out here; the memory cache counts its own (``new_hits``)
    first_contacts: int = 0
    upstream_answers: int = 0
    error_answers: int = 0
    queued_answers: int = 0
    line_overflows: int = 0  # new names answered queued and not kept: the upstream line was full
    refreshed: int = 0
    refresh_failures: int = 0
    re_registered: int = 0
    started: float = field(default_factory=time.time)
    #: Lookups that needed the database or upstream; answers from memory are all in its first bucket.
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


def figures(counters: ServiceCounters, cache: MemoryCache, line: int = 0) -> dict[str, Any]:
    """One process's figures: lookups by where the answer came from, counters, latency; ``line``:
    names waiting for an upstream answer now."""
    return {
        "lookups": {
            "memory": cache.hits,
            "database": counters.database_hits,
            "upstream": counters.upstream_answers,
            "queued": counters.queued_answers,
            "error": counters.error_answers,
            "invalid": counters.invalid,
            "prohibited": counters.prohibited,
        },
        "counters": {
            "memory_cache_misses": cache.misses,
            "database_misses": counters.database_misses,
            "first_contacts": counters.first_contacts,
            "new_answers": counters.new_answers + cache.new_hits,
            "refreshed": counters.refreshed,
            "re_registered": counters.re_registered,
            "line_overflows": counters.line_overflows,
        },
        "gauges": {"memory_cache_entries": len(cache), "upstream_line": line},
        "latency": {
            # Answers from memory (and invalid or prohibited names) take no measurable time.
            "counts": [
                counters.latency.counts[0] + cache.hits + counters.invalid + counters.prohibited,
                *counters.latency.counts[1:],
            ],
            "sum": counters.latency.sum,
        },
    }
