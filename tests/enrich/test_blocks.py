"""Blocks of lines read apart (as the worker processes read them) give what one pass gives."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from domain_stats.enrich.blocks import BlockEvents, HeaderLines, ParserSpec, read_block
from domain_stats.enrich.formats import Format

SAMPLES = Path(__file__).parent / "samples"
ZEEK = (SAMPLES / "dns.log").read_text().splitlines()
# A rotation inside the log: a second file's header with other fields, then its rows.
ROTATED = [*ZEEK, "#separator \\x09", "#fields\tts\tquery", "#types\ttime\tstring", "1.5\tafter.example", "bad"]
CSV = ["time,host", "1,example.com", "2,a.example", "3", "4,b.example"]


def in_blocks(spec: ParserSpec, lines: list[str], cuts: list[int]) -> BlockEvents:
    """Read ``lines`` cut into blocks at ``cuts``, each block on its own, as the pipeline does."""
    whole = BlockEvents(len(lines))
    headers = HeaderLines(spec.kind)
    bounds = [0, *sorted(set(cuts)), len(lines)]
    for start, end in itertools.pairwise(bounds):
        block = lines[start:end]
        events = read_block(spec, headers.lines, block, start + 1)
        headers = headers.after(block)
        whole.names += events.names
        whole.texts += events.texts
        whole.spliceable += events.spliceable
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
    events = in_blocks(ParserSpec(Format.ZEEK_TSV), ROTATED, [])
    # Its text waits for the answer and the closing brace.
    assert events.names[-1] == "after.example" and events.texts[-1] == b'{"ts":1.5,"query":"after.example"'
    assert events.bad == 1 and events.reports == [(len(ROTATED), "1 fields where #fields names 2")]
    assert events.spliceable == [name is not None for name in events.names]
