"""The central server's database: keys, policy, clients, alerts, registrations, community contacts.

Every statement runs on one thread owned by the store, so the event loop never waits on the
disk and the server's writes are serialised. The admin commands (``central key add`` and the
rest) open the same database from another process while the server runs: WAL lets them
read and write beside it, and since the server reads keys, alerts and policy from the
database on every request, a change takes effect with the next request.

Community first contact is an ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: whoever inserts
the row is first, exactly once, however many clients ask at the same moment.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, TypeVar

import orjson

from domain_stats.central.config import CentralSettings
from domain_stats.central.protocol import StatusReport
from domain_stats.storage import StorageError

__all__ = ["open_central_store", "CentralStore", "ClientRecord", "KeyRecord", "AlertRecord", "Known", "SCHEMA_VERSION"]

T = TypeVar("T")

SCHEMA_VERSION = 1

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # Policy values (central config set), JSON-encoded.
    "CREATE TABLE IF NOT EXISTS policy (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS api_keys (
        name TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        created BIGINT NOT NULL,
        revoked BIGINT)""",
    "CREATE TABLE IF NOT EXISTS denials (name TEXT PRIMARY KEY, message TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS clients (
        name TEXT PRIMARY KEY,
        client_version TEXT NOT NULL,
        database_version TEXT NOT NULL,
        cache_hits BIGINT NOT NULL, cache_misses BIGINT NOT NULL, cache_expired BIGINT NOT NULL,
        database_hits BIGINT NOT NULL, database_misses BIGINT NOT NULL,
        address TEXT NOT NULL,
        last_seen BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS alerts (
        domain TEXT NOT NULL,
        text TEXT NOT NULL,
        added BIGINT NOT NULL,
        PRIMARY KEY (domain, text))""",
    """CREATE TABLE IF NOT EXISTS domains (
        domain TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        expires BIGINT,
        updated BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS contacts (
        domain TEXT PRIMARY KEY,
        seen_by_isc BIGINT NOT NULL,
        first_client TEXT NOT NULL)""",
    # Which clients asked about a domain (publishing the feed counts them).
    """CREATE TABLE IF NOT EXISTS askers (
        domain TEXT NOT NULL,
        client TEXT NOT NULL,
        PRIMARY KEY (domain, client))""",
]


class KeyRecord(NamedTuple):
    name: str
    created: int
    revoked: int | None


class ClientRecord(NamedTuple):
    name: str
    client_version: str
    database_version: str
    cache_hits: int
    cache_misses: int
    cache_expired: int
    database_hits: int
    database_misses: int
    address: str
    last_seen: int


class AlertRecord(NamedTuple):
    domain: str
    text: str
    added: int


@dataclass(frozen=True, slots=True)
class Known:
    """What the server holds about a domain before it answers a query."""

    created: int | None
    expires: int | None
    updated: int | None  # when the registration was last resolved
    alerts: tuple[str, ...]


async def open_central_store(settings: "CentralSettings", data_dir: Path) -> "CentralStore":
    """The server's database, as the server and the admin commands open it."""
    return await CentralStore.open(settings.data_path(data_dir, settings.database_file))


class CentralStore:
    def __init__(self, path: Path, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.path = path
        self._conn = conn
        self._executor = executor

    @classmethod
    async def open(cls, path: Path) -> "CentralStore":
        path = Path(path)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="central-store")

        def setup() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING",
                (str(SCHEMA_VERSION),),
            )
            return conn

        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, setup)
        except (sqlite3.Error, OSError) as err:
            executor.shutdown()
            raise StorageError(f"cannot open database {path}: {err}") from None
        return cls(path, conn, executor)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def guarded() -> T:
            try:
                return work(self._conn)
            except sqlite3.Error as err:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StorageError(f"database failed: {err}") from None

        return await asyncio.get_running_loop().run_in_executor(self._executor, guarded)

    async def close(self) -> None:
        await self._run(lambda conn: conn.close())
        self._executor.shutdown()

    # ---- keys ----

    async def add_key(self, name: str, key_hash: str, now: float) -> bool:
        """False when NAME already has a key that is not revoked."""

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "INSERT INTO api_keys (name, key_hash, created, revoked) VALUES (?, ?, ?, NULL) "
                "ON CONFLICT (name) DO UPDATE SET key_hash = excluded.key_hash, created = excluded.created, "
                "revoked = NULL WHERE api_keys.revoked IS NOT NULL RETURNING name",
                (name, key_hash, int(now)),
            ).fetchone()
            return row is not None

        return await self._run(work)

    async def revoke_key(self, name: str, now: float) -> bool:
        return await self._run(
            lambda conn: conn.execute(
                "UPDATE api_keys SET revoked = ? WHERE name = ? AND revoked IS NULL RETURNING name", (int(now), name)
            ).fetchone()
            is not None
        )

    async def list_keys(self) -> list[KeyRecord]:
        return await self._run(
            lambda conn: [KeyRecord(*row) for row in conn.execute("SELECT name, created, revoked FROM api_keys ORDER BY name")]
        )

    async def client_for_key(self, key_hash: str) -> str | None:
        """The client name of an active key, or None."""
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT name FROM api_keys WHERE key_hash = ? AND revoked IS NULL", (key_hash,)
            ).fetchone()
        )
        return None if row is None else row[0]

    # ---- policy, denials, client status ----

    async def policy_values(self) -> dict[str, Any]:
        rows = await self._run(lambda conn: conn.execute("SELECT key, value FROM policy").fetchall())
        return {key: orjson.loads(value) for key, value in rows}

    async def set_policy_value(self, key: str, value: Any) -> None:
        encoded = orjson.dumps(value).decode()
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO policy (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, encoded),
            )
        )

    async def deny(self, name: str, message: str) -> None:
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO denials (name, message) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET message = excluded.message",
                (name, message),
            )
        )

    async def allow(self, name: str) -> bool:
        return await self._run(
            lambda conn: conn.execute("DELETE FROM denials WHERE name = ? RETURNING name", (name,)).fetchone() is not None
        )

    async def record_status(self, name: str, report: StatusReport, address: str, now: float) -> str:
        """Store what the client reported; returns the message it is denied with ("" if none)."""

        def work(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT INTO clients VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "client_version = excluded.client_version, database_version = excluded.database_version, "
                "cache_hits = excluded.cache_hits, cache_misses = excluded.cache_misses, "
                "cache_expired = excluded.cache_expired, database_hits = excluded.database_hits, "
                "database_misses = excluded.database_misses, address = excluded.address, last_seen = excluded.last_seen",
                (name, report.client_version, report.database_version, *report.cache_efficiency,
                 *report.database_efficiency, address, int(now)),
            )
            row = conn.execute("SELECT message FROM denials WHERE name = ?", (name,)).fetchone()
            return "" if row is None else row[0]

        return await self._run(work)

    async def clients(self) -> list[ClientRecord]:
        return await self._run(
            lambda conn: [ClientRecord(*row) for row in conn.execute("SELECT * FROM clients ORDER BY name")]
        )

    # ---- alerts ----

    async def add_alert(self, domain: str, text: str, now: float) -> bool:
        return await self._run(
            lambda conn: conn.execute(
                "INSERT INTO alerts (domain, text, added) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING domain",
                (domain, text, int(now)),
            ).fetchone()
            is not None
        )

    async def clear_alerts(self, domain: str, text: str | None = None) -> int:
        if text is None:
            return await self._run(
                lambda conn: len(conn.execute("DELETE FROM alerts WHERE domain = ? RETURNING text", (domain,)).fetchall())
            )
        return await self._run(
            lambda conn: len(
                conn.execute("DELETE FROM alerts WHERE domain = ? AND text = ? RETURNING text", (domain, text)).fetchall()
            )
        )

    async def list_alerts(self) -> list[AlertRecord]:
        return await self._run(
            lambda conn: [AlertRecord(*row) for row in conn.execute("SELECT domain, text, added FROM alerts ORDER BY domain, added, text")]
        )

    # ---- registrations and community contacts ----

    async def known(self, domain: str) -> Known:
        def work(conn: sqlite3.Connection) -> Known:
            row = conn.execute("SELECT created, expires, updated FROM domains WHERE domain = ?", (domain,)).fetchone()
            alerts = conn.execute("SELECT text FROM alerts WHERE domain = ? ORDER BY added, text", (domain,)).fetchall()
            created, expires, updated = row if row is not None else (None, None, None)
            return Known(created, expires, updated, tuple(text for (text,) in alerts))

        return await self._run(work)

    async def save_registration(self, domain: str, created: float, expires: float | None, now: float) -> None:
        row = (domain, int(created), None if expires is None else int(expires), int(now))
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO domains (domain, created, expires, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (domain) DO UPDATE SET created = excluded.created, expires = excluded.expires, "
                "updated = excluded.updated",
                row,
            )
        )

    async def record_query(self, domain: str, client: str, now: float) -> tuple[int, bool]:
        """The community's first contact with ``domain`` (recorded now if none): ``(when, first)``."""

        def work(conn: sqlite3.Connection) -> tuple[int, bool]:
            conn.execute("BEGIN IMMEDIATE")
            inserted = conn.execute(
                "INSERT INTO contacts (domain, seen_by_isc, first_client) VALUES (?, ?, ?) "
                "ON CONFLICT (domain) DO NOTHING RETURNING seen_by_isc",
                (domain, int(now), client),
            ).fetchone()
            conn.execute("INSERT INTO askers (domain, client) VALUES (?, ?) ON CONFLICT DO NOTHING", (domain, client))
            if inserted is None:
                seen = conn.execute("SELECT seen_by_isc FROM contacts WHERE domain = ?", (domain,)).fetchone()[0]
            conn.execute("COMMIT")
            return (inserted[0], True) if inserted is not None else (seen, False)

        return await self._run(work)

    async def published_page(
        self, after: str, limit: int, created_before: float, min_clients: int
    ) -> list[tuple[str, float, float | None]]:
        """For the feed: registrations created before ``created_before`` that at least ``min_clients``
        members asked about, in domain order, the ``limit`` after ``after``."""
        return await self._run(
            lambda conn: conn.execute(
                "SELECT d.domain, d.created, d.expires FROM domains AS d WHERE d.domain > ? AND d.created < ? "
                "AND (SELECT count(*) FROM askers AS a WHERE a.domain = d.domain) >= ? ORDER BY d.domain LIMIT ?",
                (after, int(created_before), min_clients, limit),
            ).fetchall()
        )

    async def first_contact(self, domain: str) -> int | None:
        row = await self._run(
            lambda conn: conn.execute("SELECT seen_by_isc FROM contacts WHERE domain = ?", (domain,)).fetchone()
        )
        return None if row is None else row[0]
