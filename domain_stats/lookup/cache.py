"""In-memory LRU cache of encoded answers with per-entry expiry, and its safe on-disk form.

The cache holds what is sent: the JSON body of an answer, so a hit costs one dict lookup.
To stay small at a million entries (a few hundred bytes each), every value is a single
``bytes`` object: a 4-byte expiry (UTC seconds, 0 = never) and a byte that says whether the
answer is NEW (so ``/metrics`` counts NEW answers without searching each body), then the body. A plain
dict keeps insertion order; a hit re-inserts the key at the end (exact LRU order), and when
the cache is full the oldest 1% are evicted in one pass, so eviction stays O(1) amortised.
Pinned entries (the central server's "permanent" errors) live apart and are never evicted.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from domain_stats.lookup.answer import ANSWER_FIELDS, NEW
from domain_stats.private_files import create_private

__all__ = ["MemoryCache", "load_cache", "save_cache"]

log = logging.getLogger(__name__)

_FORMAT = "domain-stats-cache"
#: 3: answers no longer say RDAP-NO-SERVER (a TLD without RDAP is asked over WHOIS now); a
#: cache saved before would keep such answers, without expiry in mode central.
_FORMAT_VERSION = 3
_HEADER = struct.Struct("<IB")  # expiry, NEW
_NEVER = 0
_MAX_STAMP = 2**32 - 1


class MemoryCache:
    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        #: Pinned entries (the central server's permanent errors) take at most a tenth of the cache;
        #: past that a pin is kept like any entry without expiry, evictable.
        self.max_pinned = max(1, max_items // 10)
        self._evict_batch = max(1, max_items // 100)
        self._lru: dict[str, bytes] = {}
        self._pinned: dict[str, bytes] = {}
        self.hits = 0
        self.new_hits = 0  # hits whose answer is NEW
        self.misses = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self._lru) + len(self._pinned)

    def get(self, key: str, now: float) -> bytes | None:
        """The live value for ``key``, counting a hit, a miss or an expiry."""
        item = self._lru.pop(key, None)
        if item is None:
            pinned = self._pinned.get(key)
            if pinned is None:
                self.misses += 1
            else:
                self.hits += 1
            return pinned
        expires_at, new = _HEADER.unpack_from(item)
        if expires_at != _NEVER and expires_at <= now:
            self.expired += 1
            return None
        self._lru[key] = item  # most recently used goes last
        self.hits += 1
        if new:
            self.new_hits += 1
        return item[_HEADER.size :]

    def set(self, key: str, value: bytes, expires_at: float | None, *, pinned: bool = False, new: bool = False) -> None:
        """``new``: the answer's category is NEW (pinned answers are errors, never NEW)."""
        if pinned and (key in self._pinned or len(self._pinned) < self.max_pinned):
            self._lru.pop(key, None)
            self._pinned[key] = value
            return
        self._pinned.pop(key, None)
        self._lru.pop(key, None)
        self._lru[key] = _HEADER.pack(_stamp(expires_at), new) + value
        if len(self._lru) + len(self._pinned) > self.max_items:
            self._evict()

    def discard(self, key: str) -> None:
        """Forget ``key`` (its answer changed behind the cache's back: a background resolution)."""
        self._lru.pop(key, None)
        self._pinned.pop(key, None)

    def clear(self) -> int:
        """Forget every evictable entry (pinned ones stay: they are the central server's, not the
        database's); returns how many were dropped."""
        dropped = len(self._lru)
        self._lru = {}
        return dropped

    def _evict(self) -> None:
        excess = len(self._lru) + len(self._pinned) - self.max_items
        oldest = []
        for key in self._lru:
            oldest.append(key)
            if len(oldest) >= max(excess, self._evict_batch):
                break
        for key in oldest:
            del self._lru[key]

    def entries(self, now: float) -> Iterator[tuple[str, bytes, float | None, bool]]:
        """Live entries, most recently used last: ``(key, value, expires_at, pinned)``.

        Iterates the cache itself, no copy (a page of /showcache must not cost a copy of a
        million entries): finish iterating before the cache changes again.
        """
        for key, value in self._pinned.items():
            yield key, value, None, True
        for key, item in self._lru.items():
            expires_at = _HEADER.unpack_from(item)[0]
            if expires_at == _NEVER:
                yield key, item[_HEADER.size :], None, False
            elif expires_at > now:
                yield key, item[_HEADER.size :], float(expires_at), False


