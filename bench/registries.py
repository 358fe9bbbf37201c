"""Loopback RDAP registries for bench/replay.py: one port per registry group, each with its own
latency range and its own rate limit (a 429 with Retry-After above it), counting what it sees.

    python bench/registries.py --spec 127.0.0.1:PORT:MIN_MS:MAX_MS:LIMIT ...

GET /domain/<name> -> a registry-shaped answer after a random latency in [MIN_MS, MAX_MS];
GET /stats -> {"requests": n, "rate_limited": n, "busiest_second": n} for that port.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import deque

import orjson
from aiohttp import web


def registry_answer(name: str) -> web.Response:
    """A registry-shaped RDAP answer: registered 2026-11-01, expiring a year later."""
    body = {
        "objectClassName": "domain",
        "ldhName": name,
        "events": [
            {"eventAction": "registration", "eventDate": "2026-11-01T00:00:00Z"},
            {"eventAction": "expiration", "eventDate": "2027-11-01T00:00:00Z"},
        ],
    }
    return web.Response(body=orjson.dumps(body), content_type="application/rdap+json")


class Registry:
    def __init__(self, low: float, high: float, limit: int) -> None:
        self.low, self.high, self.limit = low, high, limit
        self.requests = 0
        self.rate_limited = 0
        self.window: deque[float] = deque()
        self.per_second: dict[int, int] = {}

    async def domain(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        while self.window and now - self.window[0] >= 1.0:
            self.window.popleft()
        if len(self.window) >= self.limit:
            self.rate_limited += 1
            return web.Response(status=429, headers={"Retry-After": "1"})
        self.window.append(now)
        self.requests += 1
        second = int(time.time())
        self.per_second[second] = self.per_second.get(second, 0) + 1
        await asyncio.sleep(random.uniform(self.low, self.high))
        return registry_answer(request.match_info["name"])

    async def stats(self, _request: web.Request) -> web.Response:
        busiest = max(self.per_second.values(), default=0)
        doc = {"requests": self.requests, "rate_limited": self.rate_limited, "busiest_second": busiest}
        return web.Response(body=orjson.dumps(doc), content_type="application/json")


async def serve(specs: list[str]) -> None:
    runners = []
    for spec in specs:
        host, port, low, high, limit = spec.split(":")
        registry = Registry(float(low) / 1000, float(high) / 1000, int(limit))
        app = web.Application()
        app.router.add_get("/domain/{name}", registry.domain)
        app.router.add_get("/stats", registry.stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, int(port), backlog=2048).start()
        runners.append(runner)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", action="append", required=True, help="HOST:PORT:MIN_MS:MAX_MS:LIMIT")
    asyncio.run(serve(parser.parse_args().spec))


if __name__ == "__main__":
    main()
