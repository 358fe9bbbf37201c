"""``serve --workers N``: several processes on one port, one first contact per domain."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp

from tests.conftest import listen_on_free_port, serve_subprocess, stop_subprocess
from tests.rdap_server import RdapTestServer


async def test_two_workers_share_the_port_and_first_contact(data_dir: Path, rdap_server: RdapTestServer) -> None:
    port = listen_on_free_port(data_dir)
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
    finally:
        status = await stop_subprocess(proc)
    assert status == 0
    firsts = Counter(d for d, a in zip(asked, answers, strict=True) if "YOUR-FIRST-CONTACT" in a["alerts"])
    assert firsts == Counter(domains)  # exactly one first contact per domain, whichever worker answered
    assert all(a["seen_by_web"] == "2010-01-01 00:00:00" for a in answers)
    assert (data_dir / "memory_cache.0.json").exists() and (data_dir / "memory_cache.1.json").exists()
