"""The lookup service's side of the update feed: which feed it follows, and applying it.

The feed itself (format, sources, applying a version) is :mod:`domain_stats.feed`; this module
decides where the service's feed is (``--from``, ``target_updates``, or the central server's
``/feed`` in ``mode: central``) and logs what an update did.
"""

from __future__ import annotations

import logging
from pathlib import Path

from domain_stats.feed.format import FeedError
from domain_stats.feed.source import FeedSource, HttpFeed, open_feed
from domain_stats.feed.update import UpdateReport, update_from_feed
from domain_stats.lookup.config import Settings
from domain_stats.names import NameReducer
from domain_stats.storage import Storage
from domain_stats.versions import parse_database_version

__all__ = ["apply_feed", "client_feed", "meet_minimum_database"]

log = logging.getLogger(__name__)


async def apply_feed(storage: Storage, names: NameReducer, source: FeedSource, work_dir: Path) -> UpdateReport:
    """One update from the feed, logged; the caller decides what a failure means."""
    report = await update_from_feed(storage, names, source, work_dir)
    if report.applied:
        log.info(
            "update feed %s: applied %s; the database is at %s",
            source.location,
            ", ".join(name for name, _ in report.applied),
            report.version,
        )
    return report


async def meet_minimum_database(
    settings: Settings, data_dir: Path, storage: Storage, names: NameReducer, minimum: str
) -> None:
    """Update from the feed before serving when the central server requires a newer database.

    If that cannot be done the service still starts, with what it has, and says so.
    """
    local = await storage.database_version()
    if parse_database_version(local) >= parse_database_version(minimum):
        return
    log.warning("the central server requires established-domain database %s; this one is %s: updating", minimum, local)
    feed = client_feed(settings, data_dir)
    if feed is None:
        log.error("no update feed to update from; serving with database %s", local)
        return
    try:
        await apply_feed(storage, names, feed, data_dir)
    except FeedError as err:
        log.error("%s; serving with what the database has", err)
    finally:
        await feed.close()


def client_feed(settings: Settings, data_dir: Path, override: str | None = None) -> FeedSource | None:
    """The service's feed: ``override`` (``--from``), else ``target_updates``, else in ``mode: central``
    the central server's ``/feed`` (with the API key); None when there is none."""
    max_file_bytes = settings.feed_max_file_mb * 1024 * 1024
    if override:
        return open_feed(override, ssl_context=settings.rdap_ssl_context(data_dir), max_file_bytes=max_file_bytes)
    if settings.target_updates:
        location = settings.target_updates
        if not location.startswith(("http://", "https://")):
            location = str(settings.data_path(data_dir, location))
        return open_feed(location, ssl_context=settings.rdap_ssl_context(data_dir), max_file_bytes=max_file_bytes)
    if settings.mode == "central":
        return HttpFeed(
            settings.server_url + "/feed",
            headers={"Authorization": f"Bearer {settings.api_key}"},
            ssl_context=settings.server_ssl_context(data_dir),
            max_file_bytes=max_file_bytes,
        )
    return None
