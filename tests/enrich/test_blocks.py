"""Blocks of lines read apart (as the worker processes read them) give what one pass gives."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from domain_stats.enrich.blocks import NO_NAME, HeaderLines, ParserSpec, read_block
from domain_stats.enrich.formats import Format

SAMPLES = Path(__file__).parent / "samples"
ZEEK = (SAMPLES / "dns.log").read_text().splitlines()
# A rotation inside the log: a second file's header with other fields, then its rows.
ROTATED = [*ZEEK, "#separator \\x09", "#fields\tts\tquery", "#types\ttime\tstring", "1.5\tafter.example", "bad"]
CSV = ["time,host", "1,example.com", "2,a.example", "3", "4,b.example"]


def block_of(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


@dataclass
class Events:
    """Each event's (name, text), and the bad lines, of blocks read one after another."""

    events: list[tuple[str | None, bytes]] = field(default_factory=list)
    bad: int = 0
    reports: list[tuple[int, str]] = field(default_factory=list)


def in_blocks(spec: ParserSpec, lines: list[str], cuts: list[int]) -> Events:
    """Read ``lines`` cut into blocks at ``cuts``, each block on its own, as the pipeline does."""
    whole = Events()
    headers = HeaderLines(spec.kind)
    bounds = [0, *sorted(set(cuts)), len(lines)]
    for start, end in itertools.pairwise(bounds):
        data = block_of(lines[start:end])
        events = read_block(spec, headers.lines, data, start + 1)
        headers = headers.after(data)
        for text, slot in zip(events.event_texts(), events.slots, strict=True):
            whole.events.append((None if slot == NO_NAME else events.names[slot // 2], text))
        whole.bad += events.bad
        whole.reports += events.reports
    return whole


@given(st.lists(st.integers(min_value=0, max_value=len(ROTATED)), max_size=6))
def test_zeek_blocks_read_apart_read_as_one(cuts: list[int]) -> None:
    spec = ParserSpec(Format.ZEEK_TSV)
    assert in_blocks(spec, ROTATED, cuts) == in_blocks(spec, ROTATED, [])


@given(st.lists(st.integers(min_value=0, max_value=len(CSV)), max_size=4))
def test_csv_blocks_keep_the_header(cuts: list[int]) -> None:
    spec = ParserSpec(Format.CSV, column="host")
    assert in_blocks(spec, CSV, cuts) == in_blocks(spec, CSV, [])


def test_one_pass_reads_the_rotated_log() -> None:
    events = in_blocks(ParserSpec(Format.ZEEK_TSV), ROTATED, []).events
    # Its text waits for the answer and the closing brace.
    assert events[-1] == ("after.example", b'{"ts":1.5,"query":"after.example"')
    assert [name for name, _ in events] == [
        "www.example.com", "fresh-news.net", "example.com", None, "cdn.fresh-news.net", "after.example"
    ]  # fmt: skip
    assert all(text.endswith(b"}") == (name is None) for name, text in events)


def test_a_block_names_each_name_once_and_marks_its_first_event() -> None:
    lines = ["a.example", "b.example", "a.example", "", "a.example", "b.example"]
    events = read_block(ParserSpec(Format.NAMES), [], block_of(lines), 1)
    assert events.lines == 6 and events.names == ["a.example", "b.example"]
    assert events.slots == [0, 2, 1, 1, 3]


def test_texts_take_their_answers_in_one_format() -> None:
    """The block's texts, with ``%`` in them, take one suffix each in the order of the events."""
    lines = ["{}", '{"host": "a.example", "note": "100% %s"}', '{"host": "b.example", "n": "%%"}']
    events = read_block(ParserSpec(Format.JSON, field="host"), [], block_of(lines), 1)
    assert events.slots == [NO_NAME, 0, 2]
    assert events.event_texts() == [
        b"{}",
        b'{"host": "a.example", "note": "100% %s"',
        b'{"host": "b.example", "n": "%%"',
    ]
    assert events.texts % (b"\n", b",A}\n", b",B}\n") == (
        b'{}\n{"host": "a.example", "note": "100% %s",A}\n{"host": "b.example", "n": "%%",B}\n'
    )


def test_bad_lines_are_numbered_in_their_file() -> None:
    events = in_blocks(ParserSpec(Format.ZEEK_TSV), ROTATED, [3, 9])
    assert events.bad == 1 and events.reports == [(len(ROTATED), "1 fields where #fields names 2")]
