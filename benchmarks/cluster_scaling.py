"""Cluster mode: throughput with 1, 2 and 4 workers, correctness at 4, and a kill -9 loop.

A world of 20 hosts x 100 articles (2,000 articles; each host's feed also lists two of
its neighbour's, so 40 articles are listed by two sources) on loopback ports, every
response 300 ms late so that fetching, not this machine's 2 cores, is the limit. For each
worker count: a fresh PostgreSQL schema and RabbitMQ queue, `storywatch run` with a
[cluster] section and N `storywatch worker` processes, as a user runs them; timed from the
first crawl's start to the last crawl's end (crawl_runs). Then counted: articles fetched
twice (the server's log), stored twice, lost.

Kill loop: a smaller world (4 hosts x 40 articles, 150 ms), 3 workers; in each run one
random worker is killed with SIGKILL at a random moment after the first article fetch,
drawn within the time an unkilled run of the same world takes from its first fetch to
its end (measured first, so the kills land mid-crawl on a fast machine as on a slow
one); the run must still end with every article stored once.

    python benchmarks/cluster_scaling.py [--workers 1 2 4] [--kill-runs 10] [--skip-scaling]
                                         [--extract-workers N]

Needs STORYWATCH_TEST_POSTGRES_URL (or the default local PostgreSQL) and RabbitMQ.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from storywatch.demo.hosts import HostsWorld
from tests.faults.cluster import (
    cluster_toml,
    delete_queue,
    started_cluster,
    wait_for_runs,
)

POSTGRES = os.environ.get("STORYWATCH_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_schema() -> Iterator[str]:
    schema = f"sw_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES else "?"
    try:
        yield f"{POSTGRES}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def write_config(path: Path, world: HostsWorld, database_url: str, queue: str,
                 concurrency: int, extract_workers: int | None = None) -> Path:
    lines = ["[storage]", f'url = "{database_url}"', "", "[crawl]",
             "allow_private_networks = true", "autothrottle = false",
             f"concurrency_per_domain = {concurrency}", 'download_timeout = "20s"']
    if extract_workers is not None:
        lines.append(f"extract_workers = {extract_workers}")
    for host in range(world.hosts):
        lines += ["", "[[sources]]", f'name = "host-{host}"', 'kind = "feed"',
                  f'url = "{world.feed_url(host)}"', 'every = "6h"']
    path.write_text("\n".join(lines) + "\n" + cluster_toml(queue, heartbeat="2s"),
                    encoding="utf-8")
    return path


def children_cpu() -> float:
    """CPU seconds (user + system) of every descendant process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def figures(engine: object, world: HostsWorld) -> dict[str, float]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        first, last = conn.execute(text(
            "SELECT min(started_at), max(finished_at) FROM crawl_runs")).one()
        items = conn.execute(text("SELECT count(*) FROM items")).scalar_one()
        distinct = conn.execute(text(
            "SELECT count(DISTINCT canonical_url) FROM items")).scalar_one()
        stored_urls = {u for (u,) in conn.execute(text("SELECT canonical_url FROM items"))}
    expected = world.article_urls()
    fetches = world.fetches()
    seconds = (last - first).total_seconds()
    return {"seconds": round(seconds, 1), "stored": items,
            "articles_per_second": round(items / seconds, 2) if seconds else 0.0,
            "fetched_twice": sum(1 for n in fetches.values() if n > 1),
            "stored_twice": items - distinct,
            "lost": len(expected - stored_urls)}


def scaling_run(workers: int, hosts: int, articles: int, latency: float,
                concurrency: int, extract_workers: int | None) -> dict[str, float]:
    queue = f"sw-bench-{uuid.uuid4().hex[:8]}"
    with HostsWorld(hosts, articles, latency=latency) as world, fresh_schema() as url, \
            tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "storywatch.toml", world, url, queue, concurrency,
                              extract_workers)
        started = time.monotonic()
        cpu_before = children_cpu()
        try:
            with started_cluster(config, url, Path(tmp) / "logs", workers) as (engine,
                                                                               cluster):
                wait_for_runs(engine, [f"host-{h}" for h in range(hosts)], cluster,
                              timeout=3600)
            result = figures(engine, world)
            engine.dispose()
        finally:
            delete_queue(queue)
        result["wall_seconds"] = round(time.monotonic() - started, 1)
        # Every process of the run (scheduler, workers, their crawl children and those
        # children's extraction and writer processes) has been waited for by now.
        cpu = children_cpu() - cpu_before
        result["cpu_seconds"] = round(cpu, 1)
        result["cpu_ms_per_article"] = round(1000 * cpu / max(1, result["stored"]), 1)
        return result


def kill_run(rng: random.Random, window: float | None) -> dict[str, float]:
    """One run of the kill world; `window`: kill a worker within that many seconds after
    the first fetch; None: kill nobody, and time the run from its first fetch."""
    queue = f"sw-bench-{uuid.uuid4().hex[:8]}"
    with HostsWorld(4, 40, latency=0.15) as world, fresh_schema() as url, \
            tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "storywatch.toml", world, url, queue, 1)
        try:
            with started_cluster(config, url, Path(tmp) / "logs", 3) as (engine, cluster):
                deadline = time.monotonic() + 300
                while not world.fetches() and time.monotonic() < deadline:
                    time.sleep(0.05)
                first_fetch = time.monotonic()
                delay = rng.uniform(0.0, window) if window else 0.0
                if window:
                    time.sleep(delay)  # the random moment of the kill, not a synchronisation
                    os.kill(rng.choice(cluster.workers).pid, signal.SIGKILL)
                wait_for_runs(engine, [f"host-{h}" for h in range(4)], cluster, timeout=600)
                after_first_fetch = time.monotonic() - first_fetch
            result = figures(engine, world)
            engine.dispose()
        finally:
            delete_queue(queue)
        if window:
            result["kill_after_first_fetch_s"] = round(delay, 2)
        result["end_after_first_fetch_s"] = round(after_first_fetch, 2)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=2)
    # Extraction processes per crawl child (crawl.extract_workers); unset: one per core.
    # Each costs an interpreter start per source run, on a machine where CPU is scarce.
    parser.add_argument("--extract-workers", type=int, default=None)
    parser.add_argument("--kill-runs", type=int, default=10)
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--seed", type=int, default=20261130)
    args = parser.parse_args()
    results: dict[str, object] = {}
    if not args.skip_scaling:
        base = None
        for workers in args.workers:
            result = scaling_run(workers, args.hosts, args.articles, args.latency,
                                 args.concurrency, args.extract_workers)
            base = base or result["articles_per_second"]
            result["speedup"] = round(result["articles_per_second"] / base, 2) if base else 0
            print(json.dumps({"workers": workers, **result}), flush=True)
            results[f"workers_{workers}"] = result
    rng = random.Random(args.seed)
    lost = twice = 0
    if args.kill_runs:
        calibration = kill_run(rng, None)
        window = float(calibration["end_after_first_fetch_s"])
        print(json.dumps({"unkilled_run": calibration}), flush=True)
    for run in range(args.kill_runs):
        result = kill_run(rng, window)
        lost += int(result["lost"])
        twice += int(result["stored_twice"])
        print(json.dumps({"kill_run": run + 1, **result}), flush=True)
    if args.kill_runs:
        print(json.dumps({"kill_runs": args.kill_runs, "lost": lost, "stored_twice": twice}))


if __name__ == "__main__":
    main()
