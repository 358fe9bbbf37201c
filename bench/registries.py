"""Loopback RDAP registries for bench/replay.py: one port per registry group, each with its own
latency range and its own rate limit (a 429 with Retry-After above it), counting what it sees.

    python bench/registries.py --spec 127.0.0.1:PORT:MIN_MS:MAX_MS:LIMIT ... [--dates FILE]

GET /domain/<name> -> after a random latency in [MIN_MS, MAX_MS]: 404 for a name whose first
label starts with ``nx`` (never registered), the creation date ``--dates`` gives for the name
(the starter set's file: a refresh finds the date it had), else 2001-02-03; expiring 2027-11-01.
GET /stats -> {"requests": n, "rate_limited": n, "busiest_second": n, "not_found": n} for that port.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import time
from collections import deque
from pathlib import Path

import orjson
from aiohttp import web


def registry_answer(name: str, created: str) -> web.Response:
    """A registry-shaped RDAP answer, expiring 2027-11-01."""
    body = {
        "objectClassName": "domain",
        "ldhName": name,
        "events": [
            {"eventAction": "registration", "eventDate": created},
            {"eventAction": "expiration", "eventDate": "2027-11-01T00:00:00Z"},
        ],
    }
    return web.Response(body=orjson.dumps(body), content_type="application/rdap+json")


def creation_dates(path: Path | None) -> dict[str, str]:
    """Name -> RDAP creation date, from a starter-set file (``+,name,created,expires`` lines, gzip)."""
    if path is None:
        return {}
    dates = {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            _, name, created, _ = line.rstrip("\n").split(",")
            dates[name] = created.replace(" ", "T") + "Z"
    return dates


class Registry:
    def __init__(self, low: float, high: float, limit: int, dates: dict[str, str]) -> None:
        self.low, self.high, self.limit = low, high, limit
        self.dates = dates
        self.requests = 0
        self.not_found = 0
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
        name = request.match_info["name"].lower()
        if name.startswith("nx"):
            self.not_found += 1
            return web.Response(status=404)
        return registry_answer(name, self.dates.get(name, "2001-02-03T04:05:06Z"))

    async def stats(self, _request: web.Request) -> web.Response:
        busiest = max(self.per_second.values(), default=0)
        doc = {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "busiest_second": busiest,
            "not_found": self.not_found,
        }
        return web.Response(body=orjson.dumps(doc), content_type="application/json")


async def serve(specs: list[str], dates: dict[str, str]) -> None:
    runners = []
    for spec in specs:
        host, port, low, high, limit = spec.split(":")
        registry = Registry(float(low) / 1000, float(high) / 1000, int(limit), dates)
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
    parser.add_argument("--dates", type=Path, help="a starter-set file: the creation dates to answer")
    args = parser.parse_args()
    asyncio.run(serve(args.spec, creation_dates(args.dates)))


if __name__ == "__main__":
    main()
