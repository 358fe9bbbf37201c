"""A member sends the names waiting for the central server together (``query_many``), and asks
an older server, which answers ``query_many`` with 400, one name at a time."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from domain_stats.alerts import ISC_FIRST_CONTACT, YOUR_FIRST_CONTACT
from tests.support.rdap_server import RdapTestServer
from tests.support.scripted_central import GOOD, ScriptedCentral
from tests.support.services import start_central, start_central_member, start_service, write_config

CREATED, SHOWN = "2012-03-04T05:06:07Z", "2012-03-04 05:06:07"


async def test_a_burst_of_misses_reaches_the_server_in_a_handful_of_requests(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    names = [f"burst-{n}.com" for n in range(500)]
    for name in names:
        rdap_server.add_domain(name, CREATED)
    central = await start_central(
        tmp_path / "central",
        rdap_bootstrap=str(bootstrap_file),
        rdap_server_rate=5000,  # about the member's requests, not the registry's line
        rdap_server_concurrency=200,
        upstream_queue_wait_seconds=4,
    )
    member = await start_central_member(tmp_path, "alpha", central)
    try:
        answers = await member.batch(names)
        _, stats = await member.get("/stats")
    finally:
        await member.stop()
        await central.stop()
    queries = Counter(request.get("command") for request in central.requests)
    assert queries["query"] == 0 and 0 < queries["query_many"] <= 20  # at most 100 names at once (its line)
    assert sum(len(r["domains"]) for r in central.requests if r.get("command") == "query_many") == 500
    assert all(a["seen_by_web"] == SHOWN and a["alerts"] == [YOUR_FIRST_CONTACT, ISC_FIRST_CONTACT] for a in answers)
    assert stats["central"]["query_many"] == queries["query_many"]


async def test_an_older_server_is_asked_one_name_at_a_time(tmp_path: Path) -> None:
    scripted = await ScriptedCentral().start()
    names = [f"old-{n}.com" for n in range(30)]
    try:
        directory = tmp_path / "member"
        write_config(directory, mode="central", server_url=scripted.url, api_key="k", rdap_bootstrap_refresh_url="")
        member = await start_service(directory)
        try:
            answers = await member.batch(names)
            again = await member.batch([f"older-{n}.com" for n in range(30)])
            _, stats = await member.get("/stats")
        finally:
            await member.stop()
    finally:
        await scripted.stop()
    assert scripted.other_commands == ["query_many"]  # asked once, then never again
    assert sorted(scripted.queries) == sorted([*names, *(f"older-{n}.com" for n in range(30))])
    assert all(a["seen_by_web"] == GOOD["seen_by_web"] for a in [*answers, *again])
    assert stats["central"]["query_many_supported"] is False
