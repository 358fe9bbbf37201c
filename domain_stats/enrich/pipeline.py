"""The enrich loop: a block of lines -> events (:mod:`.blocks`) -> one batch of distinct names ->
JSON lines out, block after block in the order of the input.

Each block's names are asked once (deduplicated, in the order of the events), so a busy log
costs the service one ``/batch`` per block rather than one request per line. An alert that an
answer carries once (``YOUR-FIRST-CONTACT``, ``ISC-FIRST-CONTACT``, ``RE-REGISTERED``) goes
with the first event of that name only, as the service itself would answer a second ask.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from domain_stats.alerts import ONCE
from domain_stats.enrich.answers import AnswerSource
from domain_stats.enrich.blocks import MAX_REPORTED, NO_NAME, BlockEvents, HeaderLines, ParserSpec, read_block
from domain_stats.enrich.formats import Format, detect_format
from domain_stats.enrich.reading import Block, LineSource
from domain_stats.enrich.records import ANSWER_KEY

__all__ = ["MAX_JOBS", "MAX_REPORTED", "BadLineReport", "Selection", "Summary", "enrich"]

MAX_JOBS = 8


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


#: The longest reason a bad-line report shows (it may quote the line: a 5 MB line once wrote 20 MB).
MAX_REASON_CHARS = 200


@dataclass(frozen=True, slots=True)
class BadLineReport:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        reason = self.reason if len(self.reason) <= MAX_REASON_CHARS else self.reason[:MAX_REASON_CHARS] + "..."
        return f"{self.file}:{self.line}: skipped: {reason}"


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

    def bad_line(self, report: BadLineReport, on_bad: Callable[[BadLineReport], None]) -> None:
        self.bad += 1
        if len(self.reported) < MAX_REPORTED:
            self.reported.append(report)
            on_bad(report)

    def rate(self) -> float:
        """Lines a second so far."""
        return self.lines / max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        seconds = time.monotonic() - self.started
        return (
            f"enrich: {self.lines:,} lines, {self.records:,} records ({self.names:,} names asked, "
            f"{self.without_name:,} without a name), {self.written:,} written, {self.bad:,} bad lines; "
            f"{seconds:.1f} s, {self.rate():,.0f} lines/s"
        )


async def enrich(
    source: LineSource,
    answers: AnswerSource,
    output: BinaryIO,
    *,
    kind: Format | None = None,
    field: str | None = None,
    column: str | None = None,
    jobs: int = 1,
    selection: Selection = Selection(),
    on_bad: Callable[[BadLineReport], None] = lambda report: None,
    on_block: Callable[[Summary], None] = lambda summary: None,
    flush: bool = False,
) -> Summary:
    """Enrich every line of ``source`` into ``output``, in order; ``flush`` after each block.

    ``kind`` None: told from the first non-empty line. ``jobs`` > 1: blocks are read in that
    many processes while this one asks the service and writes (a file of millions of lines on
    several cores); the order of the output is the order of the input either way. ``jobs`` 0:
    one per core (at most :data:`MAX_JOBS`), but one for plain names, which cost less to read
    here than to send to another process.
    """
    summary = Summary()
    spec = ParserSpec(kind, field, column) if kind is not None else None
    headers = HeaderLines(kind) if kind is not None else None
    pool: ProcessPoolExecutor | None = None
    loop = asyncio.get_running_loop()
    in_flight: collections.deque[tuple[Block, asyncio.Future[BlockEvents]]] = collections.deque()

    async def write(block: Block, events: BlockEvents) -> None:
        for number, reason in block.dropped:
            summary.bad_line(BadLineReport(block.file, number, reason), on_bad)
        for number, reason in events.reports:
            summary.bad_line(BadLineReport(block.file, number, reason), on_bad)
        summary.bad += events.bad - len(events.reports)
        summary.lines += events.lines
        summary.records += len(events.slots)
        summary.names += len(events.names)
        found = await answers.answers(events.names) if events.names else []
        output.write(_written(events, found, selection, summary))
        if flush:
            output.flush()
        on_block(summary)

    try:
        async for block in source.blocks():
            if spec is None or headers is None:
                spec = _spec_from_first_line(block.data, field, column)
                if spec is None:  # nothing but blank lines so far
                    summary.lines += block.lines
                    continue
                headers = HeaderLines(spec.kind)
            if jobs == 0:
                jobs = 1 if spec.kind is Format.NAMES else min(os.cpu_count() or 1, MAX_JOBS)
            if jobs > 1 and pool is None:
                pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
            before, headers = headers, headers.after(block.data)
            if pool is None:
                await write(block, read_block(spec, before.lines, block.data, block.first))
                continue
            work = loop.run_in_executor(pool, read_block, spec, before.lines, block.data, block.first)
            in_flight.append((block, work))
            if len(in_flight) > jobs:
                done, events = in_flight.popleft()
                await write(done, await events)
        while in_flight:
            done, events = in_flight.popleft()
            await write(done, await events)
    finally:
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)
    return summary


def _spec_from_first_line(data: bytes, field: str | None, column: str | None) -> ParserSpec | None:
    """The format told from a block's first non-empty line; None for a block of blank lines."""
    text = data.lstrip()
    if not text:
        return None
    first = text.split(b"\n", 1)[0].decode("utf-8", "replace")
    return ParserSpec(detect_format(first, field=field, column=column), field, column)


def _written(events: BlockEvents, found: list[dict[str, Any]], selection: Selection, summary: Summary) -> bytes:
    """The block's output lines: each event's text followed by its slot's suffix (the answer, the
    closing brace and a newline; a newline alone for an event without a name), in one C call."""
    suffixes: list[bytes] = []
    chosen: list[bool] = []
    for answer in found:
        later = _without_once(answer)
        first = _suffix(answer)
        suffixes += (first, first if later is answer else _suffix(later))
        if not selection.everything:
            chosen += (selection.matches(answer), selection.matches(later))
    suffixes.append(b"\n")  # NO_NAME
    slots = events.slots
    summary.without_name += slots.count(NO_NAME)
    if selection.everything:
        summary.written += len(slots)
        return events.texts % tuple([suffixes[slot] for slot in slots])
    chosen.append(False)  # with a filter, records without a name are not written
    kept = [chosen[slot] for slot in slots]
    texts = list(itertools.compress(events.event_texts(), kept))
    slots = list(itertools.compress(slots, kept))
    parts: list[bytes] = [b""] * (2 * len(texts))
    parts[::2] = texts
    parts[1::2] = [suffixes[slot] for slot in slots]
    summary.written += len(texts)
    return b"".join(parts)


def _suffix(answer: dict[str, Any]) -> bytes:
    return b',"' + ANSWER_KEY.encode() + b'":' + orjson.dumps(answer) + b"}\n"


def _without_once(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer as a later event of the same name gets it (the same object when nothing changes)."""
    alerts = answer.get("alerts") or ()
    if not any(alert in ONCE for alert in alerts):
        return answer
    return {**answer, "alerts": [alert for alert in alerts if alert not in ONCE]}
