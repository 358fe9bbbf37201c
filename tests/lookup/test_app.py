"""The HTTP layer's own rules: the batch endpoint and the one error envelope."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from domain_stats.lookup.app import MAX_BATCH_NAMES
from tests.support.rdap_server import RdapTestServer, write_bootstrap
from tests.support.services import RunningService, start_service, write_config

ANSWER_KEYS = {"seen_by_web", "seen_by_isc", "seen_by_you", "category", "alerts"}


async def post(service: RunningService, body: bytes) -> tuple[int, object]:
    async with service.client.post(service.url + "/batch", data=io.BytesIO(body)) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        return resp.status, orjson.loads(await resp.read())


async def test_batch_answers_in_order_with_single_lookup_semantics(
    service: RunningService, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("alpha.com", "2001-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    rdap_server.add_domain("beta.org", "2002-02-02T00:00:00Z", "2099-01-01T00:00:00Z")
    names = ["www.alpha.com", "printer.local", "10.1.2.3", "beta.org", "alpha.com", "no-such.net"]
    status, answers = await post(service, orjson.dumps(names))
    assert status == 200 and len(answers) == len(names)
    assert all(set(a) == ANSWER_KEYS for a in answers)
    assert answers[0]["seen_by_web"] == "2001-01-01 00:00:00"
    assert answers[1]["alerts"] == ["PROHIBITED-TLD"]
    assert answers[2]["alerts"][0].startswith("INVALID-NAME")  # bad names answered in place
    assert answers[3]["seen_by_web"] == "2002-02-02 00:00:00"
    assert answers[3]["alerts"] == ["YOUR-FIRST-CONTACT"]
    assert answers[5]["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-NOT-FOUND"]
    # The same domain twice in one batch is still one first contact.
    assert sorted([answers[0]["alerts"], answers[4]["alerts"]]) == [[], ["YOUR-FIRST-CONTACT"]]
    single = await service.lookup("alpha.com")
    assert single["alerts"] == [] and single["seen_by_you"] == answers[0]["seen_by_you"]
    assert rdap_server.count("alpha.com") == 1


async def test_batch_limits(service: RunningService) -> None:
    assert (await post(service, orjson.dumps([])))[0] == 200
    status, answer = await post(service, orjson.dumps(["printer.local"] * (MAX_BATCH_NAMES + 1)))
    assert status == 413 and answer["alerts"][0].startswith("TOO-LARGE")
    status, answer = await post(service, b'["' + b"a" * (5 * 1024 * 1024) + b'"]')
    assert status == 413
    full_status, full = await post(service, orjson.dumps(["printer.local"] * MAX_BATCH_NAMES))
    assert full_status == 200 and len(full) == MAX_BATCH_NAMES


@pytest.mark.parametrize("body", [b"", b"not json", b'{"names": ["a.com"]}', b'["a.com", 5]', b"[null]"])
async def test_malformed_batches_are_400(service: RunningService, rdap_server: RdapTestServer, body: bytes) -> None:
    status, answer = await post(service, body)
    assert status == 400
    assert set(answer) == ANSWER_KEYS and answer["alerts"][0].startswith("BAD-REQUEST")
    assert rdap_server.requests == []


async def test_error_paths_share_one_envelope(service: RunningService) -> None:
    for method, path, expected in [
        ("PUT", "/example.com", 405),
        ("GET", "/co.uk", 400),
        ("GET", "/showcache?offset=-1", 400),
        ("GET", "/batch", 405),
    ]:
        async with service.client.request(method, service.url + path) as resp:
            body = await resp.json()
            assert resp.status == expected, (method, path)
            assert set(body) == ANSWER_KEYS
            assert body["seen_by_web"] == body["category"] == "ERROR" and body["seen_by_you"] == "NA"


async def test_a_padded_name_in_a_batch_is_refused_alone(service: RunningService) -> None:
    padded = " " * 1_000_000 + "www.example.com"
    body = io.BytesIO(orjson.dumps([padded, "printer.local"]))
    async with service.client.post(service.url + "/batch", data=body) as resp:
        assert resp.status == 200
        first, second = await resp.json()
    assert first["category"] == "ERROR" and first["alerts"][0].startswith("INVALID-NAME")
    assert "longer than any domain name" in first["alerts"][0]
    assert second["alerts"] == ["PROHIBITED-TLD"]


async def batch_beside_health(service: RunningService, names: list[str]) -> tuple[list[dict[str, Any]], int]:
    """``POST /batch`` of ``names`` while /health is asked one after another: the answers, and how
    many times /health was answered before the batch was."""

    async def batch() -> list[dict[str, Any]]:
        body = io.BytesIO(orjson.dumps(names))  # a large body as raw bytes would hold the client's loop
        async with service.client.post(service.url + "/batch", data=body) as resp:
            assert resp.status == 200
            answers: list[dict[str, Any]] = await resp.json()
            return answers

    asked = asyncio.ensure_future(batch())
    health_answers = 0
    while not asked.done():
        status, _ = await service.get("/health")
        assert status == 200
        health_answers += 1
    return await asked, health_answers


async def test_a_batch_of_slow_names_does_not_hold_up_other_requests(service: RunningService) -> None:
    """10,000 long Unicode names (IDNA for each, about 2 s of work) while /health is asked one after
    another: /health is answered all along the batch, not once it is over (a count, not seconds: a
    busy machine stretches the batch and the answers alike)."""
    names = [f"{'bücher' * 5}{i}.{'ärger' * 6}.{'straße' * 5}.corp" for i in range(10_000)]
    answers, health_answers = await batch_beside_health(service, names)
    assert len(answers) == 10_000 and all(a["alerts"] == ["PROHIBITED-TLD"] for a in answers)
    # The batch lets the loop run every 5 ms of its work: held for the whole batch, /health would be
    # answered once or twice; here it is answered between slices, dozens of times.
    assert health_answers > 20


async def test_a_batch_of_new_names_does_not_hold_up_other_requests(
    tmp_path: Path, rdap_server: RdapTestServer
) -> None:
    """10,000 new names (each a first contact, a database write and an upstream answer) while
    /health is asked one after another: answered all along the batch (once held 0.8-1.1 s)."""
    bootstrap = write_bootstrap(tmp_path / "bootstrap.json", rdap_server.url, without=("de",))
    data = tmp_path / "data"
    write_config(data, rdap_bootstrap=str(bootstrap), rdap_bootstrap_refresh_url="", whois_packaged_map=False)
    running = await start_service(data)
    try:
        names = [f"new-{n}.de" for n in range(10_000)]  # no registry: NO-SERVER at once
        answers, health_answers = await batch_beside_health(running, names)
    finally:
        await running.stop()
    assert sum("YOUR-FIRST-CONTACT" in a["alerts"] for a in answers) == 10_000
    assert health_answers > 20
