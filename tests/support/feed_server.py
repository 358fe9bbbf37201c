"""Update feeds for tests: written to a directory, and served over HTTP on 127.0.0.1.

The server serves the directory as it is and records each path asked; it can be told to cut
a file short (it promises the whole length, sends part, and drops the connection), to send a
file as a body that never ends, or as a small gzip body that decodes to far more than it is.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import orjson
from aiohttp import web


def write_feed(
    directory: Path,
    files: dict[str, str],
    *,
    version: str | None = None,
    min_client: str = "0.1",
    sums: dict[str, str] | None = None,
) -> Path:
    """Write feed files (``{"1/1.txt": "+,a.com,...\\n"}``) and a version.json naming the last one."""
    directory.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        digests[name] = hashlib.sha256(text.encode()).hexdigest()
    digests.update(sums or {})
    if version is None:
        last = max(files, key=lambda n: tuple(int(x) for x in n.removesuffix(".txt").split("/")))
        version = last.removesuffix(".txt").replace("/", ".")
    index = {"database_version": version, "min_client_version": min_client, "sha256": digests}
    (directory / "version.json").write_bytes(orjson.dumps(index))
    return directory


class FeedTestServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.requests: list[str] = []
        self.cut: dict[str, int] = {}  # name -> bytes sent before the connection drops
        self.endless: set[str] = set()  # names whose body never ends
        self.bombs: dict[str, int] = {}  # name -> decoded size of the gzip body sent instead
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FeedTestServer:
        app = web.Application()
        app.router.add_get("/{name:.+}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/feed"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"].removeprefix("feed/")
        self.requests.append(name)
        if name in self.endless:
            return await _endless(request)
        if name in self.bombs:
            body = gzip.compress(b"+" * self.bombs[name], compresslevel=9)
            return web.Response(body=body, headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"})
        path = self.directory / name
        if not path.is_file():
            return web.Response(status=404, text="not found")
        data = path.read_bytes()
        if name not in self.cut:
            return web.Response(body=data, content_type="text/plain")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[: self.cut[name]])
        assert request.transport is not None
        request.transport.close()
        return response


async def _endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    line = b"+,endless.com,2001-01-01 00:00:00,\n" * 2000
    while True:  # until the client goes away (the write then fails)
        await response.write(line)
