"""Starting a service: whatever step fails, what the steps before it opened is closed again."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from domain_stats.central_protocol import CentralRefused
from domain_stats.lookup.config import load_settings
from domain_stats.lookup.runtime import Runtime
from tests.support.central_server import CentralTestServer
from tests.support.services import start_central, start_service, write_config

WRITER = "domain-stats-sqlite-writer"


def open_writers() -> int:
    return sum(thread.name == WRITER and thread.is_alive() for thread in threading.enumerate())


async def test_a_start_that_fails_after_the_database_opened_closes_it(tmp_path: Path, bootstrap_file: Path) -> None:
    """A damaged database fails the start after the storage was opened (its list of re-registered
    domains cannot be read: a view over a table that is gone stands where the table was)."""
    directory = tmp_path / "data"
    write_config(directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="", starter_data=False)
    await (await start_service(directory)).stop()
    with sqlite3.connect(directory / "domain_stats.db") as conn:
        conn.execute("DROP TABLE re_registered")
        conn.execute("CREATE VIEW re_registered AS SELECT domain FROM gone")
    before = open_writers()
    with pytest.raises(sqlite3.OperationalError, match="gone"):
        await Runtime.start(load_settings(directory), directory, refresh_bootstrap=False)
    assert open_writers() == before


async def test_a_central_server_that_refuses_us_leaves_nothing_open(tmp_path: Path, bootstrap_file: Path) -> None:
    central: CentralTestServer = await start_central(tmp_path / "central", rdap_bootstrap=str(bootstrap_file))
    try:
        await central.store.set_policy_value("min_software_version", "99.1")
        directory = tmp_path / "member"
        write_config(
            directory,
            mode="central",
            server_url=central.url,
            api_key=await central.add_key("alpha"),
            rdap_bootstrap=str(bootstrap_file),
            rdap_bootstrap_refresh_url="",
            starter_data=False,
        )
        before = open_writers()
        with pytest.raises(CentralRefused, match=r"99\.1"):
            await Runtime.start(load_settings(directory), directory, refresh_bootstrap=False)
        assert open_writers() == before
    finally:
        await central.stop()
