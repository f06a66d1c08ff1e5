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


def _urlset(*urls: str) -> str:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return ('<?xml version="1.0" encoding="{enc}"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>')


def test_what_real_sites_list_as_sitemaps_is_read(world: Any, tmp_path: Path) -> None:
    """robots.txt names feeds, a BOM sitemap, a UTF-16 one, a text list with junk, a cut-off
    sitemap and empty ones: every listed page is fetched once, nothing made up, no failure."""
    from storywatch.demo.site import Page

    articles = sorted(ARTICLES.values(), key=lambda a: a.path)
    url = [world.url(a.path) for a in articles]
    xml = "application/xml"
    cut_sitemap = (_urlset(url[4], url[5]).format(enc="UTF-8").split(url[5])[0]
                   + url[5][:-12])  # the transfer stopped inside the second <loc>
    maps = {
        "/maps/bom.xml": Page(content_type=xml, body=b"\xef\xbb\xbf"
                              + _urlset(url[0]).format(enc="UTF-8").encode()),
        "/maps/utf16.xml": Page(content_type=xml,
                                body=_urlset(url[1]).format(enc="UTF-16").encode("utf-16")),
        "/maps/list.txt": Page(content_type="text/plain", body=b"\xef\xbb\xbf" + (
            f"{url[2]}\n\n# written by hand\nnot-a-url\n{url[3]}\n").encode()),
        "/maps/cut.xml": Page(content_type=xml, body=cut_sitemap.encode()),
        "/maps/empty.xml": Page(content_type=xml, body=b""),
        "/maps/empty-urlset.xml": Page(content_type=xml, body=_urlset().format(
            enc="UTF-8").encode()),
    }
    for path, page in maps.items():
        world.set_override(path, page)
    rss = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
           f"<item><title>Six</title><link>{url[6]}</link></item>"
           f"<item><title>Seven</title><guid>{url[7]}</guid></item></channel></rss>")
    atom = ('<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:t</id>'
            f'<entry><title>Eight</title><id>urn:8</id><link href="{url[8]}"/></entry></feed>')
    world.set_override("/maps/news.rss", Page(content_type="application/rss+xml",
                                              body=rss.encode()))
    world.set_override("/maps/news.atom", Page(content_type="application/atom+xml",
                                               body=atom.encode()))
    listed = ["/maps/news.rss", "/maps/news.atom", "/feeds/empty.rss", *maps]
    robots = "User-agent: *\nDisallow: /private/\n" + "".join(
        f"Sitemap: {world.url(path)}\n" for path in listed)
    world.set_override("/robots.txt", Page(content_type="text/plain", body=robots.encode()))
    config = write_config(tmp_path, world, [
        {"name": "listed", "kind": "sitemap", "url": world.url("/"), "max_age": "36500d"},
    ])
    out = crawl(config)
    assert " 0 failed" in out and "failed http" not in out, out

    expected = {url[i] for i in (0, 1, 2, 3, 4, 6, 7, 8)}
    fetched = article_paths(world)
    assert len(fetched) == len(set(fetched)), "each listed page fetched once"
    assert {world.url(p) for p in fetched} == expected
    partial = articles[5].path[:-12]
    assert not any(r.path.startswith(partial) for r in world.requests), "no partial URL"
    rows = stored(tmp_path)
    assert {r[0] for r in rows} == expected and {r[1] for r in rows} == {"sitemap"}


def test_feed_guids_content_location_and_empty_feeds(world: Any, tmp_path: Path) -> None:
    from storywatch.demo.site import Page

    first, second, third = sorted(ARTICLES.values(), key=lambda a: a.path)[:3]
    directory, name = first.path.rsplit("/", 1)
    items = (
        f"<item><title>Relative</title><link>{name}</link></item>"
        '<item><title>Not a link</title><guid isPermaLink="false">abc</guid></item>'
        f'<item><title>Opaque</title><guid isPermaLink="false">{world.url(third.path)}</guid>'
        "</item>"
        "<item><title>Relative guid</title><guid>made-up-guid</guid></item>"
        f"<item><title>Permalink</title><guid>{world.url(second.path)}</guid></item>"
    )
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f"{items}</channel></rss>").encode()
    world.set_override("/feeds/moved.rss", Page(
        content_type="application/rss+xml", body=body,
        headers={"Content-Location": f"{directory}/index.rss"}))
    world.set_override("/feeds/blank.rss", Page(content_type="application/rss+xml", body=b""))
    config = write_config(tmp_path, world, [
        {"name": "moved", "kind": "feed", "url": world.url("/feeds/moved.rss")},
        {"name": "blank", "kind": "feed", "url": world.url("/feeds/blank.rss")},
        {"name": "empty", "kind": "feed", "url": world.url("/feeds/empty.rss")},
    ])
    out = crawl(config)
    assert " 0 failed" in out and "failed http" not in out, out
    paths = [r.path for r in world.requests]
    assert set(paths) == {"/robots.txt", "/feeds/moved.rss", "/feeds/blank.rss",
                          "/feeds/empty.rss", first.path, second.path}
    assert paths.count(first.path) == paths.count(second.path) == 1
    assert sorted(r[0] for r in stored(tmp_path)) == sorted(
        world.url(a.path) for a in (first, second))
