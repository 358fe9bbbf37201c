"""A burst of new names through the central server: its RDAP engine queues, its members do not wait.

The central server answers ``RDAP-QUEUED`` (not cached) when its RDAP line is longer than its
queue wait and resolves the name in the background; a member answers its own askers
``ISC-QUEUED`` and asks the central server again until it has the answer, which the next ask
gets locally, with the community's first contact in exactly one answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.central_server import CentralTestServer
from tests.support.rdap_server import RdapTestServer
from tests.support.services import start_central, start_central_member

RATE = 20
NAMES = 60


@pytest.fixture
async def slow_central(tmp_path: Path, bootstrap_file: Path) -> AsyncIterator[CentralTestServer]:
    """A central server whose registry line is short on capacity (RATE a second) and short on patience."""
    server = await start_central(
        tmp_path / "central",
        rdap_bootstrap=str(bootstrap_file),
        rdap_server_rate=RATE,
        rdap_server_concurrency=2,
        upstream_queue_wait_seconds=0.3,
    )
    yield server
    await server.stop()


async def test_a_members_burst_is_queued_at_the_central_server_and_answered_locally_next_time(
    tmp_path: Path, slow_central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.latency = 0.05
    names = [f"community-burst-{n}.com" for n in range(NAMES)]
    for name in names:
        rdap_server.add_domain(name, "2012-03-04T05:06:07Z", "2099-01-01T00:00:00Z")
    member = await start_central_member(tmp_path, "site", slow_central, upstream_queue_wait_seconds=0.5)
    try:
        first = await member.batch(names)
        # Answered while the central server's line still held names (RATE a second): nobody waited for it.
        assert len(rdap_server.requests) < NAMES
        queued = [n for n, a in zip(names, first, strict=True) if a["seen_by_web"] == "ERROR"]
        assert queued  # more than the central server's registry line could serve in its queue wait
        for answer in first:
            if answer["seen_by_web"] == "ERROR":
                assert answer["alerts"] == ["YOUR-FIRST-CONTACT", "ISC-QUEUED"], answer
            else:
                assert answer["seen_by_web"] == "2012-03-04 05:06:07", answer

        await member.service.settle()  # the member asked the central server again until it knew
        before = len(slow_central.queries())
        second = await member.batch(names)
        assert len(slow_central.queries()) == before  # answered locally
        _, stats = await member.get("/stats")
    finally:
        await member.stop()
    assert all(a["seen_by_web"] == "2012-03-04 05:06:07" and a["seen_by_isc"] != "ERROR" for a in second)
    community_firsts = Counter(
        name
        for name, a in [*zip(names, first, strict=True), *zip(names, second, strict=True)]
        if "ISC-FIRST-CONTACT" in a["alerts"]
    )
    assert community_firsts == Counter(names)  # exactly one answer each, queued or not
    assert all(rdap_server.count(name) == 1 for name in names)
    assert stats["central"]["line"]["failures"] == 0 and stats["background"]["queued_answers"] == len(queued)
