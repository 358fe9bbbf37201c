"""The corpus table end to end: each real registry response, served by a loopback RDAP server,
answered by a fresh domain-stats service over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registry.rdap.corpus import DATED, UNDATED, CorpusEntry
from tests.support.rdap_server import RdapTestServer
from tests.support.services import start_service
from tests.support.shared import needs_shared

pytestmark = needs_shared


@pytest.mark.parametrize("entry", DATED, ids=lambda e: e.file)
async def test_registration_date_answered_as_in_manifest(
    data_dir: Path, rdap_server: RdapTestServer, entry: CorpusEntry
) -> None:
    assert entry.domain and entry.registration
    rdap_server.add_body(entry.domain, entry.body)
    running = await start_service(data_dir)
    try:
        answer = await running.lookup(entry.domain)
    finally:
        await running.stop()
    assert answer["seen_by_web"] == entry.registration.strftime("%Y-%m-%d %H:%M:%S")
    assert answer["seen_by_isc"] == "RDAP"
    assert answer["alerts"] == ["YOUR-FIRST-CONTACT"]


@pytest.mark.parametrize("entry", UNDATED, ids=lambda e: e.file)
async def test_error_and_search_bodies_answer_error(
    data_dir: Path, rdap_server: RdapTestServer, entry: CorpusEntry
) -> None:
    rdap_server.add_body("example.com", entry.body)
    running = await start_service(data_dir)
    try:
        status, answer = await running.get("example.com")
    finally:
        await running.stop()
    assert status == 200
    assert answer["seen_by_web"] == answer["seen_by_isc"] == answer["category"] == "ERROR"
    assert answer["alerts"][0] == "YOUR-FIRST-CONTACT"
    assert answer["alerts"][1] in {"RDAP-NOT-FOUND", "RDAP-BAD-RESPONSE"}
