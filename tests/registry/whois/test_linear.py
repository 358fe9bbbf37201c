"""Parsing a WHOIS answer takes time linear in its size, whatever its bytes.

Anything can answer on port 43. Runs of blanks once made the label and time patterns backtrack
(16 KB of spaces: 19 s; 100 KB froze a worker for minutes). Each hostile text here is timed
against a plain text of the same size (real answers repeated), best of several runs: a ratio on
one machine in one run, not seconds. The plain text is real not-found answers repeated: the
parser reads such a text to its end (no date stops it early), as it must a hostile one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain_stats.registry.whois.errors import WhoisError
from domain_stats.registry.whois.parse import parse_whois_answer
from tests.registry.whois.corpus import SAMPLES

KIB = 1024
MIB = 1024 * KIB
#: What hostile texts are made of: blanks, separators, digits, T (the date/time separator), and the
#: starts of labels and dates, so that the patterns get as far as they can before failing.
PIECES = [" ", "\t", ":", "-", "T", "7", ".", "[", "\n", "\r\n", "creation date:", "created:", "2001-02-03", "before "]
SIZES = [KIB, 16 * KIB, 256 * KIB, MIB]
#: Hostile texts may cost this many times a plain text of the same size (measured: at most about 1x).
RATIO = 5.0

_plain_seconds: dict[int, float] = {}


def parse(raw: bytes) -> None:
    with contextlib.suppress(WhoisError):
        parse_whois_answer(raw, "example.com", "com")


def best_of(runs: int, work: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def plain_seconds(size: int) -> float:
    """Parsing real not-found answers (the kept samples, one after another, repeated) cut to ``size`` bytes."""
    if size not in _plain_seconds:
        real = b"\n".join(path.read_bytes() for path in sorted(SAMPLES.glob("notfound-*.txt")))
        plain = (real * (size // len(real) + 1))[:size]
        _plain_seconds[size] = best_of(7, lambda: parse(plain))
    return _plain_seconds[size]


def assert_linear(hostile: bytes) -> None:
    took = best_of(3, lambda: parse(hostile))
    plain = plain_seconds(len(hostile))
    assert took <= RATIO * plain, f"{len(hostile):,} bytes: {took * 1000:.1f} ms, a plain text {plain * 1000:.1f} ms"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.lists(st.tuples(st.sampled_from(PIECES), st.integers(1, MIB)), min_size=1, max_size=5),
    size=st.sampled_from(SIZES),
)
@example(runs=[("creation date:", 1), (" ", MIB)], size=16 * KIB)  # the audit's 16 KB line of spaces
@example(runs=[("created:", 1), (" ", MIB)], size=MIB)
@example(runs=[("creation date: 2001-02-03", 1), (" ", MIB)], size=MIB)  # blanks where the time would be
@example(runs=[("\t", MIB)], size=MIB)
@example(runs=[("\n", MIB)], size=MIB)
@example(runs=[("\ncreated:", MIB)], size=MIB)
@example(runs=[("creation date:", 1), ("T", MIB)], size=256 * KIB)
def test_any_text_parses_in_time_linear_in_its_size(runs: list[tuple[str, int]], size: int) -> None:
    unit = "".join(piece * count for piece, count in runs)[:size]
    hostile = (unit * (size // len(unit) + 1))[:size].encode()
    assert_linear(hostile)


def test_a_date_followed_by_blanks_is_read() -> None:
    """Only the start of a value is read (100 characters): the date is there, the blanks after it do not matter."""
    near = b"Domain Name: example.com\nCreation Date: 2001-02-03T04:05:06Z" + b" " * 90 + b"\n"
    assert parse_whois_answer(near, "example.com", "com").created == 981173106.0
