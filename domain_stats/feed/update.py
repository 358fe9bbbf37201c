"""Applying an update feed: every missing minor version in order, each file all or nothing.

For each file: download it beside the database (streamed, hashed on the way), compare the
checksum ``version.json`` gives, then apply it in one transaction that also sets the
database version. The first failure (download, checksum, a malformed line) stops the update:
the files before it stay applied, the failing one changes nothing, and the message names the
file and line.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from domain_stats import __version__
from domain_stats.dates import parse_plain_date
from domain_stats.feed.format import ADD, FeedError, FeedLineError, feed_file_name, parse_feed_line, plan_updates
from domain_stats.feed.source import FeedSource, Progress
from domain_stats.names import InvalidName, NameReducer
from domain_stats.storage import ChangeRow, ImportCounts, Storage, StorageError
from domain_stats.versions import parse_software_version

__all__ = ["UpdateReport", "check_domain", "feed_changes", "feed_rows", "update_from_feed"]

# The common line: an LDH label under a suffix, and the feed's dates. Groups: op, domain, label, suffix,
# created, expires. Anything else (and any name this does not settle) takes the slow, exact path.
_LINE = re.compile(
    r"([+-]),(([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.([a-z0-9.-]{1,190})),"
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)?\r?\n?\Z"
)


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
    if names.is_registered_domain(domain):
        return None
    try:
        registered = names.registered_domain(domain)
    except InvalidName as err:
        return f"{domain!r}: {err}"
    if registered is None:
        return f"{domain!r} is under a prohibited suffix"
    return f"{domain!r} is not a registered domain in lower-case A-label form (it reduces to {registered!r})"


def feed_rows(lines: Iterable[str], names: NameReducer, op_for_add: str = ADD) -> Iterator[ChangeRow]:
    """The change rows of feed lines; FeedLineError at the first bad line.

    The common line is matched whole by one regex and its dates come from the memo in
    :mod:`domain_stats.dates`; anything unusual goes through :func:`parse_feed_line`, which
    says what is wrong with it. ``op_for_add`` lets the starter set add only what is missing.
    """
    match_line = _LINE.match
    registered = names.is_registered_domain
    open_suffix = names.open_suffix
    prohibited = names.prohibited
    seen_dates: dict[str, float | None] = {}  # feeds repeat dates a lot: each text is read once
    number = 0
    for number, text in enumerate(lines, start=1):
        m = match_line(text)
        try:
            if m is not None:
                op, domain, label, suffix, created_text, expires_text = m.groups()
                created = seen_dates.get(created_text)
                if created is None:
                    created = seen_dates[created_text] = parse_plain_date(created_text)
                    if created is None:  # not the feed's own form: parse_feed_line below names it
                        raise ValueError(created_text)
                if expires_text:
                    expires = seen_dates.get(expires_text)
                    if expires is None:
                        expires = seen_dates[expires_text] = parse_plain_date(expires_text)
                else:
                    expires = None
                if len(seen_dates) > 200_000:
                    seen_dates.clear()
                settled = open_suffix(suffix) and not label.startswith("xn--") and domain not in prohibited
            else:
                parsed = parse_feed_line(text, number)
                if parsed is None:
                    continue
                op, domain, created, expires = parsed
                settled = False
        except ValueError:  # a day that does not exist, e.g. February 30th
            parse_feed_line(text, number)  # raises with the field named
            raise
        if not settled and not registered(domain):
            raise FeedLineError(number, check_domain(names, domain) or domain)
        if op == ADD:
            yield (domain, op_for_add, int(created), None if expires is None else int(expires))
        else:
            yield (domain, op, None, None)


def feed_changes(path: Path, names: NameReducer) -> Callable[[], Iterator[ChangeRow]]:
    """The changes in one feed file, read lazily (in the storage's thread)."""

    def changes() -> Iterator[ChangeRow]:
        try:
            with open(path, encoding="utf-8") as lines:
                yield from feed_rows(lines, names)
        except UnicodeDecodeError:
            raise FeedLineError(0, "not UTF-8 text") from None

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
    if parse_software_version(__version__) < parse_software_version(index.min_client_version):
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
                counts = await _apply_one(
                    storage, names, source, index.sha256, name, f"{major}.{minor}", download, on_file
                )
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
        raise FeedError(
            f"{name}: checksum mismatch (got {digest[:16]}..., version.json says {expected[:16]}...); nothing applied"
        )
    try:
        return await storage.apply_changes(feed_changes(download, names), version=version)
    except FeedLineError as err:
        raise FeedError(f"{name}: {err}; nothing of this file applied") from None


def _stopped(err: Exception, report: UpdateReport) -> str:
    where = f"the database stays at {report.version}"
    if report.applied:
        where += f" ({', '.join(name for name, _ in report.applied)} applied)"
    return f"update stopped: {err}; {where}"
