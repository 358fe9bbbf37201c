"""Where first contacts and registration facts live; one small interface, one module per backend.

The interface is deliberately narrow (a point read, the lookup's visit, a registration write,
change sets for bulk data, a few queue and version calls) so that each backend implements
little more than these and the exactly-once rule for first contact ("INSERT ... ON CONFLICT
DO NOTHING", the winner is whoever inserted the row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from domain_stats.errors import RuntimeFailure
from domain_stats.registry.registration import Registration

__all__ = [
    "ADD_IF_ABSENT",
    "ANY_CREATED",
    "RECENT_CONTACTS",
    "REMOVE",
    "UPSERT",
    "ChangeRow",
    "Contact",
    "ImportCounts",
    "Storage",
    "StorageError",
    "StoredDomain",
    "Visit",
    "change",
    "check_schema_version",
    "is_postgres_url",
    "like_containing",
    "open_storage",
    "registration_row",
]


class StorageError(RuntimeFailure):
    """The database could not answer or refused a write: a runtime failure, not the user's.

    Lookups turn it into a ``DATABASE-UNAVAILABLE`` answer; a command shows its message as one
    line (``console.SHOWN_ERRORS``).
    """


class StoredDomain(NamedTuple):
    registration: Registration | None
    seen_by_you: float | None


class Visit(NamedTuple):
    """A lookup's view of the database: the registration, and this organisation's first contact."""

    registration: Registration | None
    seen_by_you: float
    first: bool  # this visit recorded the first contact


class Contact(NamedTuple):
    """A first contact and what is known of its domain (``created`` None: no registration stored)."""

    domain: str
    seen_by_you: float
    created: float | None
    origin: str | None
    seen_by_isc: float | None


#: The SQL both backends run for :meth:`Storage.recent_contacts` (``?`` placeholders; PostgreSQL numbers them).
RECENT_CONTACTS = """SELECT c.domain, c.seen_by_you, d.created, d.origin, d.seen_by_isc
    FROM contacts AS c LEFT JOIN domains AS d ON d.domain = c.domain
    WHERE c.seen_by_you >= ? AND c.domain LIKE ? ESCAPE '\\' AND COALESCE(d.created, 0) >= ?
    ORDER BY c.seen_by_you DESC, c.domain LIMIT ?"""
#: ``created_after`` when every contact is wanted, registered or not (a missing date counts as 0).
ANY_CREATED = -(2**62)


def like_containing(text: str) -> str:
    """A LIKE pattern for names containing ``text`` (its ``%`` and ``_`` taken literally)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class ImportCounts:
    added: int
    updated: int
    removed: int = 0


# Change operations (the update feed's + and -, and "add unless known" for the starter set).
UPSERT, REMOVE, ADD_IF_ABSENT = "+", "-", "?"


ChangeRow = tuple[str, str, "int | None", "int | None"]
"""One change of a change set: ``(domain, op, created, expires)``, whole UTC seconds, dates None
for a removal. Change sets carry established data (imports, the update feed, the starter set),
which is stored with origin ``local``. A plain tuple, in the order bulk writes bind it, because
feeds make millions of them."""


def registration_row(domain: str, reg: Registration, updated: int) -> tuple[Any, ...]:
    """A registration as both backends store it: ``(domain, created, expires, origin, seen_by_isc,
    updated)``, dates as whole UTC seconds."""
    created, expires, origin, isc = reg
    return (
        domain,
        int(created),
        None if expires is None else int(expires),
        origin,
        None if isc is None else int(isc),
        updated,
    )


def change(op: str, domain: str, created: float | None = None, expires: float | None = None) -> ChangeRow:
    return (domain, op, None if created is None else int(created), None if expires is None else int(expires))


class Storage(Protocol):
    async def get(self, domain: str) -> StoredDomain:
        """A read that records nothing (for inspection; lookups use :meth:`visit`)."""
        ...

    async def visit(self, domain: str, when: float) -> Visit:
        """What a cache miss needs: the registration, and this organisation's first contact,
        recorded now if there is none (exactly once, whoever asks concurrently)."""
        ...

    async def save_registration(self, domain: str, registration: Registration, *, re_registered: bool = False) -> None:
        """Store (replace) a registration; ``re_registered``: the next :meth:`take_re_registered` says so."""
        ...

    async def take_re_registered(self, domain: str) -> bool:
        """Was ``domain`` re-registered since it was last answered? True exactly once (whoever asks)."""
        ...

    async def re_registered_domains(self) -> list[str]:
        """Domains :meth:`take_re_registered` would answer True for (a hint: take decides)."""
        ...

    async def queue_refresh(self, domain: str, now: float) -> None:
        """Queue an expired record for its background refresh (durable; once per domain)."""
        ...

    async def queued_refreshes(self, limit: int) -> list[str]: ...

    async def recent_contacts(
        self, since: float, limit: int, *, containing: str = "", created_after: float | None = None
    ) -> list[Contact]:
        """First contacts since ``since``, newest first: for the status page (``/ui``). ``containing``:
        names with this text; ``created_after``: only domains registered after it (NEW)."""
        ...

    async def unqueue_refresh(self, domain: str) -> None: ...

    async def refresh_queue_length(self) -> int: ...

    async def apply_changes(
        self, changes: Callable[[], Iterable[ChangeRow]], *, version: str | None = None, mark: str | None = None
    ) -> ImportCounts:
        """All of ``changes`` in one transaction, or nothing: the iterable is consumed off the event
        loop, and anything it raises (a malformed feed line) leaves the database as it was. Sets the
        database ``version`` and the ``mark`` (see :meth:`has_mark`) in the same transaction."""
        ...

    async def has_mark(self, mark: str) -> bool:
        """Was a change set applied with this ``mark`` (e.g. the starter data)?"""
        ...

    async def registrations_page(
        self, after: str, limit: int, created_before: float
    ) -> list[tuple[str, float, float | None]]:
        """``(domain, created, expires)`` of registrations created before ``created_before``, in
        domain order, the ``limit`` after ``after``: an export streams through them a page at a time."""
        ...

    async def queue_for_resolution(self, domains: list[str], now: float) -> int:
        """Queue names to be resolved in the background (those not queued yet); returns how many."""
        ...

    async def queued_for_resolution(self, limit: int) -> list[str]: ...

    async def unqueue(self, domain: str) -> None: ...

    async def queue_length(self) -> int: ...

    async def database_version(self) -> str: ...

    async def count_domains(self) -> int: ...

    def write_problem(self) -> str | None:
        """Why writes are failing now (a full disk, a writer that stopped), or None; ``/health`` says it."""
        ...

    async def close(self) -> None: ...


def check_schema_version(found: int, known: int) -> None:
    """A database written by a newer domain-stats is not touched: say so instead."""
    if found > known:
        raise StorageError(
            f"the database schema is version {found}, newer than this domain-stats knows ({known}): upgrade"
        )


def is_postgres_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


async def open_storage(location: str | Path) -> Storage:
    """A PostgreSQL URL (``database_url``) or an SQLite file; the schema is created or migrated."""
    if is_postgres_url(location):
        from domain_stats.storage.postgres import PostgresStorage

        return await PostgresStorage.open(str(location))
    from domain_stats.storage.sqlite import SqliteStorage

    return await SqliteStorage.open(Path(location))
