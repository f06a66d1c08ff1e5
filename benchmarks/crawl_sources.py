"""Discovery efficiency: a `site` source and a `sitemap` source of N generated articles each.

Serves two generated news sites from one local FixtureServer (conditional GET included):
  /s/ ... a homepage with "Older stories" pagination (50 teasers a page) over N articles,
  /m/ ... a sitemap index of news sitemaps (500 entries each) over N other articles,
then runs `storywatch crawl` as a user would (child process, fresh SQLite database) twice:
the first crawl stores everything, the second must download no article page at all.

Figures: articles/second end to end, and requests per stored article per source
(every request counted: robots.txt, listing pages, sitemaps, articles, retries).

    python benchmarks/crawl_sources.py [--articles 2000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.newsgen import headline, paragraphs
from storywatch.demo.server import FixtureServer
from storywatch.demo.site import Page

REPO = Path(__file__).resolve().parent.parent
TEASERS_PER_PAGE = 50  # a typical "latest" page; 2,000 articles make 40 listing pages
ENTRIES_PER_SITEMAP = 500  # news sitemaps are usually split well below the 50,000 cap

def article_html(base: str, path: str, n: int, published: datetime, related: list[str],
                 rng: random.Random) -> bytes:
    title = headline(f"Item {n}", rng)
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs(rng, (5, 8)))
    links = "".join(f'<li><a href="{base}{r}">Related {k}</a></li>' for k, r in enumerate(related))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} | Bench Gazette</title>
<meta property="og:type" content="article"><meta property="og:title" content="{escape(title)}">
<meta property="article:published_time" content="{published.isoformat()}">
<link rel="canonical" href="{base}{path}"></head><body>
<header><nav><a href="{base}/s/">Home</a> <a href="{base}/section/city/">City</a>
<a href="{base}/about.html">About</a></nav></header>
<main><article><h1>{escape(title)}</h1>{body}</article>
<aside><h2>Related</h2><ul>{links}</ul></aside></main>
<footer><a href="{base}/contact.html">Contact</a></footer></body></html>""".encode()


def build(base: str, n: int, now: datetime) -> dict[str, Page]:
    rng = random.Random(7)
    pages: dict[str, Page] = {}
    robots = f"User-agent: *\nDisallow: /private/\nSitemap: {base}/m/index.xml\n"
    pages["/robots.txt"] = Page(content_type="text/plain", body=robots.encode())

    # The `site` source: articles /s/city/2026/11/item-K.html, listed newest first.
    site_paths = [f"/s/city/{now:%Y/%m}/item-{k}-{_slug(rng)}.html" for k in range(n)]
    for k, path in enumerate(site_paths):
        related = [site_paths[(k + d) % n] for d in (1, 2, 3)]
        body = article_html(base, path, k, now - timedelta(minutes=k), related, rng)
        pages[path] = Page(body=body)
    chunks = [site_paths[i:i + TEASERS_PER_PAGE] for i in range(0, n, TEASERS_PER_PAGE)]
    for number, chunk in enumerate(chunks, start=1):
        teasers = "".join(
            f'<li><h2><a href="{base}{p}?utm_source=home">Story {p.rsplit("/", 1)[-1]}</a>'
            f"</h2><p>A short lead for the story.</p></li>" for p in chunk
        )
        older = (f'<a rel="next" href="{base}/s/page/{number + 1}/">Older stories</a>'
                 if number < len(chunks) else "")
        html = (f'<!doctype html><html><head><meta charset="utf-8"><title>Bench Gazette'
                f'</title><meta property="og:type" content="website"></head><body>'
                f"<h1>Latest</h1><ul>{teasers}</ul><nav>{older}</nav></body></html>")
        pages["/s/" if number == 1 else f"/s/page/{number}/"] = Page(body=html.encode())

    # The `sitemap` source: news sitemaps over other articles, all published in the last day.
    map_paths = [f"/m/world/{now:%Y/%m}/story-{k}-{_slug(rng)}.html" for k in range(n)]
    for k, path in enumerate(map_paths):
        pages[path] = Page(body=article_html(base, path, n + k, now - timedelta(seconds=30 * k),
                                             [], rng))
    sitemap_paths = []
    for i in range(0, n, ENTRIES_PER_SITEMAP):
        urls = "".join(
            f"<url><loc>{base}{p}</loc><news:news><news:publication><news:name>Bench Gazette"
            f"</news:name><news:language>en</news:language></news:publication>"
            f"<news:publication_date>{(now - timedelta(seconds=30 * (i + j))).isoformat()}"
            f"</news:publication_date><news:title>Story {i + j}</news:title></news:news></url>"
            for j, p in enumerate(map_paths[i:i + ENTRIES_PER_SITEMAP])
        )
        xml = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
               'schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
               f"{urls}</urlset>")
        path = f"/m/news-{i // ENTRIES_PER_SITEMAP + 1}.xml"
        sitemap_paths.append(path)
        pages[path] = Page(content_type="application/xml", body=xml.encode()).with_validators(now)
    index = "".join(f"<sitemap><loc>{base}{p}</loc><lastmod>{now.isoformat()}</lastmod></sitemap>"
                    for p in sitemap_paths)
    pages["/m/index.xml"] = Page(
        content_type="application/xml",
        body=('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps'
              f'.org/schemas/sitemap/0.9">{index}</sitemapindex>').encode(),
    ).with_validators(now)
    return pages


