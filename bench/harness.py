"""Process handling, wrk runs and the results table for bench/run.py."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass
class Result:
    scenario: str
    system: str
    rate: float
    unit: str = "req/s"
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    peak_rss_mb: float = 0.0
    seconds: float = 0.0
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Proc:
    """A server under test, in its own process group so that all of it stops together."""

    def __init__(self, name: str, popen: subprocess.Popen) -> None:
        self.name = name
        self.popen = popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    @classmethod
    def start(cls, name: str, cmd: list[str], log: Path, **kwargs: Any) -> Proc:
        with open(log, "wb") as fh:  # the child keeps its own copy of the descriptor
            popen = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs
            )
        return cls(name, popen)

    @staticmethod
    def check(cmd: list[str], stdin: str | None = None) -> str:
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        except ProcessLookupError:  # it exited between the check and the signal
            self.popen.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, proc: Proc, timeout: float) -> None:
    """Until the server answers HTTP (a listening socket alone may still be loading its cache)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise SystemExit(f"{proc.name} exited before answering (see its log)")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answered, if not with 200
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise SystemExit(f"{proc.name} did not answer on {port} within {timeout:.0f}s")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return orjson.loads(resp.read())


def post_json(url: str, payload: Any) -> Any:
    request = urllib.request.Request(
        url, data=orjson.dumps(payload), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as resp:
        return orjson.loads(resp.read())


def rss_of_tree(pid: int, field: str = "VmRSS") -> int:
    """Resident bytes of ``pid`` and all its descendants (``RssAnon``: heap only, no file cache)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        with contextlib.suppress(OSError):  # the process exited while we looked
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1]) * 1024
    return total


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _latency(text: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def run_wrk(
    url: str,
    script: Path,
    script_args: list[str],
    *,
    proc: Proc | None = None,
    threads: int = 2,
    connections: int = 50,
    duration: int = 10,
) -> Result:
    """One wrk run; samples the RSS of ``proc``'s process tree while it runs."""
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_of_tree(proc.pid))
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    if proc is not None:
        sampler.start()
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        "--",
        *script_args,
    ]
    env = {**os.environ, "WRK_THREADS": str(threads)}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    finally:
        stop.set()
        if proc is not None:
            sampler.join()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result = Result(
        "",
        "",
        float(rate.group(1)) if rate else 0.0,
        p50_ms=_latency(out, "50"),
        p99_ms=_latency(out, "99"),
        peak_rss_mb=peak / 2**20,
        seconds=float(duration),
    )
    result.errors = (int(errors.group(1)) if errors else 0) + (
        sum(int(g) for g in socket_errors.groups()) if socket_errors else 0
    )
    return result


TARGETS = {
    "warm": ("x nginx", 0.30),
    "first sight": ("x nginx", 0.20),
    "batch": ("names/s", 100_000),
    "enrich zeek": ("lines/s", 200_000),
    "enrich json": ("lines/s", 200_000),
    "enrich names": ("lines/s", 200_000),
    "import": ("records/s", 100_000),
    "apply feed": ("records/s", 100_000),
    "memory": ("bytes/entry max", 350),
}


def render_table(results: list[Result]) -> str:
    by = {(r.scenario, r.system): r for r in results}
    ceiling = by.get(("warm", "nginx"))
    header = (
        f"{'scenario':<12} {'system':<13} {'rate':>14} {'unit':<12} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'peak RSS MB':>11} {'x nginx':>8} {'x original':>10}  target"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        original = by.get((r.scenario, "original"))
        x_nginx = f"{r.rate / ceiling.rate:.2f}" if ceiling and r.unit == "req/s" else "-"
        x_orig = f"{r.rate / original.rate:.1f}" if original and r.system != "original" and original.rate else "-"
        target = ""
        if r.system == "domain-stats":
            target = _verdict(r, ceiling)
        if r.errors:  # non-2xx answers or socket errors: the rate counts them too
            target = f"{target} [{r.errors:,} errors]".strip()
        lines.append(
            f"{r.scenario:<12} {r.system:<13} {r.rate:>14,.1f} {r.unit:<12} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.peak_rss_mb:>11.0f} {x_nginx:>8} {x_orig:>10}  {target}"
        )
    return "\n".join(lines)


def _verdict(r: Result, ceiling: Result | None) -> str:
    if r.scenario == "miss storm":
        ratio = r.extra.get("upstream_ratio", 0)
        return f"upstream {ratio:.0%} of limit (>= 80%): {'MET' if ratio >= 0.8 else 'MISSED'}"
    if r.scenario == "warm beside":
        ratio = r.extra.get("ratio_to_plain_warm", 0)
        return f"{ratio:.0%} of plain warm (>= 50%): {'MET' if ratio >= 0.5 else 'MISSED'}"
    if r.scenario not in TARGETS:
        return ""
    kind, goal = TARGETS[r.scenario]
    if kind == "x nginx":
        value = r.rate / ceiling.rate if ceiling else 0
        return f">= {goal:.2f} x nginx: {'MET' if value >= goal else 'MISSED'}"
    if kind == "bytes/entry max":
        return f"<= {goal} bytes: {'MET' if r.rate <= goal else 'MISSED'}"
    return f">= {goal:,} {kind}: {'MET' if r.rate >= goal else 'MISSED'}"
