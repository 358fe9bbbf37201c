"""Warm lookups on PostgreSQL: one instance against two instances sharing one database.

    .venv/bin/python bench/postgres.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Creates a throwaway database (domain_stats_bench) on that server, imports top1m.import into it,
starts instance A (one worker), primes 1,000 domains and drives it with wrk; then starts
instance B (one worker, same database), primes it and drives both at once with two wrk
processes of half the connections each. Prints both rates and their ratio (measured in the
same run). Each instance answers warm lookups from its own memory cache, so the database is
on the path only for first sightings: the ratio shows how far the instances scale without
stepping on each other (on a 2-core machine wrk and two instances share the same cores).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Proc, Result, free_port, get_json, run_wrk, wait_for_port

BENCH = Path(__file__).resolve().parent
SHARED = BENCH.parent.parent / "shared"
PYTHON = sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a server where the bench may create and drop the database domain_stats_bench",
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    base = args.postgres.rsplit("/", 1)[0]
    psql = ["psql", args.postgres, "-q", "-c"]
    subprocess.run([*psql, "DROP DATABASE IF EXISTS domain_stats_bench"], check=True)
    subprocess.run([*psql, "CREATE DATABASE domain_stats_bench"], check=True)
    url = f"{base}/domain_stats_bench"
    work = Path(tempfile.mkdtemp(prefix="domain-stats-pg-bench-"))
    cli = [PYTHON, "-m", "domain_stats"]
    names: list[str] = []
    top = SHARED / "data" / "top1m.import"
    instances: list[tuple[Proc, int]] = []
    try:
        for label in ("a", "b"):
            data = work / label
            data.mkdir()
            port = free_port()
            (data / "domain_stats.yaml").write_text(
                f"local_port: {port}\nlog_detail: 0\ndatabase_url: {url}\nrdap_bootstrap_refresh_url: ''\n"
                "starter_data: false\n"
            )
            if label == "a":
                Proc.check([*cli, "import", str(top), "--data", str(data)])
                names = _warm_names(top)
            proc = Proc.start(f"instance {label}", [*cli, "serve", str(data), "--workers", "1"], work / f"{label}.log")
            wait_for_port(port, proc, 60)
            instances.append((proc, port))
        warm = work / "warm.txt"
        warm.write_text("\n".join(names) + "\n")
        for _, port in instances:
            for _ in range(2):
                for name in names:
                    get_json(f"http://127.0.0.1:{port}/{name}")
        script = BENCH / "rotate.lua"
        one = run_wrk(
            f"http://127.0.0.1:{instances[0][1]}",
            script,
            [str(warm)],
            proc=instances[0][0],
            connections=args.connections,
            duration=args.duration,
        )
        halves: list[Result] = []

        def drive(proc: Proc, port: int) -> None:
            halves.append(
                run_wrk(
                    f"http://127.0.0.1:{port}",
                    script,
                    [str(warm)],
                    proc=proc,
                    threads=1,
                    connections=args.connections // 2,
                    duration=args.duration,
                )
            )

        threads = [threading.Thread(target=drive, args=instance) for instance in instances]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        two = sum(r.rate for r in halves)
        print(f"warm, PostgreSQL, 1 instance : {one.rate:>10,.0f} req/s  p99 {one.p99_ms:.2f} ms")
        print(f"warm, PostgreSQL, 2 instances: {two:>10,.0f} req/s  ({' + '.join(f'{r.rate:,.0f}' for r in halves)})")
        print(f"2 instances / 1 instance     : {two / one.rate:.2f}")
    finally:
        for proc, _ in instances:
            proc.stop()
        subprocess.run([*psql, "DROP DATABASE IF EXISTS domain_stats_bench"], check=False)


def _warm_names(top: Path) -> list[str]:
    import json

    domains = [entry["domain"] for entry in json.loads(top.read_text()) if isinstance(entry, dict)]
    random.Random(7).shuffle(domains)
    return [d for d in domains if d.count(".") == 1][:1000]


if __name__ == "__main__":
    main()
