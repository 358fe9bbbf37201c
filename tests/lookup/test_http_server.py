"""The service's HTTP/1.1 protocol, spoken byte by byte over a real socket.

The service behind it is real (SQLite, the RDAP test server); ``printer.local`` is answered
from memory (prohibited), a name at the RDAP server takes the asynchronous path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from domain_stats.listening import LISTEN_BACKLOG, listen
from domain_stats.lookup.app import error_body
from domain_stats.lookup.http_server import HttpServer
from domain_stats.lookup.http_types import HttpLimits, Request
from tests.support.rdap_server import RdapTestServer
from tests.support.service_server import listening_socket
from tests.support.services import RunningService, start_service, write_config

ANSWER_KEYS = {"seen_by_web", "seen_by_isc", "seen_by_you", "category", "alerts"}


class Conn:
    """A raw HTTP/1.1 client connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body

    async def closed_by_server(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), 10) == b""


class Connections:
    """Opens raw connections and closes them all when the test ends, however it ends."""

    def __init__(self) -> None:
        self.opened: list[Conn] = []

    async def open(self, url: str) -> Conn:
        host, port = url.removeprefix("http://").split(":")
        conn = Conn(*await asyncio.open_connection(host, int(port)))
        self.opened.append(conn)
        return conn


@pytest.fixture
async def conns() -> AsyncIterator[Connections]:
    connections = Connections()
    yield connections
    for conn in connections.opened:
        conn.writer.close()
        with contextlib.suppress(OSError):
            await conn.writer.wait_closed()


def get(path: str, *extra: str, version: str = "1.1") -> bytes:
    return "\r\n".join([f"GET {path} HTTP/{version}", "Host: test", *extra, "", ""]).encode()


@pytest.fixture
def sqlite_dir(tmp_path: Path, bootstrap_file: Path) -> Path:
    directory = tmp_path / "data"
    write_config(directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="")
    return directory


@pytest.fixture
async def http(sqlite_dir: Path) -> AsyncIterator[RunningService]:
    running = await start_service(sqlite_dir)
    yield running
    await running.stop()


async def test_keep_alive_and_close_rules(conns: Connections, http: RunningService) -> None:
    conn = await conns.open(http.url)
    for _ in range(2):  # HTTP/1.1 keeps the connection
        await conn.send(get("/printer.local"))
        status, headers, body = await conn.response()
        assert status == 200 and orjson.loads(body)["alerts"] == ["PROHIBITED-TLD"]
        assert headers["content-type"] == "application/json" and "connection" not in headers and "date" in headers
    await conn.send(get("/printer.local", "Connection: close"))
    status, headers, _ = await conn.response()
    assert status == 200 and headers["connection"] == "close"
    assert await conn.closed_by_server()

    conn = await conns.open(http.url)
    await conn.send(get("/printer.local", version="1.0"))  # HTTP/1.0 closes unless asked not to
    assert (await conn.response())[1]["connection"] == "close"
    assert await conn.closed_by_server()

    conn = await conns.open(http.url)
    await conn.send(get("/printer.local", "Connection: keep-alive", version="1.0"))
    await conn.response()
    await conn.send(get("/health", version="1.0"))
    assert (await conn.response())[0] == 200


async def test_head_gets_the_headers_without_the_body(conns: Connections, http: RunningService) -> None:
    conn = await conns.open(http.url)
    await conn.send(b"HEAD /printer.local HTTP/1.1\r\nHost: t\r\n\r\n" + get("/health"))
    head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 405 ") and b"content-length: " in head
    # The next bytes are the next answer, not a body: HEAD answers carry none.
    status, _, body = await conn.response()
    assert (status, orjson.loads(body)) == (200, {"status": "ok"})


