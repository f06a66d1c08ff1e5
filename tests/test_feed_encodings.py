"""Feeds in UTF-16, UTF-32 and other encodings whose DOCTYPE is not ASCII bytes: no entity
of theirs is ever expanded (an expansion below expat's amplification limit grew a 4.7 MB
UTF-16 feed into 200 MB of text)."""

from __future__ import annotations

import pytest

from storywatch.discovery.feeds import parse_feed

LINK = "https://news.example/world/bomb.html"


def entity_bomb(encoding: str) -> bytes:
    """About 2 KB that expands to about 7 MB: under expat's 8 MiB activation threshold, so
    expat's own amplification limit never stops it."""
    levels = ['<!ENTITY a "' + "A" * 1000 + '">', '<!ENTITY b "' + "&a;" * 10 + '">',
              '<!ENTITY c "' + "&b;" * 10 + '">', '<!ENTITY d "' + "&c;" * 10 + '">']
    declared = encoding.removesuffix("-le").removesuffix("-be")
    doc = (f'<?xml version="1.0" encoding="{declared}"?><!DOCTYPE rss [{"".join(levels)}]>'
           '<rss version="2.0"><channel><title>Bomb</title>'
           f"<item><title>&d;</title><link>{LINK}</link>"
           + "<description>&d;&d;&d;&d;&d;&d;</description></item></channel></rss>")
    body = doc.encode(encoding)
    return body if encoding in ("utf-16", "utf-32") else "\ufeff".encode(encoding) + body


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "utf-32-be"])
@pytest.mark.parametrize("header", ["none", "type", "charset"])
def test_no_entity_is_expanded_in_any_encoding(encoding: str, header: str) -> None:
    body = entity_bomb(encoding)
    assert len(body) < 6_000
    content_type = {"none": None, "type": "application/rss+xml",
                    "charset": f"application/rss+xml; charset={encoding}"}[header]
    feed = parse_feed(body, "https://news.example/feed.xml", content_type)
    assert [e.link for e in feed.entries] == [LINK]
    # Expanded, the entry would hold 7 MB of text; kept as references it stays tiny.
    assert len(repr(feed)) < 20_000
