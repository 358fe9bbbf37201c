"""One command, one machine, one table: nginx (the HTTP ceiling), the original domain_stats
1.0.1, and domain-stats, driven by the same wrk script; every figure also as a ratio to the
ceiling and to the original measured in the same run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    Proc,
    Result,
    free_port,
    get_json,
    post_json,
    rss_of_tree,
    run_wrk,
    wait_for_port,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SHARED = ROOT.parent / "shared"
PYTHON = sys.executable

FIXED_BODY = (
    '{"seen_by_web":"1997-09-15 04:00:00","seen_by_isc":"NA","seen_by_you":"2026-11-27 15:30:02",'
    '"category":"ESTABLISHED","alerts":[]}'
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--records", type=int, default=1_000_000, help="synthetic records to import (and to cache)")
    parser.add_argument("--skip-original", action="store_true")
    parser.add_argument("--work", type=Path, help="working directory (default: a new temporary one)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is missing: apt-get install -y wrk nginx-light")
    if not (SHARED / "data" / "top1m.import").exists():
        sys.exit(f"{SHARED}/data/top1m.import is missing")
    work = args.work or Path(tempfile.mkdtemp(prefix="domain-stats-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work directory: {work}", flush=True)
    bench = Bench(args, work)
    try:
        bench.run()
    finally:
        bench.stop_all()
    bench.report()


def _zeek_value(value: object) -> str:
    """A value as Zeek's ASCII log writes it."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.results: list[Result] = []
        self.procs: list[Proc] = []
        self.notes: list[str] = []
        self.wrk = dict(threads=args.threads, connections=args.connections, duration=args.duration)

    # -- orchestration ---------------------------------------------------------------------
    def run(self) -> None:
        top = json.loads((SHARED / "data" / "top1m.import").read_text())
        live = [r["domain"] for r in top if r["expires"] > time.time() + 86400 and r["domain"].count(".") == 1]
        random.Random(7).shuffle(live)
        warm = self.write_list("warm.txt", live[:1000])
        warm_set = set(live[:1000])
        rest = [r["domain"] for r in top if r["domain"].count(".") == 1 and r["domain"] not in warm_set]
        original_first = self.write_list("original-first.txt", rest)

        self.run_ceiling(warm)
        if not self.args.skip_original:
            self.run_original(warm, original_first)
        self.run_ours(warm)

    def write_list(self, name: str, names: list[str]) -> Path:
        path = self.work / name
        path.write_text("\n".join(names) + "\n")
        return path

    def start(self, name: str, cmd: list[str], port: int, **kwargs) -> Proc:
        proc = Proc.start(name, cmd, self.work / f"{name}.log", **kwargs)
        self.procs.append(proc)
        wait_for_port(port, proc, timeout=120)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def measure(
        self,
        scenario: str,
        system: str,
        proc: Proc | None,
        url: str,
        script: str,
        *script_args: str,
        connections: int | None = None,
        unit: str = "req/s",
        per_request: int = 1,
    ) -> Result:
        result = run_wrk(
            url,
            BENCH / script,
            list(script_args),
            proc=proc,
            **{**self.wrk, **({"connections": connections} if connections else {})},
        )
        result.scenario, result.system, result.unit = scenario, system, unit
        result.rate *= per_request
        self.results.append(result)
        print(
            f"  {scenario:<12} {system:<14} {result.rate:>12,.0f} {unit}  p50 {result.p50_ms:.2f} ms"
            f"  p99 {result.p99_ms:.2f} ms  peak RSS {result.peak_rss_mb:.0f} MB",
            flush=True,
        )
        return result

    # -- the HTTP ceiling --------------------------------------------------------------------
    def run_ceiling(self, warm: Path) -> None:
        print("nginx (fixed JSON answer):", flush=True)
        port = free_port()
        root = self.work / "nginx"
        root.mkdir(exist_ok=True)
        conf = root / "nginx.conf"
        conf.write_text(f"""
worker_processes {self.args.workers};
pid {root}/nginx.pid;
error_log {root}/error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}; proxy_temp_path {root}; fastcgi_temp_path {root};
  uwsgi_temp_path {root}; scgi_temp_path {root};
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{FIXED_BODY}'; }}
  }}
}}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        proc = self.start("nginx", [nginx, "-c", str(conf)], port)
        url = f"http://127.0.0.1:{port}"
        self.measure("warm", "nginx", proc, url, "rotate.lua", str(warm))
        proc.stop()

    # -- the original tool -------------------------------------------------------------------
    def run_original(self, warm: Path, first: Path) -> None:
        print("original domain_stats 1.0.1:", flush=True)
        venv = self.work / "original-venv"
        if not (venv / "bin" / "domain-stats").exists():
            Proc.check([PYTHON, "-m", "venv", str(venv)])
            Proc.check([str(venv / "bin" / "pip"), "install", "-q", "domain-stats==1.0.1", "python-whois"])
        data = self.work / "original-data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        # Its setup asks 15 questions and then "Commit Changes to disk?": take every default.
        Proc.check([str(venv / "bin" / "domain-stats-settings"), str(data)], stdin="\n" * 15 + "y\n")
        port = free_port()
        for name in ("domain_stats.yaml", "gunicorn_config.py"):
            path = data / name
            path.write_text(path.read_text().replace("5730", str(port)))
        started = time.monotonic()
        Proc.check(
            [str(venv / "bin" / "domain-stats-utils"), "-i", str(SHARED / "data" / "top1m.import"), "-nx", str(data)]
        )
        seconds = time.monotonic() - started
        count = len(json.loads((SHARED / "data" / "top1m.import").read_text()))
        self.results.append(Result("import", "original", count / seconds, unit="records/s"))
        print(f"  import       original       {count / seconds:>12,.0f} records/s ({count} records)", flush=True)
        proc = self.start("original", [str(venv / "bin" / "domain-stats"), str(data)], port)
        url = f"http://127.0.0.1:{port}"
        # First sight first (names it imported, never asked), then prime and measure warm.
        self.measure("first sight", "original", proc, url, "rotate.lua", str(first), "unique")
        self.prime(url, warm, rounds=1, concurrency=self.args.connections)
        self.measure("warm", "original", proc, url, "rotate.lua", str(warm))
        self.notes.append(
            "original: miss storm and batch not measured (its RDAP client asks rdap.net on the "
            "internet and cannot be pointed at a local server; it has no batch endpoint); "
            "memory not measured (its cache is on disk)"
        )
        proc.stop()

    def prime(self, url: str, names_file: Path, rounds: int, concurrency: int) -> None:
        """Ask every name ``rounds`` times (on new connections, so every worker sees most of them)."""
        import concurrent.futures

        names = [n for n in names_file.read_text().split() if n] * rounds
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda name: get_json(f"{url}/{name}"), names))

    # -- domain-stats ------------------------------------------------------------------------
    def run_ours(self, warm: Path) -> None:
        print(f"domain-stats ({self.args.workers} workers):", flush=True)
        rdap_port = free_port()
        rdap = self.start(
            "slow-rdap", [PYTHON, str(BENCH / "slow_rdap.py"), "--port", str(rdap_port), "--delay", "0.05"], rdap_port
        )
        data = self.work / "ours-data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        bootstrap = self.work / "bootstrap.json"
        tlds = json.loads((ROOT / "domain_stats" / "data" / "iana-dns-bootstrap.json").read_text())["services"]
        all_tlds = sorted({t for entry in tlds for t in entry[0]})
        bootstrap.write_text(
            json.dumps({"publication": "bench", "services": [[all_tlds, [f"http://127.0.0.1:{rdap_port}/"]]]})
        )
        port = free_port()
        concurrency = 10
        (data / "domain_stats.yaml").write_text(
            f"local_port: {port}\nlog_detail: 0\nrdap_bootstrap: {bootstrap}\nrdap_bootstrap_refresh_url: ''\n"
            f"cached_max_items: {self.args.records + 100_000}\nrdap_server_concurrency: {concurrency}\n"
            f"rdap_server_rate: 100000\nrdap_timeout_seconds: 30\n"
        )
        cli = [PYTHON, "-m", "domain_stats"]
        Proc.check([*cli, "import", str(SHARED / "data" / "top1m.import"), "--data", str(data)])

        synthetic = self.work / "synthetic.csv"
        first_names = [f"first-{i:07d}-bench.com" for i in range(self.args.records)]
        with open(synthetic, "w") as fh:
            for i, name in enumerate(first_names):
                fh.write(f"{name},2015-01-01 00:00:{i % 60:02d},2099-01-01 00:00:00\n")
        started = time.monotonic()
        Proc.check([*cli, "import", str(synthetic), "--data", str(data)])
        seconds = time.monotonic() - started
        rate = self.args.records / seconds
        self.results.append(Result("import", "domain-stats", rate, unit="records/s"))
        print(f"  import       domain-stats   {rate:>12,.0f} records/s ({self.args.records} records)", flush=True)
        self.apply_feed(cli)
        first = self.write_list("first.txt", first_names)

        proc = self.start("domain-stats", [*cli, "serve", str(data), "--workers", str(self.args.workers)], port)
        url = f"http://127.0.0.1:{port}"
        self.prime(url, warm, rounds=3, concurrency=self.args.connections)
        plain = self.measure("warm", "domain-stats", proc, url, "rotate.lua", str(warm))
        self.measure("first sight", "domain-stats", proc, url, "rotate.lua", str(first), "unique")
        self.miss_storm(url, proc, warm, rdap_port, concurrency, plain)
        body = self.work / "batch.json"
        body.write_text(json.dumps(warm.read_text().split()))
        self.measure(
            "batch",
            "domain-stats",
            proc,
            url,
            "batch.lua",
            str(body),
            connections=8,
            unit="names/s",
            per_request=len(warm.read_text().split()),
        )
        self.enrich(cli, url, warm)
        proc.stop()
        rdap.stop()
        self.memory(cli, data, port, first_names)

    def enrich(self, cli: list[str], url: str, warm: Path, lines: int = 1_000_000) -> None:
        """``domain-stats enrich`` of a DNS log through the warm service: Zeek TSV, Zeek JSON, plain names.

        The log asks the warm names with a Zipf(1) skew, as real DNS traffic repeats its top names.
        """
        names = warm.read_text().split()
        picks = random.Random(11).choices(names, weights=[1 / (i + 1) for i in range(len(names))], k=lines)
        header = (ROOT / "tests" / "enrich" / "samples" / "dns.log").read_text().split("\n1796", 1)[0] + "\n"
        logs = {"zeek": self.work / "dns.log", "json": self.work / "dns.json", "names": self.work / "names.log"}
        with open(logs["zeek"], "w") as tsv, open(logs["json"], "w") as js, open(logs["names"], "w") as plain:
            tsv.write(header)
            for i, name in enumerate(picks):
                row = {
                    "ts": 1796032800 + i / 1e6, "uid": f"C{i:017d}", "id.orig_h": f"10.0.{i % 256}.5",
                    "id.orig_p": 1024 + i % 60000, "id.resp_h": "10.0.0.53", "id.resp_p": 53, "proto": "udp",
                    "trans_id": i % 65536, "rtt": 0.012417, "query": name, "qclass": 1, "qclass_name": "C_INTERNET",
                    "qtype": 1, "qtype_name": "A", "rcode": 0, "rcode_name": "NOERROR", "AA": False, "TC": False,
                    "RD": True, "RA": True, "Z": 0, "answers": ["93.184.216.34"], "TTLs": [86400.0],
                    "rejected": False,
                }  # fmt: skip
                tsv.write("\t".join(_zeek_value(v) for v in row.values()) + "\n")
                js.write(json.dumps(row, separators=(",", ":")) + "\n")
                plain.write(name + "\n")
        # The default (one reading process per core), and Zeek TSV read in one process as the
        # baseline of the same run.
        runs = [(f"enrich {kind}", log, []) for kind, log in logs.items()]
        runs.append(("enrich zeek/1", logs["zeek"], ["--jobs", "1"]))
        for scenario, log, options in runs:
            started = time.monotonic()
            Proc.check([*cli, "enrich", str(log), "--url", url, "-o", os.devnull, *options])
            rate = lines / (time.monotonic() - started)
            self.results.append(Result(scenario, "domain-stats", rate, unit="lines/s"))
            print(f"  {scenario:<13} domain-stats   {rate:>12,.0f} lines/s ({lines:,} lines)", flush=True)

    def apply_feed(self, cli: list[str]) -> None:
        """``db update`` of a feed file of --records lines into a new database: rate and the process's peak RSS."""
        feed = self.work / "feed"
        shutil.rmtree(feed, ignore_errors=True)
        (feed / "1").mkdir(parents=True)
        digest = hashlib.sha256()
        with open(feed / "1" / "1.txt", "wb") as fh:
            for i in range(self.args.records):
                line = f"+,feed-{i:07d}-bench.com,2014-01-01 00:00:{i % 60:02d},2099-01-01 00:00:00\n".encode()
                fh.write(line)
                digest.update(line)
        (feed / "version.json").write_text(
            json.dumps(
                {"database_version": "1.1", "min_client_version": "0.1", "sha256": {"1/1.txt": digest.hexdigest()}}
            )
        )
        data = self.work / "apply-data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        (data / "domain_stats.yaml").write_text("log_detail: 0\nstarter_data: false\n")
        started = time.monotonic()
        # A child's peak RSS counts what it had before exec, and a child of this benchmark (a
        # million names in memory) starts at this process's size: a small launcher process runs
        # the command instead and reports the command's own peak.
        launcher = (
            "import os, subprocess, sys; "
            "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "_, status, usage = os.wait4(child.pid, 0); print(usage.ru_maxrss); "
            "sys.exit(os.waitstatus_to_exitcode(status))"
        )
        child = subprocess.Popen(
            [PYTHON, "-c", launcher, *cli, "db", "update", "--from", str(feed), "--data", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        peak_kb = int(child.communicate()[0] or 0)
        seconds = time.monotonic() - started
        if child.returncode != 0:
            raise SystemExit("db update of the synthetic feed failed")
        rate = self.args.records / seconds
        self.results.append(Result("apply feed", "domain-stats", rate, unit="records/s", peak_rss_mb=peak_kb / 1024))
        print(
            f"  apply feed   domain-stats   {rate:>12,.0f} records/s ({self.args.records} lines, "
            f"peak RSS {peak_kb / 1024:.0f} MB)",
            flush=True,
        )

    def miss_storm(self, url: str, proc: Proc, warm: Path, rdap_port: int, concurrency: int, plain: Result) -> None:
        import concurrent.futures

        misses = self.write_list("misses.txt", [f"miss-{i:07d}-bench.net" for i in range(200_000)])
        before = int(get_json(f"http://127.0.0.1:{rdap_port}/count"))
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            storm = pool.submit(run_wrk, url, BENCH / "rotate.lua", [str(misses), "unique"], proc=proc, **self.wrk)
            time.sleep(0.5)  # let the storm build up before measuring warm beside it
            beside = run_wrk(
                url,
                BENCH / "rotate.lua",
                [str(warm)],
                proc=None,
                **{**self.wrk, "duration": max(2, self.args.duration - 1)},
            )
            storm_result = storm.result()
        upstream = (int(get_json(f"http://127.0.0.1:{rdap_port}/count")) - before) / storm_result.seconds
        ceiling = self.args.workers * max(1, concurrency // self.args.workers) / 0.05  # the service's limit, shared
        storm_result.scenario, storm_result.system, storm_result.unit = "miss storm", "domain-stats", "req/s"
        storm_result.extra = {
            "upstream_per_s": upstream,
            "upstream_limit_per_s": ceiling,
            "upstream_ratio": upstream / ceiling,
        }
        beside.scenario, beside.system = "warm beside", "domain-stats"
        beside.extra = {"ratio_to_plain_warm": beside.rate / plain.rate}
        self.results += [storm_result, beside]
        print(
            f"  miss storm   domain-stats   upstream {upstream:,.0f}/s of {ceiling:,.0f}/s possible "
            f"({upstream / ceiling:.0%}); warm beside it {beside.rate:,.0f} req/s "
            f"({beside.rate / plain.rate:.0%} of plain warm)",
            flush=True,
        )

    def memory(self, cli: list[str], data: Path, port: int, names: list[str]) -> None:
        """RSS of one worker holding ``len(names)`` domains in its memory cache."""
        proc = self.start("memory", [*cli, "serve", str(data)], port)
        url = f"http://127.0.0.1:{port}"
        for i in range(0, 20_000, 10_000):  # warm up code paths and the name memo before the baseline
            post_json(url + "/batch", names[i : i + 10_000])
        base_heap = rss_of_tree(proc.pid, "RssAnon")
        base_size = get_json(url + "/stats")["cache"]["size"]
        for i in range(20_000, len(names), 10_000):
            post_json(url + "/batch", names[i : i + 10_000])
        size = get_json(url + "/stats")["cache"]["size"]
        heap, rss = rss_of_tree(proc.pid, "RssAnon"), rss_of_tree(proc.pid)
        per_entry = (heap - base_heap) / max(1, size - base_size)
        result = Result("memory", "domain-stats", per_entry, unit="bytes/entry")
        result.extra = {"cached": size, "rss_mb": rss / 2**20, "rss_anon_mb": heap / 2**20}
        self.results.append(result)
        print(
            f"  memory       domain-stats   {per_entry:,.0f} bytes of resident heap (RssAnon) per cached "
            f"domain ({size:,} cached; RSS {rss / 2**20:,.0f} MB of which the database's memory-mapped "
            f"file cache is {(rss - heap) / 2**20:,.0f} MB)",
            flush=True,
        )
        proc.stop()

    # -- the table ---------------------------------------------------------------------------
    def report(self) -> None:
        from harness import render_table

        print()
        print(render_table(self.results))
        for note in self.notes:
            print(f"note: {note}")
        if self.args.json:
            self.args.json.write_text(json.dumps([r.as_dict() for r in self.results], indent=2))


if __name__ == "__main__":
    main()
