"""In-memory LRU cache with per-entry expiry, and its safe on-disk form.

An OrderedDict gives O(1) get/set/evict. Entries are ``(value, expires_at)``; ``expires_at``
of ``None`` never expires. Pinned entries (the central server's "permanent" errors) live
apart from the LRU order and are never evicted.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Generic, Iterator, TypeVar

import orjson

__all__ = ["MemoryCache", "save_cache", "load_cache"]

V = TypeVar("V")
log = logging.getLogger(__name__)

_FORMAT = "domain-stats-cache"
_FORMAT_VERSION = 1


class MemoryCache(Generic[V]):
    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self._lru: OrderedDict[str, tuple[V, float | None]] = OrderedDict()
        self._pinned: dict[str, V] = {}
        self.hits = 0
        self.misses = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self._lru) + len(self._pinned)

    def get(self, key: str, now: float) -> V | None:
        """The live value for ``key``, counting a hit, a miss or an expiry."""
        item = self._lru.get(key)
        if item is None:
            pinned = self._pinned.get(key)
            if pinned is None:
                self.misses += 1
            else:
                self.hits += 1
            return pinned
        value, expires_at = item
        if expires_at is not None and expires_at <= now:
            del self._lru[key]
            self.expired += 1
            return None
        self._lru.move_to_end(key)
        self.hits += 1
        return value

    def set(self, key: str, value: V, expires_at: float | None, *, pinned: bool = False) -> None:
        if pinned:
            self._lru.pop(key, None)
            self._pinned[key] = value
            return
        self._pinned.pop(key, None)
        self._lru[key] = (value, expires_at)
        self._lru.move_to_end(key)
        if len(self._lru) > self.max_items:
            self._lru.popitem(last=False)

    def discard(self, key: str) -> None:
        self._lru.pop(key, None)
        self._pinned.pop(key, None)

    def entries(self, now: float) -> Iterator[tuple[str, V, float | None, bool]]:
        """Live entries, most recently used last: ``(key, value, expires_at, pinned)``."""
        for key, value in self._pinned.items():
            yield key, value, None, True
        for key, (value, expires_at) in list(self._lru.items()):
            if expires_at is None or expires_at > now:
                yield key, value, expires_at, False


def save_cache(
    cache: MemoryCache[V], path: Path, now: float, encode: Callable[[V], list]
) -> int:
    """Write live entries as JSON lines (atomic rename); returns how many were written."""
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with open(tmp, "wb") as fh:
        fh.write(orjson.dumps({"format": _FORMAT, "version": _FORMAT_VERSION, "saved_at": now}) + b"\n")
        for key, value, expires_at, pinned in cache.entries(now):
            fh.write(orjson.dumps([key, expires_at, pinned, encode(value)]) + b"\n")
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return count


def load_cache(
    cache: MemoryCache[V], path: Path, now: float, decode: Callable[[list], V]
) -> int:
    """Load entries saved by :func:`save_cache`, skipping expired ones; a bad file is ignored."""
    if not path.exists():
        return 0
    loaded = 0
    try:
        with open(path, "rb") as fh:
            header = orjson.loads(fh.readline() or b"null")
            if not isinstance(header, dict) or header.get("format") != _FORMAT:
                raise ValueError("not a domain-stats cache file")
            for line in fh:
                key, expires_at, pinned, raw = orjson.loads(line)
                if expires_at is not None and expires_at <= now:
                    continue
                cache.set(key, decode(raw), expires_at, pinned=pinned)
                loaded += 1
    except (OSError, ValueError, TypeError) as err:
        log.warning("ignoring the saved memory cache %s (%s); starting with what was read", path, err)
    return loaded
