"""``domain-stats enrich`` as a user runs it, against a real service and RDAP server on loopback."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from domain_stats import alerts
from tests.support.rdap_server import RdapTestServer
from tests.support.services import RunningService, write_config

SAMPLES = Path(__file__).parent / "samples"
FIRST = alerts.YOUR_FIRST_CONTACT


@pytest.fixture
def service(old_and_new_service: RunningService) -> RunningService:
    """example.com (2001) and fresh-news.net (3 days old: NEW) at the RDAP server."""
    return old_and_new_service


async def enrich(*args: str, stdin: bytes | None = None) -> tuple[int, list[dict[str, Any]], str]:
    """``domain-stats enrich ARGS``, reading in one process unless ARGS say otherwise (worker
    processes are tested on purpose, not in every test: they load the machine the suite runs on)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "domain_stats",
        "enrich",
        *args,
        *(() if "--jobs" in args else ("--jobs", "1")),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin)
    return proc.returncode or 0, [orjson.loads(line) for line in out.splitlines()], err.decode()


def by_domain_alert(records: list[dict[str, Any]], alert: str) -> list[str]:
    return [r.get("query") or r["dns"].get("rrname") for r in records if alert in r["domain_stats"]["alerts"]]


@pytest.mark.parametrize("jobs", ["1", "2"])  # read here, or in two worker processes
async def test_a_zeek_dns_log_comes_back_enriched(
    service: RunningService, rdap_server: RdapTestServer, jobs: str
) -> None:
    status, records, err = await enrich(str(SAMPLES / "dns.log"), "--url", service.url, "--jobs", jobs)
    assert status == 0, err
    assert [r["query"] for r in records] == [
        "www.example.com",
        "fresh-news.net",
        "example.com",
        None,
        "cdn.fresh-news.net",
    ]
    assert records[0]["uid"] == "CHhAvVGS1DHFjwGM9" and records[0]["answers"] == ["93.184.216.34", "example.com"]
    example = [r["domain_stats"] for r in records if r["query"] in ("www.example.com", "example.com")]
    assert {a["seen_by_web"] for a in example} == {"2001-02-03 04:05:06"}
    assert {a["category"] for a in example} == {"ESTABLISHED"}
    fresh = [r["domain_stats"] for r in records if r["query"] and "fresh-news" in r["query"]]
    assert {a["category"] for a in fresh} == {"NEW"}
    # One first contact per registered domain, however many events and names it had.
    assert sum(FIRST in a["alerts"] for a in example) == 1
    assert sum(FIRST in a["alerts"] for a in fresh) == 1
    assert "domain_stats" not in records[3]  # the mDNS row has no query
    assert rdap_server.count("example.com") == 1 and rdap_server.count("fresh-news.net") == 1
    assert "enrich: 14 lines, 5 records (4 names asked, 1 without a name), 5 written, 0 bad lines" in err


async def test_what_is_new_from_suricata(service: RunningService) -> None:
    await service.lookup("example.com")  # seen before: no first contact in the log
    status, records, err = await enrich(
        str(SAMPLES / "eve.json"),
        "--url",
        service.url,
        "--alerts",
        f"{FIRST},{alerts.ISC_FIRST_CONTACT},{alerts.RE_REGISTERED}",
        "--category",
        "NEW",
    )
    assert status == 0, err
    assert [(r["event_type"], r["domain_stats"]["category"]) for r in records] == [("dns", "NEW"), ("tls", "NEW")]
    assert FIRST in records[0]["domain_stats"]["alerts"] and FIRST not in records[1]["domain_stats"]["alerts"]
    assert "5 records (3 names asked, 1 without a name), 2 written" in err


async def test_an_alert_filter_alone(service: RunningService) -> None:
    await service.lookup("fresh-news.net")
    status, records, err = await enrich(str(SAMPLES / "dns.json"), "--url", service.url, "--alerts", FIRST)
    assert status == 0, err
    assert [r["query"] for r in records] == ["www.example.com"]


async def test_gzip_on_stdin(service: RunningService) -> None:
    compressed = gzip.compress((SAMPLES / "dns.json").read_bytes())
    status, records, err = await enrich("-", "--url", service.url, stdin=compressed)
    assert status == 0, err
    assert [r["domain_stats"]["seen_by_web"] for r in records[:1]] == ["2001-02-03 04:05:06"]
    assert len(records) == 3


