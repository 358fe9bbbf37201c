"""``domain-stats central ...`` as operators run it, against a central server that is running."""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path

import trustme
import yaml
from click.testing import CliRunner

from domain_stats.alerts import ISC_FIRST_CONTACT, YOUR_FIRST_CONTACT
from domain_stats.central.config import CENTRAL_CONFIG_NAME
from domain_stats.central_protocol import MAX_OPERATOR_ALERTS
from domain_stats.cli import main
from tests.support.central_server import CentralTestServer
from tests.support.rdap_server import RdapTestServer
from tests.support.services import cli_process, start_central_member, stop_subprocess, wait_for_central


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


async def admin(data_dir: Path, *args: str) -> tuple[int, str, str]:
    """An admin command in its own process, as an operator runs it next to the server."""
    return await cli_process("central", *args, "--data", str(data_dir))


def test_key_add_prints_the_key_alone_on_the_last_line_and_stores_only_a_hash(tmp_path: Path) -> None:
    data = tmp_path / "central"
    code, out, _ = run("central", "key", "add", "acme-soc", "--data", str(data))
    assert code == 0
    key = out.splitlines()[-1]
    assert len(key) >= 40 and " " not in key
    assert key.encode() not in (data / "central.db").read_bytes()
    assert key not in (data / CENTRAL_CONFIG_NAME).read_text()

    code, _, err = run("central", "key", "add", "acme-soc", "--data", str(data))
    assert code == 1 and "already has a key" in err
    code, out, _ = run("central", "key", "list", "--data", str(data))
    assert "acme-soc" in out and key not in out
    assert run("central", "key", "revoke", "acme-soc", "--data", str(data))[0] == 0
    code, _, err = run("central", "key", "revoke", "acme-soc", "--data", str(data))
    assert code == 1 and "no active key" in err
    code, out, _ = run("central", "key", "add", "acme-soc", "--data", str(data))  # a new key after revoking
    assert code == 0 and out.splitlines()[-1] != key


def test_bad_admin_input_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    data = str(tmp_path / "central")
    for args, says in [
        (["key", "add", "bad name!"], "NAME"),
        (["alert", "add", "10.0.0.1", "x"], "IP address"),
        (["alert", "add", "printer.local", "x"], "prohibited"),
        (["alert", "add", "example.com", ""], "TEXT"),
        (["alert", "add", "example.com", "RDAP-NOT-FOUND"], "own alert tokens"),
        (["alert", "add", "example.com", "ISC-FIRST-CONTACT: again"], "own alert tokens"),
        (["config", "set", "status_interval", "soon"], "not a number"),
        (["config", "set", "min_database_version", "1.2.3"], "MAJOR.MINOR"),
        (["config", "set", "min_software_version", "latest"], "not a version"),
        (["config", "set", "colour", "blue"], "colour"),
        (["deny", "acme", "  "], "MESSAGE"),
        (["allow", "nobody"], "not denied"),
    ]:
        code, _, err = run("central", *args, "--data", data)
        assert code != 0, args
        assert says in err, (args, err)
        assert "Traceback" not in err
    code, _, err = run("central", "key", "list")  # the server's directory is never guessed
    assert code == 2 and "Missing option '--data'" in err
    code, out, _ = run("central", "config", "show", "--data", data)
    assert "status_interval: 60.0" in out and "min_database_version: 1.0" in out
    assert run("central", "alert", "list", "--data", data)[1].strip() == "(none)"


def test_a_domain_carries_a_bounded_number_of_alerts(tmp_path: Path) -> None:
    data = str(tmp_path / "central")
    for n in range(MAX_OPERATOR_ALERTS):
        assert run("central", "alert", "add", "example.com", f"NOTE {n}", "--data", data)[0] == 0
    code, _, err = run("central", "alert", "add", "example.com", "one more", "--data", data)
    assert code != 0 and f"already has {MAX_OPERATOR_ALERTS} alerts" in err


