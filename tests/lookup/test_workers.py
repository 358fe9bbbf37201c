"""``serve --workers N``: several processes on one port, one first contact per domain."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from domain_stats.listening import listen
from domain_stats.lookup.config import load_settings
from domain_stats.lookup.supervisor import Supervisor
from domain_stats.registry.rdap.setup import open_rdap_client
from tests.support.rdap_server import RdapTestServer
from tests.support.services import add_settings, listen_on_free_port, serve_subprocess, stop_subprocess, worker_pids


async def test_two_workers_share_the_port_and_first_contact(data_dir: Path, rdap_server: RdapTestServer) -> None:
    port = listen_on_free_port(data_dir)
    # 50 new names at once: more than the registry's line serves in the default queue wait.
    add_settings(data_dir, upstream_queue_wait_seconds=30)
    domains = [f"worker-test-{i}.com" for i in range(50)]
    for domain in domains:
        rdap_server.add_domain(domain, "2010-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    proc = await serve_subprocess(data_dir, "--workers", "2", workers=2)
    try:
        connector = aiohttp.TCPConnector(limit=100, force_close=True)  # new connections: spread over workers
        async with aiohttp.ClientSession(connector=connector) as client:

            async def ask(name: str) -> dict:
                async with client.get(f"http://127.0.0.1:{port}/{name}") as resp:
                    return await resp.json()

            asked = [d for d in domains for _ in range(4)]
            answers = await asyncio.gather(*(ask(f"h{n}.{d}") for n, d in enumerate(asked)))
            workers = worker_pids(proc.pid)
            stats = [(await ask("stats"))["worker"] for _ in range(10)]
    finally:
        status = await stop_subprocess(proc)
    assert status == 0
    firsts = Counter(d for d, a in zip(asked, answers, strict=True) if "YOUR-FIRST-CONTACT" in a["alerts"])
    assert firsts == Counter(domains)  # exactly one first contact per domain, whichever worker answered
    assert all(a["seen_by_web"] == "2010-01-01 00:00:00" for a in answers)
    assert (data_dir / "memory_cache.0.json").exists() and (data_dir / "memory_cache.1.json").exists()
    # /stats says which worker answered: one of the two, under its own slot.
    assert all(w["of"] == 2 and w["pid"] in workers and w["slot"] in (0, 1) for w in stats)


async def read_log_until(proc: asyncio.subprocess.Process, text: bytes, count: int = 1) -> bytes:
    seen = b""
    while seen.count(text) < count:
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert line, f"serve exited before logging {text!r}:\n{seen.decode()}"
        seen += line
    return seen


async def test_a_killed_worker_is_started_again(data_dir: Path) -> None:
    port = listen_on_free_port(data_dir)
    proc = await serve_subprocess(data_dir, "--workers", "2", workers=2)
    try:
        before = worker_pids(proc.pid)
        assert len(before) == 2
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        log = await read_log_until(proc, b"worker ready to answer lookups")
        assert b"exited with status -9; starting it again" in log
        after = worker_pids(proc.pid)
        assert len(after) == 2 and victim not in after
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as client:
            for _ in range(20):  # new connections: both workers answer
                async with client.get(f"http://127.0.0.1:{port}/printer.local") as resp:
                    assert (await resp.json())["alerts"] == ["PROHIBITED-TLD"]
    finally:
        assert await stop_subprocess(proc) == 0


async def test_workers_stop_when_the_supervisor_is_gone(data_dir: Path) -> None:
    listen_on_free_port(data_dir)
    proc = await serve_subprocess(data_dir, "--workers", "2", workers=2)
    assert len(worker_pids(proc.pid)) == 2
    proc.kill()  # no chance to stop its workers itself
    await proc.wait()
    # Each worker notices, stops gracefully and saves its cache; the log pipe closes when both have exited.
    rest = await asyncio.wait_for(proc.stderr.read(), 60)
    assert rest.count(b"has gone; stopping") == 2
    assert rest.count(b"saved 0 cached answers") == 2
    assert (data_dir / "memory_cache.0.json").exists() and (data_dir / "memory_cache.1.json").exists()


async def test_the_supervisor_gives_up_on_workers_that_cannot_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    starts = tmp_path / "starts"
    record_start = f"import sys; open({str(starts)!r}, 'a').write(sys.argv[3] + '\\n'); sys.exit(int(sys.argv[-1]))"
    # A worker that cannot start (status 3) is not started again: the service stops.
    sock = listen("127.0.0.1", 0)
    cannot = Supervisor(tmp_path, sock, 1, [sys.executable, "-c", record_start.replace("int(sys.argv[-1])", "3")])
    assert await cannot.run() is False
    assert starts.read_text().split() == ["0"]
    assert sock.fileno() == -1  # the supervisor stopped listening as it stopped
    # One that keeps crashing is started again in its slot, up to the limit.
    starts.unlink()
    crashing = Supervisor(
        tmp_path, listen("127.0.0.1", 0), 2, [sys.executable, "-c", record_start.replace("int(sys.argv[-1])", "1")]
    )
    with caplog.at_level(logging.WARNING, logger="domain_stats.lookup.supervisor"):
        assert await crashing.run() is False
    restarted = [r.getMessage() for r in caplog.records if "starting it again" in r.getMessage()]
    assert len(restarted) == 5  # five restarts a minute; the sixth exit stops the service
    assert {m.split()[1] for m in restarted} == {"0", "1"}  # each in its own slot
    assert "workers keep exiting" in caplog.text


async def test_a_worker_with_a_bad_configuration_says_so_and_exits_3(data_dir: Path) -> None:
    (data_dir / "domain_stats.yaml").write_text("local_port: [not a port\n")
    sock = listen("127.0.0.1", 0)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "domain_stats.lookup.worker",
            str(data_dir),
            str(sock.fileno()),
            "0",
            "1",
            pass_fds=(sock.fileno(),),
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
    finally:
        sock.close()
    assert proc.returncode == 3
    assert b"cannot start" in err and b"Traceback" not in err


async def test_workers_share_the_rdap_server_limits(data_dir: Path) -> None:
    """``--workers N``: each worker's RDAP engine takes 1/N of the configured per-server limits
    (at least one request at a time), so a registry sees the service's limit, not N times it.
    That an engine holds to its limits is tested in tests/registry/rdap/test_client.py."""
    settings = load_settings(data_dir, {"rdap_server_concurrency": 4, "rdap_server_rate": 20.0})
    for share, concurrency, rate in [(1, 4, 20.0), (2, 2, 10.0), (8, 1, 2.5)]:
        client = await open_rdap_client(settings, data_dir, share=share)
        try:
            assert (client.limits.per_server_concurrency, client.limits.per_server_rate) == (concurrency, rate)
        finally:
            await client.close()


async def test_a_stopping_service_stops_listening_at_once_and_finishes_what_it_holds(
    data_dir: Path, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("slow.com", "2004-04-04T00:00:00Z", "2099-01-01T00:00:00Z")
    release = rdap_server.hang("slow.com")
    port = listen_on_free_port(data_dir)
    proc = await serve_subprocess(data_dir, "--workers", "2", workers=2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /slow.com HTTP/1.1\r\nHost: t\r\n\r\n")
        await rdap_server.wait_for_request("slow.com")
        proc.send_signal(signal.SIGTERM)
        # New clients are turned away straight away (refused, or reset if they raced the close),
        # not left waiting on a socket nobody accepts from, while the request under way is held.
        deadline = time.monotonic() + 30  # a wait for the stop, not a bound on it
        turned_away = False
        while not turned_away and time.monotonic() < deadline:
            try:
                _, probe = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
                probe.close()
                await probe.wait_closed()  # a connection queued just before the close is reset here
            except (ConnectionRefusedError, ConnectionResetError):
                turned_away = True
        assert turned_away and not release.is_set()
        release.set()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200 ") and b"connection: close" in head
    finally:
        release.set()
        writer.close()
        assert await stop_subprocess(proc) == 0
