"""PostgreSQL backend: several service instances (and workers) on one database behave as one.

First contact stays exactly-once across instances through the primary key on ``contacts``
(``INSERT ... ON CONFLICT DO NOTHING RETURNING``: whoever inserted the row is first). asyncpg
with a small connection pool; every call is bounded by timeouts, so while the database is
down a lookup that needs it fails within a couple of seconds (the service answers
``DATABASE-UNAVAILABLE``), and the pool reconnects by itself when the database is back.
The schema is created and migrated by the program (:data:`MIGRATIONS`), under an advisory
lock so that instances starting together do it once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import asyncpg

from domain_stats.registry.registration import ORIGIN_LOCAL, Registration
from domain_stats.storage import (
    ANY_CREATED,
    RECENT_CONTACTS,
    ChangeRow,
    Contact,
    ImportCounts,
    StorageError,
    StoredDomain,
    Visit,
    check_schema_version,
    like_containing,
    registration_row,
)
from domain_stats.storage.postgres_batching import (
    GROUP_ACQUIRE_TIMEOUT,
    TurnBatcher,
    queue_refreshes,
    read_domains,
    save_registrations,
    visit_domains,
)

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "PostgresStorage",
    "close_pool",
    "connect_pool",
    "migrate",
    "redact",
    "run_migrations",
]

T = TypeVar("T")
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

# Each entry moves the schema one version up; never edit one that has shipped, add the next.
MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # COLLATE "C": domain order is byte order, as in SQLite and in the feed exporter's merge.
        """CREATE TABLE IF NOT EXISTS domains (
            domain TEXT COLLATE "C" PRIMARY KEY,
            created BIGINT NOT NULL,
            expires BIGINT,
            origin TEXT NOT NULL,
            seen_by_isc BIGINT,
            updated BIGINT NOT NULL)""",
        'CREATE TABLE IF NOT EXISTS contacts (domain TEXT COLLATE "C" PRIMARY KEY, seen_by_you BIGINT NOT NULL)',
        'CREATE TABLE IF NOT EXISTS resolve_queue (domain TEXT COLLATE "C" PRIMARY KEY, added BIGINT NOT NULL)',
        "INSERT INTO meta (key, value) VALUES ('database_version', '1.0') ON CONFLICT (key) DO NOTHING",
    ],
    [
        'CREATE TABLE IF NOT EXISTS refresh_queue (domain TEXT COLLATE "C" PRIMARY KEY, added BIGINT NOT NULL)',
        'CREATE TABLE IF NOT EXISTS re_registered (domain TEXT COLLATE "C" PRIMARY KEY, changed BIGINT NOT NULL)',
    ],
    ["CREATE INDEX IF NOT EXISTS contacts_by_time ON contacts (seen_by_you)"],
]
SCHEMA_VERSION = len(MIGRATIONS)
_MIGRATION_LOCK = 0x646F6D61  # an arbitrary advisory lock key ("doma")
# Change sets are applied one at a time per database, so that what each reports (added, updated)
# is what it did, also when several instances import the starter set or a feed file together.
_CHANGES_LOCK = 0x63686E67  # "chng"

CONNECT_TIMEOUT = 3.0
ACQUIRE_TIMEOUT = 3.0
COMMAND_TIMEOUT = 10.0
_COPY_CHUNK = 10_000

_RECENT_CONTACTS = RECENT_CONTACTS
for _number in range(1, RECENT_CONTACTS.count("?") + 1):
    _RECENT_CONTACTS = _RECENT_CONTACTS.replace("?", f"${_number}", 1)

#: Every way the driver and the network fail (``InternalClientError`` comes from ``pool.release``
#: when the server was killed): each is answered DATABASE-UNAVAILABLE, never a 500.
DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError)


async def migrate(conn: asyncpg.Connection) -> tuple[int, int]:
    """Bring the lookup service's schema up to :data:`SCHEMA_VERSION`; returns (before, after)."""
    return await run_migrations(conn, MIGRATIONS, lock=_MIGRATION_LOCK)


