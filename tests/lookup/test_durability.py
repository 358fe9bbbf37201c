"""kill -9 in the middle of a first-contact storm: no domain gets YOUR-FIRST-CONTACT twice, and the
database is intact. The contact is committed before the answer is written, so an answer a client
saw is a contact the database keeps."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path

import aiohttp

from tests.support.services import (
    cli_process,
    listen_on_free_port,
    serve_subprocess,
    stop_subprocess,
    worker_pids,
    write_config,
)

DOMAINS = [f"storm-{n}.com" for n in range(3000)]


async def test_kill_9_during_a_first_contact_storm_loses_no_first_contact(tmp_path: Path, bootstrap_file: Path) -> None:
    data = tmp_path / "data"
    write_config(data, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="")
    known = tmp_path / "known.csv"
    known.write_text("".join(f"{d},2001-01-01 00:00:00,2099-01-01 00:00:00\n" for d in DOMAINS))
    code, _, err = await cli_process("import", str(known), "--data", str(data))  # answered locally: no RDAP
    assert code == 0, err
    port = listen_on_free_port(data)
    url = f"http://127.0.0.1:{port}/"

    proc = await serve_subprocess(data, "--workers", "2", workers=2)
    first_seen: set[str] = set()
    queue = list(reversed(DOMAINS))
    well_into_the_storm = asyncio.Event()

    async def client(session: aiohttp.ClientSession) -> None:
        while queue:
            domain = queue.pop()
            try:
                async with session.get(url + domain) as resp:
                    answer = await resp.json()
            except (TimeoutError, aiohttp.ClientError):
                return  # the service was killed under us
            if "YOUR-FIRST-CONTACT" in answer["alerts"]:
                first_seen.add(domain)
                if len(first_seen) >= 1000:
                    well_into_the_storm.set()

    async with aiohttp.ClientSession() as session:
        storm = [asyncio.ensure_future(client(session)) for _ in range(16)]
        await asyncio.wait_for(well_into_the_storm.wait(), 60)  # with requests in flight
        victims = [proc.pid, *worker_pids(proc.pid)]
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        await asyncio.gather(*storm)
    await proc.wait()
    assert len(first_seen) >= 1000 and queue  # killed mid-storm

    with sqlite3.connect(data / "domain_stats.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    proc = await serve_subprocess(data, "--workers", "2", workers=2)
    try:
        again: set[str] = set()
        async with aiohttp.ClientSession() as session:
            for domain in DOMAINS:
                async with session.get(url + domain) as resp:
                    if "YOUR-FIRST-CONTACT" in (await resp.json())["alerts"]:
                        again.add(domain)
        assert first_seen & again == set()  # nobody's first contact came back
        assert again | first_seen >= set(queue)  # those never asked before the kill are first contacts now
    finally:
        assert await stop_subprocess(proc) == 0
