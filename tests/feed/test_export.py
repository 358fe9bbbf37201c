"""Publishing feeds: db export from a client database, central publish from the community's, and back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiohttp
from click.testing import CliRunner

from domain_stats.cli import main
from domain_stats.feed import FeedIndex
from tests.support.central_server import CentralTestServer
from tests.support.rdap_server import RdapTestServer
from tests.support.services import cli_process, start_central_member, write_config


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_export_writes_differences_and_a_client_rebuilds_the_same_set(tmp_path: Path) -> None:
    source, feed = tmp_path / "source", tmp_path / "feed"
    write_config(source)
    csv = tmp_path / "list.csv"
    csv.write_text(
        "old-one.com,2001-01-01 00:00:00\nold-two.org,2002-02-02 00:00:00,2032-02-02 00:00:00\n"
        "brand-new.net,2026-11-20 00:00:00\n"
    )
    assert run("import", str(csv), "--data", str(source))[0] == 0
    code, out, _ = run("db", "export", "--feed", str(feed), "--data", str(source))
    assert code == 0 and "version 1.1 (added 2, changed 0, removed 0)" in out  # brand-new.net is not established
    first = (feed / "1" / "1.txt").read_text()
    assert sorted(first.splitlines()) == [
        "+,old-one.com,2001-01-01 00:00:00,",
        "+,old-two.org,2002-02-02 00:00:00,2032-02-02 00:00:00",
    ]
    assert run("db", "export", "--feed", str(feed), "--data", str(source))[1].startswith(
        "nothing changed since version 1.1"
    )

    csv.write_text("old-one.com,2001-01-01 12:00:00\nthird.info,2003-03-03 00:00:00\n")
    run("import", str(csv), "--data", str(source))
    csv.write_text("-,old-two.org,2002-02-02 00:00:00,\n")
    csv.rename(tmp_path / "removal.txt")
    assert (
        run("import", str(tmp_path / "removal.txt"), "--data", str(source))[1].strip()
        == "added 0, updated 0, removed 1, skipped 0"
    )
    code, out, _ = run("db", "export", "--feed", str(feed), "--data", str(source))
    assert "version 1.2 (added 1, changed 1, removed 1)" in out
    assert sorted((feed / "1" / "2.txt").read_text().splitlines()) == [
        "+,old-one.com,2001-01-01 12:00:00,",
        "+,third.info,2003-03-03 00:00:00,",
        "-,old-two.org,2002-02-02 00:00:00,2032-02-02 00:00:00",
    ]
    index = FeedIndex.parse((feed / "version.json").read_bytes())
    assert index.database_version == "1.2" and set(index.sha256) == {"1/1.txt", "1/2.txt"}

    client = tmp_path / "client"
    write_config(client)
    code, out, _ = run("db", "update", "--from", str(feed), "--data", str(client))
    assert code == 0, out
    assert out.splitlines()[-1] == "the database is at version 1.2 (was 1.0)"
    code, out, _ = run("db", "version", "--from", str(feed), "--data", str(client))
    assert out.splitlines() == ["local: 1.2", f"feed: 1.2 ({feed})"]
    code, out, _ = run("db", "export", "--feed", str(tmp_path / "again"), "--data", str(client))
    assert sorted((tmp_path / "again" / "1" / "1.txt").read_text().splitlines()) == sorted(
        ["+,old-one.com,2001-01-01 12:00:00,", "+,third.info,2003-03-03 00:00:00,"]
    )


def test_db_update_failure_is_one_clear_message(tmp_path: Path) -> None:
    client = tmp_path / "client"
    write_config(client)
    code, _, err = run("db", "update", "--data", str(client))
    assert code == 1 and "no update feed: set target_updates" in err
    feed = tmp_path / "feed"
    (feed / "1").mkdir(parents=True)
    (feed / "1" / "1.txt").write_text("+,good.com,2001-01-01 00:00:00,\n")
    digest = hashlib.sha256(b"+,good.com,2001-01-01 00:00:00,\n").hexdigest()
    (feed / "1" / "2.txt").write_text("+,ok.com,2001-01-01 00:00:00,\n+,bad,2001-01-01 00:00:00,\n")
    bad = hashlib.sha256((feed / "1" / "2.txt").read_bytes()).hexdigest()
    (feed / "version.json").write_text(
        f'{{"database_version": "1.2", "min_client_version": "0.1", '
        f'"sha256": {{"1/1.txt": "{digest}", "1/2.txt": "{bad}"}}}}'
    )
    code, out, err = run("db", "update", "--from", str(feed), "--data", str(client))
    assert code == 1
    assert out.strip() == "applied 1/1.txt: added 1, updated 0, removed 0"
    assert "1/2.txt: line 2:" in err and "stays at 1.1" in err and "Traceback" not in err


async def test_central_publish_serves_members_and_a_member_updates_itself_at_start(
    tmp_path: Path, central: CentralTestServer, rdap_server: RdapTestServer
) -> None:
    for name in ("shared-old.com", "single-old.com", "shared-young.com"):
        created = "2026-11-01T00:00:00Z" if "young" in name else "2004-04-04T00:00:00Z"
        rdap_server.add_domain(name, created, "2030-01-01T00:00:00Z")
    one = await start_central_member(tmp_path, "one", central)
    two = await start_central_member(tmp_path, "two", central)
    try:
        for client, names in (
            (one, ["shared-old.com", "single-old.com", "shared-young.com"]),
            (two, ["shared-old.com", "shared-young.com"]),
        ):
            for name in names:
                await client.lookup(name)
    finally:
        await one.stop()
        await two.stop()

    code, out, _ = await cli_process("central", "publish", "--min-clients", "2", "--data", str(central.data_dir))
    assert code == 0 and "version 1.1 (added 1, changed 0, removed 0)" in out

    async with aiohttp.ClientSession() as http:
        async with http.get(central.url + "/feed/version.json") as resp:
            assert resp.status == 401  # members only
        key = await central.add_key("three")
        async with http.get(central.url + "/feed/1/1.txt", headers={"Authorization": f"Bearer {key}"}) as resp:
            assert resp.status == 200
            assert (await resp.text()).startswith("+,shared-old.com,2004-04-04 00:00:00,")
        async with http.get(central.url + "/feed/../central.yaml", headers={"Authorization": f"Bearer {key}"}) as resp:
            assert resp.status == 404

    await central.store.set_policy_value("min_database_version", "1.1")
    three = await start_central_member(tmp_path, "three", central, key=key)
    try:
        assert await three.service.storage.database_version() == "1.1"  # updated before it served
        answer = await three.lookup("shared-old.com")
        assert (answer["seen_by_isc"], answer["alerts"]) == ("NA", ["YOUR-FIRST-CONTACT"])
        assert central.queries("shared-old.com") == ["shared-old.com", "shared-old.com"]  # not asked by three
    finally:
        await three.stop()
