"""A hostile or broken central server cannot harm its members.

The member reads at most 64 KiB of an answer, never follows a redirect, takes at most a few
alerts, passes on only what the protocol lets a server say, and keeps the server's permanent
pins bounded and tied to that server. The server here is a scripted one on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from domain_stats.alerts import (
    ISC_BAD_RESPONSE,
    ISC_ERROR,
    ISC_FIRST_CONTACT,
    PROHIBITED_TLD,
    YOUR_FIRST_CONTACT,
)
from tests.support.scripted_central import GOOD, ScriptedCentral
from tests.support.services import RunningService, start_service, write_config


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedCentral]:
    server = await ScriptedCentral().start()
    yield server
    await server.stop()


async def member(directory: Path, server_url: str, **settings: Any) -> RunningService:
    write_config(
        directory, mode="central", server_url=server_url, api_key="k", rdap_bootstrap_refresh_url="", **settings
    )
    return await start_service(directory)


async def many_alerts(request: web.Request, domain: str) -> web.StreamResponse:
    return web.json_response({**GOOD, "alerts": [f"NOTE-{n}: " + "x" * 240 for n in range(20_000)]})


async def tokens_on_a_good_answer(request: web.Request, domain: str) -> web.StreamResponse:
    said = [ISC_FIRST_CONTACT, ISC_FIRST_CONTACT, "RDAP-NOT-FOUND", YOUR_FIRST_CONTACT, "PHISHING: reported by ISAC"]
    return web.json_response({**GOOD, "alerts": said})


async def tokens_on_an_error(request: web.Request, domain: str) -> web.StreamResponse:
    said = ["DATABASE-UNAVAILABLE", YOUR_FIRST_CONTACT, "RE-REGISTERED"]
    return web.json_response({"seen_by_web": "ERROR", "expires": "ERROR", "seen_by_isc": 1, "alerts": said})


async def pinned(request: web.Request, domain: str) -> web.StreamResponse:
    error = {"seen_by_web": "ERROR", "expires": "ERROR", "seen_by_isc": -2, "alerts": [PROHIBITED_TLD]}
    return web.json_response(error)


async def test_an_endless_answer_is_read_no_further_than_64_kib(tmp_path: Path, scripted: ScriptedCentral) -> None:
    """100 MB of answer (once read whole: 60 at a time took 1.9 GB): the member hangs up early."""
    sent_kib: list[int] = []
    done = asyncio.Event()

    async def endless(request: web.Request, domain: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        await resp.write(b'{"seen_by_web": "2001-02-03 04:05:06", "pad": "')
        sent = 0
        # The member hanging up ends the writing (aiohttp raises one or the other).
        with contextlib.suppress(ConnectionError, RuntimeError):
            for _ in range(100_000):
                await resp.write(b"x" * 1024)
                sent += 1
        sent_kib.append(sent)
        done.set()
        return resp

    scripted.script["endless.com"] = endless
    running = await member(tmp_path / "m", scripted.url)
    try:
        answers = await asyncio.gather(*(running.lookup("endless.com") for _ in range(5)))
        await asyncio.wait_for(done.wait(), 60)  # the server notices the hang-up
    finally:
        await running.stop()
    assert [a["alerts"] for a in answers] == [[YOUR_FIRST_CONTACT, ISC_BAD_RESPONSE]] + [[ISC_BAD_RESPONSE]] * 4
    assert sent_kib[0] < 20 * 1024  # of 100 MB: what the socket buffers held, not the answer


async def test_too_many_alerts_are_a_bad_response(tmp_path: Path, scripted: ScriptedCentral) -> None:
    scripted.script["noisy.com"] = many_alerts
    running = await member(tmp_path / "m", scripted.url)
    try:
        answer = await running.lookup("noisy.com")
        _, shown = await running.get("/showcache")
    finally:
        await running.stop()
    assert answer["alerts"] == [YOUR_FIRST_CONTACT, ISC_BAD_RESPONSE]
    assert shown["entries"] == []  # nothing of it kept


async def test_only_what_the_protocol_allows_is_passed_on(tmp_path: Path, scripted: ScriptedCentral) -> None:
    scripted.script["tokens.com"] = tokens_on_a_good_answer
    scripted.script["error.com"] = tokens_on_an_error
    running = await member(tmp_path / "m", scripted.url)
    try:
        good = await running.lookup("tokens.com")
        error = await running.lookup("error.com")
    finally:
        await running.stop()
    assert good["alerts"] == [YOUR_FIRST_CONTACT, ISC_FIRST_CONTACT, "PHISHING: reported by ISAC"]
    assert good["seen_by_web"] == "2001-02-03 04:05:06"
    assert error["alerts"] == [YOUR_FIRST_CONTACT, ISC_ERROR]


async def test_a_redirect_is_not_followed(tmp_path: Path, scripted: ScriptedCentral) -> None:
    elsewhere = await ScriptedCentral().start()

    async def redirect(request: web.Request, domain: str) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(elsewhere.url + "/api")

    scripted.script["moved.com"] = redirect
    running = await member(tmp_path / "m", scripted.url)
    try:
        answer = await running.lookup("moved.com")
    finally:
        await running.stop()
        await elsewhere.stop()
    assert answer["alerts"] == [YOUR_FIRST_CONTACT, ISC_BAD_RESPONSE]
    assert elsewhere.queries == []  # the query (and the key) never went to the other origin


async def test_pins_are_bounded_and_do_not_outlive_a_change_of_server(
    tmp_path: Path, scripted: ScriptedCentral
) -> None:
    names = [f"pinned{i}.com" for i in range(300)]
    scripted.script.update(dict.fromkeys(names, pinned))
    directory = tmp_path / "m"
    running = await member(directory, scripted.url, cached_max_items=100)
    try:
        for name in names:
            assert (await running.lookup(name))["alerts"] == [YOUR_FIRST_CONTACT, PROHIBITED_TLD]
        _, stats = await running.get("/stats")
    finally:
        await running.stop()  # saves the memory cache
    assert stats["cache"]["size"] <= 100

    other = await ScriptedCentral().start()  # a legitimate server at another address
    try:
        running = await member(directory, other.url, cached_max_items=100)
        try:
            again = await running.lookup(names[-1])
        finally:
            await running.stop()
    finally:
        await other.stop()
    assert again["seen_by_web"] == GOOD["seen_by_web"] and again["alerts"] == []
    assert other.queries == [names[-1]]


async def test_a_creation_date_no_registry_can_hold_is_a_bad_response(
    tmp_path: Path, scripted: ScriptedCentral
) -> None:
    async def epoch(request: web.Request, domain: str) -> web.StreamResponse:
        return web.json_response({**GOOD, "seen_by_web": "1970-01-01 00:00:00", "alerts": []})

    scripted.script["epoch.com"] = epoch
    running = await member(tmp_path / "m", scripted.url)
    try:
        answer = await running.lookup("epoch.com")
    finally:
        await running.stop()
    assert (answer["seen_by_web"], answer["alerts"]) == ("ERROR", [YOUR_FIRST_CONTACT, ISC_BAD_RESPONSE])
