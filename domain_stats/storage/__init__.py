"""Where first contacts and registration facts live; one small interface, one module per backend.

The interface is deliberately narrow (a point read, three writes, a version) so that the
PostgreSQL backend only has to implement these and the exactly-once rule for first contact
("INSERT ... ON CONFLICT DO NOTHING", the winner is whoever inserted the row).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, NamedTuple, Protocol

__all__ = [
    "ImportCounts",
    "Registration",
    "Storage",
    "StorageError",
    "StoredDomain",
    "Visit",
    "open_storage",
    "parse_version",
]


class StorageError(RuntimeError):
    """The database could not answer; lookups turn this into an ERROR answer."""


class Registration(NamedTuple):
    """Registration facts for one domain, UTC epoch seconds."""

    created: float
    expires: float | None
    origin: str
    seen_by_isc: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires is not None and self.expires <= now


class StoredDomain(NamedTuple):
    registration: Registration | None
    seen_by_you: float | None


class Visit(NamedTuple):
    """A lookup's view of the database: the registration, and this organisation's first contact."""

    registration: Registration | None
    seen_by_you: float
    first: bool  # this visit recorded the first contact


@dataclass(frozen=True, slots=True)
class ImportCounts:
    added: int
    updated: int


class Storage(Protocol):
    async def get(self, domain: str) -> StoredDomain:
        """A read that records nothing (for inspection; lookups use :meth:`visit`)."""
        ...

    async def visit(self, domain: str, when: float) -> Visit:
        """What a cache miss needs: the registration, and this organisation's first contact,
        recorded now if there is none (exactly once, whoever asks concurrently)."""
        ...

    async def save_registration(self, domain: str, registration: Registration) -> None: ...

    async def import_registrations(self, rows: Iterable[tuple[str, Registration]]) -> ImportCounts:
        """Upsert many rows in one transaction."""
        ...

    async def database_version(self) -> str: ...

    async def count_domains(self) -> int: ...

    async def close(self) -> None: ...


def parse_version(text: str) -> tuple[int, int]:
    """``"1.10"`` -> ``(1, 10)``: versions compare as integer pairs, never as strings."""
    major, _, minor = text.strip().partition(".")
    return int(major), int(minor or 0)


async def open_storage(database_file: Path) -> Storage:
    from domain_stats.storage.sqlite import SqliteStorage

    return await SqliteStorage.open(database_file)
