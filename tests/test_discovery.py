"""Sitemap and site sources: real crawls of the demo world, asserted on rows and traffic."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storywatch.demo.site import (
    AMP_QUERY,
    NEWS_SITEMAP_FRESH,
    NEWS_SITEMAP_STALE,
    PRIVATE_ARTICLE_PATH,
)
from storywatch.demo.world import load_articles
from storywatch.normalise.urls import canonical_url
from tests.conftest import run_cli

ARTICLES = {a.slug: a for a in load_articles()}
LISTING_PATHS = {"/robots.txt", "/", "/page/2/", "/page/3/"}


def write_config(tmp_path: Path, world: Any, sources: list[dict[str, Any]],
                 **crawl: Any) -> Path:
    """A config crawling the fixture server with the private-network guard ON.

    Only the fixture's exact host:port is exempt, as a user would allow one local server.
    """
    crawl_lines = [
        "[crawl]",
        f'allowed_hosts = ["127.0.0.1:{world.port}"]',
        "autothrottle = false  # a local server needs no throttling",
        "concurrency_per_domain = 8",
        *(f"{key} = {value!r}".replace("'", '"') if not isinstance(value, bool)
          else f"{key} = {str(value).lower()}" for key, value in crawl.items()),
    ]
    lines = ["[storage]", f'url = "sqlite:///{tmp_path / "sw.db"}"', "", *crawl_lines]
    for source in sources:
        lines += ["", "[[sources]]"]
        for key, value in source.items():
            if isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            else:
                lines.append(f"{key} = {value!r}".replace("'", '"'))
    path = tmp_path / "storywatch.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def crawl(config: Path) -> str:
    result = run_cli("crawl", config=config)
    assert result.code == 0, result.stderr[-3000:]
    return result.stdout


def stored(tmp_path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(tmp_path / "sw.db") as db:
        return db.execute("SELECT canonical_url, discovered_via, url FROM items").fetchall()


def article_paths(world: Any) -> list[str]:
    paths = {a.path for a in ARTICLES.values()} | {PRIVATE_ARTICLE_PATH}
    return [r.path for r in world.requests if r.path.split("?")[0].removeprefix("/amp") in paths]


def with_validators(world: Any, *paths: str) -> None:
    """Serve the sitemaps with ETag/Last-Modified, as real publishers' servers do."""
    for path in paths:
        world.set_override(path, world.pages[path].with_validators(datetime(2025, 3, 1,
                                                                             tzinfo=UTC)))


def test_sitemap_source_from_site_root(world: Any, tmp_path: Path) -> None:
    with_validators(world, "/sitemap_index.xml", "/sitemaps/news.xml", "/sitemaps/pages.xml")
    config = write_config(tmp_path, world, [
        {"name": "courier", "kind": "sitemap", "url": world.url("/")},
    ])
    out = crawl(config)
    # 2 stale news entries, and every pages.xml entry (dated 2024-2025) is past 7 days.
    assert "stale entries skipped: 20" in out
    log = world.requests
    assert log[0].path == "/robots.txt", "robots.txt is read before anything else"
    assert [r.path for r in log].count("/robots.txt") == 1, "one robots.txt request per run"
    paths = [r.path for r in log]
    assert {"/sitemap_index.xml", "/sitemaps/news.xml", "/sitemaps/pages.xml"} <= set(paths)
    for slug in NEWS_SITEMAP_STALE:
        assert ARTICLES[slug].path not in paths, f"stale entry {slug} was fetched"
    assert PRIVATE_ARTICLE_PATH not in paths
    rows = stored(tmp_path)
    assert sorted(r[0] for r in rows) == sorted(
        world.url(ARTICLES[slug].path) for slug in NEWS_SITEMAP_FRESH
    )
    assert {r[1] for r in rows} == {"sitemap"}

    # Second run of the unchanged source: three 304s and not a single article request.
    world.clear_log()
    assert "not modified (304): 3" in crawl(config)
    log = world.requests
    sitemap_answers = {r.path: r.status for r in log if "sitemap" in r.path}
    assert sitemap_answers == {
        "/sitemap_index.xml": 304, "/sitemaps/news.xml": 304, "/sitemaps/pages.xml": 304
    }
    assert all(r.headers.get("if-none-match") for r in log if "sitemap" in r.path)
    assert article_paths(world) == []
    assert len(stored(tmp_path)) == len(NEWS_SITEMAP_FRESH)


