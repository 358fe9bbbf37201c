"""The packaged starter data: imported into a new database, refreshed when it has expired."""

from __future__ import annotations

import asyncio
import gzip
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domain_stats.dates import format_date
from domain_stats.lookup.starter import STARTER_FILE
from domain_stats.storage import REMOVE, change
from tests.support.postgres import fresh_schema_url, postgres_unavailable
from tests.support.rdap_server import Canned, RdapTestServer
from tests.support.services import Clock, start_service, write_config
from tests.support.shared import SHARED, needs_shared

ROOT = Path(__file__).resolve().parents[2]


def starter_rows() -> list[tuple[str, str, str]]:
    with gzip.open(STARTER_FILE, "rt", encoding="utf-8") as lines:
        return [tuple(line.rstrip("\n").split(",")[1:]) for line in lines]  # type: ignore[misc]


def pick(expired: bool) -> tuple[str, str, str]:
    now = format_date(time.time())
    return next(r for r in starter_rows() if r[2] and (r[2] < now) == expired and r[0].endswith(".com"))


def starter_dir(tmp_path: Path, bootstrap_file: Path) -> Path:
    directory = tmp_path / "new"
    write_config(directory, starter_data=True, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="")
    return directory


async def test_a_new_database_answers_starter_domains_locally(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    domain, created, _ = pick(expired=False)
    running = await start_service(starter_dir(tmp_path, bootstrap_file))
    try:
        assert await running.service.storage.count_domains() == len(starter_rows())
        assert await running.service.storage.database_version() == "1.0"  # not a feed version
        answer = await running.lookup(f"www.{domain}")
        assert (answer["seen_by_web"], answer["seen_by_isc"]) == (created, "NA")
        assert answer["alerts"] == ["YOUR-FIRST-CONTACT"]
        assert rdap_server.requests == []
    finally:
        await running.stop()


async def test_the_starter_set_is_imported_once(tmp_path: Path, bootstrap_file: Path) -> None:
    directory = starter_dir(tmp_path, bootstrap_file)
    domain = pick(expired=False)[0]
    running = await start_service(directory)
    await running.service.storage.apply_changes(lambda: [change(REMOVE, domain)])
    await running.stop()
    again = await start_service(directory)
    try:
        assert (await again.service.storage.get(domain)).registration is None  # not put back
        assert await again.service.storage.count_domains() == len(starter_rows()) - 1
    finally:
        await again.stop()


async def test_an_expired_starter_record_answers_at_once_and_is_refreshed_in_the_background(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    domain, created, _ = pick(expired=True)
    other, other_created, _ = next(
        r for r in starter_rows() if r[2] and r[2] < format_date(time.time()) and r[0] != domain
    )
    rdap_server.add_domain(domain, "2020-05-05T05:05:05Z", "2035-05-05T00:00:00Z")
    rdap_server.queue(other, Canned(status=503, body=b"{}", once=True))
    rdap_server.add_domain(other, "2019-09-09T09:09:09Z", "2039-09-09T00:00:00Z")
    held = [rdap_server.hang(domain), rdap_server.hang(other)]  # the registry answers nothing yet
    clock = Clock()
    running = await start_service(starter_dir(tmp_path, bootstrap_file), clock)
    resolver = running.server.runtime.resolver
    try:
        # Both answered while the registry holds every request: an answer that waited on it never comes.
        async with asyncio.timeout(10):
            stored = await running.lookup(domain)  # from the starter set, at once
            stale = await running.lookup(other)
        assert (stored["seen_by_web"], stored["seen_by_isc"]) == (created, "NA")
        assert (stale["seen_by_web"], stale["seen_by_isc"]) == (other_created, "NA")
        for event in held:
            event.set()
        await resolver.drain_once()
        refreshed = await running.lookup(domain)
        assert (refreshed["seen_by_web"], refreshed["seen_by_isc"]) == ("2020-05-05 05:05:05", "RDAP")
        assert refreshed["alerts"] == ["RE-REGISTERED"]
        still = await running.lookup(other)
        assert (still["seen_by_web"], still["seen_by_isc"]) == (other_created, "NA")  # the refresh failed
        assert rdap_server.count(other) == 1
        clock.advance(3601)  # registry_error_ttl_hours later the refresh is tried again
        await running.lookup(other)
        await resolver.drain_once()
        again = await running.lookup(other)
        assert (again["seen_by_web"], again["seen_by_isc"]) == ("2019-09-09 09:09:09", "RDAP")
        assert rdap_server.count(other) == 2
    finally:
        await running.stop()


async def test_starter_data_can_be_turned_off(data_dir: Path) -> None:
    running = await start_service(data_dir)  # the test configuration says starter_data: false
    try:
        assert await running.service.storage.count_domains() == 0
    finally:
        await running.stop()


@needs_shared
def test_the_packaged_file_is_what_the_build_script_makes_of_top1m(tmp_path: Path) -> None:
    output = tmp_path / "starter.txt.gz"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_starter_data.py"),
            str(SHARED / "data" / "top1m.import"),
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    assert output.read_bytes() == STARTER_FILE.read_bytes()


async def test_two_instances_starting_together_import_and_say_so_once(
    tmp_path: Path, bootstrap_file: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    url = fresh_schema_url(request)
    first, second = (starter_dir(tmp_path / name, bootstrap_file) for name in ("a", "b"))
    for directory in (first, second):
        write_config(
            directory,
            starter_data=True,
            rdap_bootstrap=str(bootstrap_file),
            rdap_bootstrap_refresh_url="",
            database_url=url,
        )
    caplog.set_level(logging.INFO, logger="domain_stats.lookup.starter")
    a, b = await asyncio.gather(start_service(first), start_service(second))
    try:
        assert await a.service.storage.count_domains() == len(starter_rows())
        assert (await a.lookup("www.google.com"))["seen_by_isc"] == "NA"  # as the README's first example shows
    finally:
        await a.stop()
        await b.stop()
    assert sum("imported" in r.getMessage() for r in caplog.records) == 1
