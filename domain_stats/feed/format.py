"""The update feed's files: ``version.json`` and one ``<major>/<minor>.txt`` per minor version.

Lines are ``+,domain,created,expires`` (add or refresh) and ``-,domain,created,expires``
(remove), dates as ``%Y-%m-%d %H:%M:%S`` UTC; ``expires`` may be empty (no expiry known).
Versions are ``major.minor`` compared as integer pairs. No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from domain_stats.dates import format_date, parse_plain_date
from domain_stats.errors import DomainStatsError, UserError
from domain_stats.versions import VersionError, parse_database_version, parse_software_version

__all__ = [
    "ADD",
    "INDEX_NAME",
    "MAX_UPDATE_STEPS",
    "REMOVE",
    "FeedError",
    "FeedIndex",
    "FeedLineError",
    "feed_file_name",
    "format_feed_line",
    "parse_feed_line",
    "plan_updates",
]

INDEX_NAME = "version.json"
ADD = "+"
REMOVE = "-"
_FILE = re.compile(r"^\d{1,9}/\d{1,9}\.txt$")
#: Most minor versions one update applies (a daily feed for over 250 years): a feed further
#: ahead is refused before anything is planned, whatever its version.json claims.
MAX_UPDATE_STEPS = 100_000


class FeedError(UserError):
    """The update stopped; the message says which file (and line) and why."""


class FeedLineError(DomainStatsError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def feed_file_name(major: int, minor: int) -> str:
    return f"{major}/{minor}.txt"


@dataclass(frozen=True, slots=True)
class FeedIndex:
    database_version: str
    min_client_version: str = "0.1"
    sha256: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes) -> FeedIndex:
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise FeedError(f"{INDEX_NAME} is not JSON") from None
        if not isinstance(raw, dict):
            raise FeedError(f"{INDEX_NAME} is not a JSON object")
        version, minimum, sums = (
            raw.get("database_version"),
            raw.get("min_client_version", "0.1"),
            raw.get("sha256", {}),
        )
        try:
            parse_database_version(version)
        except VersionError:
            raise FeedError(f"{INDEX_NAME}: database_version must be MAJOR.MINOR, not {version!r}") from None
        try:
            parse_software_version(minimum)
        except VersionError:
            raise FeedError(f"{INDEX_NAME}: min_client_version is not a version: {minimum!r}") from None
        if not isinstance(sums, dict) or not all(
            isinstance(k, str) and _FILE.match(k) and isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)
            for k, v in sums.items()
        ):
            raise FeedError(f'{INDEX_NAME}: sha256 must map "MAJOR/MINOR.txt" to hex SHA-256 digests')
        return cls(str(version), str(minimum), dict(sums))

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            "database_version": self.database_version,
            "min_client_version": self.min_client_version,
            "sha256": dict(sorted(self.sha256.items(), key=lambda item: _file_key(item[0]))),
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def _file_key(name: str) -> tuple[int, int]:
    major, _, minor = name.removesuffix(".txt").partition("/")
    return int(major), int(minor)


def plan_updates(local: str, remote: str) -> list[tuple[int, int]]:
    """The minor versions to apply, in order, to go from ``local`` to ``remote``.

    A higher major version cannot be reached by applying files: the database must be rebuilt.
    """
    (lmaj, lmin), (rmaj, rmin) = parse_database_version(local), parse_database_version(remote)
    if rmaj > lmaj:
        raise FeedError(
            f"the feed is at version {remote}, a new major version; this database is at {local}. "
            f"A major version cannot be applied on top of an older one: rebuild the database "
            f"(a new data directory, then db update) to move to {rmaj}.x"
        )
    if rmaj < lmaj:
        raise FeedError(f"the feed is at version {remote}, older than this database ({local}): wrong feed?")
    if rmin - lmin > MAX_UPDATE_STEPS:
        raise FeedError(
            f"the feed is at version {remote}, {rmin - lmin} versions after this database ({local}); "
            f"at most {MAX_UPDATE_STEPS} are applied in one update: is its version.json right?"
        )
    return [(lmaj, minor) for minor in range(lmin + 1, rmin + 1)]


def parse_feed_line(text: str, number: int) -> tuple[str, str, float, float | None] | None:
    """``(op, domain, created, expires)`` from one line; None for a blank line; FeedLineError if malformed."""
    line = text.rstrip("\r\n")
    if not line.strip():
        return None
    fields = line.split(",")
    if len(fields) != 4:
        raise FeedLineError(number, f"expected +|-,domain,created,expires; got {len(fields)} fields")
    op, domain, created, expires = fields
    if op not in (ADD, REMOVE):
        raise FeedLineError(number, f"the first field must be + or -, not {op[:20]!r}")
    if not domain or len(domain) > 253:
        raise FeedLineError(number, "no domain")
    return op, domain, _date(created, number, "created"), _date(expires, number, "expires") if expires else None


def _date(value: str, number: int, name: str) -> float:
    try:
        stamp = parse_plain_date(value) if len(value) == 19 else None
    except ValueError:
        stamp = None
    if stamp is None:
        raise FeedLineError(number, f"{name} is not a date as %Y-%m-%d %H:%M:%S: {value[:40]!r}")
    return stamp


def format_feed_line(op: str, domain: str, created: float, expires: float | None) -> str:
    return f"{op},{domain},{format_date(created)},{'' if expires is None else format_date(expires)}\n"