async def run_migrations(conn: asyncpg.Connection, migrations: list[list[str]], *, lock: int) -> tuple[int, int]:
    """Apply the migrations past the schema version in ``meta``, in one transaction, under an advisory
    lock (instances starting together migrate once); returns (version before, version after)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
        await conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        found = await conn.fetchval("SELECT value FROM meta WHERE key = 'schema_version'")
        before = int(found or 0)
        check_schema_version(before, len(migrations))
        for statements in migrations[before:]:
            for statement in statements:
                await conn.execute(statement)
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', $1) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            str(len(migrations)),
        )
    return before, len(migrations)


async def connect_pool(url: str, *, max_size: int = 10) -> asyncpg.Pool:
    try:
        return await asyncpg.create_pool(
            url, min_size=1, max_size=max_size, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
        )
    except (*DB_ERRORS, ValueError) as err:
        raise StorageError(f"cannot connect to PostgreSQL at {redact(url)}: {err}") from None


async def close_pool(pool: asyncpg.Pool) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout=10)
    except (TimeoutError, *DB_ERRORS):
        pool.terminate()


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


class PostgresStorage:
    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        self.url = url
        self._pool = pool
        # The lookup path's calls, grouped per loop turn (postgres_batching.py).
        self._visits = TurnBatcher(self._grouped(visit_domains))
        self._reads = TurnBatcher(self._grouped(read_domains))
        self._saves = TurnBatcher(self._grouped(self._save_group))
        self._refreshes = TurnBatcher(self._grouped(queue_refreshes))

    def _grouped(
        self, work: Callable[[asyncpg.Connection, list[ItemT]], Awaitable[list[ResultT]]]
    ) -> Callable[[list[ItemT]], Awaitable[list[ResultT]]]:
        async def run(items: list[ItemT]) -> list[ResultT]:
            return await self._call(lambda conn: work(conn, items), acquire_timeout=GROUP_ACQUIRE_TIMEOUT)

        return run

    @staticmethod
    async def _save_group(conn: asyncpg.Connection, items: list[tuple[tuple[Any, ...], bool]]) -> list[None]:
        return await save_registrations(conn, items, int(time.time()))

    @classmethod
    async def open(cls, url: str) -> PostgresStorage:
        pool = await connect_pool(url)
        storage = cls(url, pool)
        await storage._call(migrate)
        return storage

    async def _call(
        self, work: Callable[[asyncpg.Connection], Awaitable[T]], *, acquire_timeout: float = ACQUIRE_TIMEOUT
    ) -> T:
        try:
            async with self._pool.acquire(timeout=acquire_timeout) as conn:
                return await work(conn)
        except DB_ERRORS as err:
            raise StorageError(f"database failed: {type(err).__name__}: {err}") from None

    async def get(self, domain: str) -> StoredDomain:
        return await self._reads.submit(domain)

    async def visit(self, domain: str, when: float) -> Visit:
        return await self._visits.submit((domain, int(when)))

    async def save_registration(self, domain: str, registration: Registration, *, re_registered: bool = False) -> None:
        await self._saves.submit((registration_row(domain, registration, int(time.time())), re_registered))

    async def take_re_registered(self, domain: str) -> bool:
        taken = await self._call(
            lambda conn: conn.fetchval("DELETE FROM re_registered WHERE domain = $1 RETURNING 1", domain)
        )
        return taken is not None

    async def re_registered_domains(self) -> list[str]:
        rows = await self._call(lambda conn: conn.fetch("SELECT domain FROM re_registered"))
        return [row[0] for row in rows]

    async def queue_refresh(self, domain: str, now: float) -> None:
        await self._refreshes.submit((domain, int(now)))

    async def queued_refreshes(self, limit: int) -> list[str]:
        rows = await self._call(
            lambda conn: conn.fetch("SELECT domain FROM refresh_queue ORDER BY added, domain LIMIT $1", limit)
        )
        return [row[0] for row in rows]

    async def recent_contacts(
        self, since: float, limit: int, *, containing: str = "", created_after: float | None = None
    ) -> list[Contact]:
        after = ANY_CREATED if created_after is None else int(created_after)
        rows = await self._call(
            lambda conn: conn.fetch(_RECENT_CONTACTS, int(since), like_containing(containing), after, limit)
        )
        return [Contact(*row) for row in rows]

    async def unqueue_refresh(self, domain: str) -> None:
        await self._call(lambda conn: conn.execute("DELETE FROM refresh_queue WHERE domain = $1", domain))

    async def refresh_queue_length(self) -> int:
        return await self._call(lambda conn: conn.fetchval("SELECT count(*) FROM refresh_queue"))

    async def apply_changes(
        self, changes: Callable[[], Iterable[ChangeRow]], *, version: str | None = None, mark: str | None = None
    ) -> ImportCounts:
        """Rows are copied into a temporary table a chunk at a time (read in a thread), then applied
        in one transaction; the last change for a domain wins."""
        now = int(time.time())

        async def work(conn: asyncpg.Connection) -> ImportCounts:
            await conn.execute(
                'CREATE TEMP TABLE changes (domain TEXT COLLATE "C", op TEXT, created BIGINT, expires BIGINT, '
                "seq BIGSERIAL)"
            )
            try:
                rows = iter(changes())
                while chunk := await asyncio.to_thread(lambda: list(itertools.islice(rows, _COPY_CHUNK))):
                    await conn.copy_records_to_table(
                        "changes", records=chunk, columns=["domain", "op", "created", "expires"]
                    )
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", _CHANGES_LOCK)
                    await conn.execute(
                        "CREATE TEMP TABLE last_changes ON COMMIT DROP AS SELECT DISTINCT ON (domain) "
                        "domain, op, created, expires FROM changes ORDER BY domain, seq DESC"
                    )
                    added, updated, removed = await conn.fetchrow(
                        "SELECT coalesce(sum((c.op IN ('+', '?') AND d.domain IS NULL)::int), 0), "
                        "coalesce(sum((c.op = '+' AND d.domain IS NOT NULL)::int), 0), "
                        "coalesce(sum((c.op = '-' AND d.domain IS NOT NULL)::int), 0) "
                        "FROM last_changes AS c LEFT JOIN domains AS d ON d.domain = c.domain"
                    )
                    select = f"SELECT domain, created, expires, '{ORIGIN_LOCAL}', NULL::bigint, {now} FROM last_changes"
                    await conn.execute(
                        f"INSERT INTO domains (domain, created, expires, origin, seen_by_isc, updated) {select} "
                        "WHERE op = '+' ON CONFLICT (domain) DO UPDATE SET created = excluded.created, "
                        "expires = excluded.expires, origin = excluded.origin, seen_by_isc = excluded.seen_by_isc, "
                        "updated = excluded.updated"
                    )
                    await conn.execute(
                        f"INSERT INTO domains (domain, created, expires, origin, seen_by_isc, updated) {select} "
                        "WHERE op = '?' ON CONFLICT (domain) DO NOTHING"
                    )
                    await conn.execute(
                        "DELETE FROM domains AS d USING last_changes AS c WHERE d.domain = c.domain AND c.op = '-'"
                    )
                    if version is not None:
                        await conn.execute("UPDATE meta SET value = $1 WHERE key = 'database_version'", version)
                    if mark is not None:
                        await conn.execute(
                            "INSERT INTO meta (key, value) VALUES ($1, $2) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            f"mark:{mark}",
                            str(now),
                        )
                return ImportCounts(added=added, updated=updated, removed=removed)
            finally:
                if not conn.is_closed():
                    await conn.execute("DROP TABLE IF EXISTS changes")

        return await self._call(work)

    async def has_mark(self, mark: str) -> bool:
        count = await self._call(lambda conn: conn.fetchval("SELECT count(*) FROM meta WHERE key = $1", f"mark:{mark}"))
        return bool(count)

    async def registrations_page(
        self, after: str, limit: int, created_before: float
    ) -> list[tuple[str, float, float | None]]:
        rows = await self._call(
            lambda conn: conn.fetch(
                "SELECT domain, created, expires FROM domains"
                " WHERE domain > $1 AND created < $2 ORDER BY domain LIMIT $3",
                after,
                int(created_before),
                limit,
            )
        )
        return [tuple(row) for row in rows]

    async def queue_for_resolution(self, domains: list[str], now: float) -> int:
        return len(
            await self._call(
                lambda conn: conn.fetch(
                    "INSERT INTO resolve_queue (domain, added) SELECT unnest($1::text[]), $2 "
                    "ON CONFLICT DO NOTHING RETURNING domain",
                    domains,
                    int(now),
                )
            )
        )

    async def queued_for_resolution(self, limit: int) -> list[str]:
        rows = await self._call(
            lambda conn: conn.fetch("SELECT domain FROM resolve_queue ORDER BY added, domain LIMIT $1", limit)
        )
        return [row[0] for row in rows]

    async def unqueue(self, domain: str) -> None:
        await self._call(lambda conn: conn.execute("DELETE FROM resolve_queue WHERE domain = $1", domain))

    async def queue_length(self) -> int:
        return await self._call(lambda conn: conn.fetchval("SELECT count(*) FROM resolve_queue"))

    async def database_version(self) -> str:
        return await self._call(lambda conn: conn.fetchval("SELECT value FROM meta WHERE key = 'database_version'"))

    async def count_domains(self) -> int:
        return await self._call(lambda conn: conn.fetchval("SELECT count(*) FROM domains"))

    def write_problem(self) -> str | None:
        """None: a PostgreSQL outage is every instance's at once (they share it), so it fails lookups
        (``DATABASE-UNAVAILABLE``) but not ``/health``, which would take every instance out together
        while their memory caches can still answer."""
        return None

    async def close(self) -> None:
        for batcher in (self._visits, self._reads, self._saves, self._refreshes):
            await batcher.close()
        await close_pool(self._pool)
