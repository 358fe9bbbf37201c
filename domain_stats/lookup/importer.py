"""Loads established domains from files, whatever form they come in.

Four forms, told apart by their first line: the original tool's ``top1m.import`` JSON; the
update feed's lines (``+,domain,created,expires`` / ``-,...``, applied like a feed file but
without changing the database version); CSV ``domain,created[,expires]``; and a plain list
of names, one a line, which are queued and resolved through upstream by the running service
in the background (``import_resolve_rate``). Rows become :class:`Registration` records with
origin ``local`` (answered with ``seen_by_isc: "NA"``); the first lookup of an imported
domain is still this organisation's first contact. Bad rows are skipped and reported with
their line (or JSON entry) number, never silently.
"""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from domain_stats.dates import parse_date_value
from domain_stats.errors import UserError
from domain_stats.feed.format import ADD, FeedLineError, parse_feed_line
from domain_stats.feed.update import check_domain
from domain_stats.names import InvalidName, NameReducer
from domain_stats.storage import UPSERT, ChangeRow, Storage, change

__all__ = ["ImportFileError", "ImportSummary", "import_file"]

MAX_REPORTED_PROBLEMS = 1000
_PROGRESS_EVERY = 10_000


class ImportFileError(UserError):
    """The file as a whole cannot be imported (unreadable, unknown format)."""


@dataclass(slots=True)
class ImportSummary:
    kind: str = ""  # json, feed, csv or names
    added: int = 0
    updated: int = 0
    removed: int = 0
    queued: int = 0  # names waiting for background resolution
    skipped: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        """The one-line summary the command prints."""
        if self.kind == "names":
            return f"queued {self.queued}, already known or queued {self.updated}, skipped {self.skipped}"
        removed = f", removed {self.removed}" if self.kind == "feed" else ""
        return f"added {self.added}, updated {self.updated}{removed}, skipped {self.skipped}"

    def skip(self, where: int, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append((where, reason))


Row = tuple[int, Any, Any, Any, str | None]  # (line or entry number, domain, created, expires, problem)
Progress = Callable[[int], None]


async def import_file(
    storage: Storage, names: NameReducer, path: Path, progress: Progress | None = None
) -> ImportSummary:
    """Import ``path`` into ``storage`` in one transaction (all of it, or nothing if the database fails)."""
    path = Path(path)
    try:
        kind = await asyncio.to_thread(_detect_format, path)
        if kind == "feed":
            return await _import_feed_lines(storage, names, path)
        if kind == "names":
            return await _queue_names(storage, names, path)
        rows = _json_rows(await asyncio.to_thread(path.read_bytes), path) if kind == "json" else _csv_rows(path)
    except OSError as err:
        raise ImportFileError(f"cannot read {path}: {err.strerror}") from None
    summary = ImportSummary(kind)
    now = time.time()

    def changes() -> Iterator[ChangeRow]:
        dates: dict[Any, float] = {}  # import files repeat dates a lot: each text is read once
        done = 0
        for where, domain, created, expires, problem in rows:
            if problem is not None:
                summary.skip(where, problem)
                continue
            row = _change(summary, names, dates, where, domain, created, expires, now)
            if row is not None:
                yield row
                done += 1
                if progress is not None and done % _PROGRESS_EVERY == 0:
                    progress(_PROGRESS_EVERY)

    counts = await storage.apply_changes(changes)
    summary.added, summary.updated = counts.added, counts.updated
    return summary


def _change(
    summary: ImportSummary,
    names: NameReducer,
    dates: dict[Any, float],
    where: int,
    domain: Any,
    created: Any,
    expires: Any,
    now: float,
) -> ChangeRow | None:
    if type(domain) is not str or not domain:
        summary.skip(where, "no domain")
        return None
    if not names.is_registered_domain(domain):
        name = domain.strip().rstrip(".").lower()
        if not names.is_registered_domain(name):
            summary.skip(where, check_domain(names, domain) or f"{domain!r} is not a registered domain")
            return None
        domain = name
    try:
        created_at = dates.get(created) if type(created) is str else None
        if created_at is None:
            created_at = parse_date_value(created)
            if type(created) is str and len(dates) < 100_000:
                dates[created] = created_at
        expires_at = parse_date_value(expires) if expires else None
    except ValueError as err:
        summary.skip(where, f"{domain!r}: {err}")
        return None
    if created_at > now + 86400:
        summary.skip(where, f"{domain!r}: creation date is in the future")
        return None
    return (domain, UPSERT, int(created_at), None if expires_at is None else int(expires_at))


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
                # Quoted fields: let csv read them; the plain split is the fast path.
                fields = next(csv.reader([line]), []) if '"' in line else line.rstrip("\r\n").split(",")
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


def _detect_format(path: Path) -> str:
    with open(path, "rb") as fh:
        start = fh.read(4096).lstrip()
    if start[:1] in (b"[", b"{"):
        return "json"
    if start[:2] in (b"+,", b"-,"):
        return "feed"
    first = start.split(b"\n", 1)[0]
    return "csv" if b"," in first else "names"


async def _import_feed_lines(storage: Storage, names: NameReducer, path: Path) -> ImportSummary:
    """Feed lines as an import: one transaction, bad lines skipped and reported (a feed update stops instead)."""
    summary = ImportSummary("feed")

    def changes() -> Iterator[ChangeRow]:
        with open(path, encoding="utf-8", errors="replace") as lines:
            for number, text in enumerate(lines, start=1):
                try:
                    parsed = parse_feed_line(text, number)
                except FeedLineError as err:
                    summary.skip(number, err.reason)
                    continue
                if parsed is None:
                    continue
                op, domain, created, expires = parsed
                problem = check_domain(names, domain)
                if problem is not None:
                    summary.skip(number, problem)
                    continue
                yield change(op, domain, created, expires) if op == ADD else change(op, domain)

    counts = await storage.apply_changes(changes)
    summary.added, summary.updated, summary.removed = counts.added, counts.updated, counts.removed
    return summary


async def _queue_names(storage: Storage, names: NameReducer, path: Path) -> ImportSummary:
    """A plain list of names: queue each registered domain for background resolution."""
    summary = ImportSummary("names")
    batch: list[str] = []

    def read() -> list[tuple[int, str]]:
        try:
            with open(path, encoding="utf-8-sig") as lines:
                return [(n, line.strip()) for n, line in enumerate(lines, start=1)]
        except UnicodeDecodeError as err:
            raise ImportFileError(f"{path} is not UTF-8 text: {err}") from None

    now = time.time()
    for number, name in await asyncio.to_thread(read):
        if not name or name.startswith("#"):
            continue
        try:
            domain = names.registered_domain(name)
        except InvalidName as err:
            summary.skip(number, f"{name!r}: {err}")
            continue
        if domain is None:
            summary.skip(number, f"{name!r} is under a prohibited suffix")
            continue
        batch.append(domain)
    unique = list(dict.fromkeys(batch))
    wanted = [d for d in unique if (await storage.get(d)).registration is None]
    summary.queued = await storage.queue_for_resolution(wanted, now) if wanted else 0
    summary.updated = len(batch) - summary.queued
    return summary
