"""``domain-stats db update|version|export``: the established-domain database and its update feed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from domain_stats.console import data_option, run_async, user_errors
from domain_stats.feed import FeedError, export_feed, update_from_feed
from domain_stats.feed.source import Progress
from domain_stats.feed.update import UpdateStopped
from domain_stats.lookup.cli import command_settings as _settings
from domain_stats.lookup.updates import client_feed
from domain_stats.names import NameReducer
from domain_stats.storage import open_storage

__all__ = ["db"]

from_option = click.option(
    "--from",
    "source",
    metavar="URL|DIR",
    default=None,
    help="The feed (an http(s) base URL or a directory); "
    "default: target_updates, or the central server in mode central.",
)


@click.group()
def db() -> None:
    """The established-domain database: update it from a feed, show its version, export a feed."""


@db.command()
@from_option
@data_option
@user_errors
def update(source: str | None, data_dir: Path) -> None:
    """Apply every missing version of the update feed, in order; each file all or nothing."""
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TransferSpeedColumn
    from rich.progress import Progress as Bar

    settings = _settings(data_dir)
    names = NameReducer(settings.prohibited_tlds, only_icann=not settings.psl_private)

    async def run() -> None:
        feed = client_feed(settings, data_dir, source)
        if feed is None:
            raise FeedError("no update feed: set target_updates (or use mode central), or name one with --from")
        storage = await open_storage(settings.database_location(data_dir))
        try:
            with Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                transient=True,
                disable=not sys.stderr.isatty(),
            ) as bar:

                def on_file(name: str) -> Progress:
                    task = bar.add_task(f"downloading {name}", total=None)
                    return lambda size: bar.advance(task, size)

                try:
                    report = await update_from_feed(storage, names, feed, data_dir, on_file=on_file)
                except UpdateStopped as stopped:
                    _print_applied(stopped.report.applied)
                    raise
            _print_applied(report.applied)
            if report.applied:
                click.echo(f"the database is at version {report.version} (was {report.start_version})")
            else:
                click.echo(f"the database is at version {report.version}, the feed's latest: nothing to apply")
        finally:
            await storage.close()
            await feed.close()

    run_async(run())


def _print_applied(applied: list) -> None:  # type: ignore[type-arg]
    for name, counts in applied:
        click.echo(f"applied {name}: added {counts.added}, updated {counts.updated}, removed {counts.removed}")


@db.command()
@from_option
@data_option
@user_errors
def version(source: str | None, data_dir: Path) -> None:
    """The local database version, and the feed's when a feed is known."""
    settings = _settings(data_dir)

    async def run() -> None:
        storage = await open_storage(settings.database_location(data_dir))
        try:
            click.echo(f"local: {await storage.database_version()}")
        finally:
            await storage.close()
        feed = client_feed(settings, data_dir, source)
        if feed is None:
            return
        try:
            index = await feed.index()
            click.echo(f"feed: {index.database_version} ({feed.location})")
        except FeedError as err:
            click.echo(f"feed: unavailable ({err})")
        finally:
            await feed.close()

    run_async(run())


@db.command()
@click.option(
    "--feed",
    "feed_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The feed directory to add a version to (created if new).",
)
@data_option
@user_errors
def export(feed_dir: Path, data_dir: Path) -> None:
    """Add a version to a feed: the established domains of this database, as the difference from the last."""
    settings = _settings(data_dir)
    before = time.time() - settings.established_days_age * 86400

    async def run() -> None:
        storage = await open_storage(settings.database_location(data_dir))
        try:
            report = await export_feed(lambda after, limit: storage.registrations_page(after, limit, before), feed_dir)
        finally:
            await storage.close()
        click.echo(report.summary(feed_dir))

    run_async(run())


@db.command()
@data_option
@user_errors
def migrate(data_dir: Path) -> None:
    """Create or upgrade the database schema (serve does this at start too)."""
    from domain_stats.storage import is_postgres_url

    settings = _settings(data_dir)
    location = settings.database_location(data_dir)

    async def run() -> None:
        storage = await open_storage(location)
        try:
            version = await storage.database_version()
        finally:
            await storage.close()
        where = "PostgreSQL" if is_postgres_url(location) else str(location)
        click.echo(f"{where}: schema up to date; established-domain data at version {version}")

    run_async(run())


@db.command()
@click.option(
    "--from", "source", required=True, metavar="URL", help="sqlite:///path/to/domain_stats.db or postgresql://..."
)
@click.option(
    "--to", "target", required=True, metavar="URL", help="sqlite:///path/to/new.db or postgresql://... (empty)"
)
@user_errors
def copy(source: str, target: str) -> None:
    """Copy every record (first contacts, registrations, queued names, versions) into an empty database."""
    from domain_stats.storage.copy import copy_database, parse_location

    counts = run_async(copy_database(parse_location(source), parse_location(target)))
    click.echo(", ".join(f"{table}: {count}" for table, count in counts.items()))
