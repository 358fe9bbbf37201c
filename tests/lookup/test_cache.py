from __future__ import annotations

from pathlib import Path

from domain_stats.alerts import PROHIBITED_TLD
from domain_stats.lookup.answer import Answer, error_answer
from domain_stats.lookup.cache import MemoryCache, load_cache, save_cache

FP = {"established_days_age": 730, "timezone_offset": 0.0}


def answer(created: str) -> bytes:
    return Answer(created, "NA", "2026-11-29 12:00:00", "ESTABLISHED", ()).encode()


def test_lru_evicts_least_recently_used() -> None:
    cache = MemoryCache(2)
    cache.set("a", b"1", None)
    cache.set("b", b"2", None)
    assert cache.get("a", 0) == b"1"  # a is now the most recent
    cache.set("c", b"3", None)
    assert cache.get("b", 0) is None
    assert cache.get("a", 0) == b"1" and cache.get("c", 0) == b"3"
    assert len(cache) == 2


def test_size_never_exceeds_max_items() -> None:
    cache = MemoryCache(1000)
    for i in range(5000):
        cache.set(f"d{i}.com", b"x", None)
        assert len(cache) <= 1000
    assert cache.get("d4999.com", 0) == b"x"
    assert cache.get("d0.com", 0) is None


def test_expiry_counts_and_removes() -> None:
    cache = MemoryCache(10)
    cache.set("x", b"v", expires_at=100.0)
    assert cache.get("x", 99.0) == b"v"
    assert cache.get("x", 100.0) is None
    assert (cache.hits, cache.misses, cache.expired, len(cache)) == (1, 0, 1, 0)
    assert cache.get("x", 101.0) is None
    assert cache.misses == 1


def test_pinned_entries_survive_eviction() -> None:
    cache = MemoryCache(10)
    cache.set("permanent", b"0", None, pinned=True)
    for n in range(10):
        cache.set(f"n{n}", b"1", None)
    assert cache.get("permanent", 1e12) == b"0"
    assert len(cache) == 10  # the pin counts: nine others beside it
    assert cache.get("n0", 0) is None and cache.get("n9", 0) == b"1"


def test_pins_take_at_most_a_tenth_of_the_cache() -> None:
    """A central server answering "permanent" for every name cannot grow the cache past its size."""
    cache = MemoryCache(100)
    for n in range(500):
        cache.set(f"p{n}", b"P", None, pinned=True)
    assert len(cache) == 100
    assert all(cache.get(f"p{n}", 1e12) == b"P" for n in range(10))  # the first ten stay pinned
    for n in range(200):
        cache.set(f"x{n}", b"X", None)
    assert len(cache) == 100 and all(cache.get(f"p{n}", 1e12) == b"P" for n in range(10))


def test_clear_keeps_pinned_entries() -> None:
    cache = MemoryCache(10)
    cache.set("a.com", b"A", None)
    cache.set("b.com", b"B", 2e9)
    cache.set("p.com", b"P", None, pinned=True)
    assert cache.clear() == 2
    assert cache.get("a.com", 0) is None and cache.get("b.com", 0) is None
    assert cache.get("p.com", 0) == b"P" and len(cache) == 1


def test_save_and_load_round_trip_skips_expired(tmp_path: Path) -> None:
    cache = MemoryCache(10)
    cache.set("old", answer("2001-01-01 00:00:00"), expires_at=50.0)
    cache.set("live", answer("2002-02-02 00:00:00"), expires_at=500.0)
    cache.set("forever", answer("2003-03-03 00:00:00"), None)
    cache.set("pinned", error_answer(PROHIBITED_TLD, 200).encode(), None, pinned=True)
    path = tmp_path / "memory_cache.json"
    assert save_cache(cache, path, 10.0, FP) == 4
    reloaded = MemoryCache(10)
    assert load_cache(reloaded, path, 100.0, FP) == 3
    assert reloaded.get("old", 100.0) is None
    assert reloaded.get("live", 100.0) == answer("2002-02-02 00:00:00")
    assert reloaded.get("live", 500.0) is None
    assert reloaded.get("forever", 1e9) == answer("2003-03-03 00:00:00")
    assert next(k for k, *_ in reloaded.entries(100.0)) == "pinned"
    assert path.read_bytes().startswith(b'{"format":"domain-stats-cache"')  # JSON, never pickle


def test_hits_of_new_answers_are_counted_and_stay_new_across_a_restart(tmp_path: Path) -> None:
    new = Answer("2026-11-27 00:00:00", "RDAP", "2026-11-29 12:00:00", "NEW", ()).encode()
    cache = MemoryCache(10)
    cache.set("fresh.com", new, 1000.0, new=True)
    cache.set("old.com", answer("2001-01-01 00:00:00"), 1000.0)
    assert cache.get("fresh.com", 1.0) == new and cache.get("old.com", 1.0) is not None
    assert (cache.hits, cache.new_hits) == (2, 1)
    path = tmp_path / "cache.json"
    save_cache(cache, path, 1.0, FP)
    reloaded = MemoryCache(10)
    assert load_cache(reloaded, path, 2.0, FP) == 2
    assert reloaded.get("fresh.com", 2.0) == new and reloaded.get("old.com", 2.0) is not None
    assert (reloaded.hits, reloaded.new_hits) == (2, 1)  # the saved answer's category says NEW


def test_cache_saved_under_other_settings_is_not_loaded(tmp_path: Path) -> None:
    cache = MemoryCache(10)
    cache.set("a", b"{}", None)
    path = tmp_path / "memory_cache.json"
    save_cache(cache, path, 0.0, FP)
    reloaded = MemoryCache(10)
    assert load_cache(reloaded, path, 0.0, {**FP, "timezone_offset": 2.0}) == 0
    assert len(reloaded) == 0


def test_a_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "memory_cache.json"
    path.write_bytes(b"\x80\x04\x95 pickled?")
    cache = MemoryCache(10)
    assert load_cache(cache, path, 0.0, FP) == 0
    assert len(cache) == 0
