"""The daemon at rest and the cost of starting a crawl child.

Starts `storywatch run` with N sources (default 200) on long intervals, all pointing at an
empty feed of the local FixtureServer, so the first round of runs (every new source runs
within the jitter) measures the scheduling overhead: from the child's start (the
crawl_runs row is written right after the fork) to the child's first request in the
server's log. Then, with nothing due for hours, it samples the daemon's resident memory
and CPU time for the idle period (default 60 s).

Goals: resident memory < 120 MB and CPU < 1 % while idle; with --web (the web app served
by the daemon, [web] listen), < 150 MB after its pages were each loaded once.

Usage: python benchmarks/daemon_idle.py [--sources 200] [--idle 60] [--database URL] [--web]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
from sqlalchemy import select

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from storywatch.demo.server import FixtureServer  # noqa: E402
from storywatch.storage import open_storage  # noqa: E402
from storywatch.storage.daemon import CrawlRun  # noqa: E402


def write_config(path: Path, url: str, base: str, sources: int, batch_window: str,
                 web_port: int | None = None) -> None:
    lines = [
        "[storage]", f'url = "{url}"', "",
        "[crawl]", "allow_private_networks = true", "autothrottle = false",
        # robots.txt off so the child's first request is its feed (the one we time).
        "obey_robots_txt = false", "",
        # Defaults otherwise: jitter 30 s spreads the first round, batches of up to 10.
        "[daemon]", 'heartbeat = "10s"', f'batch_window = "{batch_window}"', "",
    ]
    if web_port is not None:
        (path.parent / "seed.txt").write_text("seed", encoding="utf-8")
        lines += ["[web]", f'listen = "127.0.0.1:{web_port}"', 'read = "public"', "",
                  "[[topics]]", 'name = "bench"', 'seeds = ["seed.txt"]', ""]
    for n in range(sources):
        lines += ["[[sources]]", f'name = "s{n:03d}"',
                  f'url = "{base}/feeds/empty.rss?s={n:03d}"', 'every = "6h"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds to sample at rest")
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--batch-window", default="1s",
                        help='daemon.batch_window; "0s" gives every source its own child')
    parser.add_argument("--web", action="store_true",
                        help="serve the web app from the daemon ([web] listen)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sw-daemon-bench-"))
    url = args.database or f"sqlite:///{workdir / 'storywatch.db'}"
    server = FixtureServer().start()
    config = workdir / "storywatch.toml"
    web_port = free_port() if args.web else None
    write_config(config, url, server.base_url, args.sources, args.batch_window, web_port)
    log = (workdir / "daemon.log").open("wb")
    started = time.monotonic()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "storywatch", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    storage = open_storage(url)
    try:
        # The first round: every source gets one finished run.
        deadline = time.monotonic() + 600
        while True:
            with storage.session() as session:
                runs = list(session.execute(select(CrawlRun)).scalars())
            done = {r.source for r in runs if r.finished_at is not None}
            if len(done) >= args.sources:
                break
            if daemon.poll() is not None or time.monotonic() > deadline:
                print((workdir / "daemon.log").read_text()[-3000:])
                raise SystemExit("the first round did not complete")
            time.sleep(0.5)
        first_round = time.monotonic() - started
        outcomes = {r.outcome for r in runs}
        batches: dict[str, list[CrawlRun]] = {}
        for run in runs:
            batches.setdefault(run.batch, []).append(run)
        first_request: dict[str, float] = {}
        for request in server.requests:
            source = parse_qs(urlsplit(request.path).query).get("s", [None])[0]
            if source is not None:
                name = f"s{source}"
                first_request[name] = min(first_request.get(name, request.time), request.time)
        overheads, durations = [], []
        for members in batches.values():
            start = members[0].started_at.timestamp()
            times = [first_request[r.source] for r in members if r.source in first_request]
            if times:
                overheads.append(min(times) - start)
            durations.append((members[0].finished_at - members[0].started_at).total_seconds())

        if web_port is not None:  # each page once, so its code and templates are loaded
            for path in ("/", "/topics/bench/followups", "/topics/bench/followups.atom",
                         "/sources", "/subscriptions", "/api/sources", "/api/openapi.json"):
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}{path}",
                                            timeout=60) as answer:
                    assert answer.status == 200, path
        # At rest: nothing is due for hours.
        process = psutil.Process(daemon.pid)
        # The zygote (scheduler/zygote.py) waits for the next crawl; no crawl may run.
        crawls = [c for c in process.children(recursive=True) if "crawl" in c.cmdline()]
        assert not crawls, "a crawl child is still running"
        cpu_before = process.cpu_times()
        rss = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.idle:
            rss.append(process.memory_info().rss)
            time.sleep(1.0)
        cpu_after = process.cpu_times()
        elapsed = time.monotonic() - t0
        cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system)
        mb = 1024 * 1024

        print(f"sources: {args.sources}, database: {url.split(':')[0]}, web app: "
              f"{'on' if web_port else 'off'}, "
              f"cpus: {psutil.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
        print(f"first round: {len(runs)} runs in {len(batches)} children "
              f"(outcomes {sorted(outcomes)}), {first_round:.1f} s from daemon start")
        print(f"batch size: mean {len(runs) / len(batches):.1f}, "
              f"max {max(len(b) for b in batches.values())}")
        print(f"child start -> first request: median {statistics.median(overheads):.2f} s, "
              f"max {max(overheads):.2f} s ({len(overheads)} children)")
        print(f"child wall time (start to recorded end): median "
              f"{statistics.median(durations):.2f} s")
        print(f"per source (child start cost shared by its batch): "
              f"{statistics.median(overheads) * len(batches) / len(runs):.2f} s")
        print(f"idle {elapsed:.0f} s: RSS max {max(rss) / mb:.1f} MB, last {rss[-1] / mb:.1f} MB; "
              f"CPU {cpu:.2f} s = {100 * cpu / elapsed:.2f} %")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            code = daemon.wait(timeout=60)
            print(f"SIGTERM: exit code {code}")
        except subprocess.TimeoutExpired:
            daemon.kill()
            print("SIGTERM: no exit within 60 s, killed")
        storage.dispose()
        server.stop()
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
