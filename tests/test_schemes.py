"""Only http(s) is ever requested: real crawls of the fixture site on 127.0.0.1 whose
robots.txt names local files, other schemes and a relative sitemap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storywatch.demo.site import NEWS_SITEMAP_FRESH, Page
from storywatch.demo.world import load_articles
from tests.test_discovery import crawl, stored, write_config

ARTICLES = {a.slug: a for a in load_articles()}
# Exists only inside the local sitemap file: requesting it would prove the file was read.
LOCAL_ONLY_PATH = "/world/2024/10/only-in-a-local-file.html"


def hostile_robots(world: Any, tmp_path: Path) -> Path:
    local = tmp_path / "local-sitemap.xml"
    local.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{world.url(LOCAL_ONLY_PATH)}</loc></url></urlset>", encoding="utf-8")
    text = (
        "User-agent: *\nDisallow: /private/\n\n"
        f"Sitemap: file://{local}\n"
        "Sitemap: file:///dev/zero\n"
        "Sitemap: file:///proc/self/environ\n"
        f"Sitemap: ftp://127.0.0.1:{world.port}/sitemap.xml\n"
        "Sitemap: data:text/xml,<urlset/>\n"
        "Sitemap: s3://bucket/sitemap.xml\n"
        # Relative: resolved against robots.txt's URL, not a crash inside start().
        "Sitemap: /sitemaps/news.xml\n"
    )
    world.set_override("/robots.txt", Page(content_type="text/plain; charset=utf-8",
                                           body=text.encode()))
    return local


@pytest.mark.parametrize("allow_private", [False, True], ids=["guard-on", "guard-off"])
def test_robots_sitemaps_of_other_schemes_are_never_read(world: Any, tmp_path: Path,
                                                         allow_private: bool) -> None:
    hostile_robots(world, tmp_path)
    config = write_config(tmp_path, world, [
        {"name": "courier", "kind": "sitemap", "url": world.url("/")},
    ], allow_private_networks=allow_private)
    out = " ".join(crawl(config).split())  # finishes, exit code 0 (rich wraps lines)
    paths = [r.path for r in world.requests]
    assert LOCAL_ONLY_PATH not in paths, "the local sitemap file was read"
    assert "/sitemaps/news.xml" in paths, "the relative Sitemap: line was followed"
    rows = {r[0] for r in stored(tmp_path)}
    assert {world.url(ARTICLES[slug].path) for slug in NEWS_SITEMAP_FRESH} <= rows
    assert world.url(LOCAL_ONLY_PATH) not in rows
    # Each refused line is reported, not silently dropped.
    for scheme in ("file:///dev/zero", "file:///proc/self/environ", "ftp://", "data:",
                   "s3://"):
        assert scheme in out, scheme


def test_feed_links_and_redirects_to_other_schemes_are_not_followed(world: Any,
                                                                  tmp_path: Path) -> None:
    """Feeds, pages and redirects are other sources of links; none reaches a local file
    (already true before the robots.txt fix: kept so that it stays true)."""
    local = hostile_robots(world, tmp_path)
    one = next(iter(ARTICLES.values()))
    world.set_override("/go/local.html", Page(status=302, body=b"",
                                              headers={"Location": f"file://{local}"}))
    links = [f"file://{local}", "file:///dev/zero", world.url("/go/local.html"),
             world.url(one.path)]
    items = "".join(f"<item><title>E{n}</title><link>{link}</link></item>"
                    for n, link in enumerate(links))
    world.set_override("/feeds/test.rss", Page(
        content_type="application/rss+xml",
        body=(f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}'
              "</channel></rss>").encode()))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ], allow_private_networks=True)
    crawl(config)
    assert LOCAL_ONLY_PATH not in [r.path for r in world.requests]
    assert [r[0] for r in stored(tmp_path)] == [world.url(one.path)]
