from __future__ import annotations

from pathlib import Path

from domain_stats.cache import MemoryCache, load_cache, save_cache


def test_lru_evicts_least_recently_used() -> None:
    cache: MemoryCache[int] = MemoryCache(2)
    cache.set("a", 1, None)
    cache.set("b", 2, None)
    assert cache.get("a", 0) == 1  # a is now the most recent
    cache.set("c", 3, None)
    assert cache.get("b", 0) is None
    assert cache.get("a", 0) == 1 and cache.get("c", 0) == 3
    assert len(cache) == 2


def test_expiry_counts_and_removes() -> None:
    cache: MemoryCache[str] = MemoryCache(10)
    cache.set("x", "v", expires_at=100.0)
    assert cache.get("x", 99.0) == "v"
    assert cache.get("x", 100.0) is None
    assert (cache.hits, cache.misses, cache.expired, len(cache)) == (1, 0, 1, 0)
    assert cache.get("x", 101.0) is None
    assert cache.misses == 1


def test_pinned_entries_survive_eviction() -> None:
    cache: MemoryCache[int] = MemoryCache(1)
    cache.set("permanent", 0, None, pinned=True)
    cache.set("a", 1, None)
    cache.set("b", 2, None)
    assert cache.get("permanent", 1e12) == 0
    assert cache.get("a", 0) is None and cache.get("b", 0) == 2


def test_save_and_load_round_trip_skips_expired(tmp_path: Path) -> None:
    cache: MemoryCache[dict] = MemoryCache(10)
    cache.set("old", {"v": 1}, expires_at=50.0)
    cache.set("live", {"v": 2}, expires_at=500.0)
    cache.set("forever", {"v": 3}, None)
    cache.set("pinned", {"v": 4}, None, pinned=True)
    path = tmp_path / "memory_cache.json"
    assert save_cache(cache, path, 10.0, lambda v: [v["v"]]) == 4
    reloaded: MemoryCache[dict] = MemoryCache(10)
    assert load_cache(reloaded, path, 100.0, lambda raw: {"v": raw[0]}) == 3
    assert reloaded.get("old", 100.0) is None
    assert reloaded.get("live", 100.0) == {"v": 2}
    assert reloaded.get("forever", 1e12) == {"v": 3}
    assert [k for k, *_ in reloaded.entries(100.0)][0] == "pinned"
    assert path.read_bytes().startswith(b'{"format":"domain-stats-cache"')  # JSON, never pickle


def test_a_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "memory_cache.json"
    path.write_bytes(b"\x80\x04\x95 pickled?")
    cache: MemoryCache[int] = MemoryCache(10)
    assert load_cache(cache, path, 0.0, lambda raw: raw) == 0
    assert len(cache) == 0
