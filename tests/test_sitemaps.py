"""The sitemap parser on the demo world's sitemaps and on hostile or unusual documents."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

from storywatch.demo.site import (
    NEWS_SITEMAP_FRESH,
    NEWS_SITEMAP_STALE,
    build_site,
    news_sitemap_dates,
)
from storywatch.discovery.sitemaps import parse_sitemap, robots_sitemaps

BASE = "http://news.test:8080"
NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def test_news_sitemap_keeps_publication_date_title_and_language() -> None:
    site = build_site(BASE, now=NOW)
    parsed = parse_sitemap(site["/sitemaps/news.xml"].body, BASE + "/sitemaps/news.xml")
    assert parsed.kind == "urlset" and parsed.error is None
    assert len(parsed.entries) == len(NEWS_SITEMAP_FRESH) + len(NEWS_SITEMAP_STALE)
    dates = news_sitemap_dates(NOW)
    for entry in parsed.entries:
        slug = entry.loc.rsplit("/", 1)[-1].removesuffix(".html")
        assert entry.published == dates[slug]
        assert entry.date == dates[slug]
        assert entry.title and entry.language in ("en", "de", "fr", "ru")
    stale = [e for e in parsed.entries if e.date and e.date < NOW - timedelta(days=7)]
    assert sorted(e.loc.rsplit("/", 1)[-1] for e in stale) == sorted(
        f"{slug}.html" for slug in NEWS_SITEMAP_STALE
    )


def test_index_lists_child_sitemaps_and_plain_sitemap_gives_lastmod() -> None:
    site = build_site(BASE, now=NOW)
    index = parse_sitemap(site["/sitemap_index.xml"].body, BASE + "/sitemap_index.xml")
    assert index.kind == "sitemapindex"
    assert [s.loc for s in index.sitemaps] == [
        BASE + "/sitemaps/news.xml", BASE + "/sitemaps/pages.xml"
    ]
    assert all(s.lastmod == NOW for s in index.sitemaps)
    pages = parse_sitemap(site["/sitemaps/pages.xml"].body, BASE + "/sitemaps/pages.xml")
    about = next(e for e in pages.entries if e.loc.endswith("/about.html"))
    assert about.lastmod == datetime(2024, 9, 1, tzinfo=UTC) and about.published is None


def test_robots_sitemap_lines() -> None:
    site = build_site(BASE, now=NOW)
    assert robots_sitemaps(site["/robots.txt"].body, BASE + "/robots.txt") == [
        BASE + "/sitemap_index.xml"
    ]


def test_gzip_relative_locs_and_text_sitemaps() -> None:
    xml = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
           b"<url><loc>/a/one-two-three.html</loc><lastmod>2025-01-02</lastmod></url>"
           b"<url><loc>ftp://elsewhere/x</loc></url></urlset>")
    parsed = parse_sitemap(gzip.compress(xml), BASE + "/sitemap.xml.gz")
    assert [e.loc for e in parsed.entries] == [BASE + "/a/one-two-three.html"]
    text = parse_sitemap(b"https://a.test/one\nhttps://a.test/two\n", "https://a.test/s.txt")
    assert text.kind == "text" and [e.loc for e in text.entries] == [
        "https://a.test/one", "https://a.test/two"
    ]


def test_entities_are_not_expanded_and_files_not_read() -> None:
    hostile = (
        b'<?xml version="1.0"?>\n<!DOCTYPE urlset [\n'
        b'<!ENTITY secret SYSTEM "file:///etc/hostname">\n'
        b'<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">\n'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">\n'
        b"]>\n"
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://a.test/x-&secret;-&c;</loc></url></urlset>"
    )
    parsed = parse_sitemap(hostile, "https://a.test/sitemap.xml")
    locs = [e.loc for e in parsed.entries]
    assert all("aaaa" not in loc and len(loc) < 100 for loc in locs)


def test_foreign_and_broken_documents_are_errors_not_exceptions() -> None:
    assert parse_sitemap(b"<html><body>hi</body></html>", BASE).error
    assert parse_sitemap(b"", BASE).error == "empty document"
    assert parse_sitemap(b"\x1f\x8bnot really gzip", BASE).error
    assert parse_sitemap(b"this is not a sitemap at all", BASE).error
