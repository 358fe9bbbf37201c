"""The established-domain update feed: its format, where it comes from, applying and publishing it."""

from domain_stats.feed.export import ExportReport, export_feed
from domain_stats.feed.format import FeedError, FeedIndex
from domain_stats.feed.source import FeedSource, open_feed
from domain_stats.feed.update import UpdateReport, update_from_feed

__all__ = [
    "ExportReport",
    "FeedError",
    "FeedIndex",
    "FeedSource",
    "UpdateReport",
    "export_feed",
    "open_feed",
    "update_from_feed",
]