async def test_pipelined_requests_are_answered_in_order(
    conns: Connections, http: RunningService, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("slow.com", "2004-04-04T00:00:00Z", "2099-01-01T00:00:00Z")
    release = rdap_server.hang("slow.com")
    conn = await conns.open(http.url)
    # One write: the first needs the (held) RDAP server, the next two are answered from memory.
    await conn.send(get("/slow.com") + get("/printer.local") + get("/health"))
    await rdap_server.wait_for_request("slow.com")
    release.set()
    first, second, third = [await conn.response() for _ in range(3)]
    assert orjson.loads(first[2])["seen_by_web"] == "2004-04-04 00:00:00"
    assert orjson.loads(second[2])["alerts"] == ["PROHIBITED-TLD"]
    assert orjson.loads(third[2]) == {"status": "ok"}


async def test_many_pipelined_requests_from_one_client(conns: Connections, http: RunningService) -> None:
    names = [f"host{i}.printer.local" if i % 3 else f"host{i}" for i in range(5000)]
    conn = await conns.open(http.url)
    sending = asyncio.ensure_future(conn.send(b"".join(get("/" + name) for name in names)))
    answers = [orjson.loads((await conn.response())[2]) for _ in names]
    await sending
    # Every answer in order: the prohibited ones and the invalid single labels interleave exactly.
    assert [a["alerts"][0].split(":")[0] for a in answers] == [
        "PROHIBITED-TLD" if i % 3 else "INVALID-NAME" for i in range(len(names))
    ]


async def test_expect_100_continue(conns: Connections, http: RunningService) -> None:
    body = orjson.dumps(["printer.local"])
    conn = await conns.open(http.url)
    await conn.send(
        f"POST /batch HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
    )
    assert (await conn.response())[0] == 100
    await conn.send(body)
    status, _, answer = await conn.response()
    assert status == 200 and orjson.loads(answer)[0]["alerts"] == ["PROHIBITED-TLD"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (get("/" + "a" * 9000 + ".com"), 414),
        (get("/printer.local", *[f"X-Filler-{i}: {i}" for i in range(101)]), 431),
        (get("/printer.local", "X-Big: " + "b" * 17000), 431),
        # Refused on the header alone: the client is told before it sends 5 MB.
        (b"POST /batch HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\r\n", 413),
        (
            b"POST /batch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(b"100000\r\n" + b" " * 0x100000 + b"\r\n" for _ in range(5)),
            413,
        ),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /printer.local HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
    ],
    ids=["long-target", "many-headers", "large-header", "large-body", "large-chunked-body", "garbage", "bad-length"],
)
async def test_refused_requests_get_the_error_envelope_and_a_close(
    conns: Connections, http: RunningService, request_bytes: bytes, status: int
) -> None:
    conn = await conns.open(http.url)
    await conn.send(request_bytes)
    got, headers, body = await conn.response()
    assert got == status and headers["connection"] == "close"
    answer = orjson.loads(body)
    assert set(answer) == ANSWER_KEYS and answer["category"] == "ERROR"
    assert answer["alerts"][0].split(":")[0] in {"TOO-LARGE", "BAD-REQUEST"}
    assert await conn.closed_by_server()


async def test_upgrade_is_ignored_and_the_connection_closed(conns: Connections, http: RunningService) -> None:
    conn = await conns.open(http.url)
    await conn.send(get("/printer.local", "Upgrade: websocket", "Connection: upgrade") + b"\x81\x00")
    status, _, body = await conn.response()
    assert status == 200 and orjson.loads(body)["alerts"] == ["PROHIBITED-TLD"]
    assert await conn.closed_by_server()


async def test_request_targets_are_decoded(conns: Connections, http: RunningService) -> None:
    conn = await conns.open(http.url)
    await conn.send(get("/%70rinter.loc%61l"))
    assert orjson.loads((await conn.response())[2])["alerts"] == ["PROHIBITED-TLD"]
    await conn.send(get("http://proxy.example:8000/printer.local?x=1"))  # absolute form, as a proxy sends
    assert orjson.loads((await conn.response())[2])["alerts"] == ["PROHIBITED-TLD"]
    await conn.send(get("/%FF%FE.com"))  # not UTF-8
    status, _, body = await conn.response()
    assert status == 400 and orjson.loads(body)["alerts"][0].startswith("INVALID-NAME")


