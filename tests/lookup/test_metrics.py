"""``GET /metrics``: the whole service in the Prometheus text format, read by the client library's own parser."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.rdap_server import RdapTestServer
from tests.support.services import (
    RunningService,
    add_settings,
    listen_on_free_port,
    serve_subprocess,
    start_service,
    stop_subprocess,
)


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_two_workers_one_scrape_shows_the_whole_service(data_dir: Path, rdap_server: RdapTestServer) -> None:
    port = listen_on_free_port(data_dir)
    add_settings(data_dir, upstream_queue_wait_seconds=30)
    domains = [f"metrics-test-{i}.com" for i in range(20)]
    for domain in domains:
        rdap_server.add_domain(domain, "2010-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    proc = await serve_subprocess(data_dir, "--workers", "2", workers=2)
    url = f"http://127.0.0.1:{port}"
    try:
        connector = aiohttp.TCPConnector(limit=20, force_close=True)  # new connections: spread over the workers
        async with aiohttp.ClientSession(connector=connector) as client:

            async def get(path: str) -> tuple[int, str, str]:
                async with client.get(url + path) as resp:
                    return resp.status, resp.headers["content-type"], await resp.text()

            for round_ in range(3):  # the first round asks the registry, the next two are answered from memory
                await asyncio.gather(*(get(f"/h{round_}.{d}") for d in domains))
            await get("/not_a_name")  # invalid: a 400 answer, still a lookup
            # Each worker writes its figures every second; the serving worker adds its own, live.
            deadline = time.monotonic() + 60
            while True:
                status, content_type, text = await get("/metrics")
                samples = parse(text)
                if samples[("domain_stats_lookups_total", (("answer", "invalid"),))] == 1 and (
                    sum(v for (name, _), v in samples.items() if name == "domain_stats_lookups_total") == 61
                ):
                    break
                assert time.monotonic() < deadline, text
                await asyncio.sleep(0.2)
    finally:
        assert await stop_subprocess(proc) == 0
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert samples[("domain_stats_workers", ())] == 2
    assert samples[("domain_stats_lookups_total", (("answer", "upstream"),))] == 20
    assert samples[("domain_stats_first_contacts_total", ())] == 20
    assert samples[("domain_stats_database_misses_total", ())] == 20
    assert samples[("domain_stats_lookup_duration_seconds_count", ())] == 61
    assert samples[("domain_stats_lookup_duration_seconds_bucket", (("le", "+Inf"),))] == 61
    server = (("server", rdap_server.url),)
    assert samples[("domain_stats_upstream_requests_total", server)] == 20  # one registry query a domain
    assert samples[("domain_stats_upstream_failures_total", server)] == 0
    assert samples[("domain_stats_upstream_paused", server)] == 0
    assert samples[("domain_stats_upstream_queued", (("priority", "live"), *server))] == 0


async def test_metrics_follow_the_stats_access_rule(data_dir: Path) -> None:
    service = await start_service(data_dir, admin_key="metrics-key-123456")
    try:
        await service.lookup("example.com")
        assert (await service.get("/metrics"))[0] == 401
        async with service.client.get(
            service.url + "/metrics", headers={"Authorization": "Bearer metrics-key-123456"}
        ) as resp:
            assert resp.status == 200
            samples = parse(await resp.text())
        assert samples[("domain_stats_workers", ())] == 1
        # The test registry does not know example.com: an ERROR answer (RDAP-NOT-FOUND).
        assert samples[("domain_stats_lookups_total", (("answer", "error"),))] == 1
    finally:
        await service.stop()
    open_service = await start_service(data_dir)
    try:
        assert (await open_service.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}))[0] == 403
    finally:
        await open_service.stop()


async def test_new_answers_and_first_contacts_are_counted_from_memory_too(old_and_new_service: RunningService) -> None:
    """A NEW answer counts whether it was worked out or came from the memory cache (which keeps a
    NEW flag with each entry rather than searching each answer)."""
    service = old_and_new_service
    for name in ("fresh-news.net", "www.fresh-news.net", "example.com", "example.com"):
        await service.lookup(name)
    async with service.client.get(service.url + "/metrics") as resp:
        samples = parse(await resp.text())
    assert samples[("domain_stats_new_answers_total", ())] == 2
    assert samples[("domain_stats_first_contacts_total", ())] == 2
    assert samples[("domain_stats_lookups_total", (("answer", "memory"),))] == 2
    assert samples[("domain_stats_lookups_total", (("answer", "upstream"),))] == 2
