"""Seed URLs go through the crawl's guarded path: a real crawl of the fixture world on
127.0.0.1, whose topic has seeds that redirect to a private address, that robots.txt
forbids, and one that is fine."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from storywatch.demo.site import PRIVATE_ARTICLE_PATH, Page
from storywatch.demo.world import load_articles
from tests.conftest import run_cli
from tests.test_discovery import write_config

ARTICLES = load_articles()
SEED, LISTED = ARTICLES[0], ARTICLES[1]
USER_AGENT = "storywatch-seedtest/1.0 (+https://example.org/contact)"


def seed_rows(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "sw.db") as db:
        return [row[0] for row in db.execute("SELECT url FROM seed_pages")]


def test_seed_urls_get_the_crawl_guards(world: Any, tmp_path: Path) -> None:
    port = world.port
    # Fixture loopback is exempt as 127.0.0.1:PORT only; "localhost" is another name for
    # loopback and stays refused (allow_private_networks = false).
    world.set_override("/go/seed.html", Page(status=302, body=b"", headers={
        "Location": f"http://localhost:{port}/internal/seed.html"}))
    world.set_override("/internal/seed.html", world.pages[SEED.path])
    world.set_override("/feeds/test.rss", Page(
        content_type="application/rss+xml",
        body=('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
              f"<item><title>One</title><link>{world.url(LISTED.path)}</link></item>"
              "</channel></rss>").encode()))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ], user_agent=USER_AGENT, allow_private_networks=False)
    redirecting, forbidden, good = (world.url("/go/seed.html"),
                                    world.url(PRIVATE_ARTICLE_PATH), world.url(SEED.path))
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[[topics]]\nname = "deserters"\n'
                  f'seeds = ["{redirecting}", "{forbidden}", "{good}"]\n')

    result = run_cli("crawl", config=config)
    assert result.code == 0, result.stderr[-3000:]
    log = " ".join(result.stderr.split())
    paths = [r.path for r in world.requests]
    # Redirected to a private address: refused before any connection, and said so.
    assert "/go/seed.html" in paths and "/internal/seed.html" not in paths
    assert f"seed {redirecting} not fetched: refused: localhost" in log
    # robots.txt rules apply to seeds too.
    assert PRIVATE_ARTICLE_PATH not in paths
    assert f"seed {forbidden} not fetched" in log and "robots.txt" in log
    # The good seed was fetched once, with the configured user agent, and kept.
    fetches = [r for r in world.requests if r.path == SEED.path]
    assert len(fetches) == 1 and fetches[0].headers.get("user-agent") == USER_AGENT
    assert seed_rows(tmp_path) == [good]