def _stamp(expires_at: float | None) -> int:
    """Expiry as whole seconds, rounded down (an entry never outlives its expiry)."""
    if expires_at is None:
        return _NEVER
    return min(max(int(expires_at), 1), _MAX_STAMP)


def save_cache(cache: MemoryCache, path: Path, now: float, fingerprint: dict[str, Any]) -> int:
    """Write live entries as JSON lines (atomic rename); returns how many were written.

    Called at shutdown, once nothing serves from the cache any more (it may run in a thread).

    ``fingerprint`` names the settings the encoded answers depend on; a reload under other
    settings discards the file instead of serving answers rendered for another configuration.
    """
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    tmp.unlink(missing_ok=True)
    create_private(tmp)  # the answers are the organisation's DNS history
    with open(tmp, "wb") as fh:
        header = {"format": _FORMAT, "version": _FORMAT_VERSION, "saved_at": now, "fingerprint": fingerprint}
        fh.write(orjson.dumps(header) + b"\n")
        for key, value, expires_at, pinned in cache.entries(now):
            fh.write(orjson.dumps([key, expires_at, pinned, value.decode()]) + b"\n")
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return count


def load_cache(cache: MemoryCache, path: Path, now: float, fingerprint: dict[str, Any]) -> int:
    """Load entries saved by :func:`save_cache`, skipping expired ones.

    The file is not trusted: each entry must be an answer exactly as the service encodes one,
    and only error answers may be pinned (the central server's "permanent" errors); anything
    else is dropped and counted in one warning. A file that is not a cache file is ignored.
    """
    if not path.exists():
        return 0
    loaded = dropped = 0
    try:
        with open(path, "rb") as fh:
            header = orjson.loads(fh.readline() or b"null")
            if not isinstance(header, dict) or header.get("format") != _FORMAT:
                raise ValueError("not a domain-stats cache file")
            if header.get("version") != _FORMAT_VERSION or header.get("fingerprint") != fingerprint:
                log.info("the saved memory cache was written under other settings; starting empty")
                return 0
            for line in fh:
                entry = _valid_entry(line)
                if entry is None:
                    dropped += 1
                    continue
                key, expires_at, pinned, body, new = entry
                if expires_at is not None and expires_at <= now:
                    continue
                cache.set(key, body, expires_at, pinned=pinned, new=new)
                loaded += 1
    except (OSError, ValueError, TypeError) as err:
        log.warning("ignoring the saved memory cache %s (%s); starting with what was read", path, err)
    if dropped:
        log.warning("dropped %d entries of the saved memory cache %s that are not valid answers", dropped, path)
    return loaded


def _valid_entry(line: bytes) -> tuple[str, float | None, bool, bytes, bool] | None:
    """``(key, expires_at, pinned, body, new)`` of a saved entry, or None if it is not one we wrote."""
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not (isinstance(entry, list) and len(entry) == 4):
        return None
    key, expires_at, pinned, text = entry
    if not (isinstance(key, str) and 0 < len(key) <= 253 and isinstance(text, str) and isinstance(pinned, bool)):
        return None
    if expires_at is not None and (type(expires_at) not in (int, float) or expires_at != expires_at):
        return None
    body = text.encode()
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not (
        isinstance(answer, dict)
        and tuple(answer) == ANSWER_FIELDS
        and all(isinstance(answer[k], str) for k in ANSWER_FIELDS[:4])
        and isinstance(answer["alerts"], list)
        and all(isinstance(a, str) for a in answer["alerts"])
        and orjson.dumps(answer) == body  # exactly as the service encodes it
    ):
        return None
    if pinned and answer["seen_by_web"] != "ERROR":
        return None  # only the central server's permanent errors are ever pinned
    return key, expires_at, pinned, body, answer["category"] == NEW
