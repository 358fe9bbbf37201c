"""The central server answers from WHOIS too, so members in mode central get WHOIS-backed answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain_stats import alerts
from tests.support.central_server import CentralTestServer
from tests.support.services import start_central, start_central_member
from tests.support.whois_server import WhoisTestServer, gtld_answer, sample


@pytest.fixture
async def whois_central(
    tmp_path: Path, bootstrap_file: Path, whois_server: WhoisTestServer
) -> AsyncIterator[CentralTestServer]:
    """A central server whose .tv (no RDAP server in the test bootstrap) goes to the WHOIS test server."""
    server = await start_central(
        tmp_path / "central", rdap_bootstrap=str(bootstrap_file), whois_servers={"tv": whois_server.address}
    )
    yield server
    await server.stop()


async def test_members_get_whois_answers_and_the_communitys_first_contact(
    tmp_path: Path, whois_central: CentralTestServer, whois_server: WhoisTestServer
) -> None:
    whois_server.answers["show.tv"] = gtld_answer("show.tv", "2004-08-02T07:00:00Z", "2030-08-02T07:00:00Z")
    whois_server.answers["git.tv"] = sample("git.de.txt").replace(b"git.de", b"git.tv")
    first = await start_central_member(tmp_path, "first", whois_central)
    second = await start_central_member(tmp_path, "second", whois_central)
    try:
        one = await first.lookup("show.tv")
        two = await second.lookup("show.tv")
        no_date = await first.lookup("git.tv")
        no_date_again = await second.lookup("git.tv")
        cached = await first.lookup("git.tv")  # the member caches it for the error TTL the server gave
    finally:
        await first.stop()
        await second.stop()
    assert one["seen_by_web"] == two["seen_by_web"] == "2004-08-02 07:00:00"
    assert one["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.ISC_FIRST_CONTACT]
    assert two["alerts"] == [alerts.YOUR_FIRST_CONTACT]
    assert no_date["alerts"] == no_date_again["alerts"] == [alerts.YOUR_FIRST_CONTACT, alerts.WHOIS_NO_DATE]
    assert whois_server.count("show.tv") == 1
    assert cached["alerts"] == [alerts.WHOIS_NO_DATE]
    # As for RDAP-NOT-FOUND, the central server stores no errors: each member asked once.
    assert whois_server.count("git.tv") == 2
