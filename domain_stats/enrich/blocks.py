"""A block of log lines -> its events as JSON text and their names: the CPU work of enrich.

Plain functions of their arguments, so that they run the same in this process or in a pool of
processes (:mod:`.pipeline` uses one for files when there is more than one core). A reader's
state (a Zeek header, a CSV header) is carried across blocks as :class:`HeaderLines`: the lines
that set it, replayed into a fresh reader before each block.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from domain_stats.enrich.formats import BadLine, Format, LineReader, Record, line_reader

__all__ = ["ANSWER_KEY", "MAX_REPORTED", "BlockEvents", "HeaderLines", "ParserSpec", "read_block"]

#: Bad lines reported one by one (per run); the rest are counted.
MAX_REPORTED = 20
ANSWER_KEY = "domain_stats"
_MAX_HEADER_LINES = 64


@dataclass(frozen=True, slots=True)
class ParserSpec:
    """How to read a log (picklable: it goes to the worker processes)."""

    kind: Format
    field: str | None = None
    column: str | None = None


@dataclass(slots=True)
class BlockEvents:
    """A block's events as three parallel lists (lists of plain values cross between processes
    several times faster than a list of tuples): the name each asks about, its JSON text, and
    whether the answer is spliced in where the text's closing brace was (an event with a name,
    a non-empty object without a ``domain_stats`` key: its text comes without that brace)."""

    lines: int
    names: list[str | None] = field(default_factory=list)
    texts: list[bytes] = field(default_factory=list)
    spliceable: list[bool] = field(default_factory=list)
    bad: int = 0
    reports: list[tuple[int, str]] = field(default_factory=list)  # the first MAX_REPORTED bad lines

    def add(self, records: list[Record]) -> None:
        dumps = orjson.dumps
        for data, name, text in records:
            text = text or dumps(data)
            spliceable = name is not None and bool(data) and ANSWER_KEY not in data
            self.names.append(name)
            self.texts.append(text[:-1] if spliceable else text)  # the brace goes after the answer
            self.spliceable.append(spliceable)

    def bad_line(self, number: int, reason: str) -> None:
        self.bad += 1
        if len(self.reports) < MAX_REPORTED:
            self.reports.append((number, reason))


@dataclass(slots=True)
class HeaderLines:
    """The lines that set a reader's state, as they have been seen so far in the log."""

    kind: Format
    lines: list[str] = field(default_factory=list)

    def after(self, block: list[str]) -> HeaderLines:
        """The header lines in force after ``block`` (this object is those before it)."""
        if self.kind is Format.ZEEK_TSV:
            found = [line for line in block if line[:1] == "#"]
            if not found:
                return self
            lines = [*self.lines, *found]
            # Zeek starts each file's header with #separator: what came before no longer counts.
            restart = max((i for i, line in enumerate(lines) if line.startswith("#separator")), default=0)
            return HeaderLines(self.kind, lines[restart:][-_MAX_HEADER_LINES:])
        if self.kind is Format.CSV and not self.lines:
            first = next((line for line in block if line.strip()), None)
            return HeaderLines(self.kind, [first]) if first is not None else self
        return self


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A block's records are thousands of young dicts that all live until the block is done: the
    cycle collector would scan them again and again for nothing (reference counting frees them),
    which doubles the time a block takes. It runs between blocks."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_block(spec: ParserSpec, headers: list[str], lines: list[str], first: int) -> BlockEvents:
    """The events of ``lines`` (numbered from ``first``) after replaying ``headers`` into a reader."""
    reader = line_reader(spec.kind, field=spec.field, column=spec.column)
    for line in headers:
        reader(line)
    block = BlockEvents(len(lines))
    with _no_cycle_collection():
        _read_lines(reader, lines, first, block)
    return block


def _read_lines(reader: LineReader, lines: list[str], first: int, block: BlockEvents) -> None:
    records = []
    for number, line in enumerate(lines, first):
        try:
            record = reader(line)
        except BadLine as err:
            block.bad_line(number, str(err))
            continue
        if record is not None:
            records.append(record)
    block.add(records)
