"""The central server under clients that ask too much: slow headers, floods, too many at once, a stop.

A member over its query rate is answered 429 with ``Retry-After`` and holds its line; an
address with too many requests under way is answered 429 at once; a client that never
finishes its headers is cut off (the real server, ``central serve``); queries under way when
the server stops are answered, not logged as tracebacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import aiohttp
import yaml

from domain_stats.alerts import ISC_FIRST_CONTACT, ISC_QUEUED, YOUR_FIRST_CONTACT
from domain_stats.central.config import CENTRAL_CONFIG_NAME
from tests.support.rdap_server import RdapTestServer
from tests.support.services import (
    cli_process,
    listen_on_free_port,
    start_central,
    start_central_member,
    wait_for_central,
)

CREATED, SHOWN = "2012-03-04T05:06:07Z", "2012-03-04 05:06:07"


async def test_a_member_querying_faster_than_its_rate_is_answered_429(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("example.com", CREATED)
    central = await start_central(tmp_path / "central", rdap_bootstrap=str(bootstrap_file), member_query_rate=1)
    try:
        key = await central.add_key("flood")
        statuses, waits = [], []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as client:
            for _ in range(15):
                async with client.post(central.url + "/api", json={"command": "query", "domain": "example.com"}) as r:
                    statuses.append(r.status)
                    waits.append(r.headers.get("Retry-After"))
            async with client.post(central.url + "/api", json={"command": "config"}) as r:
                config_status = r.status
    finally:
        await central.stop()
    assert statuses[:10] == [200] * 10  # a burst of ten seconds' worth, then the rate
    assert 429 in statuses[10:] and all(int(w) >= 1 for s, w in zip(statuses, waits, strict=True) if s == 429)
    assert config_status == 200  # only queries are counted


async def test_a_member_told_to_wait_holds_its_line_and_never_fails(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    names = [f"paced-{n}.com" for n in range(14)]
    for name in names:
        rdap_server.add_domain(name, CREATED)
    central = await start_central(tmp_path / "central", rdap_bootstrap=str(bootstrap_file), member_query_rate=1)
    member = await start_central_member(tmp_path, "paced", central)
    try:
        # Two requests of seven (the burst is ten): the second is told to wait.
        first = await member.batch(names[:7]) + await member.batch(names[7:])
        await member.service.settle()
        again = await member.batch(names)
        _, stats = await member.get("/stats")
    finally:
        await member.stop()
        await central.stop()
    told = {tuple(a for a in answer["alerts"] if a != ISC_FIRST_CONTACT) for answer in first}
    assert told <= {(YOUR_FIRST_CONTACT,), (YOUR_FIRST_CONTACT, ISC_QUEUED)}
    assert [a["seen_by_web"] for a in again] == [SHOWN] * len(names)
    assert stats["central"]["rate_limited"] > 0 and stats["central"]["failures"] == 0


async def test_too_many_requests_from_one_address_are_answered_429_at_once(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    names = [f"held-{n}.com" for n in range(4)]
    releases = []
    for name in names:
        rdap_server.add_domain(name, CREATED)
        releases.append(rdap_server.hang(name))
    central = await start_central(
        tmp_path / "central",
        rdap_bootstrap=str(bootstrap_file),
        max_requests_per_address=3,
        upstream_queue_wait_seconds=30,
    )
    try:
        key = await central.add_key("busy")
        held = [asyncio.ensure_future(central.post({"command": "query", "domain": n}, key)) for n in names[:3]]
        for name in names[:3]:
            await rdap_server.wait_for_request(name)  # three under way
        status, answer = await central.post({"command": "query", "domain": names[3]}, key)
        assert status == 429 and "under way" in answer["error"]
        for release in releases:
            release.set()
        assert [s for s, _ in await asyncio.gather(*held)] == [200, 200, 200]
        assert (await central.post({"command": "query", "domain": names[3]}, key))[0] == 200  # room again
    finally:
        for release in releases:
            release.set()
        await central.stop()


class _Served:
    """``central serve`` in its own process; its log is read all along (a full pipe would stop it)."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str, log: bytes) -> None:
        self.proc, self.url, self.log = proc, url, bytearray(log)
        self._reading = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.log += chunk

    async def stop(self) -> str:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        await self.proc.wait()
        await self._reading
        return self.log.decode()


