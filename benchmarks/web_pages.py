"""Web app response times on a database of 100,000 judged items.

Fills a fresh database (SQLite by default, or --database URL) with N generated items
(our own words, benchmarks/newsgen.py) judged for one topic: 60 % follow-ups, a third of
them in clusters of three, over 365 days and 12 sources in 3 languages. Starts
`storywatch web` as its own process (reading public) and times real HTTP requests from
this one: the follow-ups list (first page, 40 pages deep by key, a filter, a full-text
search), item pages, and the Atom feed.

Goals: follow-ups page and item page <= 150 ms median and <= 400 ms p95; Atom <= 100 ms.

Usage: python benchmarks/web_pages.py [--items 100000] [--requests 60] [--database URL]
       [--filled]  (the database holds an earlier run's items: time only)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.newsgen import headline, paragraphs  # noqa: E402
from storywatch.storage import open_storage  # noqa: E402
from storywatch.storage.models import Item, Judgement  # noqa: E402

TOPIC = "bench"
SOURCES = [f"source-{n:02d}" for n in range(12)]
LANGUAGES = ["en", "en", "en", "fr", "de"]
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def fill(url: str, count: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    storage = open_storage(url)
    started = time.monotonic()
    batch = 2000
    for start in range(0, count, batch):
        items, judgements = [], []
        for n in range(start, min(count, start + batch)):
            text = "\n".join(paragraphs(rng, (3, 6)))
            published = NOW - timedelta(seconds=rng.randint(0, 365 * 86400))
            items.append({
                "id": n + 1, "canonical_url": f"https://news.example/{n}",
                "url": f"https://news.example/{n}", "title": headline(f"Story {n}", rng),
                "authors": [], "published_at": published,
                "fetched_at": published + timedelta(minutes=5),
                "language": rng.choice(LANGUAGES), "text": text, "source": rng.choice(SOURCES),
                "discovered_via": "feed", "word_count": len(text.split()), "extractor": "bench",
                "content_hash": hashlib.sha256(text.encode()).hexdigest()})
            roll = rng.random()
            status = "followup" if roll < 0.6 else "duplicate" if roll < 0.8 else "offtopic"
            cluster = f"c{n // 3}" if status == "followup" and n % 9 < 3 else None
            judgements.append({
                "item_id": n + 1, "topic": TOPIC, "status": status, "cluster_id": cluster,
                "confidence": round(rng.random(), 3), "decided_at": NOW,
                "reasons": {"layer": "model", "probabilities": {status: 0.7}}})
        with storage.session() as session:
            session.execute(insert(Item), items)
            session.execute(insert(Judgement), judgements)
    if storage.engine.dialect.name == "postgresql":
        # What autovacuum does a minute after a bulk change; this machine's test server
        # runs with autovacuum off, and without statistics the planner sorts every item.
        with storage.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    seconds = time.monotonic() - started
    storage.dispose()
    return seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(client: httpx.Client, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
    return out


def report(name: str, times: list[float], goal: tuple[float, float] | None) -> None:
    times = sorted(times)
    median = statistics.median(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    verdict = ""
    if goal:
        verdict = "  met" if median <= goal[0] and p95 <= goal[1] else "  NOT met"
    print(f"{name:<38} median {median:7.1f} ms   p95 {p95:7.1f} ms   (n={len(times)}){verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page kind")
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--filled", action="store_true",
                        help="the --database holds the items of an earlier run already")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sw-web-bench-"))
    url = args.database or f"sqlite:///{workdir / 'storywatch.db'}"
    if not args.filled:
        print(f"filling {args.items:,} items into {url.split(':')[0]} ...", flush=True)
        print(f"filled in {fill(url, args.items):.1f} s")
    config = workdir / "storywatch.toml"
    (workdir / "seed.txt").write_text("seed", encoding="utf-8")
    port = free_port()
    config.write_text(f'[storage]\nurl = "{url}"\n\n[web]\nread = "public"\n'
                      f'listen = "127.0.0.1:{port}"\n\n[[topics]]\nname = "{TOPIC}"\n'
                      'seeds = ["seed.txt"]\n', encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "storywatch", "--config", str(config), "web"],
        stdout=subprocess.DEVNULL, stderr=(workdir / "web.log").open("wb"),
        env={**os.environ, "PYTHONPATH": str(REPO)})
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/api/openapi.json").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((workdir / "web.log").read_text()[-2000:])
                time.sleep(0.2)
            listing = f"/topics/{TOPIC}/followups"
            # Cursors 40 pages deep, collected by walking the list.
            cursors, path = [], listing
            for _ in range(40):
                html = client.get(path).text
                match = re.search(r'href="\?([^"]*after=[^"]*)" rel="next"', html)
                if not match:
                    break
                path = f"{listing}?{match.group(1).replace('&amp;', '&')}"
                cursors.append(path)
            rng = random.Random(11)
            n = args.requests
            ids = [rng.randint(1, args.items) for _ in range(n)]
            kinds = {
                "follow-ups, first page": ([listing] * n, (150, 400)),
                "follow-ups, pages 1-40 deep (by key)": (
                    [cursors[i % len(cursors)] for i in range(n)], (150, 400)),
                "follow-ups, language=fr": ([f"{listing}?language=fr"] * n, (150, 400)),
                "follow-ups, search 'bridge'": ([f"{listing}?q=bridge"] * n, (150, 400)),
                "follow-ups, search 'northern bridge'": (
                    [f"{listing}?q=northern+bridge&status=all"] * n, (150, 400)),
                "follow-ups, search '12345' (rare)": (
                    [f"{listing}?q=12345&status=all"] * n, (150, 400)),
                "item page": ([f"/items/{i}" for i in ids], (150, 400)),
                "Atom feed": ([f"{listing}.atom"] * n, (100, 10_000)),
                "topics page (chart)": (["/"] * max(5, n // 6), None),
            }
            print(f"{args.items:,} items, {len(cursors)} pages walked, cpus {os.cpu_count()}, "
                  f"load average {os.getloadavg()[0]:.2f}")
            for name, (paths, goal) in kinds.items():
                timed(client, paths[:3])  # warm-up: caches, first connections
                report(name, timed(client, paths), goal)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
