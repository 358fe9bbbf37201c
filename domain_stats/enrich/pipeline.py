"""The enrich loop: a block of lines -> records -> one batch of distinct names -> JSON lines out.

Each block's names are asked once (deduplicated, in the order of the events), so a busy log
costs the service one ``/batch`` per block rather than one request per line. An alert that an
answer carries once (``YOUR-FIRST-CONTACT``, ``ISC-FIRST-CONTACT``, ``RE-REGISTERED``) goes
with the first event of that name only, as the service itself would answer a second ask.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from domain_stats.alerts import ONCE
from domain_stats.enrich.answers import AnswerSource
from domain_stats.enrich.formats import BadLine, LineReader, Record
from domain_stats.enrich.reading import LineSource

__all__ = ["MAX_REPORTED", "BadLineReport", "Selection", "Summary", "enrich"]

#: Bad lines reported one by one; the rest are counted.
MAX_REPORTED = 20
ANSWER_KEY = "domain_stats"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which enriched records are written: all, or those with one of ``alerts`` or ``categories``.

    An alert matches by its token (``INVALID-NAME: reason`` matches ``INVALID-NAME``). With both
    given a record matches either; with a filter, records without a name are not written.
    """

    alerts: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return not self.alerts and not self.categories

    def matches(self, answer: dict[str, Any]) -> bool:
        if answer.get("category") in self.categories:
            return True
        return any(alert.partition(": ")[0] in self.alerts for alert in answer.get("alerts") or ())


@dataclass(frozen=True, slots=True)
class BadLineReport:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: skipped: {self.reason}"


@dataclass(slots=True)
class Summary:
    lines: int = 0
    records: int = 0
    names: int = 0
    written: int = 0
    without_name: int = 0
    bad: int = 0
    reported: list[BadLineReport] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        seconds = max(time.monotonic() - self.started, 1e-9)
        return (
            f"enrich: {self.lines:,} lines, {self.records:,} records ({self.names:,} names asked, "
            f"{self.without_name:,} without a name), {self.written:,} written, {self.bad:,} bad lines; "
            f"{seconds:.1f} s, {self.lines / seconds:,.0f} lines/s"
        )


async def enrich(
    source: LineSource,
    reader: LineReader,
    answers: AnswerSource,
    output: BinaryIO,
    *,
    selection: Selection = Selection(),
    on_bad: Callable[[BadLineReport], None] = lambda report: None,
    on_block: Callable[[Summary], None] = lambda summary: None,
    flush: bool = False,
) -> Summary:
    """Enrich every line of ``source`` into ``output``; ``flush`` after each block (``--follow``)."""
    summary = Summary()
    async for block in source.blocks():
        with _no_cycle_collection():
            records = _read(block.lines, block.first, block.file, reader, summary, on_bad)
        names = list(dict.fromkeys(record.name for record in records if record.name is not None))
        found = dict(zip(names, await answers.answers(names), strict=True)) if names else {}
        summary.names += len(names)
        with _no_cycle_collection():
            lines = _written(records, found, selection, summary)
        output.write(lines)
        if flush:
            output.flush()
        on_block(summary)
    return summary


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A block's records are thousands of young dicts that all live until the block is written:
    the cycle collector would scan them again and again for nothing (they are freed by reference
    counting), which doubles the time a block takes. It runs between blocks."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read(
    lines: list[str],
    first: int,
    file: str,
    reader: LineReader,
    summary: Summary,
    on_bad: Callable[[BadLineReport], None],
) -> list[Record]:
    records: list[Record] = []
    append = records.append
    for number, line in enumerate(lines, first):
        try:
            record = reader(line)
        except BadLine as err:
            summary.bad += 1
            report = BadLineReport(file, number, str(err))
            if len(summary.reported) < MAX_REPORTED:
                summary.reported.append(report)
                on_bad(report)
            continue
        if record is not None:
            append(record)
    summary.lines += len(lines)
    summary.records += len(records)
    return records


def _written(records: list[Record], found: dict[str, dict[str, Any]], selection: Selection, summary: Summary) -> bytes:
    out: list[bytes] = []
    given: set[str] = set()  # names whose one-off alerts went with an earlier event
    everything = selection.everything
    dumps = orjson.dumps
    # Each answer is encoded once per block and spliced into its events' JSON.
    encoded = {name: b',"' + ANSWER_KEY.encode() + b'":' + dumps(answer) + b"}" for name, answer in found.items()}
    for data, name, text in records:
        if name is None:
            summary.without_name += 1
            if everything:
                out.append(text or dumps(data))
            continue
        answer = found[name]
        suffix = encoded[name]
        if name in given:
            if answer.get("alerts"):
                answer = _without_once(answer)
                suffix = b',"' + ANSWER_KEY.encode() + b'":' + dumps(answer) + b"}"
        elif answer.get("alerts"):
            given.add(name)
        if everything or selection.matches(answer):
            if data and ANSWER_KEY not in data:
                out.append((text or dumps(data))[:-1] + suffix)
            else:
                out.append(dumps({**data, ANSWER_KEY: answer}))
    summary.written += len(out)
    return b"\n".join(out) + b"\n" if out else b""


def _without_once(answer: dict[str, Any]) -> dict[str, Any]:
    alerts = answer.get("alerts") or ()
    if not any(alert in ONCE for alert in alerts):
        return answer
    return {**answer, "alerts": [alert for alert in alerts if alert not in ONCE]}
