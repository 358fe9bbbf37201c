"""Loads established domains from files: the original tool's ``top1m.import`` JSON and CSV.

Rows become :class:`Registration` records with origin ``local`` (answered with
``seen_by_isc: "NA"``); the first lookup of an imported domain is still this organisation's
first contact. Bad rows are skipped and reported with their line (CSV) or entry (JSON)
number, never silently.
"""

from __future__ import annotations

import asyncio
import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from domain_stats.answer import ORIGIN_LOCAL
from domain_stats.dates import parse_date_value
from domain_stats.names import InvalidName, NameReducer
from domain_stats.storage import Registration, Storage

__all__ = ["ImportFileError", "ImportSummary", "import_file"]

BATCH = 10_000
MAX_REPORTED_PROBLEMS = 1000


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, unknown format)."""


@dataclass(slots=True)
class ImportSummary:
    added: int = 0
    updated: int = 0
    skipped: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def skip(self, where: int, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append((where, reason))


Row = tuple[int, Any, Any, Any, str | None]  # (line or entry number, domain, created, expires, problem)
Progress = Callable[[int], None]


async def import_file(
    storage: Storage, names: NameReducer, path: Path, progress: Progress | None = None
) -> ImportSummary:
    """Import ``path`` into ``storage`` in transactions of :data:`BATCH` rows."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            start = fh.read(4096).lstrip()
        rows = _json_rows(await asyncio.to_thread(path.read_bytes), path) if start[:1] == b"[" else _csv_rows(path)
    except OSError as err:
        raise ImportFileError(f"cannot read {path}: {err.strerror}") from None
    summary = ImportSummary()
    batch: list[tuple[str, Registration]] = []
    writing: asyncio.Task[None] | None = None  # the previous batch is written while this one is read
    now = time.time()
    for where, domain, created, expires, problem in rows:
        if problem is not None:
            summary.skip(where, problem)
            continue
        registration = _registration(summary, names, where, domain, created, expires, now)
        if registration is not None:
            batch.append(registration)
        if len(batch) >= BATCH:
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(_write(storage, batch, summary, progress))
            batch = []
    if writing is not None:
        await writing
    await _write(storage, batch, summary, progress)
    return summary


async def _write(
    storage: Storage, batch: list[tuple[str, Registration]], summary: ImportSummary, progress: Progress | None
) -> None:
    if batch:
        counts = await storage.import_registrations(batch)
        summary.added += counts.added
        summary.updated += counts.updated
        if progress is not None:
            progress(len(batch))


def _registration(
    summary: ImportSummary, names: NameReducer, where: int, domain: Any, created: Any, expires: Any, now: float
) -> tuple[str, Registration] | None:
    if type(domain) is not str or not domain:
        summary.skip(where, "no domain")
        return None
    try:
        registered = names.registered_domain(domain)
    except InvalidName as err:
        summary.skip(where, f"{domain!r}: {err}")
        return None
    if registered is None:
        summary.skip(where, f"{domain!r} is under a prohibited suffix")
        return None
    if registered != domain and registered != domain.strip().rstrip(".").lower():
        summary.skip(where, f"{domain!r} is not a registered domain (it reduces to {registered!r})")
        return None
    try:
        created_at = parse_date_value(created)
        expires_at = parse_date_value(expires) if expires else None
    except ValueError as err:
        summary.skip(where, f"{domain!r}: {err}")
        return None
    if created_at > now + 86400:
        summary.skip(where, f"{domain!r}: creation date is in the future")
        return None
    return registered, Registration(created_at, expires_at, ORIGIN_LOCAL)


def _json_rows(raw: bytes, path: Path) -> Iterator[Row]:
    """The original tool's format: a list of {"domain", "seen_by_web", "expires", ...}."""
    try:
        entries = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ImportFileError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(entries, list):
        raise ImportFileError(f"{path}: expected a JSON list of domain records")
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            yield number, None, None, None, "entry is not a JSON object"
            continue
        yield number, entry.get("domain"), entry.get("seen_by_web"), entry.get("expires"), None


def _csv_rows(path: Path) -> Iterator[Row]:
    """``domain,created[,expires]``, with or without a header line, streamed line by line."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for number, line in enumerate(fh, start=1):
                if '"' in line:
                    fields = next(csv.reader([line]), [])  # quoted fields: let csv read them
                else:
                    fields = line.rstrip("\r\n").split(",")
                if len(fields) == 1 and not fields[0].strip():
                    continue
                if number == 1 and fields[0].strip().lower() == "domain":
                    continue
                if len(fields) == 2:
                    yield number, fields[0], fields[1], None, None
                elif len(fields) == 3:
                    yield number, fields[0], fields[1], fields[2], None
                else:
                    yield number, None, None, None, f"expected domain,created[,expires]; got {len(fields)} fields"
    except UnicodeDecodeError as err:
        raise ImportFileError(f"{path} is neither JSON nor UTF-8 CSV: {err}") from None
