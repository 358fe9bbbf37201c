"""The central server's HTTP endpoint: keys, malformed requests, the answers' exact shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from domain_stats.central.config import CENTRAL_CONFIG_NAME, load_central_settings
from domain_stats.central_protocol import MAX_REQUEST_BYTES
from domain_stats.errors import ConfigError
from tests.support.central_server import CentralTestServer
from tests.support.rdap_server import RdapTestServer
from tests.support.services import start_central


def _status_body(client_version: str, cache_efficiency: str) -> bytes:
    return (
        f'{{"command": "status", "client_version": "{client_version}", "database_version": "1.0", '
        f'"cache_efficiency": {cache_efficiency}, "database_efficiency": [1, 2]}}'
    ).encode()


async def test_query_answer_shapes_on_the_wire(central: CentralTestServer, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("shape.com", "2010-02-03T04:05:06Z", "2030-02-03T04:05:06Z")
    rdap_server.add_domain("no-expiry.com", "2011-01-01T00:00:00Z")
    key = await central.add_key("alpha")
    status, answer = await central.post({"command": "query", "domain": "WWW.Shape.com."}, key)
    assert status == 200
    assert set(answer) == {"seen_by_web", "expires", "seen_by_isc", "alerts"}
    assert answer["seen_by_web"] == "2010-02-03 04:05:06"
    assert answer["expires"] == "2030-02-03 04:05:06"
    assert answer["alerts"] == ["ISC-FIRST-CONTACT"]
    status, again = await central.post({"command": "query", "domain": "shape.com"}, key)
    assert again["alerts"] == [] and again["seen_by_isc"] == answer["seen_by_isc"]
    assert (await central.post({"command": "query", "domain": "no-expiry.com"}, key))[1]["expires"] is None

    status, config = await central.post({"command": "config"}, key)
    assert status == 200
    assert config == {"min_software_version": "0.0", "min_database_version": "1.0", "prohibited_tlds": []}


@pytest.mark.parametrize(
    ("domain", "ttl", "alert"),
    [
        ("missing.com", 1, "RDAP-NOT-FOUND"),  # registry_error_ttl_hours: 1
        ("broken.com", 0, "RDAP-SERVER-ERROR"),
        ("show.tv", -1, "NO-SERVER"),  # .tv has no RDAP server in the test bootstrap
    ],
)
async def test_error_answers_carry_an_integer_ttl(
    central: CentralTestServer, rdap_server: RdapTestServer, domain: str, ttl: int, alert: str
) -> None:
    from tests.support.rdap_server import Canned

    rdap_server.queue("broken.com", Canned(status=503, body=b"{}"))
    key = await central.add_key("alpha")
    status, answer = await central.post({"command": "query", "domain": domain}, key)
    assert status == 200
    assert answer == {"seen_by_web": "ERROR", "expires": "ERROR", "seen_by_isc": ttl, "alerts": [alert]}
    assert await central.store.first_contact(domain) is None  # an error is nobody's first contact


async def test_server_prohibited_suffix_is_a_permanent_error(
    central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    key = await central.add_key("alpha")
    await central.store.set_policy_value("prohibited_tlds", ["blocked-zone.com"])
    status, answer = await central.post({"command": "query", "domain": "a.blocked-zone.com"}, key)
    assert (status, answer["seen_by_isc"], answer["alerts"]) == (200, -2, ["PROHIBITED-TLD"])
    assert rdap_server.requests == []


async def test_missing_unknown_and_revoked_keys_get_401_and_learn_nothing(
    central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("secret.com", "2015-01-01T00:00:00Z")
    key = await central.add_key("alpha")
    assert (await central.post({"command": "query", "domain": "secret.com"}, key))[0] == 200
    assert await central.store.revoke_key("alpha", central.clock())
    for presented in (key, None, "", "not-a-key", key + "x"):
        status, answer = await central.post({"command": "query", "domain": "secret.com"}, presented)
        assert status == 401
        assert list(answer) == ["error"] and "secret" not in answer["error"]
    # A garbage body without a key is refused for the key, before the body is looked at.
    assert (await central.post(None, None, raw=b"\xff\xfe garbage"))[0] == 401
    assert rdap_server.count("secret.com") == 1


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"query"',
        b"{}",
        b'{"command": "drop tables"}',
        b'{"command": "query"}',
        b'{"command": "query", "domain": 5}',
        b'{"command": "query", "domain": ""}',
        b'{"command": "query", "domain": "10.0.0.1"}',
        b'{"command": "query", "domain": "co.uk"}',
        b'{"command": "query", "domain": "a..b.com"}',
        b'{"command": "query", "domain": "' + b"x" * 300 + b'.com"}',
        b'{"command": "status"}',
        _status_body("0.1.0", "[1, 2]"),
        _status_body("0.1.0", "[1, 2, -3]"),
        _status_body("new", "[1, 2, 3]"),
        _status_body("0.1", "[1, 2, 3.5]"),
    ],
)
async def test_malformed_requests_get_400_and_change_nothing(
    central: CentralTestServer, rdap_server: RdapTestServer, body: bytes
) -> None:
    key = await central.add_key("alpha")
    status, answer = await central.post(None, key, raw=body)
    assert status == 400
    assert list(answer) == ["error"] and answer["error"]
    assert await central.store.clients() == []
    assert rdap_server.requests == []
    # The server is unharmed: a good request right after is answered.
    assert (await central.post({"command": "config"}, key))[0] == 200


async def test_oversized_bodies_wrong_methods_and_paths(central: CentralTestServer) -> None:
    key = await central.add_key("alpha")
    status, answer = await central.post(None, key, raw=b"{" + b" " * MAX_REQUEST_BYTES + b"}")
    assert status == 413 and "error" in answer
    async with aiohttp.ClientSession() as client:
        results: list[tuple[int, Any]] = []
        for method, path in [("GET", "/api"), ("POST", "/query"), ("GET", "/health")]:
            async with client.request(method, central.url + path, headers={"Authorization": f"Bearer {key}"}) as resp:
                results.append((resp.status, await resp.json()))
    assert [code for code, _ in results] == [405, 404, 200]
    assert results[2][1] == {"status": "ok"}


async def test_status_is_recorded_and_denial_is_answered(central: CentralTestServer) -> None:
    key = await central.add_key("alpha")
    report = {
        "command": "status",
        "client_version": "0.1.0",
        "database_version": "1.3",
        "cache_efficiency": [10, 2, 1],
        "database_efficiency": [5, 3],
    }
    # Without trusted_proxies a forwarded-for header is anyone's claim: the peer's address counts.
    status, answer = await central.post(report, key, headers={"X-Forwarded-For": "203.0.113.7"})
    assert (status, answer) == (200, {"interval": 60.0, "deny_client": ""})
    [client] = await central.store.clients()
    assert (client.name, client.client_version, client.database_version) == ("alpha", "0.1.0", "1.3")
    assert (client.cache_hits, client.cache_misses, client.cache_expired) == (10, 2, 1)
    assert (client.database_hits, client.database_misses, client.address) == (5, 3, "127.0.0.1")

    await central.store.deny("alpha", "licence expired, call the ISAC desk")
    await central.store.set_policy_value("status_interval", 5.0)
    assert (await central.post(report, key))[1] == {
        "interval": 5.0,
        "deny_client": "licence expired, call the ISAC desk",
    }
    assert await central.store.allow("alpha")
    assert (await central.post(report, key))[1]["deny_client"] == ""


@pytest.mark.parametrize(
    ("forwarded", "recorded"),
    [
        (None, "127.0.0.1"),
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.1, 203.0.113.7", "203.0.113.7"),  # only the hop our proxy appended is believed
        ("203.0.113.7, 127.0.0.1", "203.0.113.7"),  # through two of our proxies
        ("not-an-address", "127.0.0.1"),
    ],
)
async def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(
    tmp_path: Path, bootstrap_file: Path, forwarded: str | None, recorded: str
) -> None:
    server = await start_central(
        tmp_path / "central", rdap_bootstrap=str(bootstrap_file), trusted_proxies=["127.0.0.1"]
    )
    try:
        key = await server.add_key("alpha")
        report = {
            "command": "status",
            "client_version": "0.1.0",
            "database_version": "1.0",
            "cache_efficiency": [0, 0, 0],
            "database_efficiency": [0, 0],
        }
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        assert (await server.post(report, key, headers=headers))[0] == 200
        [client] = await server.store.clients()
        assert client.address == recorded
    finally:
        await server.stop()


def test_trusted_proxies_must_be_addresses(tmp_path: Path) -> None:
    (tmp_path / CENTRAL_CONFIG_NAME).write_text("trusted_proxies: [proxy.example.org]\n")
    with pytest.raises(ConfigError, match=r"'proxy\.example\.org' is not an IP address"):
        load_central_settings(tmp_path)
