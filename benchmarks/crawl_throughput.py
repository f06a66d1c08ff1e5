"""Crawl throughput: `storywatch crawl` end to end vs trafilatura extraction alone.

Serves N generated article pages (default 2,000) and one RSS feed from a local HTTP
server, runs `storywatch crawl` as a user would (a child process, fresh SQLite database),
and extracts the same pages in-process with trafilatura alone and with
storywatch.extraction.extract_article. The figure to watch is crawl / extraction-only
throughput (goal ≥ 0.7 on the 2-core machine).

    python benchmarks/crawl_throughput.py [--articles 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.newsgen import article_page, rss_feed
from storywatch.extraction import extract_article


def serve(pages: dict[str, bytes], charset: str | None = "utf-8") -> ThreadingHTTPServer:
    """The pages on 127.0.0.1 (any free port); `charset` None sends no charset, for real
    pages whose own markup says it."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            kind = "application/rss+xml" if self.path.endswith(".rss") else "text/html"
            self.send_header("Content-Type", f"{kind}; charset={charset}" if charset else kind)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_config(workdir: Path, base: str, seed: Path | None, workers: int | None,
                 concurrency: int = 16) -> Path:
    """The benchmark's config: one feed source on 127.0.0.1 and, with a seed, one topic."""
    topic = f'[[topics]]\nname = "bench"\nseeds = ["{seed}"]' if seed is not None else ""
    config = workdir / "storywatch.toml"
    config.write_text(f"""
[storage]
url = "sqlite:///{workdir / 'bench.db'}"
[crawl]
allow_private_networks = true
autothrottle = false
concurrency_per_domain = {concurrency}
{"" if workers is None else f"extract_workers = {workers}"}
{topic}
[[sources]]
name = "bench-feed"
url = "{base}/feed.rss"
""", encoding="utf-8")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--extract-workers", type=int, default=None,
                        help="crawl.extract_workers (default: cores - 1; 0 = inline)")
    parser.add_argument("--no-topic", action="store_true",
                        help="no topic configured: crawl and store without classifying")
    args = parser.parse_args()

    rng = random.Random(7)
    pages: dict[str, bytes] = {}
    server = serve(pages)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    entries, htmls = [], []
    for n in range(args.articles):
        path, html, published = article_page(n, base, rng)
        pages[path] = html.encode()
        htmls.append((base + path, html))
        entries.append((path, f"Report {n}", published))
    pages["/feed.rss"] = rss_feed(base, entries).encode()
    pages["/robots.txt"] = b"User-agent: *\nAllow: /\n"

    workdir = Path(tempfile.mkdtemp(prefix="sw-bench-"))
    config = write_config(workdir, base, None if args.no_topic else workdir / "seed.txt",
                          args.extract_workers, args.concurrency)
    (workdir / "seed.txt").write_text("Bench seed\n\n" + " ".join(["council budget"] * 50))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "storywatch", "--config", str(config), "crawl"],
                          capture_output=True, text=True, env=env)
    crawl_seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        sys.exit(f"crawl failed: {done.stderr[-2000:]}")
    stored = next((line for line in done.stdout.splitlines() if " new, " in line), "")

    started = time.perf_counter()
    for url, html in htmls:
        trafilatura.extract(html, url=url, include_comments=False, deduplicate=False)
    trafilatura_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for url, html in htmls:
        extract_article(html, url)
    ours_seconds = time.perf_counter() - started

    n = args.articles
    crawl_rate, traf_rate, ours_rate = n / crawl_seconds, n / trafilatura_seconds, n / ours_seconds
    print(f"articles: {n} (cpu cores: {os.cpu_count()}, concurrency/domain {args.concurrency})")
    print(f"crawl summary: {stored.strip()}")
    print(f"storywatch crawl end to end : {crawl_seconds:7.1f} s  {crawl_rate:7.1f} articles/s  "
          f"peak RSS {peak_kb / 1024:.0f} MB")
    print(f"trafilatura.extract alone   : {trafilatura_seconds:7.1f} s  {traf_rate:7.1f} pages/s")
    print(f"extract_article alone       : {ours_seconds:7.1f} s  {ours_rate:7.1f} pages/s")
    print(f"crawl / trafilatura-only ratio: {crawl_rate / traf_rate:.2f} (goal >= 0.7)")
    server.shutdown()


if __name__ == "__main__":
    main()