def _slug(rng: random.Random) -> str:
    return "-".join(rng.choice(["ferry", "market", "tram", "mill", "pool", "avenue", "school",
                                "shelter", "depot", "bridge"]) for _ in range(3))


def run_crawl(config: Path) -> float:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "storywatch", "--config", str(config), "crawl"],
                          capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"crawl failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def counts(server: FixtureServer, db: Path) -> dict[str, dict[str, int]]:
    log = server.requests
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT source, count(*) FROM items GROUP BY source"))
    figures = {}
    for source, prefix, article_prefix in (("site", "/s/", "/s/city/"),
                                           ("sitemap", "/m/", "/m/world/")):
        mine = [r for r in log if r.path.startswith(prefix)]
        figures[source] = {
            "requests": len(mine),
            "article_requests": sum(r.path.startswith(article_prefix) for r in mine),
            "not_modified": sum(r.status == 304 for r in mine),
            "stored": stored.get(source, 0),
        }
    robots = sum(r.path == "/robots.txt" for r in log)
    figures["robots"] = {"requests": robots}
    return figures


def cpu_split(pages: dict[str, Page], base: str, sample: int = 200) -> dict[str, float]:
    """Milliseconds per article page: page analysis (classification + links) vs extraction.

    Both run for every page a sitemap or site source fetches; this says which one the
    end-to-end rate is paying for.
    """
    from storywatch.discovery.pages import analyse_page
    from storywatch.extraction import extract_article

    paths = [p for p in pages if p.startswith(("/s/city/", "/m/world/"))][:sample]
    started = time.perf_counter()
    for path in paths:
        analyse_page(pages[path].body, base + path)
    analysis = (time.perf_counter() - started) / len(paths) * 1000
    started = time.perf_counter()
    for path in paths:
        extract_article(pages[path].body.decode(), base + path)
    extraction = (time.perf_counter() - started) / len(paths) * 1000
    return {"analyse_page_ms": round(analysis, 2), "extract_article_ms": round(extraction, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with FixtureServer() as server, tempfile.TemporaryDirectory() as tmp:
        pages = build(server.base_url, args.articles, now)
        for path, page in pages.items():
            server.set_override(path, page)
        split = cpu_split(pages, server.base_url)
        db = Path(tmp) / "bench.db"
        config = Path(tmp) / "storywatch.toml"
        listing_pages = -(-args.articles // TEASERS_PER_PAGE)
        config.write_text(f"""[storage]
url = "sqlite:///{db}"
[crawl]
allowed_hosts = ["127.0.0.1:{server.port}"]
autothrottle = false  # a local server: measure storywatch, not the politeness delay
concurrency_per_domain = {args.concurrency}
[[sources]]
name = "site"
kind = "site"
url = "{server.url('/s/')}"
max_pages = {listing_pages}
depth = 2
[[sources]]
name = "sitemap"
kind = "sitemap"
url = "{server.url('/m/index.xml')}"
max_age = "7d"
""")
        server.clear_log()
        first_seconds = run_crawl(config)
        first = counts(server, db)
        server.clear_log()
        second_seconds = run_crawl(config)
        second = counts(server, db)
    stored = first["site"]["stored"] + first["sitemap"]["stored"]
    result = {
        "articles_per_source": args.articles,
        "concurrency_per_domain": args.concurrency,
        "cpu_per_article_page": split,
        "load_average_1min": round(os.getloadavg()[0], 1),
        "first_crawl": {
            "seconds": round(first_seconds, 1),
            "stored": stored,
            "articles_per_second": round(stored / first_seconds, 1),
            # + 1: each source's crawler asks for robots.txt once.
            **{s: {**first[s], "requests_per_stored_article":
                   round((first[s]["requests"] + 1) / max(1, first[s]["stored"]), 4)}
               for s in ("site", "sitemap")},
            "robots_requests": first["robots"]["requests"],
        },
        "second_crawl": {
            "seconds": round(second_seconds, 1),
            **{s: {k: second[s][k] for k in ("requests", "article_requests", "not_modified")}
               for s in ("site", "sitemap")},
            "robots_requests": second["robots"]["requests"],
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
