"""Bulk change sets (the update feed, the starter data): all or nothing, the write lock held briefly."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from domain_stats.registry.registration import ORIGIN_LOCAL
from domain_stats.storage import ChangeRow, ImportCounts, StorageError
from domain_stats.storage.sqlite_connection import begin_immediate, connect

__all__ = ["apply_changes"]

# One pass over the change set: what it adds, updates and removes, before it is applied.
_CHANGE_COUNTS = """SELECT
    coalesce(sum(c.op IN ('+', '?') AND d.domain IS NULL), 0),
    coalesce(sum(c.op = '+' AND d.domain IS NOT NULL), 0),
    coalesce(sum(c.op = '-' AND d.domain IS NOT NULL), 0)
    FROM temp.changes AS c LEFT JOIN domains AS d ON d.domain = c.domain"""


def apply_changes(
    path: Path, changes: Callable[[], Iterable[ChangeRow]], version: str | None, mark: str | None, now: int
) -> ImportCounts:
    conn = connect(path)
    try:
        conn.execute("PRAGMA busy_timeout = 0")  # _begin_immediate waits for other processes, finely
        conn.execute("PRAGMA temp_store = FILE")  # a million changes must not live in memory
        conn.execute("PRAGMA mmap_size = 0")  # nor the database's pages: bulk writes gain nothing from the map
        # The temporary table is thrown away with the connection on any failure; it needs no
        # journal of its own (about a fifth of the cost of loading it).
        conn.execute("PRAGMA temp.journal_mode = OFF")
        conn.execute(
            "CREATE TEMP TABLE changes (domain TEXT PRIMARY KEY, op TEXT NOT NULL, created BIGINT, "
            "expires BIGINT) WITHOUT ROWID"
        )
        # A later line for the same domain wins. executemany pulls the rows from the iterator as it
        # goes: the file is read once, never held in memory.
        conn.execute("BEGIN")  # touches only the temporary table: no lock on the database yet
        conn.executemany("INSERT OR REPLACE INTO temp.changes VALUES (?, ?, ?, ?)", changes())
        conn.execute("COMMIT")
        begin_immediate(conn)
        try:
            added, updated, removed = conn.execute(_CHANGE_COUNTS).fetchone()
            columns = "domain, created, expires, origin, seen_by_isc, updated"
            select = f"SELECT domain, created, expires, '{ORIGIN_LOCAL}', NULL, {now} FROM temp.changes"
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
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
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
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
