"""Sitemap parsing speed and memory: a generated 50,000-entry Google News sitemap (the
protocol's maximum), parsed by `parse_sitemap` as the sitemap spider does.

    python benchmarks/sitemap_parse.py [--entries 50000] [--repeat 3]

Prints entries/s (best of the repeats) and Python's peak allocation during one parse.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from storywatch.discovery.sitemaps import parse_sitemap


def sitemap(entries: int) -> bytes:
    urls = "".join(
        f"<url><loc>https://news.test/world/2024/10/story-number-{n}.html</loc>"
        "<lastmod>2024-10-16T10:00:00Z</lastmod><news:news>"
        "<news:publication_date>2024-10-16T10:00:00+02:00</news:publication_date>"
        f"<news:title>Story {n}</news:title><news:language>en</news:language></news:news></url>"
        for n in range(entries)
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{urls}</urlset>").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    body = sitemap(args.entries)
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        parsed = parse_sitemap(body, "https://news.test/sitemap.xml")
        best = min(best, time.perf_counter() - start)
        assert len(parsed.entries) == args.entries, parsed.error
    tracemalloc.start()
    parse_sitemap(body, "https://news.test/sitemap.xml")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{args.entries} entries, {len(body) / 2**20:.1f} MiB: best {best:.2f} s = "
          f"{args.entries / best:,.0f} entries/s; Python peak {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
