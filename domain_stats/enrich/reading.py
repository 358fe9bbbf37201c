"""Lines from a file, a gzip file or stdin, in blocks; optionally following a growing log.

``--follow`` behaves like ``tail -F``: at the end of the file it looks at the path again every
``poll`` seconds; a different file there (a rotation: Zeek renames its logs every hour) is
opened from its start once the old one is read to its end, and a file shorter than what was
read (a truncation) is read again from its start. Blocks are read in a thread, so a slow disk
never holds the event loop that waits for the service's answers.
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
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class Block:
    """Whole lines read together, as the bytes they came as (each line ends with a newline:
    they are split where they are read, in a worker process); ``first`` is the number of the
    first in its file (from 1)."""

    data: bytes
    first: int
    file: str

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

    def stop(self) -> None:
        """End a followed log after what has been read so far."""
        self._stopped.set()

    async def blocks(self) -> AsyncIterator[Block]:
        stream, identity = await asyncio.to_thread(self._open, self.from_end and self.follow)
        line_number = 1
        pending = b""
        try:
            while True:
                data = await asyncio.to_thread(_read_block, stream)
                if data:
                    self.bytes_read += len(data)
                    data = pending + data
                    end = data.rfind(b"\n") + 1
                    pending = data[end:]
                    if end:
                        block = Block(data[:end], line_number, self.path)
                        yield block
                        line_number += block.lines
                    continue
                # At the end of what is there now.
                if pending and (not self.follow or self._stopped.is_set()):
                    yield Block(pending + b"\n", line_number, self.path)
                    pending = b""
                if not self.follow or self._stopped.is_set():
                    return
                change = await asyncio.to_thread(_changed, self.path, identity, stream)
                if change == "rotated":
                    if pending:
                        yield Block(pending + b"\n", line_number, self.path)
                        pending = b""
                    stream.close()
                    stream, identity = await asyncio.to_thread(self._open, False)
                    line_number = 1
                elif change == "truncated":
                    stream.seek(0)
                    pending, line_number = b"", 1
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopped.wait(), self.poll)
        finally:
            stream.close()

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


def _changed(path: str, identity: tuple[int, int] | None, stream: BinaryIO) -> str:
    """``rotated`` (another file at the path), ``truncated`` (shorter than read) or ``same``."""
    try:
        status = Path(path).stat()
    except FileNotFoundError:
        return "same"  # renamed away, the new one not created yet: keep waiting
    if identity is not None and (status.st_dev, status.st_ino) != identity:
        return "rotated"
    if status.st_size < stream.tell():
        return "truncated"
    return "same"
