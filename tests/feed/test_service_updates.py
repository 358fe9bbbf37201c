"""The update feed as a running service sees it."""

from __future__ import annotations

import asyncio
from calendar import timegm
from pathlib import Path

import pytest

from domain_stats.alerts import YOUR_FIRST_CONTACT
from tests.support.feed_server import FeedTestServer, write_feed
from tests.support.rdap_server import RdapTestServer
from tests.support.services import start_service, write_config


async def test_a_domain_from_the_feed_is_answered_locally(
    data_dir: Path, rdap_server: RdapTestServer, feed_server: FeedTestServer
) -> None:
    write_feed(feed_server.directory, {"1/1.txt": "+,feed-known.com,1999-09-09 09:09:09,2039-09-09 00:00:00\n"})
    running = await start_service(data_dir)
    try:
        report = await running.server.runtime.update_database(feed_server.url)
        assert report.version == "1.1"
        first = await running.lookup("www.feed-known.com")
        assert first == {
            "seen_by_web": "1999-09-09 09:09:09",
            "seen_by_isc": "NA",
            "seen_by_you": first["seen_by_you"],
            "category": "ESTABLISHED",
            "alerts": [YOUR_FIRST_CONTACT],
        }
        assert (await running.lookup("feed-known.com"))["alerts"] == []
        assert rdap_server.requests == []
        _, stats = await running.get("/stats")
        assert stats["database_version"] == "1.1"
    finally:
        await running.stop()


async def test_update_while_the_service_answers_lookups(
    data_dir: Path, rdap_server: RdapTestServer, feed_server: FeedTestServer
) -> None:
    """Lookups during an update see the database before or after a file, never half of one."""
    old = {f"d{i}.com": "2001-01-01 00:00:00" for i in range(3000)}
    new = {f"d{i}.com": "2002-02-02 00:00:00" for i in range(3000)}
    lines = lambda dates: "".join(f"+,{d},{c},2040-01-01 00:00:00\n" for d, c in dates.items())  # noqa: E731
    write_feed(feed_server.directory, {"1/1.txt": lines(old)})
    running = await start_service(data_dir)
    try:
        await running.server.runtime.update_database(feed_server.url)
        write_feed(feed_server.directory, {"1/1.txt": lines(old), "1/2.txt": lines(new)})
        names = [f"d{i}.com" for i in range(0, 3000, 7)]
        update = asyncio.ensure_future(running.server.runtime.update_database(feed_server.url))
        answers = []
        while not update.done():
            answers.extend(await asyncio.gather(*(running.get(name) for name in names[:60])))
            names = names[60:] + names[:60]
        await update
        assert answers, "no lookup ran during the update"
        assert {status for status, _ in answers} == {200}
        assert {body["seen_by_web"] for _, body in answers} <= {"2001-01-01 00:00:00", "2002-02-02 00:00:00"}
        assert rdap_server.requests == []
        assert await running.service.storage.database_version() == "1.2"
        stored = await running.service.storage.get("d7.com")
        assert stored.registration is not None and stored.registration.created == timegm((2002, 2, 2, 0, 0, 0))
    finally:
        await running.stop()


async def test_service_applies_the_configured_feed_in_the_background(
    tmp_path: Path, bootstrap_file: Path, feed_server: FeedTestServer
) -> None:
    write_feed(feed_server.directory, {"1/1.txt": "+,periodic.com,2000-01-01 00:00:00,\n"})
    directory = tmp_path / "client"
    write_config(
        directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="", target_updates=feed_server.url
    )
    running = await start_service(directory)
    try:
        await asyncio.wait_for(
            running.server.runtime.feed_checked.wait(), 30
        )  # the first round starts with the service
        assert await running.service.storage.database_version() == "1.1"
        assert (await running.lookup("periodic.com"))["seen_by_isc"] == "NA"
    finally:
        await running.stop()


async def test_an_update_replaces_cached_answers_in_every_worker(
    data_dir: Path, rdap_server: RdapTestServer, feed_server: FeedTestServer
) -> None:
    line = "+,changed.com,{},2040-01-01 00:00:00\n"
    write_feed(feed_server.directory, {"1/1.txt": line.format("2001-01-01 00:00:00")})
    updater, other = await start_service(data_dir), await start_service(data_dir)  # two workers, one database
    try:
        await updater.server.runtime.update_database(feed_server.url)
        await other.server.runtime.check_database_version()
        assert (await updater.lookup("changed.com"))["seen_by_web"] == "2001-01-01 00:00:00"
        assert (await other.lookup("changed.com"))["seen_by_web"] == "2001-01-01 00:00:00"  # now cached in both

        write_feed(
            feed_server.directory,
            {"1/1.txt": line.format("2001-01-01 00:00:00"), "1/2.txt": line.format("2002-02-02 00:00:00")},
        )
        await updater.server.runtime.update_database(feed_server.url)
        assert (await updater.lookup("changed.com"))["seen_by_web"] == "2002-02-02 00:00:00"
        assert (await other.lookup("changed.com"))["seen_by_web"] == "2001-01-01 00:00:00"  # not noticed yet
        await other.server.runtime.check_database_version()  # what each worker does every minute
        answer = await other.lookup("changed.com")
        assert answer["seen_by_web"] == "2002-02-02 00:00:00" and answer["alerts"] == []  # still one first contact
        assert (await other.get("/stats"))[1]["database_version"] == "1.2"
        assert rdap_server.requests == []
    finally:
        await other.stop()
        await updater.stop()


async def test_a_feed_that_fails_in_any_way_leaves_the_service_serving(
    tmp_path: Path, bootstrap_file: Path, feed_server: FeedTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    write_feed(feed_server.directory, {"1/1.txt": "+,periodic.com,2000-01-01 00:00:00,\n"}, version="1.999999999")
    directory = tmp_path / "client"
    write_config(
        directory,
        rdap_bootstrap=str(bootstrap_file),
        rdap_bootstrap_refresh_url="",
        target_updates=feed_server.url,
        update_interval_hours=0.0002,  # a round every 0.7 s
    )
    running = await start_service(directory)
    try:
        checked = running.server.runtime.feed_checked
        await asyncio.wait_for(checked.wait(), 30)  # the first round is over, and failed
        assert "versions after this database" in caplog.text
        assert (await running.get("/health"))[0] == 200
        write_feed(feed_server.directory, {"1/1.txt": "+,periodic.com,2000-01-01 00:00:00,\n"})  # repaired
        while await running.service.storage.database_version() != "1.1":  # the updater lives on: next round
            checked.clear()
            await asyncio.wait_for(checked.wait(), 30)
        assert (await running.lookup("periodic.com"))["seen_by_isc"] == "NA"
    finally:
        await running.stop()
