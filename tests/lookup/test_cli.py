from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from domain_stats import __version__
from domain_stats.cli import main
from tests.support.rdap_server import RdapTestServer
from tests.support.services import listen_on_free_port, serve_subprocess, stop_subprocess, write_config
from tests.support.shared import SHARED, needs_shared


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


def test_lookup_on_a_new_directory_creates_it_and_answers(tmp_path: Path) -> None:
    code, out, _ = run("lookup", "printer.local", "10.0.0.1", "--data", str(tmp_path / "d"))
    lines = [json.loads(line) for line in out.splitlines()]
    assert (tmp_path / "d" / "domain_stats.yaml").exists()
    assert lines[0]["alerts"] == ["PROHIBITED-TLD"]
    assert lines[1]["alerts"][0].startswith("INVALID-NAME")
    assert code == 1  # one of the names was not a domain


def test_import_csv_reports_bad_rows_with_line_numbers(tmp_path: Path) -> None:
    data = tmp_path / "d"
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(
        "domain,created,expires\n"
        "good.com,2001-02-03 04:05:06,2030-01-01 00:00:00\n"
        "www.sub.good.org,2001-02-03 04:05:06\n"
        "bad..com,2001-02-03\n"
        "fine.net,not-a-date\n"
        "only-one-field\n"
        "printer.local,2001-02-03\n"
        "also.org,2005-06-07\n"
    )
    code, out, err = run("import", str(csv_file), "--data", str(data))
    assert code == 0
    assert out.strip().splitlines()[-1] == "added 2, updated 0, skipped 5"
    for line in (3, 4, 5, 6, 7):
        assert f"list.csv:{line}: skipped" in err
    assert "reduces to 'good.org'" in err
    code, out, _ = run("import", str(csv_file), "--data", str(data))
    assert out.strip().splitlines()[-1] == "added 0, updated 2, skipped 5"


@needs_shared
def test_import_the_original_top1m_file(tmp_path: Path) -> None:
    # Any RDAP query would go to a closed port on loopback (and fail the test), never outside.
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text('{"services": [[["com"], ["http://127.0.0.1:9/"]]]}')
    write_config(tmp_path / "d", rdap_bootstrap=str(bootstrap), rdap_bootstrap_refresh_url="")
    code, out, err = run("import", str(SHARED / "data" / "top1m.import"), "--data", str(tmp_path / "d"))
    assert code == 0, err
    summary = out.strip().splitlines()[-1]
    added = int(summary.split()[1].rstrip(","))
    assert added > 35_000
    code, out, _ = run("lookup", "facebook.com", "--data", str(tmp_path / "d"))
    answer = json.loads(out)
    assert answer["seen_by_web"] == "1997-03-29 05:00:00"
    assert answer["seen_by_isc"] == "NA"
    assert answer["alerts"] == ["YOUR-FIRST-CONTACT"]


def test_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    write_config(tmp_path, local_port="eighty")
    code, _, err = run("serve", str(tmp_path))
    assert code == 1
    assert "local_port" in err and "Traceback" not in err


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        write_config(tmp_path, local_port=busy.getsockname()[1], rdap_bootstrap_refresh_url="")
        code, _, err = run("serve", str(tmp_path))
    assert code == 1
    assert "cannot listen on 127.0.0.1" in err and "Traceback" not in err


def test_missing_import_file(tmp_path: Path) -> None:
    code, _, err = run("import", str(tmp_path / "nope.json"), "--data", str(tmp_path))
    assert code == 2 and "does not exist" in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_serve_answers_and_stops_cleanly_on_sigterm(data_dir: Path, rdap_server: RdapTestServer) -> None:
    port = listen_on_free_port(data_dir)
    rdap_server.add_domain("example.com", "1995-08-14T04:00:00Z", "2099-08-13T04:00:00Z")
    proc = await serve_subprocess(data_dir)
    try:
        async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}/www.example.com") as resp:
            answer = await resp.json()
    finally:
        status = await stop_subprocess(proc)
    assert answer["seen_by_web"] == "1995-08-14 04:00:00"
    assert status == 0
    assert "example.com" in (data_dir / "memory_cache.json").read_text()


async def test_restart_right_after_stop_finds_the_port_free(data_dir: Path) -> None:
    port = listen_on_free_port(data_dir)
    for _ in range(2):
        proc = await serve_subprocess(data_dir)
        try:
            async with aiohttp.ClientSession() as client:
                async with client.get(f"http://127.0.0.1:{port}/health") as resp:
                    assert resp.status == 200
                # Stop while the keep-alive connection is open: the server closes it first, which
                # leaves it in TIME_WAIT on the service's port for the next start to cope with.
                status = await stop_subprocess(proc)
        finally:
            await stop_subprocess(proc)
        assert status == 0


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b'[{"domain": ', 1, "not valid JSON"),
        (b"\xff\xfe\x00bad,2001-01-01\n", 1, "neither JSON nor UTF-8 CSV"),
        (b'{"domain": "a.com"}', 1, "expected a JSON list"),
        (b"a.com,2001-01-01,2002-01-01,extra\n", 0, "bad.import:1: skipped: expected domain,created[,expires]"),
        (b"\xff\xfe\x00bad\n", 1, "not UTF-8 text"),
    ],
)
def test_bad_import_files_are_reported_without_a_traceback(
    tmp_path: Path, content: bytes, code: int, message: str
) -> None:
    bad = tmp_path / "bad.import"
    bad.write_bytes(content)
    status, _out, err = run("import", str(bad), "--data", str(tmp_path / "d"))
    assert status == code
    assert message in err
    assert "Traceback" not in err
