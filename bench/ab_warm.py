"""Warm lookups of two checkouts side by side, in alternating rounds: is a change a regression?

One ``bench/run.py`` run measures warm GETs once; this machine's speed moves by up to 40% within
minutes, so a before/after comparison of the request path needs both in the same minutes.
Each checkout serves a data directory of its own (the starter set, ``--workers 2``) from its own
virtualenv; ``wrk -t2 -c50`` asks each in turn for ``--rounds`` rounds of ``--duration`` s over
the starter set's first 1,000 names (answered from memory after the warm-up pass).

    python bench/ab_warm.py /path/to/before /path/to/after --rounds 8

Each checkout needs ``.venv/bin/domain-stats`` (``python3 -m venv .venv && .venv/bin/pip install -e .``).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.harness import Proc, free_port, run_wrk, wait_for_port  # noqa: E402


def serve(root: Path, work: Path, label: str, names: Path) -> tuple[Proc, str]:
    data = work / label
    data.mkdir(mode=0o700)
    port = free_port()
    (data / "domain_stats.yaml").write_text(f"local_port: {port}\nrdap_bootstrap_refresh_url: ''\n")
    command = [str(root / ".venv" / "bin" / "domain-stats"), "serve", str(data), "--workers", "2"]
    proc = Proc.start(label, command, work / f"{label}.log")
    wait_for_port(port, proc, 120)
    url = f"http://127.0.0.1:{port}"
    run_wrk(url, BENCH / "rotate.lua", [str(names)], threads=2, connections=50, duration=3)  # warm-up
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--duration", type=int, default=6)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="domain-stats-ab-"))
    names = work / "names.txt"
    names.write_text("\n".join(_starter_names(BENCH.parent / "domain_stats" / "data", 1000)) + "\n")
    servers = {
        label: serve(root, work, label, names) for label, root in (("before", args.before), ("after", args.after))
    }
    rates: dict[str, list[float]] = {label: [] for label in servers}
    try:
        for round_ in range(args.rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for label in order:
                _, url = servers[label]
                result = run_wrk(url, BENCH / "rotate.lua", [str(names)], duration=args.duration)
                rates[label].append(result.rate)
                print(f"round {round_ + 1} {label:<6} {result.rate:>10,.0f} req/s", flush=True)
    finally:
        for proc, _ in servers.values():
            proc.stop()
    before, after = (statistics.median(rates[label]) for label in ("before", "after"))
    print(f"median: before {before:,.0f} req/s, after {after:,.0f} req/s, after/before {after / before:.3f}")
    spread = max(max(r) / min(r) for r in rates.values())
    print(f"round-to-round spread (max/min within one checkout): {spread:.2f}")


def _starter_names(data: Path, count: int) -> list[str]:
    names = []
    with gzip.open(data / "starter-domains.txt.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            fields = line.split(",")
            if len(fields) >= 2 and fields[0] == "+":
                names.append(fields[1].strip())
            if len(names) >= count:
                break
    return names


if __name__ == "__main__":
    main()
