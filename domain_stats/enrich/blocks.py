"""A block of log lines -> its events as JSON text and their names: the CPU work of enrich.

Plain functions of their arguments, so that they run the same in this process or in a pool of
processes (:mod:`.pipeline` uses one for files when there is more than one core). A reader's
state (a Zeek header, a CSV header) is carried across blocks as :class:`HeaderLines`: the lines
that set it, replayed into a fresh reader before each block.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from domain_stats.enrich.formats import Format, LineReader, line_reader
from domain_stats.enrich.records import BadLine, Record
from domain_stats.enrich.zeek_tsv import ZeekTsvReader

__all__ = ["MAX_REPORTED", "NO_NAME", "BlockEvents", "HeaderLines", "ParserSpec", "lines_of", "read_block"]

#: Bad lines reported one by one (per run); the rest are counted.
MAX_REPORTED = 20
_MAX_HEADER_LINES = 64


@dataclass(frozen=True, slots=True)
class ParserSpec:
    """How to read a log (picklable: it goes to the worker processes)."""

    kind: Format
    field: str | None = None
    column: str | None = None


#: The slot of an event without a name: the last entry of the table of answers.
NO_NAME = -1


@dataclass(slots=True)
class BlockEvents:
    """A block's events, laid out so that the main process joins them with the answers in one
    C call: ``names`` are the block's distinct names (in the order of their first event);
    ``texts`` is every event's JSON text, each followed by ``%s`` (and ``%`` written ``%%``), so
    that ``texts % suffixes`` is the block's output; each event has a ``slot``: ``2k`` for the
    first event of ``names[k]``, ``2k + 1`` for a later one (one-off alerts go with the first
    only), :data:`NO_NAME` for an event without a name. The text of an event with a name comes
    without its closing brace: the answer brings it. (One bytes object and lists of plain values
    cross between processes many times faster than a list of texts.)"""

    lines: int
    names: list[str] = field(default_factory=list)
    texts: bytes = b""
    slots: list[int] = field(default_factory=list)
    bad: int = 0
    reports: list[tuple[int, str]] = field(default_factory=list)  # the first MAX_REPORTED bad lines

    def add(self, records: Iterable[Record] | Iterable[tuple[bytes, str | None]]) -> None:
        """Take a block's records (once: ``texts`` is built here)."""
        index: dict[str, int] = {}
        names, slots = self.names, self.slots
        texts: list[bytes] = []
        for text, name in records:
            if name is None:
                texts.append(memoryview(text).tobytes())  # an exact copy: see _records
                slots.append(NO_NAME)
                continue
            k = index.get(name)
            if k is None:
                k = index[name] = len(names)
                names.append(name)
                slots.append(2 * k)
            else:
                slots.append(2 * k + 1)
            texts.append(text[:-1])
        # No text holds a newline (each came from one line, or from orjson): it marks the places.
        if texts:
            self.texts = (b"\n".join(texts) + b"\n").replace(b"%", b"%%").replace(b"\n", b"%s")

    def event_texts(self) -> list[bytes]:
        """Each event's text on its own."""
        if not self.slots:
            return []
        texts = (self.texts % ((b"\n",) * len(self.slots))).split(b"\n")
        texts.pop()  # after the last
        return texts

    def bad_line(self, number: int, reason: str) -> None:
        self.bad += 1
        if len(self.reports) < MAX_REPORTED:
            self.reports.append((number, reason))


@dataclass(slots=True)
class HeaderLines:
    """The lines that set a reader's state, as they have been seen so far in the log."""

    kind: Format
    lines: list[str] = field(default_factory=list)

    def after(self, data: bytes) -> HeaderLines:
        """The header lines in force after the block ``data`` (this object is those before it)."""
        if self.kind is Format.ZEEK_TSV:
            if b"#" not in data or (not data.startswith(b"#") and b"\n#" not in data):
                return self
            lines = [*self.lines, *(line for line in lines_of(data) if line[:1] == "#")]
            # Zeek starts each file's header with #separator: what came before no longer counts.
            restart = max((i for i, line in enumerate(lines) if line.startswith("#separator")), default=0)
            return HeaderLines(self.kind, lines[restart:][-_MAX_HEADER_LINES:])
        if self.kind is Format.CSV and not self.lines:
            first = next((line for line in lines_of(data) if line.strip()), None)
            return HeaderLines(self.kind, [first]) if first is not None else self
        return self


def lines_of(data: bytes) -> list[str]:
    """The lines of a block (whole lines: it ends with a newline); bytes that are not UTF-8 are
    read as U+FFFD."""
    lines = data.decode("utf-8", "replace").split("\n")
    lines.pop()  # the empty string after the last newline
    return lines


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


def read_block(spec: ParserSpec, headers: list[str], data: bytes, first: int) -> BlockEvents:
    """The events of the lines of ``data`` (numbered from ``first``) after replaying ``headers``
    into a reader."""
    reader = line_reader(spec.kind, field=spec.field, column=spec.column)
    for line in headers:
        reader(line)
    lines = lines_of(data)
    block = BlockEvents(len(lines))
    with _no_cycle_collection():
        _read_lines(reader, lines, first, block)
    return block


def _read_lines(reader: LineReader, lines: list[str], first: int, block: BlockEvents) -> None:
    if isinstance(reader, ZeekTsvReader):  # a block at a time, column-wise
        many, bad = reader.read_many(lines)
        for index, reason in bad:
            block.bad_line(first + index, reason)
        block.add(many)
        return
    block.add(_records(reader, lines, first, block))


def _records(reader: LineReader, lines: list[str], first: int, block: BlockEvents) -> Iterator[Record]:
    """The lines' records one by one (the bad lines go to ``block``). One at a time on purpose:
    orjson gives each text a 4 KiB buffer, so a block's worth of texts held at once would cost
    hundreds of megabytes; :meth:`BlockEvents.add` keeps an exact copy of each."""
    for number, line in enumerate(lines, first):
        try:
            record = reader(line)
        except BadLine as err:
            block.bad_line(number, str(err))
            continue
        if record is not None:
            yield record
