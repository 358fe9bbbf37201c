"""Replay: a day of DNS logs at 2,000 lookups a second against slow, rate-limiting registries.

The issue's scenario, from a cold start: a Zipf stream over about 200,000 names - the packaged
starter set (its real creation dates, most of them past their expiry date, so each first ask
queues a background refresh), names imported as after a feed, and 5% never registered (the
registries answer 404) - sent open-loop at a fixed rate for a minute to ``serve --workers N``.
Names of .com, .net, .org and .info go to loopback RDAP registries (one per TLD, 100-300 ms of
latency, a limit of their own above ours); other TLDs have no server. Reports answer latency
(p50/p99/max), the share of transient ERROR answers by token over time, how long each distinct
name waited for a real answer (its dates, or RDAP-NOT-FOUND), what each registry saw against its
limit, and the pauses of the (healthy) registries. See bench/README.md.

    .venv/bin/python bench/replay.py            # about 2 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import gc
import gzip
import itertools
import json
import math
import os
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Proc, free_port, get_json, wait_for_port

from domain_stats.alerts import ONCE

BENCH = Path(__file__).resolve().parent
STARTER = BENCH.parent / "domain_stats" / "data" / "starter-domains.txt.gz"
#: Answers that are final for the name: its dates, or the registry saying it has none.
SETTLED = {None, "RDAP-NOT-FOUND"}
PYTHON = sys.executable
#: Registry groups: TLD -> (min ms, max ms, the registry's own limit a second).
REGISTRIES = {"com": (100, 200, 25), "net": (150, 250, 25), "org": (200, 300, 25), "info": (100, 300, 25)}
OUR_RATE = 20  # rdap_server_rate, the default: below each registry's limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", type=int, default=200_000, help="names in the stream's population")
    parser.add_argument("--never", type=float, default=0.05, help="share of names never registered")
    parser.add_argument(
        "--never-rank",
        choices=["tail", "anywhere"],
        default="tail",
        help="where never-registered names sit in popularity: the least asked (typing errors and "
        "generated names are asked rarely; the default), or anywhere (at random: the strict case)",
    )
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


def population(args: argparse.Namespace, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    """(every name by popularity rank, the starter set, the names to import)."""
    with gzip.open(STARTER, "rt") as fh:
        starter = [line.split(",")[1] for line in fh]
    tlds = list(REGISTRIES)
    never = [f"nx{n}.{tlds[n % len(tlds)]}" for n in range(int(args.names * args.never))]
    imported = [f"replay{n}.{tlds[n % len(tlds)]}" for n in range(args.names - len(starter) - len(never))]
    registered = starter + imported
    if args.never_rank == "tail":
        rng.shuffle(registered)
        rng.shuffle(never)
        names = registered + never
    else:
        names = registered + never
        rng.shuffle(names)  # popularity rank is independent of being known
    return names, starter, imported


def run(args: argparse.Namespace, work: Path, procs: list[Proc]) -> dict[str, Any]:
    rng = random.Random(11)
    names, starter, imported = population(args, rng)
    tlds = list(REGISTRIES)
    ports = {tld: free_port() for tld in tlds}
    specs = [f"127.0.0.1:{ports[t]}:{lo}:{hi}:{limit}" for t, (lo, hi, limit) in REGISTRIES.items()]
    registries = Proc.start(
        "registries",
        [
            PYTHON,
            str(BENCH / "registries.py"),
            "--dates",
            str(STARTER),
            *[a for spec in specs for a in ("--spec", spec)],
        ],
        work / "registries.log",
    )
    procs.append(registries)
    for port in ports.values():
        wait_for_port(port, registries, timeout=60)
    bootstrap = {
        "version": "1.0",
        "publication": "2026-11-29T00:00:00Z",
        "services": [[[t], [f"http://127.0.0.1:{ports[t]}/"]] for t in tlds],
    }
    (work / "bootstrap.json").write_text(json.dumps(bootstrap))
    data = work / "data"
    data.mkdir(exist_ok=True)
    port = free_port()
    # The starter set is loaded on the first start (the default); WHOIS stays off: nothing leaves
    # the machine, so the starter set's other TLDs have no server.
    (data / "domain_stats.yaml").write_text(
        f"local_port: {port}\nlog_detail: 0\nrdap_bootstrap: {work / 'bootstrap.json'}\n"
        f"rdap_bootstrap_refresh_url: ''\nrdap_server_rate: {OUR_RATE}\nwhois_packaged_map: false\n"
    )
    csv = work / "imported.csv"
    csv.write_text("".join(f"{n},2001-02-03 04:05:06,2099-01-01 00:00:00\n" for n in imported))
    cli = [PYTHON, "-m", "domain_stats"]
    Proc.check([*cli, "import", str(csv), "--data", str(data)])
    service = Proc.start("service", [*cli, "serve", str(data), "--workers", str(args.workers)], work / "service.log")
    procs.append(service)
    wait_for_port(port, service, timeout=120)

    weights = list(itertools.accumulate(1.0 / (rank + 1) ** args.zipf for rank in range(len(names))))
    stream = [names[bisect.bisect(weights, rng.random() * weights[-1])] for _ in range(args.rate * args.seconds)]
    gc.freeze()  # the load generator's own collections would pause it mid-measurement
    gc.disable()
    samples, lags = asyncio.run(replay(f"http://127.0.0.1:{port}", stream, args.rate))
    gc.enable()
    time.sleep(2)  # the workers' /metrics snapshots are written every second
    pauses = upstream_pauses(f"http://127.0.0.1:{port}/metrics")
    seen = {t: get_json(f"http://127.0.0.1:{ports[t]}/stats") for t in tlds}
    return {**summarise(args, samples, stream, set(starter), pauses, seen), "client_lag_ms": _lag(lags)}


def upstream_pauses(url: str) -> int:
    """Pauses of every upstream server in every worker, from the service's own /metrics."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "domain_stats_upstream_pauses"
            for sample in family.samples
            if sample.name.endswith("_total")
        )
    )


