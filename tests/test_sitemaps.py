"""The sitemap parser on the demo world's sitemaps and on hostile or unusual documents."""

from __future__ import annotations

import codecs
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
    assert parse_sitemap(b"\x1f\x8bnot really gzip", BASE).error
    assert parse_sitemap(b"this is not a sitemap at all", BASE).error


URLSET = ('<?xml version="1.0" encoding="{encoding}"?>'
          '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
          "<url><loc>https://a.test/2024/10/one-two-three.html</loc></url>"
          "<url><loc>https://a.test/2024/10/four-five-six.html</loc></url></urlset>")
TWO = ["https://a.test/2024/10/one-two-three.html", "https://a.test/2024/10/four-five-six.html"]


def test_byte_order_marks_and_utf16_are_read() -> None:
    documents = {
        "UTF-8 with BOM": codecs.BOM_UTF8 + URLSET.format(encoding="UTF-8").encode(),
        "UTF-16 (BOM)": URLSET.format(encoding="UTF-16").encode("utf-16"),
        "UTF-16 BE, BOM": codecs.BOM_UTF16_BE + URLSET.format(encoding="UTF-16").encode(
            "utf-16-be"),
        "UTF-16 LE, no BOM": URLSET.format(encoding="UTF-16").encode("utf-16-le"),
        "text, UTF-8 BOM": codecs.BOM_UTF8 + "\n".join(TWO).encode(),
        "text, UTF-16": "\r\n".join(TWO).encode("utf-16"),
        "gzip, BOM": gzip.compress(codecs.BOM_UTF8 + URLSET.format(encoding="UTF-8").encode()),
    }
    for name, body in documents.items():
        parsed = parse_sitemap(body, "https://a.test/sitemap.xml")
        assert parsed.error is None, (name, parsed.error)
        assert [e.loc for e in parsed.entries] == TWO, name


def test_text_sitemap_keeps_its_url_lines_and_skips_junk() -> None:
    body = (b"https://a.test/one\n\n   \n# generated by some CMS\nnot a url\n"
            b"ftp://a.test/file\nhttps://a.test/two\n/relative/path\n")
    parsed = parse_sitemap(body, "https://a.test/s.txt")
    assert parsed.error is None and parsed.kind == "text"
    assert [e.loc for e in parsed.entries] == ["https://a.test/one", "https://a.test/two"]
    assert parsed.warning and "4 line(s)" in parsed.warning
    # With no URL line at all it is still not a sitemap.
    assert parse_sitemap(b"hello\nworld\n", "https://a.test/s.txt").error


def test_feeds_listed_as_sitemaps_are_lists_of_pages() -> None:
    rss = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
           b"<item><title>One</title><link>https://a.test/2024/10/one-two-three.html</link>"
           b"<pubDate>Wed, 16 Oct 2024 10:00:00 GMT</pubDate><description>Sum</description>"
           b"</item><item><title>Two</title><link>/2024/10/four-five-six.html</link></item>"
           b"</channel></rss>")
    parsed = parse_sitemap(rss, "https://a.test/feed.xml")
    assert parsed.error is None and parsed.kind == "feed"
    assert [e.loc for e in parsed.entries] == TWO
    first = parsed.entries[0]
    assert first.title == "One" and first.published == datetime(2024, 10, 16, 10, tzinfo=UTC)
    assert first.hints is not None and first.hints.summary == "Sum"
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>'
            b'<entry><title>One</title><id>urn:1</id><updated>2024-10-16T10:00:00Z</updated>'
            b'<link rel="alternate" href="https://a.test/2024/10/one-two-three.html"/></entry>'
            b"</feed>")
    parsed = parse_sitemap(gzip.compress(atom), "https://a.test/feed.atom.gz")
    assert parsed.kind == "feed" and [e.loc for e in parsed.entries] == TWO[:1]
    assert parsed.entries[0].date == datetime(2024, 10, 16, 10, tzinfo=UTC)


def test_a_cut_off_sitemap_gives_only_closed_entries() -> None:
    whole = URLSET.format(encoding="UTF-8").encode()
    for cut_after in (b"<loc>https://a.test/2024/10/fo", b"</url><url><loc>",
                      b"four-five-six.html</loc>",
                      b"four-five-six.html</loc></url>"):
        cut = whole[:whole.index(cut_after) + len(cut_after)]
        parsed = parse_sitemap(cut, "https://a.test/sitemap.xml")
        expected = TWO if cut_after.endswith(b"</url>") else TWO[:1]
        assert [e.loc for e in parsed.entries] == expected, cut_after
        assert parsed.error is None and parsed.warning, cut_after
    index = (b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>https://a.test/s1.xml</loc></sitemap>"
             b"<sitemap><loc>https://a.test/s2.x")
    assert [s.loc for s in parse_sitemap(index, "https://a.test/").sitemaps] == [
        "https://a.test/s1.xml"]
    assert parse_sitemap(whole, "https://a.test/sitemap.xml").warning is None


def test_empty_sitemaps_are_sitemaps_with_nothing_new() -> None:
    for body in (b"", b"  \n", codecs.BOM_UTF8, gzip.compress(b""),
                 b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>',
                 b'<?xml version="1.0"?><sitemapindex></sitemapindex>'):
        parsed = parse_sitemap(body, "https://a.test/sitemap.xml")
        assert parsed.error is None, (body, parsed.error)
        assert parsed.entries == [] and parsed.sitemaps == []
