"""A local RDAP server that answers every domain after a fixed delay (the miss-storm upstream).

GET /domain/<name> -> a registry-shaped answer after --delay seconds; GET /count -> requests so far.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web
from registries import registry_answer

COUNT = 0


async def domain(request: web.Request) -> web.Response:
    global COUNT
    COUNT += 1
    await asyncio.sleep(request.app["delay"])
    return registry_answer(request.match_info["name"], "2026-11-01T00:00:00Z")


async def count(_request: web.Request) -> web.Response:
    return web.Response(text=str(COUNT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    app = web.Application()
    app["delay"] = args.delay
    app.router.add_get("/domain/{name}", domain)
    app.router.add_get("/count", count)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