async def test_slow_and_idle_connections_are_closed(conns: Connections, sqlite_dir: Path) -> None:
    server = await start_service(sqlite_dir, http_limits=HttpLimits(request_seconds=0.2, keepalive_seconds=0.2))
    try:
        slow = await conns.open(server.url)
        await slow.send(b"GET /printer.local HTTP/1.1\r\nHost: t\r\n")  # never finished
        status, _, body = await slow.response()
        assert status == 408 and orjson.loads(body)["alerts"][0].startswith("TIMEOUT")
        assert await slow.closed_by_server()

        idle = await conns.open(server.url)
        await idle.send(get("/printer.local"))
        assert (await idle.response())[0] == 200
        assert await idle.closed_by_server()
    finally:
        await server.stop()


async def test_stop_lets_requests_under_way_finish(
    conns: Connections, sqlite_dir: Path, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("slow.com", "2004-04-04T00:00:00Z", "2099-01-01T00:00:00Z")
    release = rdap_server.hang("slow.com")
    server = await start_service(sqlite_dir)
    busy, idle = await conns.open(server.url), await conns.open(server.url)
    await busy.send(get("/slow.com"))
    await idle.send(get("/printer.local"))
    await idle.response()
    await rdap_server.wait_for_request("slow.com")
    stopping = asyncio.ensure_future(server.stop())
    assert await idle.closed_by_server()  # nothing under way: closed within stop_idle_seconds
    release.set()
    status, headers, body = await busy.response()
    assert status == 200 and headers["connection"] == "close"
    assert orjson.loads(body)["seen_by_web"] == "2004-04-04 00:00:00", body
    await stopping
    assert await busy.closed_by_server()


async def test_a_failing_handler_is_a_500_envelope_and_the_connection_lives_on(conns: Connections) -> None:
    async def fails_later() -> tuple[int, bytes]:
        raise RuntimeError("boom")

    def handler(request: Request) -> Any:
        if request.path == "/now":
            raise RuntimeError("boom")
        if request.path == "/later":
            return fails_later()
        return 200, b"{}"

    sock = listening_socket(0)
    server = HttpServer(handler, error_body)
    await server.start(sock)
    try:
        conn = await conns.open(f"http://127.0.0.1:{sock.getsockname()[1]}")
        for path in ("/now", "/later"):
            await conn.send(get(path))
            status, _, body = await conn.response()
            assert status == 500 and orjson.loads(body)["alerts"] == ["INTERNAL-ERROR: see the service log"]
        await conn.send(get("/fine"))
        status, _, body = await conn.response()
        assert (status, body) == (200, b"{}")
    finally:
        await server.stop()
        sock.close()


async def test_http10_keep_alive_is_said_and_no_100_continue(conns: Connections, http: RunningService) -> None:
    conn = await conns.open(http.url)
    await conn.send(get("/printer.local", "Connection: keep-alive", version="1.0"))
    status, headers, _ = await conn.response()
    assert status == 200 and headers["connection"] == "keep-alive"  # or an HTTP/1.0 client waits for the close
    # Expect: 100-continue means nothing to an HTTP/1.0 client: the first thing it reads is the answer.
    body = b'["printer.local"]'
    await conn.send(
        b"POST /batch HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    status, headers, answer = await conn.response()
    assert status == 200 and headers["connection"] == "keep-alive"
    assert orjson.loads(answer)[0]["alerts"] == ["PROHIBITED-TLD"]


@pytest.mark.parametrize(("request_line", "allowed"), [("DELETE /example.com", "GET"), ("GET /batch", "POST")])
async def test_405_says_which_methods_are_allowed(
    conns: Connections, http: RunningService, request_line: str, allowed: str
) -> None:
    conn = await conns.open(http.url)
    await conn.send(f"{request_line} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    status, headers, body = await conn.response()
    assert status == 405 and headers["allow"] == allowed
    assert orjson.loads(body)["alerts"][0].startswith("METHOD-NOT-ALLOWED")


async def test_a_bad_request_is_refused_after_the_answers_owed_before_it(
    conns: Connections, http: RunningService, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("slow.com", "2004-04-04T00:00:00Z", "2099-01-01T00:00:00Z")
    release = rdap_server.hang("slow.com")
    conn = await conns.open(http.url)
    await conn.send(get("/slow.com") + b"FOO / HTTP/1.1\r\nHost: t\r\n\r\n")
    await rdap_server.wait_for_request("slow.com")
    release.set()
    status, headers, body = await conn.response()
    assert status == 200 and "connection" not in headers
    assert orjson.loads(body)["alerts"] == ["YOUR-FIRST-CONTACT"]  # the first contact is not lost
    status, headers, body = await conn.response()
    assert status == 400 and headers["connection"] == "close"
    assert orjson.loads(body)["alerts"][0].startswith("BAD-REQUEST")
    assert await conn.closed_by_server()


async def test_near_the_connection_cap_the_oldest_idle_connections_make_room(
    conns: Connections, sqlite_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_service(sqlite_dir, http_limits=HttpLimits(max_connections=20))
    caplog.set_level(logging.WARNING, logger="domain_stats.lookup.http_server")
    try:
        idle = []
        for _ in range(40):  # twice the cap, each one idle after one answer
            conn = await conns.open(server.url)
            await conn.send(get("/printer.local"))
            assert (await conn.response())[0] == 200
            idle.append(conn)
        assert all([await conn.closed_by_server() for conn in idle[:20]])  # the oldest gave way
        latest = idle[-1]
        await latest.send(get("/health"))
        assert (await latest.response())[0] == 200
        assert len(server.server.http.connections) <= 20
        assert sum("near the cap of 20" in r.getMessage() for r in caplog.records) == 1  # logged once
    finally:
        await server.stop()


async def test_the_listen_backlog_is_the_configured_one() -> None:
    """Connections the process has not accepted yet still complete their handshake, up to the backlog."""
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = HttpServer(lambda request: (200, b"{}"), error_body)
    await server.start(sock)
    clients = []
    try:
        # The event loop does not run inside this block, so nothing is accepted: only the kernel's
        # queue holds the connections. asyncio's own default backlog (100) would drop the rest.
        for _ in range(300):
            client = socket.socket()
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                client.connect(("127.0.0.1", port))
            clients.append(client)
        deadline = time.monotonic() + 30.0  # a wait, not a bound: loopback connects at once
        pending = list(clients)
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], pending, [], 0.1)
            pending = [c for c in pending if c not in writable]
        assert LISTEN_BACKLOG >= 300
        assert len(pending) == 0, f"{len(pending)} of 300 connections were not accepted by the kernel"
    finally:
        for client in clients:
            client.close()
        await server.stop()


async def test_stop_answers_what_keep_alive_clients_send_and_resets_nobody(sqlite_dir: Path) -> None:
    """Back-to-back keep-alive clients during a stop: every answer whole, the last says close, no reset."""
    server = await start_service(sqlite_dir)
    host, port = server.url.removeprefix("http://").split(":")
    outcomes: list[str] = []
    answered = asyncio.Event()
    answers = 0

    async def client() -> None:
        nonlocal answers
        reader, writer = await asyncio.open_connection(host, int(port))
        conn = Conn(reader, writer)
        try:
            while True:
                await conn.send(get("/health"))
                status, headers, _ = await conn.response()
                assert status == 200
                answers += 1
                if answers >= 100:
                    answered.set()
                if headers.get("connection") == "close":
                    outcomes.append("closed" if await conn.closed_by_server() else "open")
                    return
        except (ConnectionResetError, asyncio.IncompleteReadError, BrokenPipeError) as err:
            outcomes.append(f"reset: {err!r}")
        finally:
            writer.close()

    clients = [asyncio.ensure_future(client()) for _ in range(20)]
    await answered.wait()
    await server.stop()
    await asyncio.wait_for(asyncio.gather(*clients), 30)
    assert outcomes == ["closed"] * 20
