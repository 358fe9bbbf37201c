"""Lookups answered from WHOIS, end to end: the service, a real WHOIS server on 127.0.0.1, the
per-TLD override pointing at it, and a real RDAP server for the TLDs that have one."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain_stats import alerts
from domain_stats.lookup.config import CONFIG_NAME
from tests.support.rdap_server import Canned, RdapTestServer, write_bootstrap
from tests.support.services import RunningService, start_service, write_config
from tests.support.whois_server import HANG, HUGE, LIMIT_EXCEEDED, TRICKLE, WhoisTestServer, gtld_answer, sample

#: .tv and .de go to the WHOIS test server; .tk has neither RDAP nor WHOIS.
WHOIS_TLDS = ("tv", "de")
NO_SERVER_TLD = "tk"
TIMEOUT = 1.0


def whois_data_dir(tmp_path: Path, rdap_server: RdapTestServer, whois: WhoisTestServer, **settings: Any) -> Path:
    bootstrap = write_bootstrap(tmp_path / "bootstrap.json", rdap_server.url, without=(*WHOIS_TLDS, NO_SERVER_TLD))
    directory = tmp_path / "data"
    write_config(
        directory,
        rdap_bootstrap=str(bootstrap),
        rdap_bootstrap_refresh_url="",
        whois_servers={tld: whois.address for tld in WHOIS_TLDS},
        whois_timeout_seconds=TIMEOUT,
        **settings,
    )
    return directory


@pytest.fixture
async def service(
    tmp_path: Path, rdap_server: RdapTestServer, whois_server: WhoisTestServer, database_url: str
) -> AsyncIterator[RunningService]:
    running = await start_service(whois_data_dir(tmp_path, rdap_server, whois_server, database_url=database_url))
    yield running
    await running.stop()


async def test_first_contact_and_caching(service: RunningService, whois_server: WhoisTestServer) -> None:
    whois_server.answers["show.tv"] = gtld_answer("show.tv", "2004-08-02T07:00:00Z", "2030-08-02T07:00:00Z")
    first = await service.lookup("www.show.tv")
    assert first == {
        "seen_by_web": "2004-08-02 07:00:00",
        "seen_by_isc": "WHOIS",
        "seen_by_you": first["seen_by_you"],
        "category": "ESTABLISHED",
        "alerts": [alerts.YOUR_FIRST_CONTACT],
    }
    again = await service.lookup("show.tv")
    assert again["alerts"] == [] and again["seen_by_web"] == "2004-08-02 07:00:00"
    assert whois_server.count("show.tv") == 1
    assert whois_server.queries == ["show.tv"]


async def test_real_registry_answers(service: RunningService, whois_server: WhoisTestServer) -> None:
    whois_server.answers["git.de"] = sample("git.de.txt")  # DENIC: registered, no creation date
    whois_server.answers["gone.tv"] = sample("notfound-com.txt")
    no_date = await service.lookup("git.de")
    assert no_date["seen_by_web"] == "ERROR"
    assert no_date["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_NO_DATE]
    assert (await service.lookup("gone.tv"))["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_NOT_FOUND]
    assert (await service.lookup("git.de"))["alerts"] == [alerts.WHOIS_NO_DATE]  # cached
    assert whois_server.count("git.de") == 1


async def test_a_tld_with_neither_rdap_nor_whois(
    service: RunningService, whois_server: WhoisTestServer, rdap_server: RdapTestServer
) -> None:
    name = f"nothing.{NO_SERVER_TLD}"
    assert (await service.lookup(name))["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.NO_SERVER]
    assert (await service.lookup(name))["alerts"] == [alerts.NO_SERVER]
    assert whois_server.queries == [] and rdap_server.requests == []


async def test_rdap_tlds_still_go_to_rdap(
    service: RunningService, whois_server: WhoisTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("example.com", "2001-02-03T04:05:06Z", "2030-01-01T00:00:00Z")
    answer = await service.lookup("example.com")
    assert answer["seen_by_isc"] == "RDAP" and answer["seen_by_web"] == "2001-02-03 04:05:06"
    assert whois_server.queries == []


async def test_one_query_for_a_hundred_concurrent_first_asks(
    service: RunningService, whois_server: WhoisTestServer
) -> None:
    whois_server.latency = 0.3
    whois_server.answers["busy.tv"] = gtld_answer("busy.tv", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    answers = await asyncio.gather(*(service.lookup("busy.tv") for _ in range(100)))
    assert whois_server.count("busy.tv") == 1
    assert {a["seen_by_web"] for a in answers} == {"2020-01-01 00:00:00"}
    assert sum(alerts.YOUR_FIRST_CONTACT in a["alerts"] for a in answers) == 1


@pytest.mark.parametrize("behaviour", [HANG, TRICKLE])
async def test_a_server_that_never_finishes_times_out_within_the_budget(
    service: RunningService, whois_server: WhoisTestServer, behaviour: str
) -> None:
    whois_server.answers["slow.tv"] = behaviour
    answer = await service.lookup("slow.tv")  # a budget per read would never end: TRICKLE sends forever
    assert answer["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_TIMEOUT]
    _, stats = await service.get("/stats")
    line = stats["registries"]["servers"][f"whois://{whois_server.address}"]
    assert line["failures"] == 1 and line["in_flight"] == 0


async def test_an_endless_answer_is_cut_off(service: RunningService, whois_server: WhoisTestServer) -> None:
    whois_server.answers["big.tv"] = HUGE
    answer = await service.lookup("big.tv")
    assert answer["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_BAD_RESPONSE]


async def test_limit_exceeded_holds_the_line_and_the_query_waits_its_turn(
    tmp_path: Path, rdap_server: RdapTestServer, whois_server: WhoisTestServer
) -> None:
    data = whois_data_dir(tmp_path, rdap_server, whois_server, whois_limit_pause_seconds=0.3, whois_server_rate=20)
    running = await start_service(data)
    try:
        whois_server.answers["polite.tv"] = gtld_answer("polite.tv", "2019-05-05T00:00:00Z", "2030-01-01T00:00:00Z")
        whois_server.first["polite.tv"] = [LIMIT_EXCEEDED]
        answer = await running.lookup("polite.tv")  # refused once, asked again after the pause
        assert answer["seen_by_web"] == "2019-05-05 00:00:00"
        assert whois_server.count("polite.tv") == 2
        _, stats = await running.get("/stats")
        line = stats["registries"]["servers"][f"whois://{whois_server.address}"]
        assert line["rate_limited"] == 1 and line["failures"] == 0 and line["pauses"] == 1

        whois_server.answers["refused.tv"] = LIMIT_EXCEEDED  # refuses every time
        assert (await running.lookup("refused.tv"))["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_QUEUED]
        await running.service.settle()
        assert (await running.lookup("refused.tv"))["alerts"] == [alerts.WHOIS_RATE_LIMITED]
        assert whois_server.count("refused.tv") == 5
    finally:
        await running.stop()


async def test_our_rate_limit_queues_and_every_name_is_answered_later(
    tmp_path: Path, rdap_server: RdapTestServer, whois_server: WhoisTestServer
) -> None:
    rate = 4.0
    names = [f"name{i}.tv" for i in range(12)]
    for name in names:
        whois_server.answers[name] = gtld_answer(name, "2018-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    data = whois_data_dir(tmp_path, rdap_server, whois_server, whois_server_rate=rate, upstream_queue_wait_seconds=0.2)
    running = await start_service(data)
    try:
        first = await running.batch(names)
        # The queue wait (0.2 s), not the whole line (12 names at 4 a second: about 3 s).
        assert sum(whois_server.count(n) for n in names) < len(names)
        assert {a["seen_by_web"] for a in first} <= {"2018-01-01 00:00:00", "ERROR"}
        assert any(a["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_QUEUED] for a in first)
        await running.service.settle()
        again = await running.batch(names)
        assert {a["seen_by_web"] for a in again} == {"2018-01-01 00:00:00"}
        assert [whois_server.count(n) for n in names] == [1] * len(names)
        assert whois_server.busiest_second() <= rate
        assert whois_server.open_connections == 0
    finally:
        await running.stop()


async def test_an_unreachable_server(tmp_path: Path, rdap_server: RdapTestServer) -> None:
    closed = WhoisTestServer()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed.port = probe.getsockname()[1]
    running = await start_service(whois_data_dir(tmp_path, rdap_server, closed))
    try:
        assert (await running.lookup("down.tv"))["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_UNREACHABLE]
    finally:
        await running.stop()


async def test_whois_when_rdap_fails(
    tmp_path: Path, rdap_server: RdapTestServer, whois_server: WhoisTestServer
) -> None:
    data = whois_data_dir(tmp_path, rdap_server, whois_server, whois_when_rdap_fails=True)
    write_config(
        data,
        **{**yaml.safe_load((data / CONFIG_NAME).read_text()), "whois_servers": {"com": whois_server.address}},
    )
    rdap_server.queue("failing.com", Canned(status=503))
    whois_server.answers["failing.com"] = gtld_answer("failing.com", "2011-11-11T00:00:00Z", "2030-01-01T00:00:00Z")
    running = await start_service(data)
    try:
        answer = await running.lookup("failing.com")
    finally:
        await running.stop()
    assert answer["seen_by_web"] == "2011-11-11 00:00:00" and answer["seen_by_isc"] == "WHOIS"
    assert rdap_server.count("failing.com") == 1


async def test_a_hostile_answer_does_not_hold_up_the_service(
    tmp_path: Path, rdap_server: RdapTestServer, whois_server: WhoisTestServer
) -> None:
    """Answers of blanks where the patterns once backtracked (minutes of CPU each, /health blocked):
    /health is answered while they are read, and each gets its own answer."""
    blanks = b" \t" * 200_000
    bodies = [blanks + b"x", b"Creation Date: 2001-02-03" + blanks + b"x", b"[" + blanks + b"x"]
    names = [f"hostile{i}.tv" for i in range(len(bodies))]
    for name, body in zip(names, bodies, strict=True):
        whois_server.answers[name] = b"Domain Name: " + name.encode() + b"\n" + body + b"\n"
    data = whois_data_dir(tmp_path, rdap_server, whois_server, whois_server_rate=100, whois_server_concurrency=3)
    running = await start_service(data)
    try:
        lookups = [asyncio.ensure_future(running.lookup(name)) for name in names]
        # A wait for a hang, not a bound on speed: the backtracking took minutes per answer.
        status, health = await asyncio.wait_for(running.get("/health"), 60)
        assert (status, health) == (200, {"status": "ok"})
        answers = await asyncio.wait_for(asyncio.gather(*lookups), 60)
    finally:
        await running.stop()
    no_date = [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_NO_DATE]
    assert [a["alerts"] for a in answers] == [no_date, [alerts.YOUR_FIRST_CONTACT], no_date]
    assert answers[1]["seen_by_web"] == "2001-02-03 00:00:00"


async def test_a_creation_date_no_registry_can_hold_is_a_bad_response(
    service: RunningService, whois_server: WhoisTestServer
) -> None:
    whois_server.answers["epoch.tv"] = gtld_answer("epoch.tv", "1970-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    answer = await service.lookup("epoch.tv")
    assert (answer["seen_by_web"], answer["alerts"]) == (
        "ERROR",
        [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_BAD_RESPONSE],
    )
