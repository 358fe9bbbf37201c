"""Bulk change sets (the update feed, the starter data): all or nothing, the write lock held briefly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

from domain_stats.storage import Change, ImportCounts, StorageError
from domain_stats.storage.sqlite_connection import (
    ROWS_PER_STATEMENT,
    begin_immediate,
    connect,
    domain_row,
)

__all__ = ["apply_changes"]

_CHANGE_COUNTS = """SELECT
    (SELECT count(*) FROM temp.changes c WHERE c.op IN ('+', '?')
        AND NOT EXISTS (SELECT 1 FROM domains d WHERE d.domain = c.domain)),
    (SELECT count(*) FROM temp.changes c WHERE c.op = '+'
        AND EXISTS (SELECT 1 FROM domains d WHERE d.domain = c.domain)),
    (SELECT count(*) FROM temp.changes c WHERE c.op = '-'
        AND EXISTS (SELECT 1 FROM domains d WHERE d.domain = c.domain))"""


def apply_changes(
    path: Path, changes: Callable[[], Iterable[Change]], version: str | None, mark: str | None, now: int
) -> ImportCounts:
    conn = connect(path)
    try:
        conn.execute("PRAGMA busy_timeout = 0")  # _begin_immediate waits for other processes, finely
        conn.execute("PRAGMA temp_store = FILE")  # a million changes must not live in memory
        conn.execute(
            "CREATE TEMP TABLE changes (domain TEXT PRIMARY KEY, op TEXT NOT NULL, created BIGINT, "
            "expires BIGINT, origin TEXT, seen_by_isc BIGINT) WITHOUT ROWID"
        )
        insert = "INSERT OR REPLACE INTO temp.changes VALUES (?, ?, ?, ?, ?, ?)"  # a later line wins
        batch: list[tuple[Any, ...]] = []
        for op, domain, reg in changes():
            if reg is None:
                batch.append((domain, op, None, None, None, None))
            else:
                batch.append((domain, op, *domain_row(domain, reg, now)[1:5]))
            if len(batch) >= ROWS_PER_STATEMENT * 10:
                conn.executemany(insert, batch)
                batch.clear()
        conn.executemany(insert, batch)
        begin_immediate(conn)
        try:
            added, updated, removed = conn.execute(_CHANGE_COUNTS).fetchone()
            columns = "domain, created, expires, origin, seen_by_isc, updated"
            select = f"SELECT domain, created, expires, origin, seen_by_isc, {now} FROM temp.changes"
            conn.execute(
                f"INSERT INTO domains ({columns}) {select} WHERE op = '+' ON CONFLICT (domain) DO UPDATE SET "
                "created = excluded.created, expires = excluded.expires, origin = excluded.origin, "
                "seen_by_isc = excluded.seen_by_isc, updated = excluded.updated"
            )
            conn.execute(f"INSERT INTO domains ({columns}) {select} WHERE op = '?' ON CONFLICT (domain) DO NOTHING")
            conn.execute("DELETE FROM domains WHERE domain IN (SELECT domain FROM temp.changes WHERE op = '-')")
            if version is not None:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'database_version'", (version,))
            if mark is not None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (f"mark:{mark}", str(now)),
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return ImportCounts(added=added, updated=updated, removed=removed)
    except sqlite3.Error as err:
        raise StorageError(f"database write failed: {err}") from None
    finally:
        conn.close()


