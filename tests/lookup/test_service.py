"""The lookup rules end to end: our HTTP server, a real SQLite file, a real RDAP server on loopback."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.support.postgres import on_postgres
from tests.support.rdap_server import Canned, RdapTestServer, write_bootstrap
from tests.support.services import Clock, RunningService, start_service, write_config

FMT = "%Y-%m-%d %H:%M:%S"


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def shown(dt: datetime) -> str:
    return dt.strftime(FMT)


NOW = datetime.now(UTC).replace(microsecond=0)
OLD = datetime(1997, 9, 15, 4, 0, 0, tzinfo=UTC)
FUTURE = NOW + timedelta(days=400)


async def test_rdap_answer_has_the_five_facts(service: RunningService, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("example.com", iso(OLD), iso(FUTURE))
    before = time.time()
    answer = await service.lookup("www.mail.Example.COM.")
    assert answer["seen_by_web"] == shown(OLD)
    assert answer["seen_by_isc"] == "RDAP"
    assert answer["category"] == "ESTABLISHED"
    assert answer["alerts"] == ["YOUR-FIRST-CONTACT"]
    seen = datetime.strptime(answer["seen_by_you"], FMT).replace(tzinfo=UTC).timestamp()
    assert before - 1 <= seen <= time.time()
    assert rdap_server.requests == ["example.com"]


async def test_young_domain_is_new(service: RunningService, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("fresh-phish.com", iso(NOW - timedelta(days=3)), iso(FUTURE))
    answer = await service.lookup("login.fresh-phish.com")
    assert answer["category"] == "NEW"


async def test_first_contact_only_once_in_sequence(service: RunningService, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("example.org", iso(OLD), iso(FUTURE))
    answers = [await service.lookup(name) for name in ("example.org", "www.example.org", "EXAMPLE.ORG")]
    assert [a["alerts"] for a in answers] == [["YOUR-FIRST-CONTACT"], [], []]
    assert len({a["seen_by_you"] for a in answers}) == 1
    assert rdap_server.count("example.org") == 1


async def test_first_contact_once_across_restart_and_cache_loss(data_dir: Path, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("example.net", iso(OLD), iso(FUTURE))
    first = await start_service(data_dir)
    answer = await first.lookup("example.net")
    await first.stop()
    assert answer["alerts"] == ["YOUR-FIRST-CONTACT"]
    (data_dir / "memory_cache.json").unlink()  # the cache is gone; the database must remember
    second = await start_service(data_dir)
    try:
        again = await second.lookup("example.net")
    finally:
        await second.stop()
    assert again["alerts"] == []
    assert again["seen_by_you"] == answer["seen_by_you"]


async def test_hundred_concurrent_first_requests_one_first_contact_one_upstream_query(
    service: RunningService, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("concurrent.com", iso(OLD), iso(FUTURE))
    release = rdap_server.hang("concurrent.com")
    tasks = [asyncio.ensure_future(service.lookup(f"h{i}.concurrent.com")) for i in range(100)]
    await rdap_server.wait_for_request("concurrent.com")
    release.set()
    answers = await asyncio.gather(*tasks)
    assert sum(a["alerts"] == ["YOUR-FIRST-CONTACT"] for a in answers) == 1
    assert all(a["seen_by_web"] == shown(OLD) for a in answers)
    assert len({a["seen_by_you"] for a in answers}) == 1
    assert rdap_server.count("concurrent.com") == 1


async def test_a_429_holds_the_line_and_the_query_finishes_in_the_background(
    service: RunningService, rdap_server: RdapTestServer
) -> None:
    """A 429 longer than the queue wait: answered RDAP-QUEUED now, asked again when the server allows,
    stored, and the next ask answers from the store without asking the server again."""
    rdap_server.add_domain("patient.com", iso(OLD), iso(FUTURE))
    rdap_server.queue("patient.com", Canned(status=429, headers={"Retry-After": "3"}, once=True))
    queued = await service.lookup("patient.com")
    assert queued["seen_by_web"] == "ERROR"
    assert queued["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-QUEUED"]
    await service.service.settle()
    answer = await service.lookup("patient.com")
    assert answer["seen_by_web"] == shown(OLD) and answer["alerts"] == []
    assert answer["seen_by_you"] == queued["seen_by_you"]
    assert rdap_server.count("patient.com") == 2


async def test_a_long_retry_after_holds_the_servers_line_without_pausing_it_for_failures(
    service: RunningService, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("impatient.com", iso(OLD), iso(FUTURE))
    rdap_server.add_domain("other.com", iso(OLD), iso(FUTURE))
    rdap_server.queue("impatient.com", Canned(status=429, headers={"Retry-After": "3600"}, once=True))
    answer = await service.lookup("impatient.com")
    assert answer["seen_by_web"] == "ERROR"
    assert answer["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-QUEUED"]
    held = await service.lookup("other.com")  # same server: waits in its line, not asked, not BACKED-OFF
    assert held["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-QUEUED"]
    assert rdap_server.count("other.com") == 0
    _, stats = await service.get("/stats")
    (line,) = stats["registries"]["servers"].values()
    assert line["paused"] and line["pause_reason"] == "429" and 290 <= line["paused_seconds"] <= 300
    assert line["rate_limited"] == 1 and line["failures"] == 0
    assert line["queued"] == {"live": 0, "answered": 2, "refresh": 0, "import": 0}


async def test_timeout_answers_error_while_cached_domains_answer(data_dir: Path, rdap_server: RdapTestServer) -> None:
    running = await start_service(data_dir, rdap_timeout_seconds=1.5)
    try:
        rdap_server.add_domain("cached.com", iso(OLD), iso(FUTURE))
        await running.lookup("cached.com")
        rdap_server.hang("slow.com")  # never released: the server does not answer in time
        slow = asyncio.ensure_future(running.lookup("slow.com"))
        await rdap_server.wait_for_request("slow.com")
        for _ in range(20):
            answer = await running.lookup("cached.com")
            assert answer["seen_by_web"] == shown(OLD)
        assert not slow.done()
        result = await slow
        assert result["seen_by_web"] == "ERROR"
        assert result["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-TIMEOUT"]
    finally:
        await running.stop()


async def test_errors_are_cached_for_the_configured_time(data_dir: Path, rdap_server: RdapTestServer) -> None:
    running = await start_service(data_dir, registry_error_ttl_hours=1)
    try:
        first = await running.lookup("no-such-domain.com")
        second = await running.lookup("no-such-domain.com")
    finally:
        await running.stop()
    assert first["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-NOT-FOUND"]
    assert second["alerts"] == ["RDAP-NOT-FOUND"]
    assert second["seen_by_you"] == first["seen_by_you"]
    assert rdap_server.count("no-such-domain.com") == 1


async def test_error_ttl_zero_retries_next_time(data_dir: Path, rdap_server: RdapTestServer) -> None:
    running = await start_service(data_dir, registry_error_ttl_hours=0)
    try:
        rdap_server.queue("flaky.com", Canned(status=503, once=True))
        rdap_server.add_domain("flaky.com", iso(OLD), iso(FUTURE))
        first = await running.lookup("flaky.com")
        second = await running.lookup("flaky.com")
    finally:
        await running.stop()
    assert first["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-SERVER-ERROR"]
    assert second["seen_by_web"] == shown(OLD) and second["alerts"] == []


@pytest.mark.parametrize(
    ("body", "alert"),
    [
        (b"{not json", "RDAP-BAD-RESPONSE"),
        (b'{"objectClassName": "domain", "ldhName": "broken.com", "events": []}', "RDAP-BAD-RESPONSE"),
        (
            b'{"objectClassName": "domain", "ldhName": "someone-else.com", "events": '
            b'[{"eventAction": "registration", "eventDate": "2001-01-01T00:00:00Z"}]}',
            "RDAP-BAD-RESPONSE",
        ),
    ],
)
async def test_bad_rdap_responses_answer_error(
    service: RunningService, rdap_server: RdapTestServer, body: bytes, alert: str
) -> None:
    rdap_server.add_body("broken.com", body)
    answer = await service.lookup("broken.com")
    assert answer["seen_by_web"] == answer["category"] == "ERROR"
    assert answer["alerts"] == ["YOUR-FIRST-CONTACT", alert]


async def test_tld_without_rdap_server_answers_error(service: RunningService, rdap_server: RdapTestServer) -> None:
    answer = await service.lookup("example.tv")
    assert answer["alerts"] == ["YOUR-FIRST-CONTACT", "NO-SERVER"]
    assert rdap_server.requests == []


@pytest.mark.parametrize(
    "name",
    [
        "printer.local",
        "localhost",
        "db.internal",
        "4.3.2.1.in-addr.arpa",
        "nas.home.arpa",
        "pc.lan",
        "dc.corp",
        "intranet.example-internal.com",
    ],
)
async def test_prohibited_names_never_leave(data_dir: Path, rdap_server: RdapTestServer, name: str) -> None:
    running = await start_service(
        data_dir,
        prohibited_tlds=["local", "localhost", "internal", "arpa", "home.arpa", "lan", "corp", "example-internal.com"],
    )
    try:
        status, answer = await running.get(name)
    finally:
        await running.stop()
    assert status == 200
    assert answer == {
        "seen_by_web": "NA",
        "seen_by_isc": "NA",
        "seen_by_you": "NA",
        "category": "NA",
        "alerts": ["PROHIBITED-TLD"],
    }
    assert rdap_server.requests == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("192.0.2.1", "IP address"),
        ("[2001:db8::1]", "IP address"),
        ("a..example.com", "empty label"),
        ("x" * 64 + ".com", "63"),
        (".".join(["abcdefghi"] * 26) + ".com", "253"),
        ("example.notatld", "unknown top-level domain"),
        ("co.uk", "public suffix"),
        ("com", "public suffix"),
        ("exa mple.com", "characters"),
        ("☃.com", "IDNA"),
        ("xn--zz.com", "punycode"),
        ("", "empty name"),
        ("a/b.com", "characters"),
    ],
)
async def test_bad_input_is_400_and_goes_nowhere(
    service: RunningService, rdap_server: RdapTestServer, name: str, reason: str
) -> None:
    status, answer = await service.get(name.replace("/", "%2F") if "/" in name else name)
    assert status == 400
    assert set(answer) == {"seen_by_web", "seen_by_isc", "seen_by_you", "category", "alerts"}
    assert answer["seen_by_you"] == "NA"
    assert len(answer["alerts"]) == 1 and answer["alerts"][0].startswith("INVALID-NAME: ")
    assert reason in answer["alerts"][0]
    assert rdap_server.requests == []
    assert await service.service.storage.count_domains() == 0


async def test_unicode_names_are_looked_up_as_a_labels(service: RunningService, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("xn--bcher-kva.com", iso(OLD), iso(FUTURE))
    answer = await service.lookup("www.Bücher.com")
    assert answer["seen_by_web"] == shown(OLD)
    assert rdap_server.requests == ["xn--bcher-kva.com"]


async def test_expired_record_answers_at_once_and_a_new_creation_date_says_re_registered_once(
    data_dir: Path, rdap_server: RdapTestServer
) -> None:
    clock = Clock()
    rdap_server.add_domain("reborn.com", iso(OLD), iso(NOW + timedelta(days=10)))
    running = await start_service(data_dir, clock)
    try:
        first = await running.lookup("reborn.com")
        # Eleven days later the registration has lapsed and someone re-registered the name.
        clock.advance(11 * 86400)
        reborn = NOW + timedelta(days=10, hours=5)
        rdap_server.add_domain("reborn.com", iso(reborn), iso(FUTURE))
        stale = await running.lookup("reborn.com")  # from the store, at once; refreshed in the background
        await running.server.runtime.resolver.drain_once()
        refreshed = await running.lookup("reborn.com")
        again = await running.lookup("reborn.com")
    finally:
        await running.stop()
    assert first["seen_by_web"] == shown(OLD)
    assert stale == {**first, "alerts": []}
    assert refreshed["seen_by_web"] == shown(reborn)
    assert refreshed["category"] == "NEW"
    assert refreshed["seen_by_you"] == first["seen_by_you"]
    assert refreshed["alerts"] == ["RE-REGISTERED"]
    assert again == {**refreshed, "alerts": []}
    assert rdap_server.count("reborn.com") == 2


async def test_failed_refresh_serves_stale_facts_and_retries_later(data_dir: Path, rdap_server: RdapTestServer) -> None:
    csv_file = data_dir / "lapsed.csv"
    csv_file.write_text("domain,created,expires\nlapsed.com,2003-05-06 07:08:09,2020-01-01 00:00:00\n")
    running = await start_service(data_dir, registry_error_ttl_hours=0)
    resolver = running.server.runtime.resolver
    try:
        await _import(running, csv_file)
        rdap_server.queue("lapsed.com", Canned(status=503, once=True))
        stale = await running.lookup("lapsed.com")
        await resolver.drain_once()  # the refresh fails: the stored facts stand
        rdap_server.add_domain("lapsed.com", "2003-05-06T07:08:09Z", iso(FUTURE))
        still = await running.lookup("lapsed.com")  # asked again (error TTL 0): queued again
        await resolver.drain_once()
        fresh = await running.lookup("lapsed.com")
    finally:
        await running.stop()
    assert stale["seen_by_web"] == "2003-05-06 07:08:09"
    assert stale["seen_by_isc"] == "NA"
    assert stale["alerts"] == ["YOUR-FIRST-CONTACT"]
    assert still == {**stale, "alerts": []}
    assert fresh["seen_by_isc"] == "RDAP" and fresh["alerts"] == []  # same creation date: not re-registered
    assert rdap_server.count("lapsed.com") == 2


async def test_import_then_lookup_needs_no_upstream(data_dir: Path, rdap_server: RdapTestServer) -> None:
    csv_file = data_dir / "known.csv"
    csv_file.write_text(
        f"known.com,1999-01-02 03:04:05,2099-01-01 00:00:00\nrecent.org,{shown(NOW - timedelta(days=30))}\n"
    )
    running = await start_service(data_dir)
    try:
        await _import(running, csv_file)
        known = await running.lookup("www.known.com")
        again = await running.lookup("known.com")
        recent = await running.lookup("recent.org")
    finally:
        await running.stop()
    assert known == {
        **known,
        "seen_by_web": "1999-01-02 03:04:05",
        "seen_by_isc": "NA",
        "category": "ESTABLISHED",
        "alerts": ["YOUR-FIRST-CONTACT"],
    }
    assert again["alerts"] == []
    assert recent["category"] == "NEW" and recent["seen_by_isc"] == "NA"
    assert rdap_server.requests == []


async def test_cache_is_saved_and_reloaded_without_expired_entries(data_dir: Path, rdap_server: RdapTestServer) -> None:
    clock = Clock()
    rdap_server.add_domain("keep.com", iso(OLD), iso(FUTURE))
    rdap_server.add_domain("short.com", iso(OLD), iso(NOW + timedelta(hours=2)))
    running = await start_service(data_dir, clock)
    try:
        await running.lookup("keep.com")
        await running.lookup("short.com")
    finally:
        await running.stop()
    saved = (data_dir / "memory_cache.json").read_text()
    assert "keep.com" in saved and "short.com" in saved
    clock.advance(3 * 3600)
    running = await start_service(data_dir, clock)
    try:
        _, page = await running.get("/showcache")
    finally:
        await running.stop()
    assert [e["domain"] for e in page["entries"]] == ["keep.com"]
    assert page["entries"][0]["seen_by_web"] == shown(OLD)


async def test_a_hand_edited_cache_file_is_not_trusted(
    data_dir: Path, rdap_server: RdapTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    rdap_server.add_domain("real.com", iso(OLD), iso(FUTURE))
    rdap_server.add_domain("edited.com", iso(OLD), iso(FUTURE))
    rdap_server.add_domain("pinned.com", iso(OLD), iso(FUTURE))
    running = await start_service(data_dir)
    try:
        real = await running.lookup("real.com")
    finally:
        await running.stop()
    path = data_dir / "memory_cache.json"
    good = orjson.dumps({**real, "alerts": []}).decode()
    with path.open("a") as fh:
        fh.write(orjson.dumps(["edited.com", None, False, "<html>not an answer</html>"]).decode() + "\n")
        fh.write(orjson.dumps(["pinned.com", None, True, good]).decode() + "\n")  # only errors are pinned
        fh.write(orjson.dumps(["spaced.com", None, False, good.replace(",", ", ")]).decode() + "\n")
        fh.write("not json at all\n")
    running = await start_service(data_dir)
    try:
        status, page = await running.get("/showcache")
        assert status == 200 and [e["domain"] for e in page["entries"]] == ["real.com"]
        edited = await running.lookup("edited.com")  # from RDAP, not the edited line
        assert edited["seen_by_web"] == shown(OLD) and edited["alerts"] == ["YOUR-FIRST-CONTACT"]
        assert rdap_server.count("edited.com") == 1
    finally:
        await running.stop()
    assert "dropped 4 entries of the saved memory cache" in caplog.text


async def test_category_follows_the_setting_at_answer_time(data_dir: Path, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("middle-aged.com", iso(NOW - timedelta(days=400)), iso(FUTURE))
    running = await start_service(data_dir)
    try:
        default = await running.lookup("middle-aged.com")
    finally:
        await running.stop()
    running = await start_service(data_dir, established_days_age=365)
    try:
        changed = await running.lookup("middle-aged.com")  # from the reloaded cache: nothing stored changes
    finally:
        await running.stop()
    assert default["category"] == "NEW"
    assert changed["category"] == "ESTABLISHED"
    assert rdap_server.count("middle-aged.com") == 1


async def test_timezone_offset_shifts_display_only(data_dir: Path, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("tz.com", "2001-01-01T22:30:00Z", iso(FUTURE))
    running = await start_service(data_dir, timezone_offset=2)
    try:
        shifted = await running.lookup("tz.com")
    finally:
        await running.stop()
    running = await start_service(data_dir)
    try:
        plain = await running.lookup("tz.com")
    finally:
        await running.stop()
    assert shifted["seen_by_web"] == "2001-01-02 00:30:00"
    assert plain["seen_by_web"] == "2001-01-01 22:30:00"


async def test_database_hits_are_counted_and_stats_report(service: RunningService, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("counted.com", iso(OLD), iso(FUTURE))
    await service.lookup("counted.com")
    await service.lookup("counted.com")
    status, stats = await service.get("/stats")
    assert status == 200
    assert stats["cache"]["hits"] == 1 and stats["cache"]["size"] == 1
    assert stats["database"] == {"hits": 0, "misses": 1}
    servers = stats["registries"].pop("servers")
    assert stats["registries"] == {"successes": 1, "failures": 0, "in_flight": 0}
    (line,) = servers.values()
    assert line["requests"] == 1 and not line["paused"] and line["queued"]["live"] == 0
    assert stats["uptime_seconds"] >= 0
    assert stats["worker"] == {"slot": 0, "of": 1, "pid": os.getpid()}  # served in this process
    status, health = await service.get("/health")
    assert (status, health) == (200, {"status": "ok"})


async def test_showcache_pages_and_caps(service: RunningService, rdap_server: RdapTestServer) -> None:
    for i in range(5):
        rdap_server.add_domain(f"page{i}.com", iso(OLD), iso(FUTURE))
        await service.lookup(f"page{i}.com")
    _, page = await service.get("/showcache?offset=1&limit=2")
    assert [e["domain"] for e in page["entries"]] == ["page1.com", "page2.com"]
    assert page["total"] == 5
    _, capped = await service.get("/showcache?limit=100000")
    assert capped["limit"] == 1000
    status, bad = await service.get("/showcache?limit=lots")
    assert status == 400 and bad["alerts"][0].startswith("BAD-REQUEST")


async def test_admin_endpoints_need_the_key_off_loopback(data_dir: Path, rdap_server: RdapTestServer) -> None:
    # Settings say "listen on all addresses"; the test socket itself stays on 127.0.0.1.
    running = await start_service(data_dir, local_address="0.0.0.0", admin_key="s3cret-key")
    try:
        assert (await running.get("/stats"))[0] == 401
        assert (await running.get("/showcache", headers={"Authorization": "Bearer wrong"}))[0] == 401
        assert (await running.get("/stats", headers={"Authorization": "Bearer s3cret-key"}))[0] == 200
        # The scheme is case-insensitive (RFC 9110), as the central server reads it too.
        for scheme in ("bearer", "BEARER"):
            assert (await running.get("/stats", headers={"Authorization": f"{scheme} s3cret-key"}))[0] == 200
        assert (await running.get("/stats", headers={"Authorization": "Basic s3cret-key"}))[0] == 401
        assert (await running.get("/health"))[0] == 200
    finally:
        await running.stop()
    keyless = await start_service(data_dir, local_address="0.0.0.0")
    try:
        status, body = await keyless.get("/showcache")
    finally:
        await keyless.stop()
    assert status == 403 and "admin_key" in body["alerts"][0]


@pytest.mark.parametrize(
    "header",
    [
        "Forwarded",
        "X-Forwarded-For",
        "X-Real-IP",
        "X-Client-IP",
        "True-Client-IP",
        "CF-Connecting-IP",
        "X-Forwarded-Host",
        "Via",
    ],
)
async def test_a_request_relayed_by_a_proxy_is_not_local(service: RunningService, header: str) -> None:
    """A reverse proxy on the same host connects from 127.0.0.1 for everyone it serves."""
    assert (await service.get("/stats"))[0] == 200  # on loopback, without admin_key: open to this host
    status, body = await service.get("/stats", headers={header: "for=203.0.113.7"})
    assert status == 403 and body["alerts"][0].startswith("FORBIDDEN")
    assert (await service.get("/showcache", headers={header: "203.0.113.7"}))[0] == 403
    assert (await service.get("/printer.local", headers={header: "203.0.113.7"}))[0] == 200  # lookups stay open


@pytest.mark.parametrize("path", ["/stats", "/showcache", "/metrics", "/ui", "/ui/contacts"])
@pytest.mark.parametrize("host", ["rebind.attacker.example", "rebind.attacker.example:8000", "127.0.0.1.nip.io", ""])
async def test_admin_pages_need_a_loopback_host_name(service: RunningService, path: str, host: str) -> None:
    """DNS rebinding: a web page in the analyst's browser resolves its own name to 127.0.0.1; its
    requests reach the service from loopback, but carry that name as Host."""
    status, body = await service.get(path, headers={"Host": host})
    assert status == 403 and body["alerts"][0].startswith("FORBIDDEN")
    assert (await service.get("/printer.local", headers={"Host": host}))[0] == 200  # lookups stay open


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000"])
async def test_a_loopback_host_opens_the_admin_pages_without_a_key(service: RunningService, host: str) -> None:
    assert (await service.get("/stats", headers={"Host": host}))[0] == 200


async def test_only_get_is_allowed(service: RunningService) -> None:
    async with service.client.post(service.url + "/example.com") as resp:
        assert resp.status == 405
        assert (await resp.json())["alerts"][0].startswith("METHOD-NOT-ALLOWED")


# -- helpers ---------------------------------------------------------------------------------


async def _import(running: RunningService, path: Path) -> None:
    from domain_stats.lookup.importer import import_file

    summary = await import_file(running.service.storage, running.service.names, path)
    assert summary.skipped == 0, summary.problems


async def test_start_up_never_waits_for_the_bootstrap_refresh(tmp_path: Path, rdap_server: RdapTestServer) -> None:
    data_dir = tmp_path / "sensor"
    rdap_server.hang("dns.json")  # the "IANA" server takes forever
    running = await start_service(data_dir, rdap_bootstrap_refresh_url=rdap_server.url + "domain/dns.json")
    try:
        await rdap_server.wait_for_request("dns.json")
        assert await running.get("/health") == (200, {"status": "ok"})
        assert (await running.lookup("printer.local"))["alerts"] == ["PROHIBITED-TLD"]
    finally:
        await running.stop()
    assert not (data_dir / "iana-dns-bootstrap.json").exists()


async def test_cached_answer_turns_established_on_time(data_dir: Path, rdap_server: RdapTestServer) -> None:
    clock = Clock()
    rdap_server.add_domain("coming-of-age.com", iso(NOW - timedelta(days=729, hours=12)), iso(FUTURE))
    running = await start_service(data_dir, clock)
    try:
        young = await running.lookup("coming-of-age.com")
        still_young = await running.lookup("coming-of-age.com")
        clock.advance(86400)
        grown = await running.lookup("coming-of-age.com")
    finally:
        await running.stop()
    assert [young["category"], still_young["category"], grown["category"]] == ["NEW", "NEW", "ESTABLISHED"]
    assert rdap_server.count("coming-of-age.com") == 1


async def test_a_lapsed_registration_is_not_asked_for_again_at_once(
    service: RunningService, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("lapsed-at-registry.com", iso(OLD), iso(NOW - timedelta(days=30)))
    first = await service.lookup("lapsed-at-registry.com")
    second = await service.lookup("lapsed-at-registry.com")
    assert first["seen_by_web"] == second["seen_by_web"] == shown(OLD)
    assert rdap_server.count("lapsed-at-registry.com") == 1


async def test_https_rdap_through_a_private_ca(tmp_path: Path, https_rdap_server: tuple[RdapTestServer, Path]) -> None:
    server, ca_file = https_rdap_server
    server.add_domain("tls-only.com", iso(OLD), iso(FUTURE))
    data_dir = tmp_path / "tls"
    write_config(
        data_dir,
        rdap_bootstrap=str(write_bootstrap(tmp_path / "b.json", server.url)),
        rdap_bootstrap_refresh_url="",
        rdap_ca_file=str(ca_file),
    )
    running = await start_service(data_dir)
    try:
        answer = await running.lookup("tls-only.com")
    finally:
        await running.stop()
    assert server.url.startswith("https://")
    assert answer["seen_by_web"] == shown(OLD) and answer["seen_by_isc"] == "RDAP"


async def test_a_failed_registration_write_still_answers_with_first_contact(
    service: RunningService, rdap_server: RdapTestServer, data_dir: Path, database_url: str
) -> None:
    rdap_server.add_domain("unsaved.com", iso(OLD), iso(FUTURE))
    if database_url:
        schema = database_url.rpartition("search_path=")[2]
        on_postgres(
            f"CREATE FUNCTION {schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$; "
            f"CREATE TRIGGER refuse BEFORE INSERT ON {schema}.domains FOR EACH ROW EXECUTE FUNCTION {schema}.refuse()"
        )
    else:
        import sqlite3

        db = sqlite3.connect(data_dir / "domain_stats.db")
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON domains BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        db.commit()
        db.close()
    answer = await service.lookup("unsaved.com")
    assert answer["seen_by_web"] == shown(OLD)
    assert answer["alerts"] == ["YOUR-FIRST-CONTACT"]
    assert (await service.service.storage.get("unsaved.com")).registration is None


async def test_strange_registry_dates_never_cost_an_answer(
    service: RunningService, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("ancient.com", "0001-01-01T00:00:00Z", "2099-01-01T00:00:00Z")  # once ESTABLISHED
    rdap_server.add_domain("before-1985.com", "1984-12-31T23:59:59Z")
    rdap_server.add_domain("next-millennium.com", "2999-01-01T00:00:00Z")  # once NEW
    rdap_server.add_domain("future.com", "9999-12-31T23:59:59-01:00")  # the year 10000
    rdap_server.add_domain("year-zero.com", "0001-01-01T00:00:00+01:00")  # the year 0
    rdap_server.add_domain("normal.com", "2001-02-03T04:05:06Z", "2099-01-01T00:00:00Z")
    for name in ("ancient.com", "before-1985.com", "next-millennium.com", "future.com", "year-zero.com"):
        answer = await service.lookup(name)  # 200, not 500
        assert answer["seen_by_web"] == "ERROR"
        assert answer["alerts"] == ["YOUR-FIRST-CONTACT", "RDAP-BAD-RESPONSE"]  # the first contact is kept
    async with service.client.post(service.url + "/batch", json=["normal.com", "future.com", "www.normal.com"]) as resp:
        assert resp.status == 200
        answers = await resp.json()
    assert answers[0]["seen_by_web"] == answers[2]["seen_by_web"] == "2001-02-03 04:05:06"
    # normal.com and www.normal.com are one domain asked twice at once: one of them is the first contact.
    assert sorted([answers[0]["alerts"], answers[2]["alerts"]]) == [[], ["YOUR-FIRST-CONTACT"]]
    assert answers[1]["alerts"] == ["RDAP-BAD-RESPONSE"]  # cached like any bad response: not asked again
    assert rdap_server.count("future.com") == 1


async def test_an_expiry_before_the_creation_is_not_kept(service: RunningService, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("backwards.com", "2011-01-01T00:00:00Z", "2001-01-01T00:00:00Z")
    answer = await service.lookup("backwards.com")
    stored = await service.service.storage.get("backwards.com")
    assert answer["seen_by_web"] == "2011-01-01 00:00:00"
    assert stored.registration is not None and stored.registration.expires is None
