"""Whatever a client sends, the service answers 2xx/4xx in the answer shape, or closes: never a 5xx,
never a connection left hanging. Property-based (hypothesis) over names, batches and raw bytes,
against ``domain-stats serve`` as a user runs it.

Its RDAP bootstrap points at a closed port on 127.0.0.1: a valid name is answered at once with
an RDAP error, so every example is quick and nothing leaves the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.rdap_server import write_bootstrap
from tests.support.services import listen_on_free_port, write_config

ANSWER_KEYS = {"seen_by_web", "seen_by_isc", "seen_by_you", "category", "alerts"}
OPERATOR_PATHS = {"/health", "/stats", "/showcache", "/batch"}
TIMEOUT = 10.0
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    base = tmp_path_factory.mktemp("properties")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = closed.getsockname()[1]  # released: nothing listens there
    bootstrap = write_bootstrap(base / "bootstrap.json", f"http://127.0.0.1:{nowhere}/")
    data = base / "data"
    write_config(data, rdap_bootstrap=str(bootstrap), rdap_bootstrap_refresh_url="", rdap_timeout_seconds=2)
    chosen = listen_on_free_port(data)
    proc = subprocess.Popen(
        [sys.executable, "-m", "domain_stats", "serve", str(data)], stderr=subprocess.PIPE, start_new_session=True
    )
    assert proc.stderr is not None
    log = b""
    while b"worker ready to answer lookups" not in log:
        line = proc.stderr.readline()
        assert line, f"serve exited before it was ready:\n{log.decode()}"
        log += line
    yield chosen
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)


def exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, say we are done sending, and read until the server closes (which it must)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):  # a stalled connection raises TimeoutError here
            received += chunk
    return received


def responses(data: bytes, *, head: bool = False) -> list[tuple[int, dict[str, str], bytes]]:
    """Split what the server sent into well-formed HTTP/1.1 responses (asserting that they are);
    ``head``: the first final (non-1xx) response answers a HEAD request, so it has no body
    whatever its content-length (a ``100 Continue`` may come before it)."""
    found = []
    while data:
        block, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"an unfinished response: {data[:200]!r}"
        status_line, *lines = block.decode("latin-1").split("\r\n")
        assert status_line.startswith("HTTP/1.1 "), status_line
        status = int(status_line.split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        length = int(headers.get("content-length", "0"))
        first_final = status >= 200 and all(earlier < 200 for earlier, _, _ in found)
        if head and first_final and (not rest or rest.startswith(b"HTTP/1.1 ")):
            # A HEAD request that was parsed gets no body; a malformed one is refused before its
            # method is known, and that refusal has a (JSON) body. What follows tells which.
            length = 0
        assert len(rest) >= length, "a response shorter than its content-length"
        found.append((status, headers, rest[:length]))
        data = rest[length:]
    return found


def check_answer(status: int, body: bytes) -> None:
    assert status < 500, body
    answer = orjson.loads(body)
    assert set(answer) == ANSWER_KEYS, answer
    assert all(isinstance(answer[k], str) for k in ANSWER_KEYS - {"alerts"})
    assert isinstance(answer["alerts"], list)


@EXAMPLES
@given(name=st.text(max_size=300))
def test_any_name_gets_an_answer_in_the_answer_shape(port: int, name: str) -> None:
    path = "/" + quote(name, safe="")
    if path in OPERATOR_PATHS or path.startswith(("/showcache", "/stats")):
        return
    request = f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
    [(status, _, body)] = responses(exchange(port, request))
    assert status in (200, 400, 414), status
    check_answer(status, body)


@EXAMPLES
@given(names=st.lists(st.text(max_size=120), max_size=40))
def test_any_batch_gets_an_answer_per_name(port: int, names: list[str]) -> None:
    body = orjson.dumps(names)
    request = b"POST /batch HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    [(status, _, answer)] = responses(exchange(port, request))
    assert status == 200
    answers = orjson.loads(answer)
    assert len(answers) == len(names)
    for one in answers:
        check_answer(200, orjson.dumps(one))


METHODS = st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "get", "G\x00T", ""])
TARGETS = st.one_of(st.sampled_from(["/example.com", "/batch", "/health", "*", "http://x/a.com"]), st.text(max_size=50))
VERSIONS = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "", "HTTP/9"])
HEADERS = st.lists(
    st.tuples(
        st.sampled_from(["Host", "Content-Length", "Transfer-Encoding", "Expect", "Connection", "X-Forwarded-For"])
        | st.text(max_size=20),
        st.sampled_from(["0", "5", "-1", "chunked", "100-continue", "keep-alive", "close", "99999999999"])
        | st.text(max_size=30),
    ),
    max_size=6,
)


@EXAMPLES
@example(method="HEAD", target="/example.com", version="HTTP/1.1", headers=[("Expect", "100-continue")], body=b"")
@example(method="HEAD", target="/example.com", version="HTTP/1.1", headers=[("Expect", "100-continue")], body=b"\x00")
@given(method=METHODS, target=TARGETS, version=VERSIONS, headers=HEADERS, body=st.binary(max_size=200))
def test_any_request_shaped_bytes_get_well_formed_answers_or_a_close(
    port: int, method: str, target: str, version: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    lines = [f"{method} {target} {version}", *(f"{name}: {value}" for name, value in headers)]
    request = "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body
    for status, _, _ in responses(exchange(port, request), head=method == "HEAD"):
        assert 100 <= status < 500


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096))
def test_random_bytes_never_get_a_5xx_or_a_hung_connection(port: int, data: bytes) -> None:
    """The parser fuzzed with random bytes: bounded (300 examples), run with the suite."""
    for status, _, _ in responses(exchange(port, data)):
        assert 100 <= status < 500


def test_the_service_is_still_healthy_afterwards(port: int) -> None:
    [(status, _, body)] = responses(exchange(port, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    assert (status, orjson.loads(body)) == (200, {"status": "ok"})
