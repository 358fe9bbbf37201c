"""``GET /metrics``: the whole service's counters in the Prometheus text format.

Counting stays out of the hot path: a lookup bumps plain integers (:mod:`.counters`), as it
always has; Prometheus objects are built only when scraped.
With ``--workers N`` each worker writes a snapshot of its figures to the data directory's
``.metrics`` folder every :data:`SNAPSHOT_SECONDS` (:class:`SnapshotWriter`); the worker that
serves a scrape adds its own live figures to the others' snapshots, so one scrape shows the
whole service (the other workers' figures are at most a second old). The exposition itself is
the ``prometheus_client`` library's (``docs/metrics.md`` lists the metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from domain_stats.alerts import RE_REGISTERED, YOUR_FIRST_CONTACT
from domain_stats.lookup.counters import LATENCY_BUCKETS
from domain_stats.private_files import create_private, make_private_dir

__all__ = [
    "ACTIVITY_MINUTES",
    "CONTENT_TYPE",
    "SNAPSHOT_SECONDS",
    "Activity",
    "SnapshotWriter",
    "exposition",
    "metrics_dir",
    "read_snapshots",
    "remove_snapshots",
    "upstream_servers",
]

log = logging.getLogger(__name__)

SNAPSHOT_SECONDS = 1.0
ACTIVITY_MINUTES = 12 * 60
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
_PREFIX = "domain_stats"


class Activity:
    """Lookups and memory-cache hits per minute over the last :data:`ACTIVITY_MINUTES` (the status
    page's charts): each sample adds what the totals grew by since the one before to its minute."""

    def __init__(self) -> None:
        self.minutes: dict[int, list[int]] = {}
        self._last: tuple[int, int] | None = None

    def sample(self, now: float, lookups: int, hits: int) -> None:
        last = self._last or (lookups, hits)
        self._last = (lookups, hits)
        minute = int(now // 60)
        bucket = self.minutes.setdefault(minute, [0, 0])
        bucket[0] += lookups - last[0]
        bucket[1] += hits - last[1]
        for old in [m for m in self.minutes if m <= minute - ACTIVITY_MINUTES]:
            del self.minutes[old]


def metrics_dir(data_dir: Path) -> Path:
    return Path(data_dir) / ".metrics"


class SnapshotWriter:
    """Writes one worker's snapshot to ``worker-SLOT.json`` (every :data:`SNAPSHOT_SECONDS`)."""

    def __init__(self, directory: Path, slot: int) -> None:
        self.path = directory / f"worker-{slot}.json"
        self._warned = False

    async def write(self, snapshot: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(self._write, orjson.dumps(snapshot))
        except OSError as err:
            if not self._warned:  # once: the next second would say it again
                log.warning("cannot write the metrics snapshot %s: %s", self.path, err)
                self._warned = True

    def _write(self, data: bytes) -> None:
        make_private_dir(self.path.parent)
        partial = self.path.with_suffix(".tmp")
        create_private(partial)
        partial.write_bytes(data)
        partial.replace(self.path)


def read_snapshots(directory: Path, *, besides: int) -> list[dict[str, Any]]:
    """The other workers' snapshots (not slot ``besides``); unreadable ones are skipped."""
    found = []
    for path in sorted(directory.glob("worker-*.json")):
        if path.name == f"worker-{besides}.json":
            continue
        with contextlib.suppress(OSError, orjson.JSONDecodeError):
            found.append(orjson.loads(path.read_bytes()))
    return found


def exposition(snapshots: list[dict[str, Any]]) -> bytes:
    """The text format of the sum of ``snapshots`` (one per worker)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ServiceCollector(snapshots))
    return generate_latest(registry)


class _ServiceCollector(Collector):
    def __init__(self, snapshots: list[dict[str, Any]]) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        snaps = self.snapshots
        workers = GaugeMetricFamily(f"{_PREFIX}_workers", "Worker processes whose figures this scrape adds up.")
        workers.add_metric([], len(snaps))
        yield workers
        lookups = CounterMetricFamily(
            f"{_PREFIX}_lookups", "Names looked up, by where the answer came from.", labels=["answer"]
        )
        for outcome in sorted({key for s in snaps for key in s["lookups"]}):
            lookups.add_metric([outcome], _sum(snaps, "lookups", outcome))
        yield lookups
        for key, name, text in _COUNTERS:
            family = CounterMetricFamily(f"{_PREFIX}_{name}", text)
            family.add_metric([], _sum(snaps, "counters", key))
            yield family
        entries = GaugeMetricFamily(f"{_PREFIX}_memory_cache_entries", "Answers held in the memory caches.")
        entries.add_metric([], _sum(snaps, "gauges", "memory_cache_entries"))
        yield entries
        line = GaugeMetricFamily(f"{_PREFIX}_upstream_line", "Names waiting for an upstream answer now.")
        line.add_metric([], _sum(snaps, "gauges", "upstream_line"))
        yield line
        yield _latency(snaps)
        yield from _upstream(snaps)


#: (snapshot key, metric name, help) of the plain counters.
_COUNTERS = (
    ("memory_cache_misses", "memory_cache_misses", "Lookups the memory cache could not answer."),
    ("database_misses", "database_misses", "Lookups the local database could not answer (asked upstream)."),
    ("first_contacts", "first_contacts", f"{YOUR_FIRST_CONTACT} answers: domains met for the first time."),
    ("new_answers", "new_answers", "Answers whose category was NEW."),
    ("refreshed", "refreshes", "Expired records refreshed from upstream."),
    ("re_registered", "re_registered", f"{RE_REGISTERED} answers."),
    (
        "line_overflows",
        "upstream_line_overflows",
        "New names answered queued and not kept: the upstream line was full (upstream_line_max).",
    ),
)


def _sum(snaps: list[dict[str, Any]], section: str, key: str) -> float:
    return float(sum(s.get(section, {}).get(key, 0) for s in snaps))


def _latency(snaps: list[dict[str, Any]]) -> HistogramMetricFamily:
    counts = [0] * (len(LATENCY_BUCKETS) + 1)
    total = 0.0
    for snap in snaps:
        for i, count in enumerate(snap["latency"]["counts"]):
            counts[i] += count
        total += snap["latency"]["sum"]
    cumulative, buckets = 0, []
    for bound, count in zip((*map(str, LATENCY_BUCKETS), "+Inf"), counts, strict=True):
        cumulative += count
        buckets.append((bound, cumulative))
    family = HistogramMetricFamily(
        f"{_PREFIX}_lookup_duration_seconds", "Seconds from a lookup's start to its answer (not HTTP queueing)."
    )
    family.add_metric([], buckets, sum_value=total)
    return family


def upstream_servers(snaps: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each upstream server's figures in every worker that has asked it."""
    servers: dict[str, list[dict[str, Any]]] = {}
    for snap in snaps:
        for server, figures in snap.get("upstream", {}).items():
            servers.setdefault(server, []).append(figures)
    return servers


def _upstream(snaps: list[dict[str, Any]]) -> Iterator[Metric]:
    servers = upstream_servers(snaps)
    for key, text in (
        ("requests", "Requests sent to an upstream server."),
        ("rate_limited", "429 and rate-limit answers from an upstream server (a slow-down, not a failure)."),
        ("failures", "Failures of an upstream server itself (refused, reset, 5xx, a sent request timed out)."),
        ("pauses", "Times an upstream server was paused after its own failures."),
    ):
        family = CounterMetricFamily(f"{_PREFIX}_upstream_{key}", text, labels=["server"])
        for server, figures in sorted(servers.items()):
            family.add_metric([server], sum(f.get(key, 0) for f in figures))
        yield family
    queued = GaugeMetricFamily(
        f"{_PREFIX}_upstream_queued",
        "Queries waiting for an upstream server, by priority.",
        labels=["server", "priority"],
    )
    paused = GaugeMetricFamily(f"{_PREFIX}_upstream_paused", "1 while an upstream server is paused.", labels=["server"])
    in_flight = GaugeMetricFamily(
        f"{_PREFIX}_upstream_in_flight", "Requests under way to an upstream server.", labels=["server"]
    )
    for server, figures in sorted(servers.items()):
        for priority in sorted({p for f in figures for p in f.get("queued", {})}):
            queued.add_metric([server, priority], sum(f.get("queued", {}).get(priority, 0) for f in figures))
        paused.add_metric([server], max(int(bool(f.get("paused"))) for f in figures))
        in_flight.add_metric([server], sum(f.get("in_flight", 0) for f in figures))
    yield queued
    yield paused
    yield in_flight


def remove_snapshots(directory: Path) -> None:
    """Forget an earlier run's snapshots (the supervisor, before it starts the workers)."""
    for path in directory.glob("worker-*.*"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
