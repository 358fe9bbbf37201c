"""A real central server and real client services (mode isc), all on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from domain_stats.alerts import ISC_FIRST_CONTACT, YOUR_FIRST_CONTACT
from domain_stats.names import DEFAULT_PROHIBITED
from domain_stats.registry.registration import ORIGIN_CENTRAL
from tests.support.central_server import CentralTestServer
from tests.support.postgres import fresh_schema_url, postgres_unavailable
from tests.support.rdap_server import RdapTestServer
from tests.support.services import Clock, RunningService, start_central, start_central_member


async def test_isc_first_contact_once_across_clients_each_keeps_its_own_first_contact(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("fresh-start.com", "2026-11-20T10:00:00Z", "2027-11-20T10:00:00Z")
    alpha = await start_central_member(tmp_path, "alpha", central)
    beta = await start_central_member(tmp_path, "beta", central)
    try:
        first = await alpha.lookup("www.fresh-start.com")
        assert first["alerts"] == [YOUR_FIRST_CONTACT, ISC_FIRST_CONTACT]
        assert first["seen_by_web"] == "2026-11-20 10:00:00"
        assert first["category"] == "NEW"
        assert first["seen_by_isc"] not in ("NA", "RDAP", "ERROR")

        other = await beta.lookup("fresh-start.com")
        assert other["alerts"] == [YOUR_FIRST_CONTACT]
        assert other["seen_by_isc"] == first["seen_by_isc"]  # the community's date, not beta's

        assert (await alpha.lookup("mail.fresh-start.com"))["alerts"] == []
        assert (await beta.lookup("fresh-start.com"))["alerts"] == []
        assert rdap_server.count("fresh-start.com") == 1  # the central server resolved it once
        assert central.queries("fresh-start.com") == ["fresh-start.com", "fresh-start.com"]

        # Committed on each client with the community date: answered locally from now on.
        stored = await alpha.service.storage.get("fresh-start.com")
        assert stored.registration is not None and stored.registration.seen_by_isc is not None
    finally:
        await alpha.stop()
        await beta.stop()


async def test_concurrent_first_queries_from_several_clients(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    domains = [f"race-{i}.net" for i in range(25)]
    for domain in domains:
        rdap_server.add_domain(domain, "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    clients = [await start_central_member(tmp_path, f"site{i}", central) for i in range(3)]
    try:
        # Every client asks about every domain three times at once (different host names).
        asks = [(c, f"h{n}.{d}") for c in clients for d in domains for n in range(3)]
        answers = await asyncio.gather(*(c.lookup(name) for c, name in asks))
        isc = Counter(
            name.split(".", 1)[1]
            for (c, name), a in zip(asks, answers, strict=True)
            if ISC_FIRST_CONTACT in a["alerts"]
        )
        yours = Counter(
            (id(c), name.split(".", 1)[1])
            for (c, name), a in zip(asks, answers, strict=True)
            if YOUR_FIRST_CONTACT in a["alerts"]
        )
        assert isc == {d: 1 for d in domains}
        assert yours == {(id(c), d): 1 for c in clients for d in domains}
        assert all(rdap_server.count(d) == 1 for d in domains)
        dates = {name.split(".", 1)[1]: set() for _, name in asks}
        for (_, name), answer in zip(asks, answers, strict=True):
            dates[name.split(".", 1)[1]].add(answer["seen_by_isc"])
        assert all(len(seen) == 1 for seen in dates.values()), dates  # one community date per domain
    finally:
        for c in clients:
            await c.stop()


async def test_alert_lifecycle_cached_a_day_not_committed_then_cleared_and_committed(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("watched.org", "2001-05-05T00:00:00Z", "2031-05-05T00:00:00Z")
    await central.store.add_alert("watched.org", "PHISHING-KIT-SEEN", central.clock())
    clock = Clock()
    client = await start_central_member(tmp_path, "alpha", central, clock)
    try:
        first = await client.lookup("login.watched.org")
        assert first["alerts"] == [YOUR_FIRST_CONTACT, ISC_FIRST_CONTACT, "PHISHING-KIT-SEEN"]
        assert (await client.service.storage.get("watched.org")).registration is None  # not committed

        clock.advance(23 * 3600)
        assert (await client.lookup("watched.org"))["alerts"] == ["PHISHING-KIT-SEEN"]  # from the cache
        assert len(central.queries("watched.org")) == 1

        clock.advance(2 * 3600)  # a day has passed: asked again, the alert still stands
        assert (await client.lookup("watched.org"))["alerts"] == ["PHISHING-KIT-SEEN"]
        assert len(central.queries("watched.org")) == 2
        assert (await client.service.storage.get("watched.org")).registration is None

        assert await central.store.clear_alerts("watched.org") == 1
        clock.advance(25 * 3600)
        cleared = await client.lookup("watched.org")
        assert cleared["alerts"] == []
        assert len(central.queries("watched.org")) == 3
        stored = (await client.service.storage.get("watched.org")).registration
        assert stored is not None and stored.origin == ORIGIN_CENTRAL

        clock.advance(25 * 3600)  # committed: answered locally, the server is not asked again
        assert (await client.lookup("watched.org"))["alerts"] == []
        assert len(central.queries("watched.org")) == 3
        assert rdap_server.count("watched.org") == 1
    finally:
        await client.stop()


async def test_server_restart_loses_no_first_contact(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("remembered.com", "2026-10-01T00:00:00Z", "2027-10-01T00:00:00Z")
    key_a, key_b = await central.add_key("alpha"), await central.add_key("beta")
    alpha = await start_central_member(tmp_path, "alpha", central, key=key_a)
    first = await alpha.lookup("remembered.com")
    assert ISC_FIRST_CONTACT in first["alerts"]
    await alpha.stop()
    port = central.port
    await central.stop()

    restarted = await CentralTestServer(central.data_dir, central.clock).start(port=port)
    beta = await start_central_member(tmp_path, "beta", restarted, key=key_b)
    try:
        again = await beta.lookup("remembered.com")
        assert again["alerts"] == [YOUR_FIRST_CONTACT]
        assert again["seen_by_isc"] == first["seen_by_isc"]
        assert rdap_server.count("remembered.com") == 1  # the registration survived too
    finally:
        await beta.stop()
        await restarted.stop()


async def test_prohibited_names_never_reach_the_server(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    from domain_stats.central.policy import parse_policy_value

    await central.store.set_policy_value("prohibited_tlds", parse_policy_value("prohibited_tlds", ["Corp-Zone.com."]))
    local = [*DEFAULT_PROHIBITED, "lab.example.net"]
    client: RunningService = await start_central_member(tmp_path, "alpha", central, prohibited_tlds=local)
    try:
        for name in [
            "printer.local",
            "4.3.2.1.in-addr.arpa",
            "dc1.corp-zone.com",
            "corp-zone.com",
            "x.lab.example.net",
        ]:
            answer = await client.lookup(name)
            assert answer["alerts"] == ["PROHIBITED-TLD"], name
        assert central.queries() == []
        assert rdap_server.requests == []
        commands = [r.get("command") for r in central.requests]
        assert set(commands) <= {"config", "status"}
    finally:
        await client.stop()


async def test_two_central_servers_on_one_postgresql_record_community_first_contact_once(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer, request: pytest.FixtureRequest
) -> None:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    url = fresh_schema_url(request)
    servers = []
    for n in range(2):
        servers.append(
            await start_central(
                tmp_path / f"central{n}",
                rdap_bootstrap=str(bootstrap_file),
                database_url=url,
                upstream_queue_wait_seconds=30,
            )
        )
    domains = [f"pair-{i}.org" for i in range(40)]
    for domain in domains:
        rdap_server.add_domain(domain, "2026-11-01T00:00:00Z", "2027-11-01T00:00:00Z")
    key = await servers[0].add_key("alpha")  # keys live in the shared database: valid on both
    clients = [
        await start_central_member(tmp_path, f"site{n}", servers[n % 2], key=key if n == 0 else None) for n in range(4)
    ]
    try:
        answers = await asyncio.gather(*(c.lookup(d) for d in domains for c in clients))
        firsts = Counter(
            d
            for (d, _c), a in zip(((d, c) for d in domains for c in clients), answers, strict=True)
            if ISC_FIRST_CONTACT in a["alerts"]
        )
        assert firsts == {d: 1 for d in domains}
    finally:
        for c in clients:
            await c.stop()
        for server in servers:
            await server.stop()
