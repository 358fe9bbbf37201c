"""Applying an update feed, from a real HTTP server on 127.0.0.1 and from a directory."""

from __future__ import annotations

from calendar import timegm
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain_stats.feed import FeedError, open_feed, update_from_feed
from domain_stats.feed.format import MAX_UPDATE_STEPS
from domain_stats.feed.update import UpdateStopped
from domain_stats.names import NameReducer
from domain_stats.storage import Storage, open_storage
from tests.support.feed_server import FeedTestServer, write_feed

V1 = "+,alpha.com,2001-01-01 00:00:00,2031-01-01 00:00:00\n+,beta.org,2002-02-02 00:00:00,\n"
V2 = "-,alpha.com,2001-01-01 00:00:00,2031-01-01 00:00:00\n+,gamma.net,2003-03-03 03:03:03,2033-03-03 00:00:00\n"
V3 = "+,beta.org,2002-02-02 12:00:00,2032-02-02 00:00:00\n"
FEED = {"1/1.txt": V1, "1/2.txt": V2, "1/3.txt": V3}


@pytest.fixture
async def storage(tmp_path: Path, database_url: str) -> AsyncIterator[Storage]:
    """On each backend."""
    opened = await open_storage(database_url or tmp_path / "db" / "domain_stats.db")
    yield opened
    await opened.close()


async def snapshot(storage: Storage) -> list[tuple[str, float, float | None]]:
    return await storage.registrations_page("", 1000, 2**40)


async def apply(storage: Storage, location: str, tmp_path: Path, **options: int) -> object:
    source = open_feed(location, **options)
    try:
        return await update_from_feed(storage, NameReducer(), source, tmp_path)
    finally:
        await source.close()


@pytest.mark.parametrize("served", [True, False], ids=["http", "directory"])
async def test_missing_versions_apply_in_order(
    tmp_path: Path, storage: Storage, feed_server: FeedTestServer, served: bool
) -> None:
    write_feed(feed_server.directory, FEED)
    report = await apply(storage, feed_server.url if served else str(feed_server.directory), tmp_path)
    assert [name for name, _ in report.applied] == ["1/1.txt", "1/2.txt", "1/3.txt"]  # type: ignore[attr-defined]
    assert [(c.added, c.updated, c.removed) for _, c in report.applied] == [(2, 0, 0), (1, 0, 1), (0, 1, 0)]  # type: ignore[attr-defined]
    assert await storage.database_version() == "1.3"
    rows = {domain: (created, expires) for domain, created, expires in await snapshot(storage)}
    assert set(rows) == {"beta.org", "gamma.net"}
    assert rows["beta.org"] == (timegm((2002, 2, 2, 12, 0, 0)), timegm((2032, 2, 2, 0, 0, 0)))  # 1/3's, after 1/1's
    if served:
        assert feed_server.requests == ["version.json", "1/1.txt", "1/2.txt", "1/3.txt"]
    stored = await storage.get("gamma.net")
    assert stored.registration is not None and stored.registration.origin == "local"
    assert not list(tmp_path.glob(".feed-download*"))  # the download is cleaned up


async def test_applying_twice_changes_nothing(tmp_path: Path, storage: Storage, feed_server: FeedTestServer) -> None:
    write_feed(feed_server.directory, FEED)
    await apply(storage, feed_server.url, tmp_path)
    before = await snapshot(storage)
    feed_server.requests.clear()
    report = await apply(storage, feed_server.url, tmp_path)
    assert report.applied == []  # type: ignore[attr-defined]
    assert await snapshot(storage) == before
    assert feed_server.requests == ["version.json"]


async def test_checksum_mismatch_stops_there_and_changes_nothing_of_that_file(
    tmp_path: Path, storage: Storage, feed_server: FeedTestServer
) -> None:
    write_feed(feed_server.directory, FEED, sums={"1/2.txt": "0" * 64})
    with pytest.raises(UpdateStopped, match=r"1/2\.txt: checksum mismatch") as stopped:
        await apply(storage, feed_server.url, tmp_path)
    assert "stays at 1.1 (1/1.txt applied)" in str(stopped.value)
    assert await storage.database_version() == "1.1"
    assert {d for d, _, _ in await snapshot(storage)} == {"alpha.com", "beta.org"}  # 1/2 not applied
    assert "1/3.txt" not in feed_server.requests


async def test_truncated_download_changes_nothing(
    tmp_path: Path, storage: Storage, feed_server: FeedTestServer
) -> None:
    write_feed(feed_server.directory, FEED)
    feed_server.cut["1/2.txt"] = 30
    with pytest.raises(UpdateStopped, match=r"1/2\.txt") as stopped:
        await apply(storage, feed_server.url, tmp_path)
    assert "download of 1/2.txt failed" in str(stopped.value) or "checksum mismatch" in str(stopped.value)
    assert await storage.database_version() == "1.1"
    assert {d for d, _, _ in await snapshot(storage)} == {"alpha.com", "beta.org"}


