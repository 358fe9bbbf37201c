"""The central server's database: keys, policy, clients, alerts, registrations, community contacts.

Written once in portable SQL over :mod:`domain_stats.central.database` (SQLite by default,
PostgreSQL with ``database_url``). The admin commands (``central key add`` and the rest) open
the same database from another process while the server runs; since the server reads keys,
alerts and policy from the database on every request, a change takes effect with the next
request, on every server instance sharing the database.

Community first contact is an ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: whoever inserts
the row is first, exactly once, however many clients (and server instances) ask at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from domain_stats.central.config import CentralSettings
from domain_stats.central.database import Database, open_database
from domain_stats.central_protocol import StatusReport

__all__ = ["AlertRecord", "CentralStore", "ClientRecord", "KeyRecord", "Known", "open_central_store"]


def _schema(domain_type: str) -> list[list[str]]:
    """The migrations; ``domain_type`` sorts domains byte-wise on both backends (the feed export merges on it)."""
    return [
        [
            "CREATE TABLE IF NOT EXISTS policy (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE IF NOT EXISTS api_keys (
                name TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, created BIGINT NOT NULL, revoked BIGINT)""",
            "CREATE TABLE IF NOT EXISTS denials (name TEXT PRIMARY KEY, message TEXT NOT NULL)",
            """CREATE TABLE IF NOT EXISTS clients (
                name TEXT PRIMARY KEY, client_version TEXT NOT NULL, database_version TEXT NOT NULL,
                cache_hits BIGINT NOT NULL, cache_misses BIGINT NOT NULL, cache_expired BIGINT NOT NULL,
                database_hits BIGINT NOT NULL, database_misses BIGINT NOT NULL,
                address TEXT NOT NULL, last_seen BIGINT NOT NULL)""",
            f"""CREATE TABLE IF NOT EXISTS alerts (
                domain {domain_type} NOT NULL, text TEXT NOT NULL, added BIGINT NOT NULL,
                PRIMARY KEY (domain, text))""",
            f"""CREATE TABLE IF NOT EXISTS domains (
                domain {domain_type} PRIMARY KEY, created BIGINT NOT NULL, expires BIGINT, updated BIGINT NOT NULL)""",
            f"""CREATE TABLE IF NOT EXISTS contacts (
                domain {domain_type} PRIMARY KEY, seen_by_isc BIGINT NOT NULL, first_client TEXT NOT NULL)""",
            # Which clients asked about a domain (publishing the feed counts them).
            f"""CREATE TABLE IF NOT EXISTS askers (
                domain {domain_type} NOT NULL, client TEXT NOT NULL, PRIMARY KEY (domain, client))""",
        ]
    ]


SQLITE_SCHEMA = _schema("TEXT")
POSTGRES_SCHEMA = _schema('TEXT COLLATE "C"')


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


async def open_central_store(settings: CentralSettings, data_dir: Path) -> CentralStore:
    """The server's database, as the server and the admin commands open it."""
    location = settings.database_url or settings.data_path(data_dir, settings.database_file)
    return CentralStore(await open_database(location, SQLITE_SCHEMA, POSTGRES_SCHEMA))


class CentralStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def close(self) -> None:
        await self.db.close()

    # ---- keys ----

    async def add_key(self, name: str, key_hash: str, now: float) -> bool:
        """False when NAME already has a key that is not revoked."""
        row = await self.db.fetchone(
            "INSERT INTO api_keys (name, key_hash, created, revoked) VALUES (?, ?, ?, NULL) "
            "ON CONFLICT (name) DO UPDATE SET key_hash = excluded.key_hash, created = excluded.created, "
            "revoked = NULL WHERE api_keys.revoked IS NOT NULL RETURNING name",
            name,
            key_hash,
            int(now),
        )
        return row is not None

    async def revoke_key(self, name: str, now: float) -> bool:
        row = await self.db.fetchone(
            "UPDATE api_keys SET revoked = ? WHERE name = ? AND revoked IS NULL RETURNING name", int(now), name
        )
        return row is not None

    async def list_keys(self) -> list[KeyRecord]:
        return [
            KeyRecord(*row)
            for row in await self.db.fetchall("SELECT name, created, revoked FROM api_keys ORDER BY name")
        ]

    async def client_for_key(self, key_hash: str) -> str | None:
        """The client name of an active key, or None."""
        row = await self.db.fetchone("SELECT name FROM api_keys WHERE key_hash = ? AND revoked IS NULL", key_hash)
        return None if row is None else row[0]

    # ---- policy, denials, client status ----

    async def policy_values(self) -> dict[str, Any]:
        return {key: orjson.loads(value) for key, value in await self.db.fetchall("SELECT key, value FROM policy")}

    async def set_policy_value(self, key: str, value: Any) -> None:
        await self.db.execute(
            "INSERT INTO policy (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            orjson.dumps(value).decode(),
        )

    async def deny(self, name: str, message: str) -> None:
        await self.db.execute(
            "INSERT INTO denials (name, message) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET message = excluded.message",
            name,
            message,
        )

    async def allow(self, name: str) -> bool:
        return await self.db.fetchone("DELETE FROM denials WHERE name = ? RETURNING name", name) is not None

    async def record_status(self, name: str, report: StatusReport, address: str, now: float) -> str:
        """Store what the client reported; returns the message it is denied with ("" if none)."""
        await self.db.execute(
            "INSERT INTO clients VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "client_version = excluded.client_version, database_version = excluded.database_version, "
            "cache_hits = excluded.cache_hits, cache_misses = excluded.cache_misses, "
            "cache_expired = excluded.cache_expired, database_hits = excluded.database_hits, "
            "database_misses = excluded.database_misses, address = excluded.address, last_seen = excluded.last_seen",
            name,
            report.client_version,
            report.database_version,
            *report.cache_efficiency,
            *report.database_efficiency,
            address,
            int(now),
        )
        row = await self.db.fetchone("SELECT message FROM denials WHERE name = ?", name)
        return "" if row is None else row[0]

    async def clients(self) -> list[ClientRecord]:
        return [ClientRecord(*row) for row in await self.db.fetchall("SELECT * FROM clients ORDER BY name")]

    # ---- alerts ----

    async def add_alert(self, domain: str, text: str, now: float) -> bool:
        row = await self.db.fetchone(
            "INSERT INTO alerts (domain, text, added) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING domain",
            domain,
            text,
            int(now),
        )
        return row is not None

    async def clear_alerts(self, domain: str, text: str | None = None) -> int:
        if text is None:
            return len(await self.db.fetchall("DELETE FROM alerts WHERE domain = ? RETURNING text", domain))
        return len(
            await self.db.fetchall("DELETE FROM alerts WHERE domain = ? AND text = ? RETURNING text", domain, text)
        )

    async def list_alerts(self) -> list[AlertRecord]:
        rows = await self.db.fetchall("SELECT domain, text, added FROM alerts ORDER BY domain, added, text")
        return [AlertRecord(*row) for row in rows]

    # ---- registrations and community contacts ----

    async def known(self, domain: str) -> Known:
        row = await self.db.fetchone("SELECT created, expires, updated FROM domains WHERE domain = ?", domain)
        alerts = await self.db.fetchall("SELECT text FROM alerts WHERE domain = ? ORDER BY added, text", domain)
        created, expires, updated = row if row is not None else (None, None, None)
        return Known(created, expires, updated, tuple(text for (text,) in alerts))

    async def known_many(self, domains: list[str]) -> dict[str, Known]:
        """:meth:`known` of every domain, in two statements (a ``query_many``)."""
        if not domains:
            return {}
        marks = ",".join("?" * len(domains))
        rows = await self.db.fetchall(
            f"SELECT domain, created, expires, updated FROM domains WHERE domain IN ({marks})", *domains
        )
        texts = await self.db.fetchall(
            f"SELECT domain, text FROM alerts WHERE domain IN ({marks}) ORDER BY added, text", *domains
        )
        alerts: dict[str, list[str]] = {}
        for domain, text in texts:
            alerts.setdefault(domain, []).append(text)
        found = {domain: (created, expires, updated) for domain, created, expires, updated in rows}
        return {d: Known(*found.get(d, (None, None, None)), tuple(alerts.get(d, ()))) for d in domains}

    async def save_registration(self, domain: str, created: float, expires: float | None, now: float) -> None:
        await self.db.execute(
            "INSERT INTO domains (domain, created, expires, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (domain) DO UPDATE SET created = excluded.created, expires = excluded.expires, "
            "updated = excluded.updated",
            domain,
            int(created),
            None if expires is None else int(expires),
            int(now),
        )

    async def record_query(self, domain: str, client: str, now: float) -> tuple[int, bool]:
        """The community's first contact with ``domain`` (recorded now if none): ``(when, first)``.

        A losing insert waits for the winner's commit (the primary key), so the read after it
        sees the winner's row, on either backend.
        """
        inserted = await self.db.fetchone(
            "INSERT INTO contacts (domain, seen_by_isc, first_client) VALUES (?, ?, ?) "
            "ON CONFLICT (domain) DO NOTHING RETURNING seen_by_isc",
            domain,
            int(now),
            client,
        )
        await self.db.execute(
            "INSERT INTO askers (domain, client) VALUES (?, ?) ON CONFLICT DO NOTHING", domain, client
        )
        if inserted is not None:
            return inserted[0], True
        row = await self.db.fetchone("SELECT seen_by_isc FROM contacts WHERE domain = ?", domain)
        assert row is not None  # the conflicting row exists and is committed
        return row[0], False

    async def record_queries(self, domains: list[str], client: str, now: float) -> dict[str, tuple[int, bool]]:
        """:meth:`record_query` for every domain at once: ``{domain: (when, first)}`` in three statements."""
        if not domains:
            return {}
        rows = [value for domain in domains for value in (domain, int(now), client)]
        inserted = await self.db.fetchall(
            "INSERT INTO contacts (domain, seen_by_isc, first_client) VALUES "
            + ",".join(["(?, ?, ?)"] * len(domains))
            + " ON CONFLICT (domain) DO NOTHING RETURNING domain, seen_by_isc",
            *rows,
        )
        await self.db.execute(
            "INSERT INTO askers (domain, client) VALUES "
            + ",".join(["(?, ?)"] * len(domains))
            + " ON CONFLICT DO NOTHING",
            *(value for domain in domains for value in (domain, client)),
        )
        recorded = {domain: (seen, True) for domain, seen in inserted}
        others = [domain for domain in domains if domain not in recorded]
        if others:
            marks = ",".join("?" * len(others))
            for domain, seen in await self.db.fetchall(
                f"SELECT domain, seen_by_isc FROM contacts WHERE domain IN ({marks})", *others
            ):
                recorded[domain] = (seen, False)
        return recorded

    async def published_page(
        self, after: str, limit: int, created_before: float, min_clients: int
    ) -> list[tuple[str, float, float | None]]:
        """For the feed: registrations created before ``created_before`` that at least ``min_clients``
        members asked about, in domain order, the ``limit`` after ``after``."""
        rows = await self.db.fetchall(
            "SELECT d.domain, d.created, d.expires FROM domains AS d WHERE d.domain > ? AND d.created < ? "
            "AND (SELECT count(*) FROM askers AS a WHERE a.domain = d.domain) >= ? ORDER BY d.domain LIMIT ?",
            after,
            int(created_before),
            min_clients,
            limit,
        )
        return [tuple(row) for row in rows]

    async def first_contact(self, domain: str) -> int | None:
        row = await self.db.fetchone("SELECT seen_by_isc FROM contacts WHERE domain = ?", domain)
        return None if row is None else row[0]
