"""A full disk: lookups answer DATABASE-UNAVAILABLE at once, /health says why, and the service
recovers by itself when space comes back; no first contact is recorded without being told.

The database lives on a small tmpfs mounted for the test (skipped where mounting is not allowed).
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain_stats.alerts import DATABASE_UNAVAILABLE, YOUR_FIRST_CONTACT
from tests.support.rdap_server import RdapTestServer
from tests.support.services import RunningService, start_service, write_config

CREATED, SHOWN = "2012-03-04T05:06:07Z", "2012-03-04 05:06:07"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left; returns it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as err:
                    assert err.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


async def health_becomes(running: RunningService, status: int) -> dict[str, Any]:
    """Ask /health until it answers ``status`` (a wait for the writer's next second, not a bound)."""
    for _ in range(1200):
        got, body = await running.get("/health")
        if got == status:
            return dict(body)
        await asyncio.sleep(0.05)
    raise AssertionError(f"/health never answered {status}")


async def test_a_full_disk_answers_unavailable_and_recovers_by_itself(
    small_disk: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    names = [f"while-full-{n}.com" for n in range(20)]
    for name in ["before.com", *names]:
        rdap_server.add_domain(name, CREATED, "2099-01-01T00:00:00Z")
    data = small_disk / "data"
    write_config(data, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="", starter_data=False)
    running = await start_service(data)
    try:
        assert (await running.lookup("before.com"))["alerts"] == [YOUR_FIRST_CONTACT]
        filler = fill(small_disk)
        during = [await running.lookup(name) for name in names]  # each answered: none hangs
        unhealthy = await health_becomes(running, 503)
        assert unhealthy["status"] == "unavailable" and "full" in unhealthy["reason"]
        assert any(answer["alerts"] == [DATABASE_UNAVAILABLE] for answer in during)
        for answer in during:
            assert answer["alerts"] in ([DATABASE_UNAVAILABLE], [YOUR_FIRST_CONTACT]), answer

        filler.unlink()
        assert await health_becomes(running, 200) == {"status": "ok"}
        after = [await running.lookup(name) for name in names]
    finally:
        await running.stop()
    assert all(answer["seen_by_web"] == SHOWN for answer in after)
    for name, first, second in zip(names, during, after, strict=True):
        told = [YOUR_FIRST_CONTACT in first["alerts"], YOUR_FIRST_CONTACT in second["alerts"]]
        assert told.count(True) == 1, (name, first, second)  # recorded once, and told once
