"""Replay: a day of DNS logs at 2,000 lookups a second against slow, rate-limiting registries.

A Zipf stream over 200,000 names (most known locally, as after the starter set and a feed; the
rest new), sent open-loop at a fixed rate for a minute to ``serve --workers N``, whose unknown
names go to loopback RDAP registries (one per registry group, each with 100-300 ms latency and
its own rate limit above ours). Reports the answer latency (p50/p99/max), the share of ERROR
answers over time, how long until 99% of answers are real, what each registry saw against its
limit, and the service's pauses (a healthy registry is never paused). See bench/README.md.

    .venv/bin/python bench/replay.py            # about 2 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Proc, free_port, get_json, wait_for_port

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
#: Registry groups: TLD -> (min ms, max ms, the registry's own limit a second).
REGISTRIES = {"com": (100, 200, 25), "net": (150, 250, 25), "org": (200, 300, 25), "info": (100, 300, 25)}
OUR_RATE = 20  # rdap_server_rate, the default: below each registry's limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", type=int, default=200_000)
    parser.add_argument("--known", type=float, default=0.8, help="share of names already in the database")
    parser.add_argument("--rate", type=int, default=2000, help="lookups a second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent of name popularity")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="domain-stats-replay-"))
    work.mkdir(parents=True, exist_ok=True)
    procs: list[Proc] = []
    try:
        results = run(args, work, procs)
    finally:
        for proc in reversed(procs):
            proc.stop()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def run(args: argparse.Namespace, work: Path, procs: list[Proc]) -> dict[str, Any]:
    rng = random.Random(11)
    tlds = list(REGISTRIES)
    names = [f"replay{n}.{tlds[n % len(tlds)]}" for n in range(args.names)]
    rng.shuffle(names)  # popularity rank is independent of being known
    known = set(rng.sample(names, int(len(names) * args.known)))

    ports = {tld: free_port() for tld in tlds}
    specs = [f"127.0.0.1:{ports[t]}:{lo}:{hi}:{limit}" for t, (lo, hi, limit) in REGISTRIES.items()]
    registries = Proc.start(
        "registries",
        [PYTHON, str(BENCH / "registries.py"), *[arg for spec in specs for arg in ("--spec", spec)]],
        work / "registries.log",
    )
    procs.append(registries)
    for port in ports.values():
        wait_for_port(port, registries, timeout=30)
    bootstrap = {
        "version": "1.0",
        "publication": "2026-11-29T00:00:00Z",
        "services": [[[t], [f"http://127.0.0.1:{ports[t]}/"]] for t in tlds],
    }
    (work / "bootstrap.json").write_text(json.dumps(bootstrap))
    data = work / "data"
    data.mkdir(exist_ok=True)
    port = free_port()
    (data / "domain_stats.yaml").write_text(
        f"local_port: {port}\nlog_detail: 0\nstarter_data: false\nrdap_bootstrap: {work / 'bootstrap.json'}\n"
        f"rdap_bootstrap_refresh_url: ''\nrdap_server_rate: {OUR_RATE}\n"
    )
    csv = work / "known.csv"
    csv.write_text("".join(f"{n},2001-02-03 04:05:06,2099-01-01 00:00:00\n" for n in known))
    cli = [PYTHON, "-m", "domain_stats"]
    Proc.check([*cli, "import", str(csv), "--data", str(data)])
    service = Proc.start("service", [*cli, "serve", str(data), "--workers", str(args.workers)], work / "service.log")
    procs.append(service)
    wait_for_port(port, service, timeout=120)

    weights = list(itertools.accumulate(1.0 / (rank + 1) ** args.zipf for rank in range(len(names))))
    stream = [names[bisect.bisect(weights, rng.random() * weights[-1])] for _ in range(args.rate * args.seconds)]
    samples = asyncio.run(replay(f"http://127.0.0.1:{port}", stream, args.rate))
    stats = get_json(f"http://127.0.0.1:{port}/stats")
    seen = {t: get_json(f"http://127.0.0.1:{ports[t]}/stats") for t in tlds}
    return summarise(args, samples, stream, known, stats, seen)


async def replay(url: str, stream: list[str], rate: int) -> list[tuple[float, float, bool]]:
    """Open loop: request i is sent at start + i / rate whatever the answers do. Returns, per request,
    (seconds since start it was sent, its latency, whether the answer was ERROR)."""
    samples: list[tuple[float, float, bool]] = []
    connector = aiohttp.TCPConnector(limit=4000)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def one(name: str) -> None:
            sent = time.monotonic()
            async with client.get(f"{url}/{name}") as resp:
                body = await resp.read()
            samples.append((sent - start, time.monotonic() - sent, b'"seen_by_web":"ERROR"' in body))

        start = time.monotonic()
        tasks = []
        for i, name in enumerate(stream):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(name)))
        await asyncio.gather(*tasks)
    return samples


def summarise(
    args: argparse.Namespace,
    samples: list[tuple[float, float, bool]],
    stream: list[str],
    known: set[str],
    stats: dict[str, Any],
    seen: dict[str, Any],
) -> dict[str, Any]:
    latencies = sorted(latency for _, latency, _ in samples)
    buckets: dict[int, list[bool]] = {}
    for sent, _, error in samples:
        buckets.setdefault(int(sent), []).append(error)
    error_share = {second: sum(errors) / len(errors) for second, errors in sorted(buckets.items())}
    real_from = next((s for s in error_share if all(share <= 0.01 for t, share in error_share.items() if t >= s)), None)
    servers = stats.get("rdap", {}).get("servers", {})
    new_names = {n for n in stream if n not in known}
    return {
        "lookups": len(samples),
        "sent_per_second": len(samples) / max(1e-9, max(s for s, _, _ in samples)),
        "distinct_names": len(set(stream)),
        "distinct_new_names": len(new_names),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "max_ms": 1000 * latencies[-1],
        "over_1500ms": sum(latency > 1.5 for latency in latencies),
        "error_share_by_10s": {
            f"{s}-{s + 9}s": round(sum(error_share.get(t, 0) for t in range(s, s + 10)) / 10, 4)
            for s in range(0, args.seconds, 10)
        },
        "seconds_to_99pct_real": real_from,
        "registries": {t: {**seen[t], "limit": REGISTRIES[t][2], "ours": OUR_RATE} for t in seen},
        "pauses": sum(line["pauses"] for line in servers.values()),
        "failure_pauses_now": sum(line["pause_reason"] == "failures" for line in servers.values()),
        "queued_answers_worker": stats.get("background", {}).get("queued_answers"),
    }


def report(r: dict[str, Any]) -> str:
    lines = [
        f"lookups {r['lookups']:,} at {r['sent_per_second']:,.0f}/s; {r['distinct_names']:,} distinct names, "
        f"{r['distinct_new_names']:,} of them new",
        f"latency p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms (target < 20), max {r['max_ms']:.0f} ms "
        f"(target < 1500; {r['over_1500ms']} answers over it)",
        "ERROR share by 10 s: " + ", ".join(f"{k} {v:.1%}" for k, v in r["error_share_by_10s"].items()),
        f"99% real answers from second {r['seconds_to_99pct_real']}",
        f"pauses: {r['pauses']} (a healthy registry: 0)",
    ]
    for tld, seen in r["registries"].items():
        lines.append(
            f"registry .{tld}: {seen['requests']:,} requests, busiest second {seen['busiest_second']} "
            f"(ours {seen['ours']}/s, its limit {seen['limit']}/s), 429s {seen['rate_limited']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