def test_sitemap_pages_that_are_not_articles_are_fetched_but_not_stored(
    world: Any, tmp_path: Path
) -> None:
    # Ten years of max_age: every entry of pages.xml is fetched, including listing pages.
    config = write_config(tmp_path, world, [
        {"name": "pages", "kind": "sitemap", "url": world.url("/sitemaps/pages.xml"),
         "max_age": "3650d"},
    ])
    out = crawl(config)
    assert "not articles: 9" in out  # the homepage, six sections, about and contact
    paths = {r.path for r in world.requests}
    assert {"/about.html", "/contact.html", "/section/world/", "/"} <= paths
    assert PRIVATE_ARTICLE_PATH not in paths, "robots.txt disallows /private/"
    urls = {r[0] for r in stored(tmp_path)}
    assert len(urls) == 8  # PAGES_SITEMAP_ARTICLES
    assert not any(part in url for url in urls
                   for part in ("/section/", "/tag/", "about", "contact", "/private/"))
    assert world.url("/") not in urls


def test_site_source_stores_articles_once_under_canonical_urls(
    world: Any, tmp_path: Path
) -> None:
    config = write_config(tmp_path, world, [
        {"name": "home", "kind": "site", "url": world.url("/"), "depth": 1},
    ])
    crawl(config)
    log = world.requests
    assert log[0].path == "/robots.txt"
    paths = [r.path for r in log]
    assert PRIVATE_ARTICLE_PATH not in paths
    assert not any(p.startswith(("/tag/", "/section/")) or p in ("/about.html", "/contact.html")
                   for p in paths), "navigation pages are recognised from their URLs"
    fetched = article_paths(world)
    assert len(fetched) == len(set(fetched)) == len(ARTICLES), "each article downloaded once"
    assert not any(p.startswith("/amp/") or AMP_QUERY in p or "utm_" in p for p in fetched)
    rows = stored(tmp_path)
    assert sorted(r[0] for r in rows) == sorted(world.url(a.path) for a in ARTICLES.values())
    assert all(r[0] == canonical_url(r[0]) and r[1] == "site" for r in rows)

    world.clear_log()
    crawl(config)
    assert {r.path for r in world.requests} == LISTING_PATHS
    assert article_paths(world) == [], "a re-crawl of an unchanged site fetches no article"


def test_site_source_respects_max_pages_allow_and_deny(world: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, world, [
        {"name": "home", "kind": "site", "url": world.url("/"), "max_pages": 2, "depth": 1,
         "deny": ["/sport/"], "allow": ["/(world|sport|europe|politics)/"]},
    ])
    crawl(config)
    paths = {r.path for r in world.requests}
    assert "/page/2/" in paths and "/page/3/" not in paths
    urls = [r[0] for r in stored(tmp_path)]
    assert urls, "the allowed sections still give articles"
    assert all(any(f"/{s}/" in u for s in ("world", "europe", "politics")) for u in urls)


def test_all_three_kinds_share_one_download_per_article(world: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, world, [
        {"name": "rss", "kind": "feed", "url": world.url("/feeds/all.atom")},
        {"name": "maps", "kind": "sitemap", "url": world.url("/sitemap_index.xml")},
        {"name": "home", "kind": "site", "url": world.url("/"), "depth": 1},
    ])
    crawl(config)
    fetched = article_paths(world)
    assert len(fetched) == len(set(fetched))
    rows = stored(tmp_path)
    assert len(rows) == len({r[0] for r in rows}) == len(ARTICLES)
    assert {r[1] for r in rows} <= {"feed", "sitemap", "site"}


def test_demo_shows_all_three_kinds(tmp_path: Path) -> None:
    result = run_cli("demo", "--workdir", str(tmp_path / "demo"))
    assert result.code == 0, result.stderr[-3000:]
    with sqlite3.connect(tmp_path / "demo" / "storywatch.db") as db:
        count = db.execute("SELECT count(*) FROM items").fetchone()[0]
    assert count == len(ARTICLES)
    config = (tmp_path / "demo" / "storywatch.toml").read_text()
    assert 'kind = "sitemap"' in config and 'kind = "site"' in config
    assert "allow_private_networks" not in config and "allowed_hosts" in config
    rows = [line for line in result.stdout.splitlines() if "courier-" in line]
    assert any("sitemap" in line for line in rows) and any("site " in line for line in rows)
