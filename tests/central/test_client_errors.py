"""How a mode-isc client caches the central server's errors, and what it does when the server is gone."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from domain_stats.alerts import YOUR_FIRST_CONTACT
from tests.support.central_server import CentralTestServer
from tests.support.rdap_server import Canned, RdapTestServer
from tests.support.services import Clock, start_central_member, start_service, write_config


async def test_ttl_in_hours_caches_the_error_that_long(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    clock = Clock()
    client = await start_central_member(tmp_path, "alpha", central, clock)
    try:
        first = await client.lookup("never-registered.com")
        assert (first["seen_by_web"], first["category"]) == ("ERROR", "ERROR")
        assert first["alerts"] == [YOUR_FIRST_CONTACT, "RDAP-NOT-FOUND"]
        clock.advance(59 * 60)
        assert (await client.lookup("never-registered.com"))["alerts"] == ["RDAP-NOT-FOUND"]
        assert len(central.queries("never-registered.com")) == 1
        clock.advance(2 * 60)  # the server said 1 hour
        await client.lookup("never-registered.com")
        assert len(central.queries("never-registered.com")) == 2
    finally:
        await client.stop()


async def test_ttl_zero_is_not_cached(tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer) -> None:
    rdap_server.queue("flaky.com", Canned(status=503, body=b"{}"))  # every time
    client = await start_central_member(tmp_path, "alpha", central)
    try:
        for _ in range(2):
            answer = await client.lookup("flaky.com")
            assert answer["alerts"][-1] in ("RDAP-SERVER-ERROR", "RDAP-BACKED-OFF")
        assert len(central.queries("flaky.com")) == 2
        assert (await client.service.storage.get("flaky.com")).seen_by_you is not None  # still our contact
    finally:
        await client.stop()


async def test_ttl_minus_one_never_expires_but_is_evictable(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("filler.com", "2000-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    clock = Clock()
    client = await start_central_member(tmp_path, "alpha", central, clock, cached_max_items=1)
    try:
        assert (await client.lookup("show.tv"))["alerts"] == [YOUR_FIRST_CONTACT, "NO-SERVER"]
        clock.advance(10 * 365 * 86400)
        assert (await client.lookup("show.tv"))["alerts"] == ["NO-SERVER"]
        assert len(central.queries("show.tv")) == 1
        await client.lookup("filler.com")  # the cache holds one entry: show.tv is evicted
        await client.lookup("show.tv")
        assert len(central.queries("show.tv")) == 2
    finally:
        await client.stop()


async def test_ttl_minus_two_is_permanent_and_never_evicted(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("filler.com", "2000-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    clock = Clock()
    client = await start_central_member(tmp_path, "alpha", central, clock, cached_max_items=1)
    try:
        # Prohibited by the server after this client joined (so the client's list does not have it yet).
        await central.store.set_policy_value("prohibited_tlds", ["blocked-zone.com"])
        assert (await client.lookup("blocked-zone.com"))["alerts"] == [YOUR_FIRST_CONTACT, "PROHIBITED-TLD"]
        await client.lookup("filler.com")
        clock.advance(100 * 365 * 86400)
        assert (await client.lookup("blocked-zone.com"))["alerts"] == ["PROHIBITED-TLD"]
        assert len(central.queries("blocked-zone.com")) == 1
    finally:
        await client.stop()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_unreachable_server_answers_error_at_once_then_backs_off(
    tmp_path: Path, rdap_server: RdapTestServer
) -> None:
    directory = tmp_path / "client"
    write_config(
        directory,
        mode="central",
        server_url=f"http://127.0.0.1:{_closed_port()}",
        api_key="k",
        rdap_bootstrap_refresh_url="",
    )
    clock = Clock()
    client = await start_service(directory, clock)
    try:
        first = await client.lookup("example.com")
        assert first["alerts"] == [YOUR_FIRST_CONTACT, "ISC-UNREACHABLE"] or first["alerts"] == [
            YOUR_FIRST_CONTACT,
            "ISC-BACKED-OFF",
        ]
        answers = await asyncio.gather(*(client.lookup(f"site{i}.com") for i in range(50)))
        assert {a["alerts"][-1] for a in answers} == {"ISC-BACKED-OFF"}  # nothing tried while backing off
        requests = client.service.upstream.stats()["requests"]
        clock.advance(120)  # past the longest pause: the next lookup tries the server again
        await client.lookup("example.com")
        assert client.service.upstream.stats()["requests"] == requests + 1
        assert rdap_server.requests == []  # no fallback unless configured
    finally:
        await client.stop()


async def test_hanging_server_does_not_pile_lookups_up(tmp_path: Path) -> None:
    connections: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    silent = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    directory = tmp_path / "client"
    write_config(
        directory,
        mode="central",
        server_url=f"http://127.0.0.1:{port}",
        api_key="k",
        rdap_bootstrap_refresh_url="",
        server_timeout_seconds=0.5,
    )
    clock = Clock()
    client = await start_service(directory, clock)  # its config request times out: it starts anyway
    try:
        clock.advance(120)  # past the pause that followed
        before = len(connections)
        answers = await asyncio.gather(*(client.lookup(f"slow{i}.com") for i in range(20)))
        assert {a["alerts"][-1] for a in answers} <= {"ISC-TIMEOUT", "ISC-BACKED-OFF"}
        opened = len(connections)
        assert opened > before
        later = await asyncio.gather(*(client.lookup(f"later{i}.com") for i in range(50)))
        # Refused at once: every one ISC-BACKED-OFF, and no new connection was opened (below).
        assert {a["alerts"][-1] for a in later} == {"ISC-BACKED-OFF"}
        assert len(connections) == opened
    finally:
        await client.stop()
        for writer in connections:
            writer.close()
        silent.close()
        await silent.wait_closed()


async def test_fallback_to_rdap_only_when_configured(
    tmp_path: Path, rdap_server: RdapTestServer, bootstrap_file: Path
) -> None:
    rdap_server.add_domain("fallback.com", "2012-12-12T12:00:00Z", "2032-12-12T12:00:00Z")
    directory = tmp_path / "client"
    write_config(
        directory,
        mode="central",
        server_url=f"http://127.0.0.1:{_closed_port()}",
        api_key="k",
        rdap_bootstrap=str(bootstrap_file),
        rdap_bootstrap_refresh_url="",
        central_fallback_registry=True,
    )
    client = await start_service(directory)
    try:
        answer = await client.lookup("fallback.com")
        assert (answer["seen_by_web"], answer["seen_by_isc"]) == ("2012-12-12 12:00:00", "RDAP")
        assert answer["alerts"] == [YOUR_FIRST_CONTACT]
        assert rdap_server.count("fallback.com") == 1
    finally:
        await client.stop()


async def test_revoked_key_turns_lookups_into_errors(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("before.com", "2005-01-01T00:00:00Z", "2035-01-01T00:00:00Z")
    client = await start_central_member(tmp_path, "alpha", central)
    try:
        assert (await client.lookup("before.com"))["seen_by_web"] == "2005-01-01 00:00:00"
        assert await central.store.revoke_key("alpha", central.clock())
        answer = await client.lookup("after.com")
        assert answer["alerts"] == [YOUR_FIRST_CONTACT, "ISC-UNAUTHORIZED"]
        assert (await client.lookup("before.com"))["seen_by_web"] == "2005-01-01 00:00:00"  # known locally
        assert central.queries("after.com") == []  # refused before its body was even read
        assert rdap_server.count("after.com") == 0
    finally:
        await client.stop()
