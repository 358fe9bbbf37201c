"""Expired records never block an answer: answered from the store, refreshed in the background.

The refresh queue is in the database (it survives a restart); a refresh that finds a new
creation date answers ``RE-REGISTERED`` once, with the new date and category.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.rdap_server import RdapTestServer
from tests.support.services import RunningService, start_service, write_config

RATE = 100
OLD_CREATED = "2005-06-07 08:09:10"
RECENT = (datetime.now(UTC) - timedelta(days=20)).replace(microsecond=0)


def expired_import(directory: Path, names: list[str]) -> Path:
    """A CSV of ``names`` created long ago whose registrations expired last year."""
    path = directory / "expired.csv"
    path.write_text("".join(f"{name},{OLD_CREATED},2025-01-01 00:00:00\n" for name in names))
    return path


async def import_csv(running: RunningService, path: Path) -> None:
    from domain_stats.lookup.importer import import_file

    summary = await import_file(running.service.storage, running.service.names, path)
    assert summary.skipped == 0, summary.problems


async def refresh_everything(running: RunningService) -> None:
    """Let the background resolution work through the whole refresh queue."""
    resolver = running.server.runtime.resolver
    while await running.service.storage.refresh_queue_length():
        await resolver.drain_once()


def config(directory: Path, bootstrap_file: Path, database_url: str) -> Path:
    write_config(
        directory,
        rdap_bootstrap=str(bootstrap_file),
        rdap_bootstrap_refresh_url="",
        database_url=database_url,
        rdap_server_rate=RATE,
    )
    return directory


async def test_expired_records_answer_at_once_and_are_refreshed_politely_in_the_background(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer, database_url: str
) -> None:
    names = [f"lapsed-{n}.org" for n in range(500)]
    reborn = set(names[::50])  # ten of them were dropped and registered again
    for name in names:
        created = RECENT.strftime("%Y-%m-%dT%H:%M:%SZ") if name in reborn else "2005-06-07T08:09:10Z"
        rdap_server.add_domain(name, created, "2030-01-01T00:00:00Z")
    directory = config(tmp_path / "data", bootstrap_file, database_url)
    running = await start_service(directory)
    try:
        await import_csv(running, expired_import(directory, names))
        stale = await running.batch(names)
        assert len(rdap_server.requests) < len(names)  # answered from the database: nobody waited for the line
        assert all((a["seen_by_web"], a["alerts"]) == (OLD_CREATED, ["YOUR-FIRST-CONTACT"]) for a in stale)

        await refresh_everything(running)
        assert sorted(rdap_server.requests) == sorted(names)  # each refreshed once
        assert rdap_server.busiest_second() <= RATE * 1.05 + 5

        refreshed = await running.batch(names)
        again = await running.batch(names)
        _, stats = await running.get("/stats")
    finally:
        await running.stop()
    shown_recent = RECENT.strftime("%Y-%m-%d %H:%M:%S")
    for name, answer in zip(names, refreshed, strict=True):
        if name in reborn:
            assert (answer["seen_by_web"], answer["category"]) == (shown_recent, "NEW")
            assert answer["alerts"] == ["RE-REGISTERED"]
        else:
            assert (answer["seen_by_web"], answer["seen_by_isc"], answer["alerts"]) == (OLD_CREATED, "RDAP", [])
    assert all(a["alerts"] == [] for a in again)  # RE-REGISTERED exactly once
    assert stats["background"]["refreshed"] == 500 and stats["background"]["re_registered"] == 10


async def test_the_refresh_queue_survives_a_restart(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer, database_url: str
) -> None:
    names = [f"pending-{n}.net" for n in range(20)]
    for name in names:
        rdap_server.add_domain(name, RECENT.strftime("%Y-%m-%dT%H:%M:%SZ"), "2030-01-01T00:00:00Z")
    held = [rdap_server.hang(name) for name in names]  # the registry does not answer before the stop
    directory = config(tmp_path / "data", bootstrap_file, database_url)
    running = await start_service(directory)
    try:
        await import_csv(running, expired_import(directory, names))
        await running.batch(names)
        await rdap_server.wait_for_request(names[0])  # the refreshes are under way...
    finally:
        await running.stop()  # ...and cut short
    for event in held:
        event.set()
    asked_before = len(rdap_server.requests)
    running = await start_service(directory)
    try:
        assert await running.service.storage.refresh_queue_length() == len(names)
        await refresh_everything(running)
        answers = await running.batch(names)
    finally:
        await running.stop()
    assert len(rdap_server.requests) - asked_before == len(names)
    assert all(a["alerts"] == ["RE-REGISTERED"] and a["category"] == "NEW" for a in answers)
