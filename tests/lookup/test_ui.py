"""The status page (``/ui``) in headless Chromium, with a screenshot of each view kept for a person to look at."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

from domain_stats.lookup.answer import AnswerFormatter
from domain_stats.lookup.ui import contacts_page
from domain_stats.storage import Contact
from tests.support.rdap_server import RdapTestServer
from tests.support.services import RunningService, start_service, write_config

#: Where the screenshots stay after the run (not in git).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "ui-screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def service(old_and_new_service: RunningService) -> RunningService:
    """example.com (2001) and fresh-news.net (3 days old: NEW) at the RDAP server."""
    return old_and_new_service


async def chromium(tmp_path: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,1000",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]
    return out.decode()


async def view(tmp_path: Path, url: str, screenshot: str) -> str:
    """The page as Chromium rendered it (its DOM), and a screenshot of it in :data:`SCREENSHOTS`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / screenshot
    path.unlink(missing_ok=True)
    await chromium(tmp_path, f"--screenshot={path}", url)
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000  # a drawn page, not a blank one
    return await chromium(tmp_path, "--dump-dom", url)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does)")
async def test_the_status_page_in_chromium(
    service: RunningService, rdap_server: RdapTestServer, tmp_path: Path
) -> None:
    for name in ("www.example.com", "example.com", "fresh-news.net", "cdn.fresh-news.net", "www.example.com"):
        await service.lookup(name)
    overview = await view(tmp_path, service.url + "/ui", "overview.png")
    assert re.search(r"Lookups<b>5</b>", overview)
    assert re.search(r"First contacts<b>2</b>", overview)
    for chart in ("lookup-rate", "cache-efficiency"):
        section = overview.split(f'id="{chart}"', 1)[1].split("</section>", 1)[0]
        points = int(re.search(r'data-points="(\d+)"', section).group(1))  # type: ignore[union-attr]
        assert points >= 1 and "<rect" in section, section
    upstream = overview.split('id="upstream"', 1)[1].split("</section>", 1)[0]
    assert rdap_server.url in upstream and "healthy" in upstream

    contacts = await view(tmp_path, service.url + "/ui/contacts", "first-contacts.png")
    listed = re.findall(r'<td class="domain">([^<]+)</td>', contacts)
    assert listed == ["fresh-news.net", "example.com"] or listed == ["example.com", "fresh-news.net"]
    assert "3 days" in contacts and ">NEW<" in contacts

    found = await view(tmp_path, service.url + "/ui/contacts?q=fresh", "search.png")
    assert re.findall(r'<td class="domain">([^<]+)</td>', found) == ["fresh-news.net"]
    only_new = await view(tmp_path, service.url + "/ui/contacts?new=1", "new-only.png")
    assert re.findall(r'<td class="domain">([^<]+)</td>', only_new) == ["fresh-news.net"]


async def test_the_status_page_follows_the_stats_access_rule(tmp_path: Path, bootstrap_file: Path) -> None:
    directory = tmp_path / "data"
    write_config(directory, rdap_bootstrap=str(bootstrap_file), rdap_bootstrap_refresh_url="")
    keyed = await start_service(directory, admin_key="ui-key-1234567890")
    try:
        async with keyed.client.get(keyed.url + "/ui") as resp:
            assert resp.status == 401
        headers = {"Authorization": "Bearer ui-key-1234567890"}
        async with keyed.client.get(keyed.url + "/ui/contacts", headers=headers) as resp:
            assert resp.status == 200 and resp.headers["content-type"] == "text/html; charset=utf-8"
            assert "script-src" not in resp.headers["content-security-policy"]  # default-src 'none': no script
    finally:
        await keyed.stop()
    open_service = await start_service(directory)
    try:
        async with open_service.client.get(open_service.url + "/ui", headers={"X-Real-IP": "203.0.113.7"}) as resp:
            assert resp.status == 403
    finally:
        await open_service.stop()


def test_names_and_searches_are_escaped() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    page = contacts_page(
        [Contact(hostile, 1_796_000_000, None, None, None)],
        formatter=AnswerFormatter(),
        now=1_796_000_100,
        query=hostile,
        only_new=False,
        since=1_795_996_800,
    ).decode()
    assert hostile not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
