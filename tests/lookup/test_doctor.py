"""``domain-stats doctor`` as a user runs it: a line per check, exit 1 on a failure."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from tests.support.rdap_server import RdapTestServer, write_bootstrap
from tests.support.services import cli_process, start_service, write_config
from tests.support.whois_server import WhoisTestServer


def lines(out: str) -> dict[str, str]:
    """check name -> its status and detail."""
    found = {}
    for line in out.splitlines():
        status, rest = line.split(maxsplit=1)
        name, _, detail = rest.partition(": ")
        found[name] = f"{status} {detail}"
    return found


async def test_a_healthy_data_directory(
    tmp_path: Path, rdap_server: RdapTestServer, whois_server: WhoisTestServer
) -> None:
    data = tmp_path / "data"
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    bootstrap = write_bootstrap(tmp_path / "bootstrap.json", rdap_server.url, without=("de",), publication=today)
    write_config(
        data, rdap_bootstrap=str(bootstrap), rdap_bootstrap_refresh_url="", whois_servers={"de": whois_server.address}
    )
    running = await start_service(data)  # creates the database (0600)
    await running.stop()
    os.chmod(data, 0o700)
    os.chmod(data / "domain_stats.yaml", 0o600)
    status, out, err = await cli_process("doctor", "--data", str(data))
    checks = lines(out)
    assert status == 0, out + err
    assert checks["configuration"].startswith("ok")
    assert checks["file modes"].startswith("ok")
    assert checks["database"].startswith("ok") and "database version" in checks["database"]
    assert checks["RDAP bootstrap"].startswith("ok") and "(0 days ago)" in checks["RDAP bootstrap"]
    port = rdap_server.url.rsplit(":", 1)[1].rstrip("/")
    assert checks[f"RDAP .com (127.0.0.1:{port})"] == "ok reachable"
    assert checks[f"WHOIS .de ({whois_server.address})"] == "ok reachable"


async def test_failures_are_named_and_fail_the_exit_status(tmp_path: Path, rdap_server: RdapTestServer) -> None:
    data = tmp_path / "data"
    bootstrap = write_bootstrap(tmp_path / "bootstrap.json", rdap_server.url, without=("de",))
    write_config(
        data, rdap_bootstrap=str(bootstrap), rdap_bootstrap_refresh_url="", whois_servers={"de": "127.0.0.1:9"}
    )
    os.chmod(data / "domain_stats.yaml", 0o644)
    status, out, _ = await cli_process("doctor", "--data", str(data))
    checks = lines(out)
    assert status == 1
    assert checks["file modes"].startswith("FAIL readable by others") and "0644" in checks["file modes"]
    assert checks["WHOIS .de (127.0.0.1:9)"].startswith("FAIL cannot connect")
    assert checks["database"].startswith("warn")  # not created yet: serve creates it


async def test_a_stale_bootstrap_is_a_warning(tmp_path: Path, rdap_server: RdapTestServer) -> None:
    data = tmp_path / "data"
    bootstrap = write_bootstrap(tmp_path / "bootstrap.json", rdap_server.url, publication="2020-01-01T00:00:00Z")
    write_config(data, rdap_bootstrap=str(bootstrap), rdap_bootstrap_refresh_url="")
    _, out, _ = await cli_process("doctor", "--data", str(data))
    assert lines(out)["RDAP bootstrap"].startswith("warn") and "published 2020-01-01" in lines(out)["RDAP bootstrap"]


async def test_a_bootstrap_url_stands_for_the_rdap_servers(tmp_path: Path, rdap_server: RdapTestServer) -> None:
    data = tmp_path / "data"
    write_config(data, rdap_bootstrap=rdap_server.url + "bootstrap.json", rdap_bootstrap_refresh_url="")
    _, out, _ = await cli_process("doctor", "--data", str(data))
    port = rdap_server.url.rsplit(":", 1)[1].rstrip("/")
    checks = lines(out)
    assert checks[f"RDAP bootstrap source (127.0.0.1:{port})"] == "ok reachable"
    assert not [name for name in checks if name.startswith(("RDAP .", "WHOIS ."))]


async def test_a_missing_data_directory_is_not_created(tmp_path: Path) -> None:
    status, out, _ = await cli_process("doctor", "--data", str(tmp_path / "nothing"))
    assert status == 1
    assert out.startswith("FAIL  configuration: no ")
    assert not (tmp_path / "nothing").exists()