async def test_enriched_output_enriched_again_carries_the_new_answer_once(
    service: RunningService, tmp_path: Path
) -> None:
    status, first, err = await enrich(str(SAMPLES / "dns.json"), "--url", service.url)
    assert status == 0, err
    assert [FIRST in r["domain_stats"]["alerts"] for r in first if "domain_stats" in r] == [True, True]
    again, out = tmp_path / "enriched.json", tmp_path / "twice.json"
    again.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in first))
    status, _, err = await enrich(str(again), "--url", service.url, "--field", "query", "-o", str(out))
    assert status == 0, err
    lines = out.read_bytes().splitlines()
    # Each object holds one answer, the new one: the first contacts went with the first run.
    assert [line.count(b'"domain_stats"') for line in lines] == [1, 1, 0]
    second = [orjson.loads(line) for line in lines]
    assert [r["query"] for r in second[:2]] == [r["query"] for r in first[:2]]
    assert [r["domain_stats"]["alerts"] for r in second[:2]] == [[], []]


async def test_bad_lines_are_reported_with_their_numbers(service: RunningService, tmp_path: Path) -> None:
    log = tmp_path / "proxy.jsonl"
    log.write_text('{"req": {"host": "example.com"}}\n{broken\n[1]\n{"req": {"host": "fresh-news.net"}}\n')
    status, records, err = await enrich(str(log), "--url", service.url, "--field", "req.host")
    assert status == 0, err
    assert [r["req"]["host"] for r in records] == ["example.com", "fresh-news.net"]
    assert f"{log}:2: skipped: not valid JSON" in err and f"{log}:3: skipped: not a JSON object" in err
    assert "2 bad lines" in err


async def test_csv_column_and_an_invalid_name(service: RunningService, tmp_path: Path) -> None:
    log = tmp_path / "proxy.csv"
    log.write_text("time,host\n1,example.com\n2,wpad\n")
    status, records, err = await enrich(str(log), "--url", service.url, "--column", "host")
    assert status == 0, err
    assert records[0]["domain_stats"]["category"] == "ESTABLISHED"
    assert records[1]["domain_stats"]["seen_by_web"] == "ERROR"
    assert records[1]["domain_stats"]["alerts"][0].startswith(alerts.INVALID_NAME)


