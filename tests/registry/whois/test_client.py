"""The WHOIS client against a real TCP server on 127.0.0.1: failures pause a server, which recovers."""

from __future__ import annotations

import pytest

from domain_stats import alerts
from domain_stats.registry.scheduler import Job, Priority
from domain_stats.registry.whois.client import WhoisClient, WhoisLimits
from domain_stats.registry.whois.errors import WhoisError
from domain_stats.registry.whois.servers import WhoisServers, parse_server
from tests.support.whois_server import HANG, WhoisTestServer, gtld_answer


async def alert_of(client: WhoisClient, domain: str) -> str:
    with pytest.raises(WhoisError) as caught:
        await client.lookup(domain, Job(Priority.LIVE))
    return caught.value.alert


async def test_a_failing_server_is_paused_and_recovers(whois_server: WhoisTestServer) -> None:
    now = [1000.0]
    client = WhoisClient(
        WhoisServers({"tv": parse_server(whois_server.address)}),
        WhoisLimits(timeout=0.2, rate=100, failures_before_backoff=3, backoff_initial=30),
        clock=lambda: now[0],
    )
    whois_server.answers["stuck.tv"] = HANG
    assert [await alert_of(client, "stuck.tv") for _ in range(3)] == [alerts.WHOIS_TIMEOUT] * 3
    assert await alert_of(client, "stuck.tv") == alerts.WHOIS_BACKED_OFF  # not asked: paused
    assert whois_server.count("stuck.tv") == 3
    (line,) = client.servers().values()
    assert line["paused"] and line["pause_reason"] == "failures" and line["failures"] == 3

    now[0] += 31
    whois_server.answers["stuck.tv"] = gtld_answer("stuck.tv", "2015-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    dates = await client.lookup("stuck.tv", Job(Priority.LIVE))
    assert dates.created == 1420070400.0
    assert not client.servers()[f"whois://{whois_server.address}"]["paused"]


async def test_a_domain_without_a_server(whois_server: WhoisTestServer) -> None:
    client = WhoisClient(WhoisServers({"tv": parse_server(whois_server.address)}))
    assert await alert_of(client, "example.tk") == alerts.NO_SERVER
    assert whois_server.queries == []


async def test_the_registry_rule_shapes_the_query(whois_server: WhoisTestServer) -> None:
    client = WhoisClient(WhoisServers({"jp": parse_server(whois_server.address)}))
    whois_server.answers["example.jp"] = b"[Domain Name]  EXAMPLE.JP\n[Created on]  2001/05/14\n"
    await client.lookup("example.jp", Job(Priority.LIVE))
    assert whois_server.queries == ["example.jp/e"]  # JPRS answers in English when asked with /e


async def test_a_long_answer_is_read_whole(whois_server: WhoisTestServer) -> None:
    client = WhoisClient(WhoisServers({"tv": parse_server(whois_server.address)}))
    padding = b"% terms of use, at length\r\n" * 30_000  # 810 kB, under the 1 MiB cap
    whois_server.answers["long.tv"] = padding + gtld_answer("long.tv", "2015-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    assert (await client.lookup("long.tv", Job(Priority.LIVE))).created == 1420070400.0
