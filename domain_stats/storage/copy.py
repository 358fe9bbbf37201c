"""``domain-stats db copy``: every record of one database into another (SQLite <-> PostgreSQL).

Both schemas are brought up to date first (opening a storage migrates it), the target must be
empty, and the target is written in one transaction: a copy that fails changes nothing.
Tables are read a page at a time in key order, so a large database copies in flat memory.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from domain_stats.storage import StorageError, is_postgres_url, open_storage

__all__ = ["TABLES", "copy_database", "parse_location"]

TABLES: dict[str, tuple[str, ...]] = {
    "meta": ("key", "value"),
    "domains": ("domain", "created", "expires", "origin", "seen_by_isc", "updated"),
    "contacts": ("domain", "seen_by_you"),
    "resolve_queue": ("domain", "added"),
}
_PAGE = 20_000


def parse_location(text: str) -> str | Path:
    """``postgresql://...`` as it is; ``sqlite:///path/to/file.db`` or a plain path as a Path."""
    if is_postgres_url(text):
        return text
    if text.startswith("sqlite://"):
        text = text[len("sqlite://") :]
    if not text:
        raise StorageError("name a database: sqlite:///path/to/domain_stats.db or postgresql://user@host/db")
    return Path(text)


async def copy_database(
    source: str | Path, target: str | Path, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every record; returns the number of rows per table."""
    if not is_postgres_url(source) and not Path(source).is_file():
        raise StorageError(f"{source} does not exist")
    for location in (source, target):
        await (await open_storage(location)).close()  # creates or migrates the schema
    reader, writer = _tables(source), _tables(target)
    await reader.open()
    await writer.open()
    try:
        held = await writer.count("domains") + await writer.count("contacts")
        if held:
            raise StorageError("the target database already holds records; copy into an empty database")
        counts: dict[str, int] = {}
        await writer.begin()
        try:
            for table, columns in TABLES.items():
                counts[table] = 0
                async for rows in reader.pages(table, columns):
                    if table == "meta":
                        rows = [row for row in rows if row[0] != "schema_version"]
                    await writer.write(table, columns, rows)
                    counts[table] += len(rows)
                    if progress is not None:
                        progress(table, len(rows))
            await writer.commit()
        except BaseException:
            await writer.rollback()
            raise
        return counts
    finally:
        await reader.close()
        await writer.close()


def _tables(location: str | Path) -> _SqliteTables | _PostgresTables:
    return _PostgresTables(str(location)) if is_postgres_url(location) else _SqliteTables(Path(location))


class _SqliteTables:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        def guarded() -> Any:
            assert self.conn is not None
            try:
                return work(self.conn)
            except sqlite3.Error as err:
                raise StorageError(f"{self.path}: {err}") from None

        return await asyncio.to_thread(guarded)

    async def open(self) -> None:
        self.conn = await asyncio.to_thread(
            lambda: sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        )
        await self._run(lambda conn: conn.execute("PRAGMA busy_timeout = 5000"))

    async def count(self, table: str) -> int:
        return int(await self._run(lambda conn: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]))

    async def pages(self, table: str, columns: tuple[str, ...]) -> AsyncIterator[list[tuple[Any, ...]]]:
        key, listed = columns[0], ", ".join(columns)
        after = ""
        while True:
            rows = await self._run(
                lambda conn, after=after: conn.execute(  # type: ignore[misc]
                    f"SELECT {listed} FROM {table} WHERE {key} > ? ORDER BY {key} LIMIT ?", (after, _PAGE)
                ).fetchall()
            )
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    async def begin(self) -> None:
        await self._run(lambda conn: conn.execute("BEGIN IMMEDIATE"))

    async def write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        update = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        await self._run(
            lambda conn: conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                f" ON CONFLICT ({columns[0]}) DO UPDATE SET {update}",
                rows,
            )
        )

    async def commit(self) -> None:
        await self._run(lambda conn: conn.execute("COMMIT"))

    async def rollback(self) -> None:
        def undo(conn: sqlite3.Connection) -> None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

        await self._run(undo)

    async def close(self) -> None:
        if self.conn is not None:
            await asyncio.to_thread(self.conn.close)


class _PostgresTables:
    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None
        self._transaction: Any = None

    async def open(self) -> None:
        import asyncpg

        try:
            self.conn = await asyncpg.connect(self.url, timeout=10)
        except (OSError, asyncpg.PostgresError) as err:
            raise StorageError(f"cannot connect to PostgreSQL: {err}") from None

    async def count(self, table: str) -> int:
        return int(await self.conn.fetchval(f"SELECT count(*) FROM {table}"))

    async def pages(self, table: str, columns: tuple[str, ...]) -> AsyncIterator[list[tuple[Any, ...]]]:
        key, listed = columns[0], ", ".join(columns)
        after = ""
        while True:
            rows = await self.conn.fetch(
                f'SELECT {listed} FROM {table} WHERE {key} > $1 COLLATE "C" ORDER BY {key} COLLATE "C" LIMIT $2',
                after,
                _PAGE,
            )
            if not rows:
                return
            yield [tuple(row) for row in rows]
            after = rows[-1][0]

    async def begin(self) -> None:
        self._transaction = self.conn.transaction()
        await self._transaction.start()

    async def write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if table == "meta":  # the target has its own database_version row already: replace it
            await self.conn.executemany(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                rows,
            )
            return
        await self.conn.copy_records_to_table(table, records=rows, columns=list(columns))

    async def commit(self) -> None:
        await self._transaction.commit()

    async def rollback(self) -> None:
        if self._transaction is not None and not self.conn.is_closed():
            await self._transaction.rollback()

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
