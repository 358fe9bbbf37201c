"""A real central server for tests: our CentralRuntime served on 127.0.0.1, recording every request.

The recording sits in front of the real app (an ASGI wrapper that keeps each request body),
so tests can say what reached the server, e.g. that prohibited names never do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from domain_stats.central.app import Receive, Scope, Send
from domain_stats.central.config import load_central_settings
from domain_stats.central.keys import new_api_key
from domain_stats.central.runtime import CentralRuntime
from domain_stats.central.store import CentralStore
from tests.support.service_server import AsgiServer


class _Recording:
    def __init__(self, app: Any, log: list[dict[str, Any]], answered: list[str], changed: asyncio.Condition) -> None:
        self.app = app
        self.log = log
        self.answered = answered
        self.changed = changed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        request: dict[str, Any] = {}

        async def recording_receive() -> dict[str, Any]:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                try:
                    request.update(orjson.loads(b"".join(chunks)))
                except (orjson.JSONDecodeError, TypeError, ValueError):
                    request["unparsed"] = b"".join(chunks)
                self.log.append(request)
            return message

        async def notifying_send(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body":
                self.answered.append(str(request.get("command", "")))
                async with self.changed:
                    self.changed.notify_all()

        await self.app(scope, recording_receive, notifying_send)


class _RecordingRuntime:
    """What AsgiServer needs (``http_app``, ``close``), with the recorder in front."""

    def __init__(
        self, runtime: CentralRuntime, log: list[dict[str, Any]], answered: list[str], changed: asyncio.Condition
    ) -> None:
        self.runtime = runtime
        self._log = log
        self._answered = answered
        self._changed = changed

    def http_app(self) -> Any:
        return _Recording(self.runtime.http_app(), self._log, self._answered, self._changed)

    async def close(self) -> None:
        await self.runtime.close()


class CentralTestServer:
    def __init__(self, data_dir: Path, clock: Callable[[], float]) -> None:
        self.data_dir = data_dir
        self.clock = clock
        self.requests: list[dict[str, Any]] = []
        self._answered_commands: list[str] = []  # in the order their answers were sent
        self._answered = asyncio.Condition()
        self._server: AsgiServer | None = None
        self.runtime: CentralRuntime | None = None

    async def start(self, port: int = 0) -> CentralTestServer:
        settings = load_central_settings(self.data_dir)
        self.runtime = await CentralRuntime.start(settings, self.data_dir, clock=self.clock)
        self._server = AsgiServer(
            _RecordingRuntime(self.runtime, self.requests, self._answered_commands, self._answered), port=port
        )
        await self._server.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.socket.getsockname()[1]

    @property
    def store(self) -> CentralStore:
        assert self.runtime is not None
        return self.runtime.service.store

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def add_key(self, name: str) -> str:
        key, key_hash = new_api_key()
        assert await self.store.add_key(name, key_hash, self.clock())
        return key

    async def answered(self, command: str, count: int = 1) -> None:
        """Until the server has answered ``count`` requests with this command."""
        async with self._answered:
            await self._answered.wait_for(lambda: self._answered_commands.count(command) >= count)

    def commands(self) -> list[str]:
        return [r.get("command", "") for r in self.requests]

    def queries(self, domain: str | None = None) -> list[str]:
        """The domains clients asked about (``query`` commands), in order."""
        return [
            r["domain"]
            for r in self.requests
            if r.get("command") == "query" and (domain is None or r.get("domain") == domain)
        ]

    async def post(
        self, body: Any, key: str | None, *, raw: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        headers = {**({"Authorization": f"Bearer {key}"} if key is not None else {}), **(headers or {})}
        data = raw if raw is not None else orjson.dumps(body)
        async with (
            aiohttp.ClientSession() as client,
            client.post(self.url + "/api", data=data, headers=headers) as resp,
        ):
            assert resp.headers["Content-Type"] == "application/json"
            return resp.status, orjson.loads(await resp.read())
