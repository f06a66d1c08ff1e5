"""The feed parser on what real feeds do: guids that are not links, Content-Location, empty
feeds. Pure functions of bytes; the crawls of the same cases are in test_discovery.py."""

from __future__ import annotations

from storywatch.discovery.feeds import parse_feed
from storywatch.normalise.urls import document_base

FEED_URL = "https://a.test/feeds/main.xml"


def rss(items: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
            "</channel></rss>").encode()


def test_a_guid_is_used_only_when_it_is_a_permalink_url() -> None:
    body = rss(
        '<item><title>a</title><guid isPermaLink="false">abc</guid></item>'
        '<item><title>b</title><guid isPermaLink="false">https://a.test/2024/not-a-link</guid>'
        "</item>"
        "<item><title>c</title><guid>relative-guid</guid></item>"
        "<item><title>d</title><guid>/feeds/rooted-guid</guid></item>"
        "<item><title>e</title><guid>urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427</guid></item>"
        "<item><title>f</title><guid>https://a.test/2024/10/a-permalink.html</guid></item>"
        "<item><title>g</title><guid isPermaLink=\"false\">x1</guid>"
        "<link>https://a.test/2024/10/linked.html</link></item>"
    )
    parsed = parse_feed(body, FEED_URL)
    assert parsed.error is None
    assert [e.link for e in parsed.entries] == [
        "https://a.test/2024/10/a-permalink.html", "https://a.test/2024/10/linked.html"
    ]


def test_atom_ids_are_links_only_when_they_are_http_urls() -> None:
    body = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            b"<entry><title>x</title><id>tag:a.test,2024:1</id></entry>"
            b"<entry><title>y</title><id>https://a.test/2024/10/atom-id.html</id></entry>"
            b"</feed>")
    assert [e.link for e in parse_feed(body, FEED_URL).entries] == [
        "https://a.test/2024/10/atom-id.html"
    ]


def test_content_location_is_the_base_of_relative_links() -> None:
    body = rss("<item><title>a</title><link>2024/10/story.html</link></item>"
               "<item><title>b</title><link>/rooted.html</link></item>")
    assert [e.link for e in parse_feed(body, FEED_URL).entries] == [
        "https://a.test/feeds/2024/10/story.html", "https://a.test/rooted.html"
    ]
    moved = parse_feed(body, FEED_URL, "application/rss+xml", "/world/main.xml")
    assert [e.link for e in moved.entries] == [
        "https://a.test/world/2024/10/story.html", "https://a.test/rooted.html"
    ]
    absolute = parse_feed(body, FEED_URL, None, "https://b.test/x/feed.rss")
    assert absolute.entries[0].link == "https://b.test/x/2024/10/story.html"


def test_document_base_ignores_useless_content_locations() -> None:
    assert document_base(FEED_URL, None) == FEED_URL
    assert document_base(FEED_URL, "  ") == FEED_URL
    assert document_base(FEED_URL, "file:///etc/passwd") == FEED_URL
    assert document_base(FEED_URL, "other.xml") == "https://a.test/feeds/other.xml"


def test_empty_feeds_are_feeds_with_nothing_new() -> None:
    for body in (b"", b" \n\t", rss(""),
                 b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>'):
        parsed = parse_feed(body, FEED_URL)
        assert parsed.error is None, (body, parsed.error)
        assert parsed.entries == []
    assert parse_feed(b"<html><body>not a feed</body></html>", FEED_URL).error
