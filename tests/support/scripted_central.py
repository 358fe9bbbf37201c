"""A scripted central server on loopback: answers config and status as the protocol says, each
query as a test's script says, and anything else (``query_many`` included) 400 as an older
server does. For members facing a server that is hostile, broken or old."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

__all__ = ["GOOD", "ScriptedCentral"]

GOOD = {"seen_by_web": "2001-02-03 04:05:06", "expires": None, "seen_by_isc": "2026-11-01 00:00:00"}
Handler = Callable[[web.Request, str], Any]


class ScriptedCentral:
    """Answers config and status as the protocol says; each query as ``script[domain]`` says."""

    def __init__(self) -> None:
        self.script: dict[str, Handler] = {}
        self.queries: list[str] = []
        self.other_commands: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> ScriptedCentral:
        app = web.Application()
        app.router.add_post("/api", self._api)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body["command"] == "config":
            return web.json_response(
                {"min_software_version": "0.0.1", "min_database_version": "1.0", "prohibited_tlds": []}
            )
        if body["command"] == "status":
            return web.json_response({"interval": 60, "deny_client": ""})
        if body["command"] != "query":
            self.other_commands.append(body["command"])
            return web.json_response({"error": '"command" must be one of "config", "status", "query"'}, status=400)
        domain = body["domain"]
        self.queries.append(domain)
        handler = self.script.get(domain)
        if handler is None:
            return web.json_response({**GOOD, "alerts": []})
        return await handler(request, domain)  # type: ignore[no-any-return]
