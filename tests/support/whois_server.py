"""A real WHOIS (port 43) server on 127.0.0.1 for tests: answers chosen bytes, records every query.

Each domain gets an answer (raw bytes, as a registry would send them) or a behaviour: a hang
until released, bytes trickled forever, an endless answer, a "limit exceeded" text. Queries
arrive as one line; the server answers and closes, as WHOIS servers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path

__all__ = ["HANG", "HUGE", "LIMIT_EXCEEDED", "TRICKLE", "WhoisTestServer", "gtld_answer", "sample"]

SAMPLES = Path(__file__).resolve().parent.parent / "registry" / "whois" / "samples"

#: Behaviours instead of an answer.
HANG = "hang"  # reads the query, never answers, until released
TRICKLE = "trickle"  # one byte every 50 ms, forever
HUGE = "huge"  # 10 MB of text
#: A limit text as registries send it (PIR's form).
LIMIT_EXCEEDED = b"WHOIS LIMIT EXCEEDED - SEE WWW.PIR.ORG/WHOIS FOR DETAILS\r\n"


def sample(name: str) -> bytes:
    """A real registry answer kept in tests/registry/whois/samples, byte for byte."""
    return (SAMPLES / name).read_bytes()


def gtld_answer(domain: str, created: str, expires: str) -> bytes:
    """An answer in the ICANN gTLD format, for a chosen domain and dates (ISO 8601, Z)."""
    return (
        f"Domain Name: {domain.upper()}\r\nRegistry Domain ID: 1_TEST\r\nUpdated Date: 2026-01-01T00:00:00Z\r\n"
        f"Creation Date: {created}\r\nRegistry Expiry Date: {expires}\r\nRegistrar: Test Registrar\r\n"
        ">>> Last update of WHOIS database: 2026-11-01T00:00:00Z <<<\r\n"
    ).encode()


class WhoisTestServer:
    def __init__(self) -> None:
        self.queries: list[str] = []
        #: When each query arrived (time.monotonic()), in order.
        self.arrivals: list[float] = []
        self.answers: dict[str, bytes | str] = {}
        #: Answers served once each, before the domain's own (a registry that refuses, then answers).
        self.first: dict[str, list[bytes | str]] = {}
        self.latency = 0.0
        self.released = asyncio.Event()
        self.open_connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def address(self) -> str:
        """``host:port``, as ``whois_servers`` takes it."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> WhoisTestServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    def count(self, domain: str) -> int:
        return Counter(q.split()[-1].split("/")[0] for q in self.queries)[domain]

    def busiest_second(self) -> int:
        """Most queries that arrived within any one second."""
        most = 0
        for i, start in enumerate(self.arrivals):
            most = max(most, sum(1 for t in self.arrivals[i:] if t - start < 1.0))
        return most

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.open_connections += 1
        try:
            # A client that gives up (its timeout, its byte cap) closes while we still write: expected.
            with contextlib.suppress(ConnectionError):
                line = (await reader.readline()).decode("ascii", "replace").strip()
                self.queries.append(line)
                self.arrivals.append(time.monotonic())
                domain = line.split()[-1].split("/")[0].lower() if line else ""
                pending = self.first.get(domain)
                answer = pending.pop(0) if pending else self.answers.get(domain, b"No match for domain.\r\n")
                if self.latency:
                    await asyncio.sleep(self.latency)
                await self._answer(writer, answer)
        finally:
            self.open_connections -= 1
            self._tasks.discard(task)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, answer: bytes | str) -> None:
        if answer == HANG:
            await self.released.wait()
        elif answer == TRICKLE:
            while True:
                writer.write(b"%")
                await writer.drain()
                await asyncio.sleep(0.05)
        elif answer == HUGE:
            block = b"% padding padding padding padding padding padding padding padding padding\r\n" * 1000
            for _ in range(10 * 1024 * 1024 // len(block) + 1):
                writer.write(block)
                await writer.drain()
        else:
            assert isinstance(answer, bytes)
            writer.write(answer)
            await writer.drain()
