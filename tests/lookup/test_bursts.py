"""Real traffic: bursts of new names against a registry with latency and its own rate limit.

A cold start, a SIEM replaying a day of DNS logs, a big ``POST /batch``: no answer waits long,
none is blamed on the registry, the registry never sees more than the configured rate, and
everything asked is resolved in the background and answered locally the next time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.rdap_server import Canned, RdapTestServer
from tests.support.services import RunningService, start_service, write_config

RATE = 400  # our per-server rate (requests a second)
LATENCY = 0.05  # the registry's round trip
QUEUE_WAIT = 0.5
NAMES = 3000
CREATED = "2011-02-03T04:05:06Z"
SHOWN = "2011-02-03 04:05:06"
# No bound here is in seconds (a busy CI machine stretches every one): the proofs are orders and
# counts. Our own rate caps how fast the line drains (NAMES / RATE = 7.5 s at the least), so an
# answer given while most names are still waiting for their turn did not wait for the line.


def burst_names(prefix: str, count: int = NAMES) -> list[str]:
    return [f"{prefix}{n}.com" for n in range(count)]


def serve_names(rdap_server: RdapTestServer, names: list[str]) -> set[str]:
    """Every tenth name is unknown to the registry (RDAP-NOT-FOUND); returns those."""
    missing = set(names[::10])
    for name in names:
        if name not in missing:
            rdap_server.add_domain(name, CREATED, "2099-01-01T00:00:00Z")
    return missing


async def burst_service(tmp_path: Path, bootstrap_file: Path, **overrides: Any) -> RunningService:
    directory = tmp_path / "data"
    settings: dict[str, Any] = {
        "rdap_bootstrap": str(bootstrap_file),
        "rdap_bootstrap_refresh_url": "",
        "rdap_server_rate": RATE,
        "rdap_server_concurrency": 40,
        "upstream_queue_wait_seconds": QUEUE_WAIT,
        **overrides,
    }
    write_config(directory, **settings)
    return await start_service(directory)


async def counted_gets(
    running: RunningService, rdap_server: RdapTestServer, names: list[str], connections: int = 100
) -> tuple[list[dict[str, Any]], int]:
    """Every name by GET over ``connections`` keep-alive connections, answers in the order of ``names``;
    and the most registry requests made while any one GET waited for its answer."""
    results: list[dict[str, Any]] = [{}] * len(names)
    most = 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def worker(first: int) -> None:
            nonlocal most
            for i in range(first, len(names), connections):
                before = len(rdap_server.requests)
                async with client.get(f"{running.url}/{names[i]}") as resp:
                    results[i] = await resp.json()
                most = max(most, len(rdap_server.requests) - before)

        await asyncio.gather(*(worker(n) for n in range(connections)))
    return results, most


def assert_real_or_queued(answers: list[dict[str, Any]], missing: set[str], names: list[str]) -> None:
    for name, answer in zip(names, answers, strict=True):
        alerts = [a for a in answer["alerts"] if a != "YOUR-FIRST-CONTACT"]
        if answer["seen_by_web"] == "ERROR":
            assert alerts in (["RDAP-QUEUED"], ["RDAP-NOT-FOUND"]), (name, answer)
            assert alerts == ["RDAP-QUEUED"] or name in missing
        else:
            assert answer["seen_by_web"] == SHOWN and alerts == [], (name, answer)


async def assert_answered_locally(running: RunningService, rdap_server: RdapTestServer, names: list[str]) -> None:
    """Asked again: every name has its real answer, and the registry is not asked again."""
    missing = set(names[::10])
    before = len(rdap_server.requests)
    again = await running.batch(names)
    for name, answer in zip(names, again, strict=True):
        if name in missing:
            assert (answer["seen_by_web"], answer["alerts"]) == ("ERROR", ["RDAP-NOT-FOUND"]), (name, answer)
        else:
            assert (answer["seen_by_web"], answer["alerts"]) == (SHOWN, []), (name, answer)
    assert len(rdap_server.requests) == before
    assert Counter(rdap_server.requests).most_common(1)[0][1] == 1  # each name asked once, ever


@pytest.mark.parametrize("via", ["batch", "gets"])
async def test_a_burst_of_new_names_never_waits_long_and_never_pauses_a_healthy_registry(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer, via: str
) -> None:
    rdap_server.latency = LATENCY
    rdap_server.rate_limit = RATE * 2  # the registry's own limit: we stay under it
    names = burst_names(f"{via}-burst-")
    missing = serve_names(rdap_server, names)
    rdap_server.add_domain("fresh-in-the-middle.com", CREATED)
    running = await burst_service(tmp_path, bootstrap_file)
    try:
        if via == "batch":
            answers = await running.batch(names)
            waited_through = len(rdap_server.requests)
        else:
            answers, waited_through = await counted_gets(running, rdap_server, names, connections=600)
        # Every asker was answered while most of the line was still waiting: nobody waited for it.
        assert waited_through < NAMES // 2
        assert_real_or_queued(answers, missing, names)
        assert sum("RDAP-QUEUED" in a["alerts"] for a in answers) > NAMES // 10  # it was a real backlog

        # A new name asked in the middle of the backlog goes first: its real answer, not RDAP-QUEUED
        # (behind the backlog it would wait seconds, far past the queue wait), while the backlog waits.
        fresh = await running.lookup("fresh-in-the-middle.com")
        assert fresh["seen_by_web"] == SHOWN and fresh["alerts"] == ["YOUR-FIRST-CONTACT"]
        asked_before_it = rdap_server.requests.index("fresh-in-the-middle.com")
        _, stats = await running.get("/stats")
        (line,) = stats["registries"]["servers"].values()
        assert line["queued"]["answered"] > 0 and line["queued"]["live"] == 0

        await running.service.settle()
        assert len(rdap_server.requests) - asked_before_it > NAMES // 4  # the backlog was asked after it
        await assert_answered_locally(running, rdap_server, names)
        _, stats = await running.get("/stats")
        (line,) = stats["registries"]["servers"].values()
        assert (line["failures"], line["rate_limited"], line["pauses"], line["paused"]) == (0, 0, 0, False)
    finally:
        await running.stop()
    assert rdap_server.rate_limited == 0
    assert rdap_server.busiest_second() <= RATE * 1.05 + 5  # never more than the configured rate


async def test_a_429_storm_slows_us_down_without_pausing_the_registry(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    """The registry allows fewer requests than we are configured for: its 429s hold the line (their
    Retry-After), nothing answers BACKED-OFF, and every name is resolved in the end."""
    rdap_server.latency = LATENCY
    rdap_server.rate_limit = 100
    names = burst_names("storm-", 500)
    serve_names(rdap_server, names)
    running = await burst_service(tmp_path, bootstrap_file)
    try:
        answers = await running.batch(names)
        assert_real_or_queued(answers, set(names[::10]), names)
        await running.service.settle()
        await assert_answered_locally(running, rdap_server, names)
        _, stats = await running.get("/stats")
        (line,) = stats["registries"]["servers"].values()
        assert line["rate_limited"] > 0 and line["failures"] == 0
        assert stats["background"]["queued_answers"] > 0
    finally:
        await running.stop()
    assert rdap_server.rate_limited > 0


async def test_a_failing_registry_is_still_paused(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    """Its own failures (5xx) pause it; recovery is shown on the RDAP client (tests/registry/rdap),
    whose clock moves."""
    for name in ("down1.com", "down2.com", "down3.com"):
        rdap_server.queue(name, Canned(status=503, once=True))
    rdap_server.add_domain("later.com", CREATED)
    directory = tmp_path / "data"
    write_config(
        directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="", registry_error_ttl_hours=0
    )
    running = await start_service(directory)
    try:
        failed = [await running.lookup(name) for name in ("down1.com", "down2.com", "down3.com")]
        assert [a["alerts"] for a in failed] == [["YOUR-FIRST-CONTACT", "RDAP-SERVER-ERROR"]] * 3
        paused = await running.lookup("later.com")
        assert paused["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-BACKED-OFF"]
        assert rdap_server.count("later.com") == 0
        _, stats = await running.get("/stats")
        (line,) = stats["registries"]["servers"].values()
        assert line["paused"] and line["pause_reason"] == "failures" and line["failures"] == 3
    finally:
        await running.stop()


async def test_the_upstream_line_is_bounded_and_says_what_overflowed(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    """10 batches of 10,000 new names once grew a worker by 5 KB a name for hours: past
    upstream_line_max a new name is answered queued and not kept."""
    rdap_server.latency = LATENCY
    names = burst_names("line-", 500)
    serve_names(rdap_server, names)
    running = await burst_service(tmp_path, bootstrap_file, upstream_line_max=100, rdap_server_rate=20)
    try:
        answers = await running.batch(names)
        _, stats = await running.get("/stats")
        async with running.client.get(running.url + "/metrics") as resp:
            metrics = await resp.text()
    finally:
        await running.stop()
    assert all(
        a["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-QUEUED"]
        or a["seen_by_web"] == SHOWN
        or "RDAP-NOT-FOUND" in a["alerts"]
        for a in answers
    )
    background = stats["background"]
    assert background["resolving"] <= 100 and background["line_max"] == 100
    assert background["line_overflows"] >= 400  # all but the hundred kept in line
    assert len(rdap_server.requests) <= 100  # what overflowed was never asked
    assert f"domain_stats_upstream_line_overflows_total {float(background['line_overflows'])}" in metrics
    assert "domain_stats_upstream_line " in metrics
