from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from domain_stats.registry.rdap.bootstrap import CACHED_NAME, Bootstrap, BootstrapError, refresh_cached_bootstrap


def test_packaged_snapshot_covers_common_tlds() -> None:
    snapshot = Bootstrap.packaged()
    assert len(snapshot) > 1000
    assert snapshot.server_for("example.com").startswith("https://")
    assert snapshot.server_for("example.co.uk") == snapshot.server_for("uk.uk")
    assert snapshot.server_for("example.invalid-tld") is None


def test_longest_suffix_wins(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(
        orjson.dumps({"services": [[["uk"], ["https://uk.example/"]], [["co.uk"], ["http://co-uk.example"]]]}).decode()
    )
    bootstrap = Bootstrap.from_path(path)
    assert bootstrap.server_for("a.co.uk") == "http://co-uk.example/"
    assert bootstrap.server_for("a.org.uk") == "https://uk.example/"


@pytest.mark.parametrize("content", [b"", b"{}", b'{"services": 3}', b'{"services": [[["com"], ["ftp://x/"]]]}'])
def test_bad_bootstrap_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(content)
    with pytest.raises(BootstrapError):
        Bootstrap.from_path(path)


@pytest.fixture
async def iana() -> AsyncIterator[dict]:
    """A stand-in for data.iana.org on loopback; ``state["status"]`` decides the answer."""
    state: dict = {"status": 500, "hits": 0}

    async def handle(_request: web.Request) -> web.Response:
        state["hits"] += 1
        body = orjson.dumps(
            {"publication": "2099-01-01T00:00:00Z", "services": [[["com"], ["https://fresh.example/"]]]}
        )
        return web.Response(status=state["status"], body=body)

    runner = web.AppRunner(web.Application(), access_log=None)
    runner.app.router.add_get("/rdap/dns.json", handle)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}/rdap/dns.json"
    yield state
    await runner.cleanup()


async def test_failed_refresh_warns_once_and_keeps_snapshot(
    tmp_path: Path, iana: dict, caplog: pytest.LogCaptureFixture
) -> None:
    async with aiohttp.ClientSession() as session:
        with caplog.at_level(logging.WARNING):
            assert await refresh_cached_bootstrap(session, iana["url"], tmp_path) is None
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "packaged snapshot" in caplog.records[0].getMessage()
    assert not (tmp_path / CACHED_NAME).exists()
    assert Bootstrap.best_local(tmp_path).source == "packaged snapshot"


async def test_successful_refresh_is_cached_and_preferred(tmp_path: Path, iana: dict) -> None:
    iana["status"] = 200
    async with aiohttp.ClientSession() as session:
        fresh = await refresh_cached_bootstrap(session, iana["url"], tmp_path)
        again = await refresh_cached_bootstrap(session, iana["url"], tmp_path)  # a day has not passed
    assert fresh is not None and fresh.server_for("a.com") == "https://fresh.example/"
    assert again is None and iana["hits"] == 1
    assert Bootstrap.best_local(tmp_path).server_for("a.com") == "https://fresh.example/"
