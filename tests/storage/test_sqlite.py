from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain_stats.registry.registration import Registration
from domain_stats.storage import REMOVE, UPSERT, StorageError, change
from domain_stats.storage.sqlite import SqliteStorage


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    store = await SqliteStorage.open(tmp_path / "domain_stats.db")
    yield store
    await store.close()


async def test_new_database_is_wal_and_version_1_0(storage: SqliteStorage) -> None:
    assert await storage.database_version() == "1.0"
    mode = sqlite3.connect(storage.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


async def test_first_contact_is_recorded_once_under_concurrency(storage: SqliteStorage) -> None:
    results = await asyncio.gather(*(storage.visit("race.com", 1000.0 + i) for i in range(100)))
    winners = [r for r in results if r.first]
    assert len(winners) == 1
    assert {r.seen_by_you for r in results} == {winners[0].seen_by_you}
    assert (await storage.get("race.com")).seen_by_you == winners[0].seen_by_you


async def test_contacts_and_registrations_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    store = await SqliteStorage.open(path)
    await store.visit("kept.com", 1234.0)
    await store.save_registration("kept.com", Registration(1.0e9, 2.0e9, "rdap"))
    await store.close()
    store = await SqliteStorage.open(path)
    try:
        stored = await store.get("kept.com")
        assert stored.seen_by_you == 1234
        assert stored.registration == Registration(1_000_000_000, 2_000_000_000, "rdap", None)
        again = await store.visit("kept.com", 9999.0)
        assert (again.seen_by_you, again.first) == (1234, False)
        assert again.registration == stored.registration
    finally:
        await store.close()


async def test_refreshing_a_registration_keeps_the_contact(storage: SqliteStorage) -> None:
    await storage.visit("x.com", 5.0)
    await storage.save_registration("x.com", Registration(100.0, 200.0, "local"))
    await storage.save_registration("x.com", Registration(300.0, None, "rdap"))
    stored = await storage.get("x.com")
    assert stored.registration == Registration(300, None, "rdap")
    assert stored.seen_by_you == 5


async def test_change_sets_count_added_updated_and_removed(storage: SqliteStorage) -> None:
    first = await storage.apply_changes(lambda: [change(UPSERT, "a.com", 1), change(UPSERT, "b.com", 2)])
    second = await storage.apply_changes(
        lambda: [
            change(UPSERT, "b.com", 3),
            change(UPSERT, "c.com", 4),
            change(REMOVE, "a.com"),
            change(REMOVE, "zz.com"),
        ]
    )
    assert (first.added, first.updated, first.removed) == (2, 0, 0)
    assert (second.added, second.updated, second.removed) == (1, 1, 1)
    assert await storage.count_domains() == 2
    assert await storage.database_version() == "1.0"  # a change set without a version leaves it


async def test_a_failing_write_changes_nothing_and_spares_the_batch(storage: SqliteStorage) -> None:
    bad = storage.save_registration("bad.com", Registration(2.0**64, None, "local"))
    ok = storage.save_registration("ok.com", Registration(1.0, None, "local"))
    good = storage.visit("other.com", 7.0)
    results = await asyncio.gather(bad, ok, good, return_exceptions=True)
    assert isinstance(results[0], StorageError)
    assert results[1] is None
    assert (results[2].seen_by_you, results[2].first) == (7, True)
    assert (await storage.get("bad.com")).registration is None
    assert (await storage.get("ok.com")).registration is not None


async def test_unopenable_database_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError):
        await SqliteStorage.open(tmp_path / "not-a-db")
