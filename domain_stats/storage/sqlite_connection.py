"""How this backend talks to SQLite: the schema, the connection settings, taking the write lock.

Shared by the lookup path (:mod:`.sqlite_batching`), bulk changes (:mod:`.sqlite_changes`)
and :class:`~domain_stats.storage.sqlite.SqliteStorage`.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from domain_stats.private_files import create_private

__all__ = [
    "INITIAL_DATABASE_VERSION",
    "LOCK_PATIENCE",
    "ROWS_PER_STATEMENT",
    "SCHEMA",
    "SCHEMA_VERSION",
    "UPSERT_DOMAIN",
    "begin_immediate",
    "connect",
]

SCHEMA_VERSION = 3  # 2: refresh_queue, re_registered; 3: contacts_by_time (each created if absent)
INITIAL_DATABASE_VERSION = "1.0"

MMAP_BYTES = 1 << 30
LOCK_PATIENCE = 5.0  # seconds a write waits for another process's lock before it fails
ROWS_PER_STATEMENT = 1000  # two parameters a row, well inside SQLite's variable limit

# Portable SQL (the PostgreSQL backend uses the same statements with $n placeholders), but for
# WITHOUT ROWID: the tables are stored in domain order, one B-tree each instead of two.
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS domains (
        domain TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        expires BIGINT,
        origin TEXT NOT NULL,
        seen_by_isc BIGINT,
        updated BIGINT NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS contacts (
        domain TEXT PRIMARY KEY,
        seen_by_you BIGINT NOT NULL) WITHOUT ROWID""",
    # Names imported as a plain list, waiting to be resolved in the background.
    """CREATE TABLE IF NOT EXISTS resolve_queue (
        domain TEXT PRIMARY KEY,
        added BIGINT NOT NULL) WITHOUT ROWID""",
    # Expired records answered from the store, waiting for their background refresh.
    """CREATE TABLE IF NOT EXISTS refresh_queue (
        domain TEXT PRIMARY KEY,
        added BIGINT NOT NULL) WITHOUT ROWID""",
    # Domains whose refresh found a new creation date; the next answer says RE-REGISTERED (once).
    """CREATE TABLE IF NOT EXISTS re_registered (
        domain TEXT PRIMARY KEY,
        changed BIGINT NOT NULL) WITHOUT ROWID""",
    # The status page lists the day's first contacts, newest first.
    "CREATE INDEX IF NOT EXISTS contacts_by_time ON contacts (seen_by_you)",
]

UPSERT_DOMAIN = """INSERT INTO domains (domain, created, expires, origin, seen_by_isc, updated)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (domain) DO UPDATE SET created = excluded.created, expires = excluded.expires,
        origin = excluded.origin, seen_by_isc = excluded.seen_by_isc, updated = excluded.updated"""


def connect(path: Path) -> sqlite3.Connection:
    create_private(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA synchronous = NORMAL")
    # Reads through a memory map: a random point read in a million-domain database drops from
    # ~38 us (page cache misses, one pread per B-tree level) to ~8 us. The mapped pages are the
    # kernel's file cache, shared between workers and reclaimable, not process heap.
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    return conn


def begin_immediate(conn: sqlite3.Connection, patience: float = LOCK_PATIENCE) -> None:
    """BEGIN IMMEDIATE, retrying every fraction of a millisecond while another process writes.

    SQLite's own busy handler sleeps in steps of up to 100 ms, which is what several workers
    on one database would otherwise wait for.
    """
    deadline = time.monotonic() + patience
    pause = 0.0002
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as err:
            if ("locked" not in str(err) and "busy" not in str(err)) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 1.5, 0.005)