async def test_without_a_service_it_opens_the_data_directory(
    tmp_path: Path, bootstrap_file: Path, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("example.com", "2001-02-03T04:05:06Z", "2099-01-01T00:00:00Z")
    directory = tmp_path / "data"
    write_config(directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="")
    names = tmp_path / "names.txt"
    names.write_text("example.com\nexample.com\n")
    status, records, err = await enrich(str(names), "--data", str(directory))
    assert status == 0, err
    assert [r["domain_stats"]["alerts"] for r in records] == [[FIRST], []]
    status, records, err = await enrich(str(names), "--data", str(directory))
    assert [r["domain_stats"]["alerts"] for r in records] == [[], []]  # the first contact was stored


async def test_a_service_that_cannot_be_reached_is_one_clear_error(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("example.com\n")
    status, records, err = await enrich(str(names), "--url", "http://127.0.0.1:9")
    assert status == 1 and records == []
    assert "cannot reach domain-stats at http://127.0.0.1:9/batch" in err and "Traceback" not in err


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def written(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


ZEEK_HEADER = (SAMPLES / "dns.log").read_text().split("\n1796", 1)[0] + "\n"


def zeek_row(name: str) -> str:
    fields = ["1796032800.0", "Cx", "10.0.0.5", "1", "10.0.0.53", "53", "udp", "1", "-", name, *["-"] * 14]
    return "\t".join(fields) + "\n"


async def follow(log: Path, out: Path, service: RunningService) -> asyncio.subprocess.Process:
    """``enrich --follow LOG -o OUT`` against ``service``, as a process of its own."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "domain_stats",
        "enrich",
        "--follow",
        str(log),
        "--url",
        service.url,
        "-o",
        str(out),
        stderr=asyncio.subprocess.PIPE,
    )


async def test_follow_across_a_rotation_and_a_truncation(service: RunningService, tmp_path: Path) -> None:
    log, out = tmp_path / "dns.log", tmp_path / "enriched.json"
    log.write_text(ZEEK_HEADER + zeek_row("example.com"))
    proc = await follow(log, out, service)
    try:
        await wait_until(lambda: len(written(out)) == 1, "the first row")
        with log.open("a") as growing:  # Zeek appends a line
            growing.write(zeek_row("www.example.com"))
        await wait_until(lambda: len(written(out)) == 2, "an appended row")
        os.rename(log, tmp_path / "dns.2026-11-29-10-00-00.log")  # Zeek's hourly rotation
        log.write_text(ZEEK_HEADER + zeek_row("fresh-news.net"))
        await wait_until(lambda: len(written(out)) == 3, "the row of the new file")
        log.write_text("#fields\tquery\n#types\tstring\ncdn.fresh-news.net\n")  # truncated, shorter
        await wait_until(lambda: len(written(out)) == 4, "the row after the truncation")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await proc.communicate()
    assert proc.returncode == 0, err
    records = written(out)
    assert out.stat().st_mode & 0o777 == 0o600  # DNS history: the owner's alone
    assert [r["query"] for r in records] == ["example.com", "www.example.com", "fresh-news.net", "cdn.fresh-news.net"]
    assert [r["domain_stats"]["category"] for r in records] == ["ESTABLISHED", "ESTABLISHED", "NEW", "NEW"]
    assert b"4 written" in err


async def test_follow_sees_a_truncation_that_grew_back_past_the_offset(service: RunningService, tmp_path: Path) -> None:
    """Truncated and written again past the old offset between two looks (a tool rewriting its log
    in place): the size alone does not show it (550 lines were lost); the first bytes do."""
    log, out = tmp_path / "names.txt", tmp_path / "enriched.json"
    log.write_text("example.com\n")
    proc = await follow(log, out, service)
    try:
        await wait_until(lambda: len(written(out)) == 1, "the first name")
        rewritten = "".join(f"n{i}.fresh-news.net\n" for i in range(50))
        with log.open("r+") as again:  # truncate and grow past the old offset in one go
            again.truncate(0)
            again.write(rewritten)
        await wait_until(lambda: len(written(out)) == 51, "every name of the rewritten file")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await proc.communicate()
    assert proc.returncode == 0, err
    assert [r["name"] for r in written(out)][1:] == [f"n{i}.fresh-news.net" for i in range(50)]


@pytest.mark.parametrize(
    ("name", "hostile"),
    [
        ("a names line of 5 MB", b"x" * (5 << 20) + b"\n"),
        ("5 MB of NUL bytes", b"\0" * (5 << 20) + b"\n"),
        ("a name of 3 MB", b"y" * (3 << 20) + b"\n"),
    ],
)
async def test_an_oversized_line_or_request_never_stops_the_run(
    service: RunningService, name: str, hostile: bytes, tmp_path: Path
) -> None:
    """Once each of these answered 413 and ended enrich with exit 1: everything after was lost."""
    log = tmp_path / "names.txt"
    log.write_bytes(b"example.com\n" + hostile + b"fresh-news.net\n")
    status, records, err = await enrich(str(log), "--url", service.url, "--format", "names")
    assert status == 0, err
    assert records[0]["name"] == "example.com" and records[-1]["name"] == "fresh-news.net"
    assert records[-1]["domain_stats"]["seen_by_web"] != "ERROR"
    asked = [r for r in records if "domain_stats" in r]
    assert all(r["domain_stats"]["alerts"][0].startswith("INVALID-NAME") for r in asked[1:-1]), name
    assert len(err) < 10_000  # bad-line reports are short, whatever the line


async def test_names_of_control_bytes_go_in_requests_the_service_takes(service: RunningService, tmp_path: Path) -> None:
    """12,000 names of control bytes: JSON writes each byte as six (\\u0001), so a block's request
    grew past the 4 MiB the service takes (413, exit 1); now split, each answered INVALID-NAME."""
    log = tmp_path / "names.txt"
    control = b"".join(b"\x01" * 290 + b"%06d\n" % n for n in range(12_000))  # distinct names
    log.write_bytes(b"example.com\n" + control + b"fresh-news.net\n")
    status, records, err = await enrich(str(log), "--url", service.url, "--format", "names")
    assert status == 0, err
    assert len(records) == 12_002 and records[-1]["domain_stats"]["category"] == "NEW"
    assert all(r["domain_stats"]["alerts"][0].startswith("INVALID-NAME") for r in records[1:-1])


async def test_a_report_of_a_bad_line_quotes_little_of_it(service: RunningService, tmp_path: Path) -> None:
    """A time that is 1 MB of text: the reason quotes the value (a 5 MB line once wrote 20 MB)."""
    log = tmp_path / "dns.log"
    row = zeek_row("example.com")
    log.write_text(ZEEK_HEADER + "x" * 1_000_000 + row[row.index("\t") :])
    status, _, err = await enrich(str(log), "--url", service.url)
    assert status == 0 and "bad lines" in err and len(err) < 10_000
