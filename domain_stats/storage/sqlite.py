"""SQLite backend: WAL, reads inline on the event loop, every write through one batching thread.

A point read in WAL mode costs a few microseconds, less than handing it to a thread, so
reads run inline. Writes queue to a single writer thread that commits whatever has queued
up in one transaction (each job inside its own SAVEPOINT, so one failing job changes
nothing and does not spoil the batch). One writer also makes "first contact exactly once"
trivially true within a process; across processes SQLite's lock and ``ON CONFLICT DO
NOTHING`` keep it true.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from domain_stats.storage import ImportCounts, Registration, StorageError, StoredDomain

__all__ = ["SqliteStorage", "SCHEMA_VERSION"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
INITIAL_DATABASE_VERSION = "1.0"

# Portable SQL: the PostgreSQL backend uses the same statements with $n placeholders.
_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS domains (
        domain TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        expires BIGINT,
        origin TEXT NOT NULL,
        seen_by_isc BIGINT,
        updated BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS contacts (
        domain TEXT PRIMARY KEY,
        seen_by_you BIGINT NOT NULL)""",
]

_UPSERT_DOMAIN = """INSERT INTO domains (domain, created, expires, origin, seen_by_isc, updated)
    VALUES (?, ?, ?, ?, ?, strftime('%s', 'now'))
    ON CONFLICT (domain) DO UPDATE SET created = excluded.created, expires = excluded.expires,
        origin = excluded.origin, seen_by_isc = excluded.seen_by_isc, updated = excluded.updated"""

_Job = Callable[[sqlite3.Connection], Any]
_STOP = object()
_MAX_BATCH = 512


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


class _Writer(threading.Thread):
    """Owns the only writing connection; runs queued jobs in batched transactions."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="domain-stats-sqlite-writer", daemon=True)
        self._path = path
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stopping = False

    def submit(self, job: _Job) -> asyncio.Future[Any]:
        if self._stopping:
            raise StorageError("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((job, future, loop))
        return future

    def stop(self) -> None:
        self._stopping = True
        self._queue.put(_STOP)

    def run(self) -> None:
        conn = _connect(self._path)
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                batch = [item]
                stop_after = False
                while len(batch) < _MAX_BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stop_after = True
                        break
                    batch.append(more)
                self._run_batch(conn, batch)
                if stop_after:
                    return
        finally:
            conn.close()

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, batch: list[Any]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, _future, _loop in batch:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((job(conn), None))
                    conn.execute("RELEASE job")
                except Exception as err:  # one bad job must not spoil the batch
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((None, err))
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.error("database write failed: %s", err)
            outcomes = [(None, StorageError(f"database write failed: {err}"))] * len(batch)
        for (_job, future, loop), (result, error) in zip(batch, outcomes):
            loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class SqliteStorage:
    """The embedded default; see the module docstring for the threading model."""

    def __init__(self, path: Path, reader: sqlite3.Connection, writer: _Writer) -> None:
        self.path = path
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, path: Path) -> "SqliteStorage":
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            setup = _connect(path)
            setup.execute("PRAGMA journal_mode = WAL")
            for statement in _SCHEMA:
                setup.execute(statement)
            setup.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?), ('database_version', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (str(SCHEMA_VERSION), INITIAL_DATABASE_VERSION),
            )
            setup.close()
            reader = _connect(path)
        except sqlite3.Error as err:
            raise StorageError(f"cannot open database {path}: {err}") from None
        writer = _Writer(path)
        writer.start()
        return cls(path, reader, writer)

    async def get(self, domain: str) -> StoredDomain:
        try:
            reg = self._reader.execute(
                "SELECT created, expires, origin, seen_by_isc FROM domains WHERE domain = ?", (domain,)
            ).fetchone()
            contact = self._reader.execute(
                "SELECT seen_by_you FROM contacts WHERE domain = ?", (domain,)
            ).fetchone()
        except sqlite3.Error as err:
            raise StorageError(f"database read failed: {err}") from None
        return StoredDomain(
            Registration(*reg) if reg is not None else None,
            contact[0] if contact is not None else None,
        )

    async def record_contact(self, domain: str, when: float) -> tuple[float, bool]:
        stamp = int(when)

        def job(conn: sqlite3.Connection) -> tuple[float, bool]:
            cur = conn.execute(
                "INSERT INTO contacts (domain, seen_by_you) VALUES (?, ?) ON CONFLICT (domain) DO NOTHING",
                (domain, stamp),
            )
            if cur.rowcount == 1:
                return stamp, True
            row = conn.execute("SELECT seen_by_you FROM contacts WHERE domain = ?", (domain,)).fetchone()
            return row[0], False

        return await self._writer.submit(job)

    async def save_registration(self, domain: str, registration: Registration) -> None:
        row = _row(domain, registration)
        await self._writer.submit(lambda conn: conn.execute(_UPSERT_DOMAIN, row))

    async def import_registrations(self, rows: Iterable[tuple[str, Registration]]) -> ImportCounts:
        prepared = [_row(domain, reg) for domain, reg in rows]

        def job(conn: sqlite3.Connection) -> ImportCounts:
            before = conn.execute("SELECT count(*) FROM domains").fetchone()[0]
            conn.executemany(_UPSERT_DOMAIN, prepared)
            after = conn.execute("SELECT count(*) FROM domains").fetchone()[0]
            return ImportCounts(added=after - before, updated=len(prepared) - (after - before))

        return await self._writer.submit(job)

    async def database_version(self) -> str:
        row = self._reader.execute("SELECT value FROM meta WHERE key = 'database_version'").fetchone()
        return row[0] if row else INITIAL_DATABASE_VERSION

    async def count_domains(self) -> int:
        return self._reader.execute("SELECT count(*) FROM domains").fetchone()[0]

    async def close(self) -> None:
        self._writer.stop()
        await asyncio.to_thread(self._writer.join)
        self._reader.close()


def _row(domain: str, reg: Registration) -> tuple[Any, ...]:
    return (
        domain,
        int(reg.created),
        None if reg.expires is None else int(reg.expires),
        reg.origin,
        None if reg.seen_by_isc is None else int(reg.seen_by_isc),
    )
