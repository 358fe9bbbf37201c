"""The two kinds of version number, and the one way each is read.

Software versions (``0.10.2``: this package, ``min_software_version``, a feed's
``min_client_version``) compare part by part as integers. Database versions (``1.10``: the
established-domain data and its update feed) are ``MAJOR.MINOR`` integer pairs. Never compare
either as strings: ``"0.10" > "0.9"`` is False.
"""

from __future__ import annotations

import re

from domain_stats.errors import DomainStatsError

__all__ = ["VersionError", "parse_database_version", "parse_software_version"]

_MAX_LENGTH = 32
_DATABASE_VERSION = re.compile(r"(\d{1,9})\.(\d{1,9})\Z")


class VersionError(DomainStatsError):
    """Not a version number of the expected kind; the message quotes it."""


def parse_software_version(text: object) -> tuple[int, ...]:
    """``"0.10.2"`` -> ``(0, 10, 2)``."""
    if not isinstance(text, str) or not text or len(text) > _MAX_LENGTH:
        raise VersionError(f"not a version: {text!r}")
    parts = text.split(".")
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise VersionError(f"not a version: {text!r}")
    return tuple(int(part) for part in parts)


def parse_database_version(text: object) -> tuple[int, int]:
    """``"1.10"`` -> ``(1, 10)``; at most nine digits a part (larger is no real version)."""
    match = _DATABASE_VERSION.match(text) if isinstance(text, str) else None
    if match is None:
        raise VersionError(f"not a database version (MAJOR.MINOR): {text!r}")
    return int(match[1]), int(match[2])
