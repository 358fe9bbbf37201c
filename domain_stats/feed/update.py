"""Applying an update feed: every missing minor version in order, each file all or nothing.

For each file: download it beside the database (streamed, hashed on the way), compare the
checksum ``version.json`` gives, then apply it in one transaction that also sets the
database version. The first failure (download, checksum, a malformed line) stops the update:
the files before it stay applied, the failing one changes nothing, and the message names the
file and line.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from domain_stats import __version__
from domain_stats.answer import ORIGIN_LOCAL
from domain_stats.central.protocol import version_tuple
from domain_stats.feed.format import (
    ADD,
    FeedError,
    FeedLineError,
    feed_file_name,
    plan_updates,
    read_feed_lines,
)
from domain_stats.feed.source import FeedSource, Progress
from domain_stats.names import InvalidName, NameReducer
from domain_stats.storage import (
    Change,
    ImportCounts,
    Registration,
    Storage,
    StorageError,
)

__all__ = ["UpdateReport", "feed_changes", "update_from_feed", "check_domain"]


@dataclass(slots=True)
class UpdateReport:
    start_version: str
    version: str
    applied: list[tuple[str, ImportCounts]] = field(default_factory=list)


class UpdateStopped(FeedError):
    """An update stopped part-way; ``report`` says what was applied before."""

    def __init__(self, message: str, report: UpdateReport) -> None:
        super().__init__(message)
        self.report = report


def check_domain(names: NameReducer, domain: str) -> str | None:
    """Why ``domain`` cannot be an established-domain record (None if it can)."""
    try:
        registered = names.registered_domain(domain)
    except InvalidName as err:
        return f"{domain!r}: {err}"
    if registered is None:
        return f"{domain!r} is under a prohibited suffix"
    if registered != domain:
        return f"{domain!r} is not a registered domain in lower-case A-label form (it reduces to {registered!r})"
    return None


def feed_changes(path: Path, names: NameReducer) -> Callable[[], Iterator[Change]]:
    """The changes in one feed file, read lazily (in the storage's thread); FeedLineError at the first bad line."""

    def changes() -> Iterator[Change]:
        number = 0
        try:
            with open(path, encoding="utf-8") as lines:
                for number, op, domain, created, expires in read_feed_lines(lines):
                    problem = check_domain(names, domain)
                    if problem is not None:
                        raise FeedLineError(number, problem)
                    yield Change(op, domain, Registration(created, expires, ORIGIN_LOCAL) if op == ADD else None)
        except UnicodeDecodeError:
            raise FeedLineError(number + 1, "not UTF-8 text") from None

    return changes


async def update_from_feed(
    storage: Storage,
    names: NameReducer,
    source: FeedSource,
    work_dir: Path,
    *,
    on_file: Callable[[str], Progress | None] | None = None,
) -> UpdateReport:
    """Bring ``storage`` up to the feed's version. Raises FeedError (UpdateStopped after a partial update).

    ``on_file(name)`` is called before each download and may return a progress callback (bytes).
    """
    index = await source.index()
    if version_tuple(__version__) < version_tuple(index.min_client_version):
        raise FeedError(
            f"the feed needs domain-stats {index.min_client_version} or newer (this is {__version__}); upgrade first"
        )
    local = await storage.database_version()
    report = UpdateReport(local, local)
    download = Path(work_dir) / ".feed-download.tmp"
    try:
        for major, minor in plan_updates(local, index.database_version):
            name = feed_file_name(major, minor)
            try:
                counts = await _apply_one(storage, names, source, index.sha256, name, f"{major}.{minor}", download, on_file)
            except (FeedError, StorageError) as err:
                raise UpdateStopped(_stopped(err, report), report) from None
            report.applied.append((name, counts))
            report.version = f"{major}.{minor}"
    finally:
        with contextlib.suppress(FileNotFoundError):
            download.unlink()
    return report


async def _apply_one(
    storage: Storage,
    names: NameReducer,
    source: FeedSource,
    sums: dict[str, str],
    name: str,
    version: str,
    download: Path,
    on_file: Callable[[str], Progress | None] | None,
) -> ImportCounts:
    expected = sums.get(name)
    if expected is None:
        raise FeedError(f"version.json has no sha256 for {name}")
    digest = await source.fetch(name, download, on_file(name) if on_file else None)
    if digest != expected:
        raise FeedError(f"{name}: checksum mismatch (got {digest[:16]}..., version.json says {expected[:16]}...); nothing applied")
    try:
        return await storage.apply_changes(feed_changes(download, names), version=version)
    except FeedLineError as err:
        raise FeedError(f"{name}: {err}; nothing of this file applied") from None


def _stopped(err: Exception, report: UpdateReport) -> str:
    where = f"the database stays at {report.version}"
    if report.applied:
        where += f" ({', '.join(name for name, _ in report.applied)} applied)"
    return f"update stopped: {err}; {where}"
