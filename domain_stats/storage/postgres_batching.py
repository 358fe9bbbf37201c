"""The lookup path on PostgreSQL: what is asked in one loop turn goes to the database together.

A ``/batch`` of 10,000 new names once took one pool connection per name and per step (10
connections, 3 s to get one): most of it answered ``DATABASE-UNAVAILABLE`` from a healthy
database. Here visits, reads, registration writes and refresh requests asked in the same loop
turn become one statement per group of up to :data:`GROUP_ROWS` names, on one connection, as
SQLite's :mod:`.sqlite_batching` does per loop turn. A group waits for a connection up to
:data:`GROUP_ACQUIRE_TIMEOUT` (a burst waits its turn instead of failing); a database that
cannot be reached still fails at once (the pool's connect timeout).

First contact stays exactly once: the group's ``INSERT ... ON CONFLICT DO NOTHING RETURNING``
says which domains this statement inserted; names are sorted, so concurrent groups take row
locks in one order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import asyncpg

from domain_stats.registry.registration import Registration
from domain_stats.storage import StoredDomain, Visit
from domain_stats.storage.settling import settle_in_slices

__all__ = [
    "GROUP_ACQUIRE_TIMEOUT",
    "GROUP_ROWS",
    "TurnBatcher",
    "queue_refreshes",
    "read_domains",
    "save_registrations",
    "visit_domains",
]

#: Most names in one statement.
GROUP_ROWS = 1000
#: How long a group waits for a pool connection (single calls wait 3 s: they are few).
GROUP_ACQUIRE_TIMEOUT = 30.0

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

#: ``(registration, seen_by_you)`` columns of one domain, as the statements below return them.
_FACTS = "d.created, d.expires, d.origin, d.seen_by_isc"

_VISITS = f"""WITH input (domain, stamp) AS (SELECT * FROM unnest($1::text[], $2::bigint[])),
    ins AS (INSERT INTO contacts (domain, seen_by_you) SELECT domain, stamp FROM input
        ON CONFLICT (domain) DO NOTHING RETURNING domain, seen_by_you)
    SELECT i.domain, ins.seen_by_you, c.seen_by_you, {_FACTS}
    FROM input AS i LEFT JOIN ins ON ins.domain = i.domain LEFT JOIN contacts AS c ON c.domain = i.domain
        LEFT JOIN domains AS d ON d.domain = i.domain"""

_READS = f"""SELECT i.domain, c.seen_by_you, {_FACTS}
    FROM unnest($1::text[]) AS i (domain) LEFT JOIN contacts AS c ON c.domain = i.domain
        LEFT JOIN domains AS d ON d.domain = i.domain"""

_SAVES = """INSERT INTO domains (domain, created, expires, origin, seen_by_isc, updated)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[])
    ON CONFLICT (domain) DO UPDATE SET created = excluded.created, expires = excluded.expires,
        origin = excluded.origin, seen_by_isc = excluded.seen_by_isc, updated = excluded.updated"""

_RE_REGISTERED = """INSERT INTO re_registered (domain, changed) SELECT unnest($1::text[]), $2
    ON CONFLICT (domain) DO UPDATE SET changed = excluded.changed"""

_REFRESHES = """INSERT INTO refresh_queue (domain, added) SELECT * FROM unnest($1::text[], $2::bigint[])
    ON CONFLICT DO NOTHING"""


class TurnBatcher(Generic[ItemT, ResultT]):
    """Collects what is submitted in one loop turn and runs it as groups of ``GROUP_ROWS``: ``run``
    takes a group's items and returns one result per item, in order (or raises for all of them)."""

    def __init__(self, run: Callable[[list[ItemT]], Awaitable[list[ResultT]]]) -> None:
        self._run = run
        self._pending: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._scheduled = False
        self._groups: set[asyncio.Task[None]] = set()

    def submit(self, item: ItemT) -> asyncio.Future[ResultT]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        for first in range(0, len(batch), GROUP_ROWS):
            task = asyncio.get_running_loop().create_task(self._run_group(batch[first : first + GROUP_ROWS]))
            self._groups.add(task)
            task.add_done_callback(self._groups.discard)

    async def _run_group(self, group: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        try:
            results = await self._run([item for item, _ in group])
        except BaseException as err:
            for _, future in group:
                if not future.done():
                    future.set_exception(err)
            if not isinstance(err, Exception):
                raise
            return
        settle_in_slices([(future, result, None) for (_, future), result in zip(group, results, strict=True)])

    async def close(self) -> None:
        """Let the groups under way finish (their askers are waiting for them)."""
        if self._groups:
            await asyncio.wait(set(self._groups))


async def visit_domains(conn: asyncpg.Connection, items: list[tuple[str, int]]) -> list[Visit]:
    """Each ``(domain, stamp)``'s visit, in order: one statement reads and records first contacts.

    Per domain the earliest stamp is inserted; of several askers of a new domain in one group,
    the first gets ``first`` (as on SQLite).
    """
    earliest: dict[str, int] = {}
    for domain, stamp in items:
        earliest[domain] = min(stamp, earliest.get(domain, stamp))
    domains = sorted(earliest)
    found = {row[0]: row for row in await conn.fetch(_VISITS, domains, [earliest[d] for d in domains])}
    # Inserted by another instance after this statement's snapshot: neither won nor seen here.
    late = [d for d in domains if found[d][1] is None and found[d][2] is None]
    seen_late: dict[str, int] = {}
    if late:
        seen_late.update(await conn.fetch("SELECT domain, seen_by_you FROM contacts WHERE domain = ANY($1)", late))
    visits: list[Visit] = []
    told: set[str] = set()
    for domain, _ in items:
        _, won, had, *facts = found[domain]
        registration = Registration(*facts) if facts[0] is not None else None
        if won is not None:
            visits.append(Visit(registration, won, domain not in told))
            told.add(domain)
        else:
            visits.append(Visit(registration, had if had is not None else seen_late[domain], False))
    return visits


async def read_domains(conn: asyncpg.Connection, domains: list[str]) -> list[StoredDomain]:
    """What is stored for each domain, in order, in one statement."""
    found: dict[str, Any] = {row[0]: row for row in await conn.fetch(_READS, sorted(set(domains)))}
    stored = []
    for domain in domains:
        _, seen, *facts = found[domain]
        stored.append(StoredDomain(Registration(*facts) if facts[0] is not None else None, seen))
    return stored


async def save_registrations(
    conn: asyncpg.Connection, rows: list[tuple[tuple[Any, ...], bool]], now: int
) -> list[None]:
    """Store registration rows (``registration_row``'s shape; the last for a domain wins) and mark
    the re-registered ones, in one transaction."""
    last = {row[0]: row for row, _ in rows}
    ordered = [last[domain] for domain in sorted(last)]
    columns = [list(column) for column in zip(*ordered, strict=True)]
    marked = sorted({row[0] for row, re_registered in rows if re_registered})
    async with conn.transaction():
        await conn.execute(_SAVES, *columns)
        if marked:
            await conn.execute(_RE_REGISTERED, marked, now)
    return [None] * len(rows)


async def queue_refreshes(conn: asyncpg.Connection, items: list[tuple[str, int]]) -> list[None]:
    """Queue expired records for their refresh (once per domain), in one statement."""
    earliest: dict[str, int] = {}
    for domain, added in items:
        earliest.setdefault(domain, added)
    domains = sorted(earliest)
    await conn.execute(_REFRESHES, domains, [earliest[d] for d in domains])
    return [None] * len(items)
