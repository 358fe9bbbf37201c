"""Keys and DNS history stay with the service's own user: 0700 directories, 0600 files, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support.rdap_server import RdapTestServer
from tests.support.services import cli_process, listen_on_free_port, serve_subprocess, start_service, stop_subprocess


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> object:
    """The usual 022: files would be world-readable unless the code makes them private itself."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_a_new_data_directory_is_private(tmp_path: Path, bootstrap_file: Path) -> None:
    data = tmp_path / "new" / "data"
    code, _, err = await cli_process("lookup", "printer.local", "--data", str(data))
    assert code == 0, err
    assert mode(data) == 0o700
    assert mode(data / "domain_stats.yaml") == 0o600
    for path in data.glob("domain_stats.db*"):  # the database and its -wal / -shm files
        assert mode(path) == 0o600, path


async def test_the_saved_memory_cache_is_private(data_dir: Path, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("cached.com", "2001-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
    running = await start_service(data_dir)
    await running.lookup("cached.com")
    await running.stop()
    assert mode(data_dir / "memory_cache.json") == 0o600


async def test_a_central_data_directory_is_private(tmp_path: Path) -> None:
    central = tmp_path / "central"
    code, _, err = await cli_process("central", "key", "add", "site-a", "--data", str(central))
    assert code == 0, err
    assert mode(central) == 0o700
    assert mode(central / "central.yaml") == 0o600
    assert mode(central / "central.db") == 0o600


async def test_files_others_can_read_are_named_at_start(tmp_path: Path, bootstrap_file: Path) -> None:
    data = tmp_path / "data"
    code, _, err = await cli_process("lookup", "printer.local", "--data", str(data))
    assert code == 0, err
    config = data / "domain_stats.yaml"
    config.write_text(f"rdap_bootstrap: {bootstrap_file}\nrdap_bootstrap_refresh_url: ''\nstarter_data: false\n")
    os.chmod(config, 0o644)
    listen_on_free_port(data)
    log: list[str] = []
    proc = await serve_subprocess(data, startup_log=log)
    await stop_subprocess(proc)
    assert "readable by other users" in log[0] and f"{config} (-rw-r--r--)" in log[0]
    assert "domain_stats.db" not in log[0]  # only what is exposed is named
    assert mode(config) == 0o644  # named, not changed behind the operator's back
