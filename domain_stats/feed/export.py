"""Publishing an update feed from a database: each export adds one minor version, the difference
from the previous export.

The exporter keeps ``state.csv`` beside ``version.json``: the records the feed's latest version
adds up to, sorted by domain. A new export walks the database in domain order (a page at a
time) and that file side by side, so it needs memory for a page, not for the whole set, and
writes ``+`` for new or changed records and ``-`` for records gone. Files are written first,
then ``version.json``, then the state: a client never sees a version whose file is missing,
and an export cut short repeats (harmlessly) some changes the next time.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain_stats.feed.format import ADD, INDEX_NAME, REMOVE, FeedError, FeedIndex, feed_file_name, format_feed_line
from domain_stats.versions import parse_database_version

__all__ = ["STATE_NAME", "ExportReport", "PageFetcher", "export_feed"]

STATE_NAME = "state.csv"
PAGE = 10_000

Record = tuple[str, int, "int | None"]
PageFetcher = Callable[[str, int], Coroutine[Any, Any, list[tuple[str, float, "float | None"]]]]


@dataclass(frozen=True, slots=True)
class ExportReport:
    version: str
    file: str | None  # None: nothing changed, no new version
    added: int = 0
    changed: int = 0
    removed: int = 0

    def summary(self, feed_dir: Path) -> str:
        """One line for the person who ran the export."""
        if self.file is None:
            return f"nothing changed since version {self.version}; no new version"
        return (
            f"wrote {feed_dir / self.file}: version {self.version} "
            f"(added {self.added}, changed {self.changed}, removed {self.removed})"
        )


async def export_feed(pages: PageFetcher, feed_dir: Path, *, min_client_version: str = "0.1") -> ExportReport:
    """Write the next minor version of the feed in ``feed_dir`` from the records ``pages`` yields."""
    loop = asyncio.get_running_loop()

    def fetch(after: str) -> list[tuple[str, float, float | None]]:
        page: list[tuple[str, float, float | None]] = asyncio.run_coroutine_threadsafe(
            pages(after, PAGE), loop
        ).result()
        return page

    return await asyncio.to_thread(_export, fetch, Path(feed_dir), min_client_version)


def _export(
    fetch: Callable[[str], list[tuple[str, float, float | None]]], feed_dir: Path, min_client: str
) -> ExportReport:
    feed_dir.mkdir(parents=True, exist_ok=True)
    index_path, state_path = feed_dir / INDEX_NAME, feed_dir / STATE_NAME
    if index_path.exists():
        index = FeedIndex.parse(index_path.read_bytes())
        if not state_path.exists():
            raise FeedError(
                f"{state_path} is missing: this feed was not written by this exporter (start a new feed directory)"
            )
    else:
        index = FeedIndex("1.0", min_client, {})
    major, minor = parse_database_version(index.database_version)
    name = feed_file_name(major, minor + 1)
    target = feed_dir / name
    target.parent.mkdir(exist_ok=True)
    part, state_part = target.with_suffix(".part"), state_path.with_suffix(".part")
    counts = {ADD: 0, "changed": 0, REMOVE: 0}
    with open(part, "w", encoding="utf-8") as out, open(state_part, "w", encoding="utf-8") as state:
        for op, record, current in _walk(_old_records(state_path), _database_records(fetch)):
            if op is not None:
                counts[op] += 1
                out.write(format_feed_line(ADD if op == "changed" else op, *record))
            if current is not None:
                domain, created, expires = current
                state.write(f"{domain},{created},{'' if expires is None else expires}\n")
    if not any(counts.values()):
        part.unlink()
        state_part.unlink()
        return ExportReport(index.database_version, None)
    digest = hashlib.sha256()
    with open(part, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    os.replace(part, target)
    new_index = FeedIndex(f"{major}.{minor + 1}", index.min_client_version, {**index.sha256, name: digest.hexdigest()})
    index_part = index_path.with_suffix(".part")
    index_part.write_bytes(new_index.to_json())
    os.replace(index_part, index_path)
    os.replace(state_part, state_path)
    return ExportReport(new_index.database_version, name, counts[ADD], counts["changed"], counts[REMOVE])


def _walk(old: Iterator[Record], new: Iterator[Record]) -> Iterator[tuple[str | None, Record, Record | None]]:
    """Merge the previous state and the database, both in domain order:
    ``(op or None, record for the feed line, record for the new state or None)``."""
    o, n = next(old, None), next(new, None)
    while o is not None or n is not None:
        if o is None or (n is not None and n[0] < o[0]):
            yield ADD, n, n  # type: ignore[misc]
            n = next(new, None)
        elif n is None or o[0] < n[0]:
            yield REMOVE, o, None
            o = next(old, None)
        else:
            yield ("changed" if o[1:] != n[1:] else None), n, n
            o, n = next(old, None), next(new, None)


def _database_records(fetch: Callable[[str], list[tuple[str, float, float | None]]]) -> Iterator[Record]:
    after = ""
    while True:
        page = fetch(after)
        for domain, created, expires in page:
            yield domain, int(created), None if expires is None else int(expires)
        if len(page) < PAGE:
            return
        after = page[-1][0]


def _old_records(path: Path) -> Iterator[Record]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            domain, created, expires = line.rstrip("\n").split(",")
            yield domain, int(created), int(expires) if expires else None
