"""A local RDAP server that answers every domain after a fixed delay (the miss-storm upstream).

GET /domain/<name> -> a registry-shaped answer after --delay seconds; GET /count -> requests so far.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from aiohttp import web

COUNT = 0


async def domain(request: web.Request) -> web.Response:
    global COUNT
    COUNT += 1
    await asyncio.sleep(request.app["delay"])
    name = request.match_info["name"]
    body = {
        "objectClassName": "domain",
        "ldhName": name,
        "events": [
            {"eventAction": "registration", "eventDate": "2026-11-01T00:00:00Z"},
            {"eventAction": "expiration", "eventDate": "2027-11-01T00:00:00Z"},
        ],
    }
    return web.Response(body=orjson.dumps(body), content_type="application/rdap+json")


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
