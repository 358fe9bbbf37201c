"""A client's membership: config at start, status reports, and being stopped by the server."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from domain_stats import __version__
from tests.support.central_server import CentralTestServer
from tests.support.services import listen_on_free_port, serve_subprocess, start_central_member, write_config


async def _client_dir(tmp_path: Path, central: CentralTestServer, name: str) -> Path:
    directory = tmp_path / f"client-{name}"
    write_config(
        directory,
        mode="central",
        server_url=central.url,
        api_key=await central.add_key(name),
        rdap_bootstrap_refresh_url="",
    )
    listen_on_free_port(directory)
    return directory


async def _serve_until_exit(directory: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "domain_stats", "serve", str(directory), stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode, err.decode()


async def test_software_older_than_the_server_requires_does_not_start(
    tmp_path: Path, central: CentralTestServer
) -> None:
    await central.store.set_policy_value("min_software_version", "99.1")
    code, err = await _serve_until_exit(await _client_dir(tmp_path, central, "alpha"))
    assert code != 0
    assert "requires domain-stats 99.1 or newer" in err
    assert "Traceback" not in err
    assert central.commands() == ["config"]  # stopped before any status or lookup


async def test_denied_client_does_not_start(tmp_path: Path, central: CentralTestServer) -> None:
    await central.store.deny("alpha", "this key is for the Oslo site only")
    code, err = await _serve_until_exit(await _client_dir(tmp_path, central, "alpha"))
    assert code != 0
    assert "denied this client: this key is for the Oslo site only" in err
    assert "Traceback" not in err


async def test_client_denied_while_running_stops_with_the_message(tmp_path: Path, central: CentralTestServer) -> None:
    await central.store.set_policy_value("status_interval", 0.01)  # minutes: a report every 0.6 s
    directory = await _client_dir(tmp_path, central, "alpha")
    proc = await serve_subprocess(directory)
    try:
        await central.store.deny("alpha", "decommissioned by the ISAC")
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode != 0
    text = err.decode()
    assert text.count("denied this client: decommissioned by the ISAC") >= 2  # in the log and the final error
    assert "Error: the central server denied this client" in text


async def test_status_reports_reach_the_server_and_config_is_applied(
    tmp_path: Path, central: CentralTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    await central.store.set_policy_value("min_database_version", "1.5")
    await central.store.set_policy_value("prohibited_tlds", ["branch.example.com"])
    with caplog.at_level(logging.WARNING):
        client = await start_central_member(tmp_path, "alpha", central)
    try:
        assert "requires established-domain database 1.5; this one is 1.0" in caplog.text
        assert (await client.lookup("pc1.branch.example.com"))["alerts"] == ["PROHIBITED-TLD"]
        await client.lookup("printer.local")
        await central.answered("status")
        [record] = await central.store.clients()
        assert (record.name, record.client_version, record.database_version) == ("alpha", __version__, "1.0")
        assert central.queries() == []
    finally:
        await client.stop()
