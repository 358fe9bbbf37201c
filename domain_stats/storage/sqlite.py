"""SQLite backend, the embedded default: WAL, reads and first contacts on the event loop.

:mod:`.sqlite_batching` has the threading model of the lookup path, :mod:`.sqlite_changes`
the bulk change sets, :mod:`.sqlite_connection` the schema and connection settings.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from domain_stats.registry.registration import Registration
from domain_stats.storage import (
    ANY_CREATED,
    RECENT_CONTACTS,
    ChangeRow,
    Contact,
    ImportCounts,
    StorageError,
    StoredDomain,
    Visit,
    like_containing,
    registration_row,
)
from domain_stats.storage.sqlite_batching import LoopVisits, WriteHealth, Writer
from domain_stats.storage.sqlite_changes import apply_changes
from domain_stats.storage.sqlite_connection import (
    INITIAL_DATABASE_VERSION,
    SCHEMA,
    SCHEMA_VERSION,
    UPSERT_DOMAIN,
    connect,
)

__all__ = ["SCHEMA_VERSION", "SqliteStorage"]

# One statement for both facts about a domain: its registration and our first contact.
_GET = """SELECT d.created, d.expires, d.origin, d.seen_by_isc,
        (SELECT seen_by_you FROM contacts WHERE domain = ?)
    FROM (SELECT 1) AS one LEFT JOIN domains AS d ON d.domain = ?"""


_MARK_RE_REGISTERED = (
    "INSERT INTO re_registered (domain, changed) VALUES (?, ?) "
    "ON CONFLICT (domain) DO UPDATE SET changed = excluded.changed"
)


class SqliteStorage:
    """The embedded default; see the module docstring for the threading model."""

    def __init__(
        self, path: Path, reader: sqlite3.Connection, visits: LoopVisits, writer: Writer, health: WriteHealth
    ) -> None:
        self.path = path
        self._reader = reader
        self._visits = visits
        self._writer = writer
        self._health = health

    @classmethod
    async def open(cls, path: Path) -> SqliteStorage:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            setup = connect(path)
            setup.execute("PRAGMA journal_mode = WAL")
            for statement in SCHEMA:
                setup.execute(statement)
            setup.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?), ('database_version', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (str(SCHEMA_VERSION), INITIAL_DATABASE_VERSION),
            )
            setup.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            setup.close()
            reader = connect(path)
            loop_writer = connect(path)
            loop_writer.execute("PRAGMA busy_timeout = 0")
            loop_writer.execute("PRAGMA wal_autocheckpoint = 0")
        except sqlite3.Error as err:
            raise StorageError(f"cannot open database {path}: {err}") from None
        health = WriteHealth()
        writer = Writer(path, health)
        writer.start()
        return cls(path, reader, LoopVisits(loop_writer, health), writer, health)

    def write_problem(self) -> str | None:
        if not self._writer.is_alive() and not self._visits.closed:
            return "the database writer has stopped"
        return self._health.problem

    async def get(self, domain: str) -> StoredDomain:
        try:
            created, expires, origin, isc, seen_by_you = self._reader.execute(_GET, (domain, domain)).fetchone()
        except sqlite3.Error as err:
            raise StorageError(f"database read failed: {err}") from None
        return StoredDomain(Registration(created, expires, origin, isc) if created is not None else None, seen_by_you)

    async def visit(self, domain: str, when: float) -> Visit:
        return Visit(*await self._visits.visit(domain, int(when)))

    async def save_registration(self, domain: str, registration: Registration, *, re_registered: bool = False) -> None:
        now = int(time.time())
        row = registration_row(domain, registration, now)

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(UPSERT_DOMAIN, row)
            if re_registered:
                conn.execute(_MARK_RE_REGISTERED, (domain, now))

        await self._writer.submit(job)

    async def take_re_registered(self, domain: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute("DELETE FROM re_registered WHERE domain = ? RETURNING 1", (domain,)).fetchone()
            return row is not None

        taken: bool = await self._writer.submit(job)
        return taken

    async def re_registered_domains(self) -> list[str]:
        return [domain for (domain,) in self._reader.execute("SELECT domain FROM re_registered")]

    async def queue_refresh(self, domain: str, now: float) -> None:
        await self._writer.submit(
            lambda conn: conn.execute(
                "INSERT INTO refresh_queue (domain, added) VALUES (?, ?) ON CONFLICT DO NOTHING", (domain, int(now))
            )
        )

    async def queued_refreshes(self, limit: int) -> list[str]:
        rows = self._reader.execute("SELECT domain FROM refresh_queue ORDER BY added, domain LIMIT ?", (limit,))
        return [domain for (domain,) in rows]

    async def recent_contacts(
        self, since: float, limit: int, *, containing: str = "", created_after: float | None = None
    ) -> list[Contact]:
        after = ANY_CREATED if created_after is None else int(created_after)
        params = (int(since), like_containing(containing), after, limit)
        try:
            return [Contact(*row) for row in self._reader.execute(RECENT_CONTACTS, params)]
        except sqlite3.Error as err:
            raise StorageError(f"database read failed: {err}") from None

    async def unqueue_refresh(self, domain: str) -> None:
        await self._writer.submit(lambda conn: conn.execute("DELETE FROM refresh_queue WHERE domain = ?", (domain,)))

    async def refresh_queue_length(self) -> int:
        return int(self._reader.execute("SELECT count(*) FROM refresh_queue").fetchone()[0])

    async def database_version(self) -> str:
        row = self._reader.execute("SELECT value FROM meta WHERE key = 'database_version'").fetchone()
        return row[0] if row else INITIAL_DATABASE_VERSION

    async def apply_changes(
        self, changes: Callable[[], Iterable[ChangeRow]], *, version: str | None = None, mark: str | None = None
    ) -> ImportCounts:
        # Its own connection and thread: the slow part (reading and checking every line) fills a
        # temporary table without touching the database; the write lock is held only for the
        # few set-based statements at the end, so lookups in other processes barely notice.
        return await asyncio.to_thread(apply_changes, self.path, changes, version, mark, int(time.time()))

    async def has_mark(self, mark: str) -> bool:
        return self._reader.execute("SELECT 1 FROM meta WHERE key = ?", (f"mark:{mark}",)).fetchone() is not None

    async def registrations_page(
        self, after: str, limit: int, created_before: float
    ) -> list[tuple[str, float, float | None]]:
        return await asyncio.to_thread(self._page, after, limit, int(created_before))

    def _page(self, after: str, limit: int, created_before: int) -> list[tuple[str, float, float | None]]:
        conn = connect(self.path)
        try:
            return conn.execute(
                "SELECT domain, created, expires FROM domains WHERE domain > ? AND created < ? ORDER BY domain LIMIT ?",
                (after, created_before, limit),
            ).fetchall()
        finally:
            conn.close()

    async def queue_for_resolution(self, domains: list[str], now: float) -> int:
        rows = [(domain, int(now)) for domain in domains]

        def job(conn: sqlite3.Connection) -> int:
            before: int = conn.execute("SELECT count(*) FROM resolve_queue").fetchone()[0]
            conn.executemany("INSERT INTO resolve_queue (domain, added) VALUES (?, ?) ON CONFLICT DO NOTHING", rows)
            after: int = conn.execute("SELECT count(*) FROM resolve_queue").fetchone()[0]
            return after - before

        queued: int = await self._writer.submit(job)
        return queued

    async def queued_for_resolution(self, limit: int) -> list[str]:
        rows = self._reader.execute("SELECT domain FROM resolve_queue ORDER BY added, domain LIMIT ?", (limit,))
        return [domain for (domain,) in rows]

    async def unqueue(self, domain: str) -> None:
        await self._writer.submit(lambda conn: conn.execute("DELETE FROM resolve_queue WHERE domain = ?", (domain,)))

    async def queue_length(self) -> int:
        return int(self._reader.execute("SELECT count(*) FROM resolve_queue").fetchone()[0])

    async def count_domains(self) -> int:
        return int(self._reader.execute("SELECT count(*) FROM domains").fetchone()[0])

    async def close(self) -> None:
        self._visits.closed = True
        self._writer.stop()
        await asyncio.to_thread(self._writer.join)
        self._visits.close()
        self._reader.close()