Sample = tuple[float, float, str | None]


async def replay(url: str, stream: list[str], rate: int) -> tuple[list[Sample], list[float]]:
    """Open loop: request i is sent at start + i / rate whatever the answers do. Returns, per request,
    (seconds since start it was sent, its latency, the token of an ERROR answer or None), and how
    late this process's own event loop ran a 10 ms sleep, every 10 ms (a busy load generator
    adds its own delay to every latency it measures)."""
    samples: list[Sample] = [(0.0, 0.0, None)] * len(stream)  # in the order of the stream
    lags: list[float] = []

    async def probe() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)

    connector = aiohttp.TCPConnector(limit=4000)
    prober = asyncio.ensure_future(probe())
    async with aiohttp.ClientSession(connector=connector) as client:

        async def one(i: int, name: str) -> None:
            sent = time.monotonic()
            async with client.get(f"{url}/{name}") as resp:
                answer = orjson.loads(await resp.read())
            samples[i] = (sent - start, time.monotonic() - sent, _error_token(answer))

        start = time.monotonic()
        tasks = []
        for i, name in enumerate(stream):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(i, name)))
        await asyncio.gather(*tasks)
    prober.cancel()
    return samples, lags


def _lag(lags: list[float]) -> dict[str, float]:
    ordered = sorted(lags) or [0.0]
    return {
        "p50": 1000 * ordered[len(ordered) // 2],
        "p99": 1000 * ordered[int(len(ordered) * 0.99)],
        "max": 1000 * ordered[-1],
    }


def _error_token(answer: dict[str, Any]) -> str | None:
    """Why an ERROR answer is one (its alert that is not a one-off such as a first contact); None
    for an answer with dates."""
    if answer.get("seen_by_web") != "ERROR":
        return None
    tokens = [alert.partition(":")[0] for alert in answer.get("alerts", [])]
    return next((token for token in tokens if token not in ONCE), "ERROR")


def summarise(
    args: argparse.Namespace,
    samples: list[Sample],
    stream: list[str],
    starter: set[str],
    pauses: int,
    seen: dict[str, Any],
) -> dict[str, Any]:
    latencies = sorted(latency for _, latency, _ in samples)
    windows: dict[int, list[str | None]] = {}
    for sent, _, token in samples:
        windows.setdefault(int(sent) // 10 * 10, []).append(token)
    transient = {
        f"{w}-{w + 9}s": {
            "share": sum(t not in SETTLED for t in tokens) / len(tokens),
            "by_token": dict(collections.Counter(t for t in tokens if t not in SETTLED).most_common()),
        }
        for w, tokens in sorted(windows.items())
    }
    # How long each distinct name waited, from its first ask, for an answer that is final for it.
    first_ask: dict[str, float] = {}
    settled_at: dict[str, float] = {}
    for name, (sent, latency, token) in zip(stream, samples, strict=True):
        first_ask.setdefault(name, sent)
        if token in SETTLED:
            settled_at[name] = min(settled_at.get(name, math.inf), sent + latency)
    waits = sorted(settled_at.get(name, math.inf) - asked for name, asked in first_ask.items())
    # Which answers took over 20 ms: by kind of name, and whether it was the name's first ask.
    slow: collections.Counter[str] = collections.Counter()
    asked: set[str] = set()
    for name, (_, latency, _) in zip(stream, samples, strict=True):
        kind = "never registered" if name.startswith("nx") else "starter" if name in starter else "imported"
        if latency > 0.02:
            slow[f"{kind}, {'later ask' if name in asked else 'first ask'}"] += 1
        asked.add(name)
    distinct = set(stream)
    return {
        "lookups": len(samples),
        "sent_per_second": len(samples) / max(1e-9, max(s for s, _, _ in samples)),
        "distinct_names": len(distinct),
        "distinct_starter": len(distinct & starter),
        "distinct_never_registered": sum(name.startswith("nx") for name in distinct),
        "never_registered_lookups": sum(name.startswith("nx") for name in stream),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "max_ms": 1000 * latencies[-1],
        "over_20ms": sum(latency > 0.02 for latency in latencies),
        "over_1500ms": sum(latency > 1.5 for latency in latencies),
        "over_20ms_by_kind": dict(slow.most_common()),
        "transient_error_share": transient,
        "wait_for_final_answer_s": {
            "p50": waits[len(waits) // 2],
            "p99": waits[int(len(waits) * 0.99)],
            "never_in_the_run": sum(w == math.inf for w in waits),
        },
        "registries": {t: {**seen[t], "limit": REGISTRIES[t][2], "ours": OUR_RATE} for t in seen},
        "pauses": pauses,
    }


def _tokens(counts: dict[str, int]) -> str:
    return ", ".join(f"{token} {n}" for token, n in counts.items())


def report(r: dict[str, Any]) -> str:
    waits = r["wait_for_final_answer_s"]
    lines = [
        f"lookups {r['lookups']:,} at {r['sent_per_second']:,.0f}/s; {r['distinct_names']:,} distinct names "
        f"({r['distinct_starter']:,} of the starter set, {r['distinct_never_registered']:,} never registered, "
        f"asked {r['never_registered_lookups']:,} times)",
        f"latency p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms (target < 20; {r['over_20ms']:,} answers "
        f"over 20 ms), max {r['max_ms']:.0f} ms (target < 1500; {r['over_1500ms']} answers over it)",
        "answers over 20 ms: " + _tokens(r["over_20ms_by_kind"]),
        "transient ERROR share by 10 s: "
        + ", ".join(
            f"{k} {v['share']:.1%}"
            + (f" ({', '.join(f'{t} {n}' for t, n in v['by_token'].items())})" if v["by_token"] else "")
            for k, v in r["transient_error_share"].items()
        ),
        f"wait from a name's first ask to its final answer (dates or RDAP-NOT-FOUND): p50 {waits['p50']:.2f} s, "
        f"p99 {waits['p99']:.2f} s; {waits['never_in_the_run']} names without one by the end",
        f"pauses: {r['pauses']} (a healthy registry: 0)",
        f"the load generator's own loop lag: p50 {r['client_lag_ms']['p50']:.1f} ms, "
        f"p99 {r['client_lag_ms']['p99']:.1f} ms, max {r['client_lag_ms']['max']:.0f} ms",
    ]
    for tld, seen in r["registries"].items():
        lines.append(
            f"registry .{tld}: {seen['requests']:,} requests ({seen['not_found']:,} not found), busiest second "
            f"{seen['busiest_second']} (ours {seen['ours']}/s, its limit {seen['limit']}/s), "
            f"429s {seen['rate_limited']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
