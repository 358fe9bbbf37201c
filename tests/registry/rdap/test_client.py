"""The RDAP client against a real server on loopback: limits, backoff, rate limiting."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain_stats.errors import ConfigError
from domain_stats.lookup.config import Settings
from domain_stats.registry.rdap import Bootstrap, RdapClient, RdapLimits
from domain_stats.registry.rdap.errors import (
    RdapBackedOff,
    RdapBadResponse,
    RdapNoServer,
    RdapRateLimited,
    RdapServerError,
    RdapTimeout,
    RdapTransportError,
)
from tests.support.rdap_server import Canned, RdapTestServer, write_bootstrap


def client_for(
    server: RdapTestServer, tmp_path: Path, ssl_context: ssl.SSLContext | None = None, **limits: float
) -> RdapClient:
    bootstrap = Bootstrap.from_path(write_bootstrap(tmp_path / "b.json", server.url))
    return RdapClient(bootstrap, RdapLimits(**limits), ssl_context=ssl_context)


async def test_failing_server_is_backed_off(rdap_server: RdapTestServer, tmp_path: Path) -> None:
    client = client_for(rdap_server, tmp_path, failures_before_backoff=3, backoff_initial=60)
    try:
        for name in ("a.com", "b.com", "c.com"):
            rdap_server.queue(name, Canned(status=503))
            with pytest.raises(RdapServerError):
                await client.lookup(name)
        rdap_server.add_domain("d.com", "2001-01-01T00:00:00Z")
        with pytest.raises(RdapBackedOff):
            await client.lookup("d.com")
    finally:
        await client.close()
    assert rdap_server.requests == ["a.com", "b.com", "c.com"]
    assert client.stats.failures == 4 and client.stats.successes == 0


async def test_a_failing_server_pauses_longer_each_time_and_recovers(
    rdap_server: RdapTestServer, tmp_path: Path
) -> None:
    now = [1000.0]
    bootstrap = Bootstrap.from_path(write_bootstrap(tmp_path / "b.json", rdap_server.url))
    client = RdapClient(bootstrap, RdapLimits(failures_before_backoff=2, backoff_initial=30), clock=lambda: now[0])
    rdap_server.add_domain("ok.com", "2001-01-01T00:00:00Z")
    try:
        for name in ("x1.com", "x2.com"):
            rdap_server.queue(name, Canned(status=500))
            with pytest.raises(RdapServerError):
                await client.lookup(name)
        with pytest.raises(RdapBackedOff):
            await client.lookup("ok.com")
        now[0] += 31
        for name in ("x3.com", "x4.com"):  # it fails again: the next pause is longer
            rdap_server.queue(name, Canned(status=500))
            with pytest.raises(RdapServerError):
                await client.lookup(name)
        line = client.servers()[rdap_server.url]
        assert line["paused"] and line["pause_reason"] == "failures" and line["pauses"] == 2
        now[0] += 31
        with pytest.raises(RdapBackedOff):
            await client.lookup("ok.com")
        now[0] += 30
        assert (await client.lookup("ok.com")).created == 978307200.0  # recovered
        assert not client.servers()[rdap_server.url]["paused"]
    finally:
        await client.close()


async def test_per_server_concurrency_limit(rdap_server: RdapTestServer, tmp_path: Path) -> None:
    client = client_for(rdap_server, tmp_path, per_server_concurrency=2)
    names = [f"n{i}.com" for i in range(5)]
    releases = []
    for name in names:
        rdap_server.add_domain(name, "2001-01-01T00:00:00Z")
        releases.append(rdap_server.hang(name))
    try:
        tasks = [asyncio.ensure_future(client.lookup(n)) for n in names]
        await rdap_server.wait_for_requests(2)
        for release in releases:
            release.set()
        results = await asyncio.gather(*tasks)
    finally:
        await client.close()
    assert len(results) == 5
    assert rdap_server.max_concurrent == 2


async def test_own_rate_limit_never_overruns_the_budget(rdap_server: RdapTestServer, tmp_path: Path) -> None:
    client = client_for(rdap_server, tmp_path, per_server_rate=1.0, timeout=0.5)
    rdap_server.add_domain("one.com", "2001-01-01T00:00:00Z")
    rdap_server.add_domain("two.com", "2001-01-01T00:00:00Z")
    try:
        await client.lookup("one.com")
        with pytest.raises(RdapRateLimited):
            await client.lookup("two.com")
    finally:
        await client.close()
    assert rdap_server.requests == ["one.com"]


async def test_unknown_tld_and_unreachable_server(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{"publication": "x", "services": [[["com"], ["http://127.0.0.1:9/"]]]}')
    client = RdapClient(Bootstrap.from_path(path), RdapLimits(timeout=5))
    try:
        with pytest.raises(RdapNoServer):
            await client.lookup("example.org")
        with pytest.raises(RdapTransportError):
            await client.lookup("example.com")  # port 9 (discard) is closed on loopback
    finally:
        await client.close()


async def test_https_rdap_server_with_a_private_ca(
    https_rdap_server: tuple[RdapTestServer, Path], tmp_path: Path
) -> None:
    server, ca_file = https_rdap_server
    server.add_domain("secure.com", "2001-01-01T00:00:00Z")
    settings = Settings(rdap_ca_file=str(ca_file))
    trusted = client_for(server, tmp_path, ssl_context=settings.rdap_ssl_context(tmp_path))
    untrusted = client_for(server, tmp_path)  # the system's CAs do not know the test CA
    try:
        assert (await trusted.lookup("secure.com")).created == 978307200.0
        with pytest.raises(RdapTransportError):
            await untrusted.lookup("secure.com")
    finally:
        await trusted.close()
        await untrusted.close()
    assert server.requests == ["secure.com"]  # the refused handshake never reached the handler


def test_unreadable_ca_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="rdap_ca_file"):
        Settings(rdap_ca_file="ca.pem").rdap_ssl_context(tmp_path)


@pytest.fixture
async def elsewhere() -> AsyncIterator[RdapTestServer]:
    """A second RDAP server on loopback that no bootstrap names."""
    server = await RdapTestServer().start()
    yield server
    await server.close()


async def test_redirects_within_the_configured_servers_are_followed(
    rdap_server: RdapTestServer, tmp_path: Path
) -> None:
    rdap_server.add_domain("registry.com", "2001-01-01T00:00:00Z")
    redirect = Canned(status=302, headers={"Location": "/domain/registry.com?canonical=1"}, once=True)
    rdap_server.queue("registry.com", redirect)
    client = client_for(rdap_server, tmp_path)
    try:
        dates = await client.lookup("registry.com")
    finally:
        await client.close()
    assert dates.created == 978307200.0
    assert rdap_server.requests == ["registry.com", "registry.com"]  # asked, redirected, asked again


async def test_a_redirect_to_an_unconfigured_private_address_is_not_followed(
    rdap_server: RdapTestServer, elsewhere: RdapTestServer, tmp_path: Path
) -> None:
    elsewhere.add_domain("target.com", "2001-01-01T00:00:00Z")
    rdap_server.queue("target.com", Canned(status=301, headers={"Location": f"{elsewhere.url}domain/target.com"}))
    client = client_for(rdap_server, tmp_path)
    try:
        with pytest.raises(RdapBadResponse, match="not a public address"):
            await client.lookup("target.com")
    finally:
        await client.close()
    assert elsewhere.requests == []  # the other server was never asked


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://[::1]:9/domain/x.com", "not a public address"),
        ("http://169.254.169.254/latest/meta-data", "not a public address"),
        ("ftp://example.com/x", "not an http"),
        ("", "without a Location"),
    ],
)
async def test_redirects_that_are_never_followed(
    rdap_server: RdapTestServer, tmp_path: Path, location: str, reason: str
) -> None:
    rdap_server.queue("x.com", Canned(status=307, headers={"Location": location} if location else {}))
    client = client_for(rdap_server, tmp_path)
    try:
        with pytest.raises(RdapBadResponse, match=reason):
            await client.lookup("x.com")
    finally:
        await client.close()


async def test_at_most_a_few_redirects(rdap_server: RdapTestServer, tmp_path: Path) -> None:
    rdap_server.queue("loop.com", Canned(status=302, headers={"Location": "/domain/loop.com"}))  # served every time
    client = client_for(rdap_server, tmp_path)
    try:
        with pytest.raises(RdapBadResponse, match="more than 3 redirects"):
            await client.lookup("loop.com")
    finally:
        await client.close()
    assert rdap_server.count("loop.com") == 4  # the first ask and three redirects


async def test_https_is_never_downgraded(https_rdap_server: tuple[RdapTestServer, Path], tmp_path: Path) -> None:
    server, ca_file = https_rdap_server
    server.queue("secure.com", Canned(status=302, headers={"Location": server.url.replace("https", "http")}))
    client = client_for(server, tmp_path, ssl_context=ssl.create_default_context(cafile=str(ca_file)))
    try:
        with pytest.raises(RdapBadResponse, match="from https to http"):
            await client.lookup("secure.com")
    finally:
        await client.close()


async def test_waiting_for_our_own_limits_is_never_the_servers_failure(
    rdap_server: RdapTestServer, tmp_path: Path
) -> None:
    """A burst beyond our own per-server concurrency at a server that answers every request (in
    0.2 s): lookups that found no slot within their budget are ours to answer RDAP-RATE-LIMITED,
    and the server, which never failed, is not paused."""
    client = client_for(rdap_server, tmp_path, per_server_concurrency=1, timeout=0.5, failures_before_backoff=3)
    rdap_server.latency = 0.2
    names = [f"burst{n}.com" for n in range(10)]
    for name in [*names, "after.com"]:
        rdap_server.add_domain(name, "2001-01-01T00:00:00Z")
    try:
        results = await asyncio.gather(*(client.lookup(n) for n in names), return_exceptions=True)
        limited = [r for r in results if isinstance(r, RdapRateLimited)]
        assert len(limited) >= 5 and all("our own limits" in str(r) for r in limited)
        assert not any(isinstance(r, RdapBackedOff) for r in results)
        rdap_server.latency = 0.0
        assert (await client.lookup("after.com")).created == 978307200.0  # not paused
    finally:
        await client.close()
    assert len(rdap_server.requests) <= 4  # the queued names never reached the server


async def test_queueing_alone_never_pauses_a_server(rdap_server: RdapTestServer, tmp_path: Path) -> None:
    client = client_for(rdap_server, tmp_path, per_server_rate=5, timeout=0.5, failures_before_backoff=1)
    names = [f"burst{n}.com" for n in range(30)]
    for name in names:
        rdap_server.add_domain(name, "2001-01-01T00:00:00Z")
    try:
        results = await asyncio.gather(*(client.lookup(n) for n in names), return_exceptions=True)
        limited = [r for r in results if isinstance(r, RdapRateLimited)]
        assert limited and not any(isinstance(r, (RdapBackedOff, RdapTimeout)) for r in results)
        rdap_server.add_domain("after.com", "2001-01-01T00:00:00Z")
        assert (await client.lookup("after.com")).created == 978307200.0  # not paused
    finally:
        await client.close()


async def test_a_429_pauses_for_its_retry_after_at_most_the_bound(rdap_server: RdapTestServer, tmp_path: Path) -> None:
    now = [1000.0]
    bootstrap = Bootstrap.from_path(write_bootstrap(tmp_path / "b.json", rdap_server.url))
    client = RdapClient(bootstrap, RdapLimits(timeout=2, retry_after_max=60), clock=lambda: now[0])
    rdap_server.queue("busy.com", Canned(status=429, headers={"Retry-After": "86400"}, once=True))
    rdap_server.add_domain("busy.com", "2001-01-01T00:00:00Z")
    try:
        with pytest.raises(RdapRateLimited, match="429"):
            await client.lookup("busy.com")
        now[0] += 59
        with pytest.raises(RdapRateLimited):  # the line is held as the server asked (not a failure)...
            await client.lookup("busy.com")
        assert client.servers()[rdap_server.url]["failures"] == 0
        now[0] += 2
        assert (await client.lookup("busy.com")).created == 978307200.0  # ...but not for a day
    finally:
        await client.close()