async def _serve_central(data: Path, *args: str, **settings: object) -> _Served:
    (data / CENTRAL_CONFIG_NAME).write_text(yaml.safe_dump({"whois_packaged_map": False, **settings}))
    port = listen_on_free_port(data, CENTRAL_CONFIG_NAME)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "domain_stats", "central", "serve", str(data), *args, stderr=asyncio.subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    return _Served(proc, url, await wait_for_central(proc, url))


async def test_slow_headers_are_cut_off_and_health_still_answers(tmp_path: Path, bootstrap_file: Path) -> None:
    """1,100 connections that never finish their headers once left 1 of 11 /health probes answered."""
    data = tmp_path / "central"
    data.mkdir(mode=0o700)
    served = await _serve_central(
        data, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="", header_timeout_seconds=1
    )
    url = served.url
    port = int(url.rsplit(":", 1)[1])
    slow: list[asyncio.StreamWriter] = []
    try:
        for _ in range(1100):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the empty line
            slow.append(writer)
        answered = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
            for _ in range(11):  # 30 s each: a hang detector, not a bound on speed
                async with client.get(url + "/health") as resp:
                    answered += resp.status == 200
        assert answered == 11
    finally:
        for writer in slow:
            writer.close()
        await served.stop()


async def test_queries_under_way_at_a_stop_are_answered_without_tracebacks(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    """SIGTERM with queries waiting for a registry once logged 20-43 CancelledError tracebacks: each
    is answered (the registry's timeout, or queued) and the server stops by itself."""
    names = [f"stopping-{n}.com" for n in range(20)]
    for name in names:
        rdap_server.add_domain(name, CREATED)
        rdap_server.hang(name)
    data = tmp_path / "central"
    data.mkdir(mode=0o700)
    served = await _serve_central(
        data, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="", rdap_timeout_seconds=2
    )
    url = served.url
    key = (await cli_process("central", "key", "add", "alpha", "--data", str(data)))[1].splitlines()[-1]
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as client:

            async def query(name: str) -> int:
                with contextlib.suppress(aiohttp.ClientError):
                    async with client.post(url + "/api", json={"command": "query", "domain": name}) as resp:
                        return resp.status
                return 0  # the connection closed without an answer

            asked = [asyncio.ensure_future(query(name)) for name in names]
            await rdap_server.wait_for_requests(10)  # queries are out at the registry (10 at a time)
            served.proc.send_signal(signal.SIGTERM)
            statuses = await asyncio.gather(*asked)
    finally:
        err = await served.stop()
    assert "Traceback" not in err and "CancelledError" not in err, err
    assert statuses == [200] * len(names) and served.proc.returncode == 0


async def test_two_workers_keep_the_community_first_contact_exactly_once(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    """``central serve --workers 2``: two members ask the same 30 new names at once, over new
    connections (spread over both workers): one ISC-FIRST-CONTACT a domain, one registry query."""
    names = [f"both-{n}.com" for n in range(30)]
    for name in names:
        rdap_server.add_domain(name, CREATED)
    data = tmp_path / "central"
    data.mkdir(mode=0o700)
    served = await _serve_central(
        data,
        "--workers",
        "2",
        rdap_bootstrap=str(bootstrap_file),
        rdap_bootstrap_refresh_url="",
        rdap_server_rate=1000,  # about first contacts, not the registry's line
        upstream_queue_wait_seconds=30,
    )
    try:
        keys = [
            (await cli_process("central", "key", "add", member, "--data", str(data)))[1].splitlines()[-1]
            for member in ("alpha", "beta")
        ]
        connector = aiohttp.TCPConnector(force_close=True)  # a new connection a query: both workers answer
        async with aiohttp.ClientSession(connector=connector) as client:

            async def query(key: str, name: str) -> list[str]:
                headers = {"Authorization": f"Bearer {key}"}
                body = {"command": "query", "domain": name}
                async with client.post(served.url + "/api", json=body, headers=headers) as resp:
                    assert resp.status == 200
                    return list((await resp.json())["alerts"])

            answers = await asyncio.gather(*(query(key, name) for name in names for key in keys))
    finally:
        log = await served.stop()
    assert "Spawning worker-2" in log
    assert sum(ISC_FIRST_CONTACT in alerts for alerts in answers) == len(names)
    assert all(rdap_server.count(name) <= 2 for name in names)  # at most once per worker