async def test_admin_changes_reach_the_running_server_at_once(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("evil-site.com", "2026-11-25T00:00:00Z", "2027-11-25T00:00:00Z")
    data = central.data_dir
    code, out, _ = await admin(data, "key", "add", "beta")
    assert code == 0
    key = out.splitlines()[-1]
    assert (await central.post({"command": "config"}, key))[0] == 200

    assert (await admin(data, "alert", "add", "www.evil-site.com", "C2 of campaign X"))[0] == 0
    assert "evil-site.com  C2 of campaign X" in (await admin(data, "alert", "list"))[1]
    answer = (await central.post({"command": "query", "domain": "evil-site.com"}, key))[1]
    assert answer["alerts"] == [ISC_FIRST_CONTACT, "C2 of campaign X"]
    assert (await admin(data, "alert", "clear", "evil-site.com", "C2 of campaign X"))[1].startswith("removed 1 alert")
    assert (await central.post({"command": "query", "domain": "evil-site.com"}, key))[1]["alerts"] == []

    assert (await admin(data, "config", "set", "min_software_version", "0.3"))[0] == 0
    assert (await admin(data, "config", "set", "prohibited_tlds", "corp.example.com", ".Lab.Example.org."))[0] == 0
    config = (await central.post({"command": "config"}, key))[1]
    assert config["min_software_version"] == "0.3"
    assert config["prohibited_tlds"] == ["corp.example.com", "lab.example.org"]

    report = {
        "command": "status",
        "client_version": "0.1.0",
        "database_version": "1.0",
        "cache_efficiency": [7, 1, 0],
        "database_efficiency": [4, 4],
    }
    assert (await admin(data, "deny", "beta", "stop: unpaid"))[0] == 0
    assert (await central.post(report, key))[1]["deny_client"] == "stop: unpaid"
    assert (await admin(data, "allow", "beta"))[0] == 0
    assert (await central.post(report, key))[1]["deny_client"] == ""
    table = (await admin(data, "clients"))[1]
    assert "beta" in table and "0.1.0" in table and "7/1/0" in table and "127.0.0.1" in table

    assert (await admin(data, "key", "revoke", "beta"))[0] == 0
    assert (await central.post({"command": "config"}, key))[0] == 401  # from the next request on


async def test_central_serve_over_https_with_two_clients(
    tmp_path: Path, rdap_server: RdapTestServer, bootstrap_file: Path
) -> None:
    rdap_server.add_domain("tls-check.com", "2026-11-01T00:00:00Z", "2027-11-01T00:00:00Z")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    data = tmp_path / "central"
    data.mkdir()
    cert.private_key_and_cert_chain_pem.write_to_path(str(data / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    from tests.support.services import listen_on_free_port

    (data / CENTRAL_CONFIG_NAME).write_text(
        yaml.safe_dump(
            {
                "tls_cert": "server.pem",
                "tls_key": "server.pem",
                "rdap_bootstrap": str(bootstrap_file),
                "rdap_bootstrap_refresh_url": "",
            }
        )
    )
    port = listen_on_free_port(data, CENTRAL_CONFIG_NAME)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "domain_stats", "central", "serve", str(data), stderr=asyncio.subprocess.PIPE
    )
    try:
        url = f"https://127.0.0.1:{port}"
        await wait_for_central(proc, url, ssl.create_default_context(cafile=str(tmp_path / "ca.pem")))
        keys = [(await admin(data, "key", "add", name))[1].splitlines()[-1] for name in ("one", "two")]

        class Server:  # what start_central_member needs of a central server
            def __init__(self) -> None:
                self.url = url

        one = await start_central_member(
            tmp_path, "one", Server(), key=keys[0], server_ca_file=str(tmp_path / "ca.pem")
        )
        two = await start_central_member(
            tmp_path, "two", Server(), key=keys[1], server_ca_file=str(tmp_path / "ca.pem")
        )
        unverified = await start_central_member(tmp_path, "three", Server(), key=keys[1])
        try:
            assert (await one.lookup("tls-check.com"))["alerts"] == [YOUR_FIRST_CONTACT, ISC_FIRST_CONTACT]
            assert (await two.lookup("tls-check.com"))["alerts"] == [YOUR_FIRST_CONTACT]
            # Verification is on by default: a certificate from an unknown CA is not trusted.
            refused = await unverified.lookup("tls-check.com")
            assert refused["alerts"][0] == YOUR_FIRST_CONTACT
            assert refused["alerts"][1] in ("ISC-UNREACHABLE", "ISC-BACKED-OFF")  # its start-up already failed
            assert unverified.server.runtime.membership is not None
            assert not unverified.server.runtime.membership.joined
        finally:
            for client in (one, two, unverified):
                await client.stop()
    finally:
        assert await stop_subprocess(proc) == 0
