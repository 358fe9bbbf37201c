"""The central server's database connection, SQLite or PostgreSQL, behind four calls.

The central store's statements are portable SQL written once with ``?`` placeholders
(``INSERT ... ON CONFLICT``, ``RETURNING`` work on both); :class:`PostgresDatabase` numbers
the placeholders for asyncpg. SQLite runs every statement on one thread owned by the
database, so the event loop never waits on the disk and the server's writes are serialised;
PostgreSQL uses a small pool, bounded by timeouts, which reconnects by itself after an outage.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from domain_stats.private_files import create_private
from domain_stats.storage import StorageError, check_schema_version, is_postgres_url

__all__ = ["Database", "PostgresDatabase", "SqliteDatabase", "open_database"]

Row = tuple[Any, ...]


class Database(Protocol):
    async def fetchone(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchall(self, sql: str, *args: Any) -> list[Row]: ...

    async def execute(self, sql: str, *args: Any) -> None: ...

    async def close(self) -> None: ...


async def open_database(location: str | Path, schema: list[list[str]], postgres_schema: list[list[str]]) -> Database:
    """Open and bring the schema up to date (``schema`` for SQLite, ``postgres_schema`` for PostgreSQL)."""
    if is_postgres_url(location):
        return await PostgresDatabase.open(str(location), postgres_schema)
    return await SqliteDatabase.open(Path(location), schema)


class SqliteDatabase:
    def __init__(self, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._conn = conn
        self._executor = executor

    @classmethod
    async def open(cls, path: Path, migrations: list[list[str]]) -> SqliteDatabase:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="central-db")

        def setup() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            create_private(path)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            before = int(row[0]) if row else 0
            check_schema_version(before, len(migrations))
            for statements in migrations[before:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(len(migrations)),),
            )
            conn.execute("COMMIT")
            return conn

        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, setup)
        except (sqlite3.Error, OSError) as err:
            executor.shutdown()
            raise StorageError(f"cannot open database {path}: {err}") from None
        return cls(conn, executor)

    async def _run(self, sql: str, args: tuple[Any, ...], fetch: str) -> Any:
        def work() -> Any:
            try:
                cursor = self._conn.execute(sql, args)
                return cursor.fetchone() if fetch == "one" else cursor.fetchall() if fetch == "all" else None
            except sqlite3.Error as err:
                raise StorageError(f"database failed: {err}") from None

        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._run(sql, args, "one")
        return row

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        rows: list[Row] = await self._run(sql, args, "all")
        return rows

    async def execute(self, sql: str, *args: Any) -> None:
        await self._run(sql, args, "none")

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        self._executor.shutdown()


class PostgresDatabase:
    def __init__(self, pool: Any) -> None:
        from domain_stats.storage.postgres import ACQUIRE_TIMEOUT, DB_ERRORS  # asyncpg only when configured

        self._pool = pool
        self._errors = DB_ERRORS
        self._acquire_timeout = ACQUIRE_TIMEOUT

    @classmethod
    async def open(cls, url: str, migrations: list[list[str]]) -> PostgresDatabase:
        from domain_stats.storage.postgres import connect_pool, run_migrations

        pool = await connect_pool(url)
        database = cls(pool)
        try:
            await database._call(lambda conn: run_migrations(conn, migrations, lock=0x63656E74))
        except StorageError:
            await database.close()
            raise
        return database

    async def _call(self, work: Any) -> Any:
        from domain_stats.storage.postgres import ACQUIRE_TIMEOUT, DB_ERRORS

        try:
            async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
                return await work(conn)
        except DB_ERRORS as err:
            raise StorageError(f"database failed: {type(err).__name__}: {err}") from None

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        row = await self._call(lambda conn: conn.fetchrow(_numbered(sql), *args))
        return None if row is None else tuple(row)

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return [tuple(row) for row in await self._call(lambda conn: conn.fetch(_numbered(sql), *args))]

    async def execute(self, sql: str, *args: Any) -> None:
        await self._call(lambda conn: conn.execute(_numbered(sql), *args))

    async def close(self) -> None:
        from domain_stats.storage.postgres import close_pool

        await close_pool(self._pool)


@lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """``?`` placeholders as asyncpg's ``$1, $2, ...`` (our statements have no ``?`` in literals)."""
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)