@pytest.mark.parametrize(
    ("bad_line", "says"),
    [
        ("*,delta.com,2004-04-04 00:00:00,\n", "must be + or -"),
        ("+,delta.com,2004-04-04\n", "got 3 fields"),
        ("+,delta.com,yesterday,\n", "created is not a date"),
        ("+,www.delta.com,2004-04-04 00:00:00,\n", "not a registered domain"),
        ("+,printer.local,2004-04-04 00:00:00,\n", "prohibited"),
        ("+,delta.com,2004-02-30 00:00:00,\n", "created is not a date"),
    ],
)
async def test_malformed_line_names_file_and_line_and_changes_nothing_of_that_file(
    tmp_path: Path, storage: Storage, bad_line: str, says: str
) -> None:
    feed = write_feed(tmp_path / "feed", {"1/1.txt": V1, "1/2.txt": V2 + bad_line, "1/3.txt": V3})
    with pytest.raises(UpdateStopped, match=r"1/2\.txt: line 3: ") as stopped:
        await apply(storage, str(feed), tmp_path)
    assert says in str(stopped.value)
    assert await storage.database_version() == "1.1"
    assert {d for d, _, _ in await snapshot(storage)} == {"alpha.com", "beta.org"}  # lines 1-2 of 1/2 not applied


async def test_minor_versions_compare_as_integers(tmp_path: Path, storage: Storage) -> None:
    files = {f"1/{m}.txt": f"+,site{m}.com,2005-01-01 00:00:00,\n" for m in range(1, 10)}
    feed = write_feed(tmp_path / "feed", files)
    await apply(storage, str(feed), tmp_path)
    assert await storage.database_version() == "1.9"
    files["1/10.txt"] = "+,site10.com,2005-01-01 00:00:00,\n"
    write_feed(tmp_path / "feed", files)
    report = await apply(storage, str(feed), tmp_path)
    assert [name for name, _ in report.applied] == ["1/10.txt"]  # type: ignore[attr-defined]
    assert await storage.database_version() == "1.10"


async def test_a_major_bump_is_refused_with_a_clear_message(tmp_path: Path, storage: Storage) -> None:
    feed = write_feed(tmp_path / "feed", {"2/1.txt": V1})
    with pytest.raises(FeedError, match=r"new major version.*rebuild"):
        await apply(storage, str(feed), tmp_path)
    assert await storage.database_version() == "1.0"
    assert await snapshot(storage) == []


async def test_a_feed_for_newer_software_is_refused(tmp_path: Path, storage: Storage) -> None:
    feed = write_feed(tmp_path / "feed", {"1/1.txt": V1}, min_client="99.0")
    with pytest.raises(FeedError, match=r"needs domain-stats 99\.0 or newer"):
        await apply(storage, str(feed), tmp_path)
    assert await storage.database_version() == "1.0"


async def test_an_unusable_index_or_missing_file_is_an_error(
    tmp_path: Path, storage: Storage, feed_server: FeedTestServer
) -> None:
    write_feed(feed_server.directory, FEED)
    (feed_server.directory / "1" / "2.txt").unlink()
    with pytest.raises(UpdateStopped, match=r"download of 1/2\.txt failed: HTTP 404"):
        await apply(storage, feed_server.url, tmp_path)
    (feed_server.directory / "version.json").write_text("{not json")
    with pytest.raises(FeedError, match=r"version\.json is not JSON"):
        await apply(storage, feed_server.url, tmp_path)
    with pytest.raises(FeedError, match="neither an http"):
        await apply(storage, str(tmp_path / "nowhere"), tmp_path)


async def test_an_absurd_version_is_refused_before_anything_is_planned(tmp_path: Path, storage: Storage) -> None:
    """1.999999999 would be a billion files to plan (memory exhausted before the first download)."""
    feed = write_feed(tmp_path / "feed", {"1/1.txt": V1}, version="1.999999999")
    with pytest.raises(FeedError, match=r"999999999 versions after this database \(1\.0\)"):
        await apply(storage, str(feed), tmp_path)
    assert await storage.database_version() == "1.0"
    within = write_feed(tmp_path / "near", {"1/1.txt": V1}, version=f"1.{MAX_UPDATE_STEPS}")
    with pytest.raises(UpdateStopped, match=r"no sha256 for 1/2\.txt"):  # planned, then stopped at the missing file
        await apply(storage, str(within), tmp_path)


async def test_a_large_index_is_read_whole_over_http(
    tmp_path: Path, storage: Storage, feed_server: FeedTestServer
) -> None:
    """A 400 KB version.json arrives in many pieces; reading what happens to be buffered is not reading it."""
    sums = {f"1/{n}.txt": f"{n:064x}" for n in range(2, 6000)}
    write_feed(feed_server.directory, {"1/1.txt": V1}, version="1.1", sums=sums)
    assert (feed_server.directory / "version.json").stat().st_size > 400_000
    source = open_feed(feed_server.url)
    try:
        index = await source.index()
    finally:
        await source.close()
    assert len(index.sha256) == 5999 and index.database_version == "1.1"


@pytest.mark.parametrize("kind", ["endless", "gzip"])
async def test_a_feed_file_larger_than_the_cap_stops_the_update(
    tmp_path: Path, storage: Storage, feed_server: FeedTestServer, kind: str
) -> None:
    write_feed(feed_server.directory, {"1/1.txt": V1})
    if kind == "endless":
        feed_server.endless.add("1/1.txt")
    else:
        feed_server.bombs["1/1.txt"] = 50 * 1024 * 1024  # 50 MB decoded from about 50 KB sent
    with pytest.raises(UpdateStopped, match=r"1/1\.txt is larger than 1048576 bytes"):
        await apply(storage, feed_server.url, tmp_path, max_file_bytes=1024 * 1024)
    assert await storage.database_version() == "1.0"
    assert not (tmp_path / ".feed-download.tmp").exists()
