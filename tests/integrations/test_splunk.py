"""The Splunk external lookup script, as Splunk runs it: CSV piped through it against a running service."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from pathlib import Path

from domain_stats import alerts
from tests.support.rdap_server import RdapTestServer
from tests.support.services import RunningService

SCRIPT = Path(__file__).resolve().parents[2] / "integrations" / "splunk" / "bin" / "domain_stats_lookup.py"
FIELDS = ["domain", "seen_by_web", "seen_by_isc", "seen_by_you", "category", "alerts"]


async def run_lookup(url: str, rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], str]:
    given = io.StringIO()
    writer = csv.DictWriter(given, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        *FIELDS,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DOMAIN_STATS_URL": url},
    )
    out, err = await proc.communicate(given.getvalue().encode())
    assert proc.returncode == 0, err
    return list(csv.DictReader(io.StringIO(out.decode()))), err.decode()


def row(domain: str) -> dict[str, str]:
    return dict.fromkeys(FIELDS, "") | {"domain": domain}


async def test_rows_are_filled_from_one_batch(service: RunningService, rdap_server: RdapTestServer) -> None:
    rdap_server.add_domain("example.com", "2001-02-03T04:05:06Z", "2099-01-01T00:00:00Z")
    filled, problem = await run_lookup(service.url, [row("www.example.com"), row("example.com"), row("")])
    assert problem == ""
    assert [r["domain"] for r in filled] == ["www.example.com", "example.com", ""]
    first, second, empty = filled
    assert first["seen_by_web"] == second["seen_by_web"] == "2001-02-03 04:05:06"
    assert first["category"] == "ESTABLISHED" and first["seen_by_isc"] == "RDAP"
    assert first["alerts"] == alerts.YOUR_FIRST_CONTACT  # the two rows are one name: one first contact
    assert second["alerts"] == ""
    assert empty == row("")
    assert rdap_server.count("example.com") == 1


async def test_a_service_that_cannot_be_reached_leaves_the_fields_empty(tmp_path: Path) -> None:
    filled, problem = await run_lookup("http://127.0.0.1:9", [row("example.com")])
    assert filled == [row("example.com")]
    assert "could not answer" in problem
