"""``db copy`` between SQLite and PostgreSQL keeps every record."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from domain_stats.registry.registration import Registration
from domain_stats.storage import StorageError, change, open_storage
from domain_stats.storage.copy import TABLES, copy_database, parse_location
from tests.support.postgres import fresh_schema_url, postgres_unavailable


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            table: sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall())
            for table, cols in TABLES.items()
        }
    finally:
        conn.close()


async def test_sqlite_to_postgresql_and_back_keeps_every_record(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    source = tmp_path / "source.db"
    storage = await open_storage(source)
    try:
        await storage.apply_changes(
            lambda: [change("+", f"feed{i}.com", 1_000_000 + i, 2_000_000_000) for i in range(25_000)],
            version="1.4",
            mark="starter-data",
        )
        await storage.save_registration("resolved.org", Registration(1_100_000_000, None, "rdap"))
        await storage.save_registration(
            "community.net", Registration(1_200_000_000, 1_900_000_000, "isc", 1_700_000_000)
        )
        for i in range(300):
            await storage.visit(f"feed{i}.com", 1_750_000_000 + i)
        await storage.visit("never-resolved.io", 1_760_000_000)
        await storage.queue_for_resolution(["queued.com", "also-queued.org"], 1_770_000_000)
    finally:
        await storage.close()

    postgres = fresh_schema_url(request)
    counts = await copy_database(source, postgres)
    assert counts["domains"] == 25_002 and counts["contacts"] == 301 and counts["resolve_queue"] == 2
    with pytest.raises(StorageError, match="already holds records"):
        await copy_database(source, postgres)

    back = tmp_path / "back.db"
    await copy_database(postgres, back)
    original, copied = dump(source), dump(back)
    for table in ("domains", "contacts", "resolve_queue"):
        assert copied[table] == original[table], table
    assert dict(copied["meta"])["database_version"] == "1.4"
    assert dict(copied["meta"])["mark:starter-data"] == dict(original["meta"])["mark:starter-data"]

    restored = await open_storage(postgres)
    try:
        assert await restored.database_version() == "1.4"
        visit = await restored.visit("feed7.com", 1_800_000_000)
        assert (visit.first, visit.seen_by_you) == (False, 1_750_000_007)  # the first contact came along
    finally:
        await restored.close()


def test_locations_are_parsed_and_a_missing_source_is_refused(tmp_path: Path) -> None:
    assert parse_location("sqlite:///var/lib/ds/domain_stats.db") == Path("/var/lib/ds/domain_stats.db")
    assert parse_location("postgresql://u@h/db") == "postgresql://u@h/db"
    assert parse_location("relative.db") == Path("relative.db")
    import asyncio

    with pytest.raises(StorageError, match="does not exist"):
        asyncio.run(copy_database(tmp_path / "nothing.db", tmp_path / "target.db"))
