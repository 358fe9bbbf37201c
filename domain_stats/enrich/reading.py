"""Lines from a file, a gzip file or stdin, in blocks; optionally following a growing log.

``--follow`` behaves like ``tail -F``: at the end of the file it looks at the path again every
``poll`` seconds; a different file there (a rotation: Zeek renames its logs every hour) is
opened from its start once the old one is read to its end, and a file shorter than what was
read (a truncation) is read again from its start. A truncation followed by growth past what
was read, between two looks, is told by the file's first bytes: they are read again at each
look (up to :data:`HEAD_BYTES`) and a change means a new file in place. Blocks are read in a thread, so a slow disk
never holds the event loop that waits for the service's answers.

A line longer than :data:`MAX_LINE_BYTES` (a crash leaves megabytes of NUL bytes in a log) is
not kept: the rest of it is read and dropped, an empty line stands in its place (so the line
numbers stay right) and the block reports it as a bad line.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from domain_stats.errors import UserError

__all__ = ["Block", "LineSource"]

BLOCK_BYTES = 2 << 20
#: How much of a followed file's start is remembered to tell a rewrite in place.
HEAD_BYTES = 4096
#: The longest line kept (a real log line is a few hundred bytes).
MAX_LINE_BYTES = BLOCK_BYTES
_OVERLONG = f"longer than {MAX_LINE_BYTES:,} bytes"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class Block:
    """Whole lines read together, as the bytes they came as (each line ends with a newline:
    they are split where they are read, in a worker process); ``first`` is the number of the
    first in its file (from 1)."""

    data: bytes
    first: int
    file: str
    #: ``(line number, reason)`` of lines dropped as they were read (too long).
    dropped: tuple[tuple[int, str], ...] = ()

    @property
    def lines(self) -> int:
        return self.data.count(b"\n")


class LineSource:
    """The lines of ``path`` (``-`` is stdin) in blocks, with how far it has read for a progress bar."""

    def __init__(self, path: str, *, follow: bool = False, poll: float = 0.25, from_end: bool = False) -> None:
        self.path = path
        self.follow = follow and path != "-"
        self.poll = poll
        self.from_end = from_end
        self.bytes_read = 0
        #: Bytes in the file when it was opened (None: stdin, gzip or followed), for the progress bar.
        self.total_bytes: int | None = None
        self._stopped = asyncio.Event()
        # Where reading stands: the next line's number, an unfinished line, a long line being dropped.
        self._line, self._pending, self._dropping = 1, b"", False
        #: The followed file's first bytes as first seen (a rewrite in place changes them).
        self._head = b""

    def stop(self) -> None:
        """End a followed log after what has been read so far."""
        self._stopped.set()

    async def blocks(self) -> AsyncIterator[Block]:
        stream, identity = await asyncio.to_thread(self._open, self.from_end and self.follow)
        self._line, self._pending, self._dropping = 1, b"", False
        try:
            while True:
                data = await asyncio.to_thread(_read_block, stream)
                if data:
                    self.bytes_read += len(data)
                    block = self._take(data)
                    if block is not None:
                        yield block
                    continue
                # At the end of what is there now.
                if not self.follow or self._stopped.is_set():
                    if last := self._last_line():
                        yield last
                    return
                # Wait, then look at the path before reading on: what arrived meanwhile may belong to
                # another file (a rotation) or to this one written again from its start.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), self.poll)
                change = await asyncio.to_thread(self._changed, identity, stream)
                if change == "rotated":
                    while rest := await asyncio.to_thread(_read_block, stream):  # its last lines first
                        self.bytes_read += len(rest)
                        if (block := self._take(rest)) is not None:
                            yield block
                    if last := self._last_line():
                        yield last
                    stream.close()
                    stream, identity = await asyncio.to_thread(self._open, False)
                    self._line = 1
                elif change == "truncated":
                    stream.seek(0)
                    self._line, self._pending, self._dropping = 1, b"", False
                    self._head = os.pread(stream.fileno(), HEAD_BYTES, 0)
        finally:
            stream.close()

    def _take(self, data: bytes) -> Block | None:
        """The whole lines that ``data`` completes, as a block; the unfinished one waits (or, past
        ``MAX_LINE_BYTES``, is dropped up to its end)."""
        dropped: tuple[tuple[int, str], ...] = ()
        if self._dropping:
            end_of_long = data.find(b"\n")
            if end_of_long < 0:
                return None
            data, self._dropping = b"\n" + data[end_of_long + 1 :], False
            dropped = ((self._line, _OVERLONG),)
        data = self._pending + data
        end = data.rfind(b"\n") + 1
        self._pending = data[end:]
        if len(self._pending) > MAX_LINE_BYTES:
            self._pending, self._dropping = b"", True
        if not end:
            return None
        block = Block(data[:end], self._line, self.path, dropped)
        self._line += block.lines
        return block

    def _last_line(self) -> Block | None:
        """What is left at the end of a file: its last line without a newline, or the long line
        being dropped."""
        if self._dropping:
            self._dropping = False
            block = Block(b"\n", self._line, self.path, ((self._line, _OVERLONG),))
        elif self._pending:
            block = Block(self._pending + b"\n", self._line, self.path)
        else:
            return None
        self._pending = b""
        self._line += 1
        return block

    def _changed(self, identity: tuple[int, int] | None, stream: BinaryIO) -> str:
        """``rotated`` (another file at the path), ``truncated`` (shorter than read, or its first
        bytes rewritten) or ``same``."""
        try:
            status = Path(self.path).stat()
        except FileNotFoundError:
            return "same"  # renamed away, the new one not created yet: keep waiting
        if identity is not None and (status.st_dev, status.st_ino) != identity:
            return "rotated"
        if status.st_size < stream.tell():
            return "truncated"
        head = os.pread(stream.fileno(), HEAD_BYTES, 0)
        if head[: len(self._head)] != self._head:
            return "truncated"
        self._head = head
        return "same"

    def _open(self, at_end: bool) -> tuple[BinaryIO, tuple[int, int] | None]:
        if self.path == "-":
            return _maybe_gunzip(sys.stdin.buffer), None
        raw = open(self.path, "rb")  # noqa: SIM115 - closed by blocks()
        status = os.fstat(raw.fileno())
        stream = _maybe_gunzip(raw)
        if stream is not raw:
            if self.follow:
                stream.close()
                raise UserError(f"{self.path} is gzip-compressed: --follow reads a growing plain log")
        elif at_end:
            raw.seek(0, os.SEEK_END)
        else:
            self.total_bytes = status.st_size
        if self.follow:
            self._head = os.pread(raw.fileno(), HEAD_BYTES, 0)
        return stream, (status.st_dev, status.st_ino)


def _maybe_gunzip(stream: BinaryIO) -> BinaryIO:
    peeked = stream.peek(2)[:2] if hasattr(stream, "peek") else b""
    if peeked == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    return stream


def _read_block(stream: BinaryIO) -> bytes:
    try:
        return stream.read1(BLOCK_BYTES) if hasattr(stream, "read1") else stream.read(BLOCK_BYTES)
    except (gzip.BadGzipFile, EOFError) as err:
        raise UserError(f"the gzip data is damaged: {err}") from None
