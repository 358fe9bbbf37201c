"""``domain-stats import`` in each form it reads, and the background resolution of plain lists."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from domain_stats.cli import main
from tests.support.rdap_server import RdapTestServer
from tests.support.services import cli_process, start_service


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_feed_lines_import_skips_bad_lines_and_keeps_the_version(data_dir: Path, tmp_path: Path) -> None:
    lines = tmp_path / "changes.txt"
    lines.write_text(
        "+,kept.com,2001-01-01 00:00:00,2031-01-01 00:00:00\n"
        "+,also-kept.org,2002-02-02 00:00:00,\n"
        "?,odd.com,2001-01-01 00:00:00,\n"
        "+,www.kept.com,2001-01-01 00:00:00,\n"
        "\n"
        "+,late.net,someday,\n"
        "-,also-kept.org,2002-02-02 00:00:00,\n"
    )
    code, out, err = run("import", str(lines), "--data", str(data_dir))
    assert code == 0
    assert out.strip() == "added 1, updated 0, removed 0, skipped 3"  # also-kept.org: added then removed
    for number in (3, 4, 6):
        assert f"changes.txt:{number}: skipped" in err
    code, out, _ = run("db", "version", "--data", str(data_dir))
    assert out.strip() == "local: 1.0"


async def test_a_plain_list_is_queued_and_resolved_in_the_background(
    data_dir: Path, tmp_path: Path, rdap_server: RdapTestServer
) -> None:
    rdap_server.add_domain("listed-one.com", "2011-01-01T00:00:00Z", "2031-01-01T00:00:00Z")
    rdap_server.add_domain("listed-two.org", "2012-01-01T00:00:00Z", "2032-01-01T00:00:00Z")
    names = tmp_path / "names.txt"
    names.write_text(
        "# watch list\nwww.listed-one.com\nlisted-one.com\nlisted-two.org\nmissing-one.net\n10.1.1.1\nprinter.local\n\n"
    )
    code, out, err = await cli_process("import", str(names), "--data", str(data_dir))
    assert code == 0
    assert out.strip() == "queued 3, already known or queued 1, skipped 2"
    assert "names.txt:6: skipped" in err and "names.txt:7: skipped" in err
    assert "resolves queued names in the background" in err

    running = await start_service(data_dir, import_resolve_rate=100)
    try:
        resolver = running.server.runtime.resolver
        while await resolver.drain_once():  # until the queue is empty
            continue
        _, stats = await running.get("/stats")
        assert stats["resolve_queue"] == {"waiting": 0, "refresh_waiting": 0, "resolved": 2, "failed": 1}
        assert sorted(rdap_server.requests) == ["listed-one.com", "listed-two.org", "missing-one.net"]
        # Resolved, not contacted: the first lookup is still this organisation's first contact, answered locally.
        answer = await running.lookup("listed-two.org")
        assert (answer["seen_by_web"], answer["alerts"]) == ("2012-01-01 00:00:00", ["YOUR-FIRST-CONTACT"])
        assert rdap_server.count("listed-two.org") == 1
    finally:
        await running.stop()
