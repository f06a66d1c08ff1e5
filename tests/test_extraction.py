"""Golden-file tests of extract_article: a stored page and the fields expected from it.

A regression shows as a diff of fields (fundus-style), not as a bare failed boolean.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storywatch.extraction import extract_article
from storywatch.normalise.dates import iso
from storywatch.normalise.item import FeedHints, normalise_article

PAGES = Path(__file__).parent / "data" / "pages"
URL = "https://site.example/article?utm_source=test"


@pytest.mark.parametrize("name", sorted(p.stem for p in PAGES.glob("*.html")))
def test_golden_page(name: str) -> None:
    expected = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    html = (PAGES / f"{name}.html").read_text(encoding="utf-8")
    article = extract_article(html, URL)
    item = normalise_article(article, url=URL, source="golden", discovered_via="feed")
    got = {
        "title": item.title,
        "authors": item.authors,
        "published_at": iso(item.published_at),
        "language": item.language,
        "canonical_url": article.canonical_url,
    }
    want = {key: expected[key] for key in got}
    assert got == want
    for fragment in expected["text_contains"]:
        assert fragment in item.text
    for fragment in expected["text_excludes"]:
        assert fragment not in item.text
    assert "\n\n" not in item.text and item.text == item.text.strip()


def test_broken_markup_never_raises() -> None:
    for html in ["", "<", "<html><body><p>unclosed", "\x00\x01binary", "<p>" * 5000]:
        article = extract_article(html, "https://x.example/a")
        assert isinstance(article.text, str)


def test_feed_summary_fills_an_empty_page() -> None:
    article = extract_article("<html><body><nav>Home</nav></body></html>", "https://x.example/a")
    hints = FeedHints(title="Feed title", summary="<p>The summary from the feed entry.</p>",
                      published="Thu, 10 Oct 2024 08:00:00 GMT", authors=["Feed Author"])
    item = normalise_article(article, url="https://x.example/a", source="s",
                             discovered_via="feed", hints=hints)
    assert item.title == "Feed title"
    assert item.text == "The summary from the feed entry."
    assert item.extractor == "feed-summary"
    assert item.authors == ["Feed Author"]
    assert iso(item.published_at) == "2024-10-10T08:00:00Z"


def test_headline_is_not_repeated_as_first_body_line() -> None:
    html = ("<html><head><title>T</title><meta property='og:title' content='Big news'></head>"
            "<body><article><h1>Big news</h1>" + "<p>Body sentence number one is here.</p>" * 12
            + "</article></body></html>")
    item = normalise_article(extract_article(html, "https://x.example/a"),
                             url="https://x.example/a", source="s", discovered_via="feed")
    assert not item.text.startswith("Big news")


def test_byline_naming_the_author_is_not_body_text() -> None:
    body = "".join(f"<p>Paragraph {n} of the report tells what the council decided.</p>"
                   for n in range(10))
    html = ("<html><head><meta name='author' content='Anna Petrova'></head><body><article>"
            "<p>Published 10 February 2025, 09:00 by Anna Petrova.</p>" + body +
            "</article></body></html>")
    item = normalise_article(extract_article(html, "https://x.example/a"),
                             url="https://x.example/a", source="s", discovered_via="feed")
    assert item.authors == ["Anna Petrova"]
    assert item.text.startswith("Paragraph 0")


def test_the_byline_hints_hold_everything_trafilatura_s_byline_search_matches() -> None:
    """extract_article skips trafilatura's byline search on markup without BYLINE_WORDS,
    and on a parsed page where no element of BYLINE_ATTRIBUTES (or named author, rel)
    holds one: each condition of its XPaths (an attribute value, a child element, an
    element name) must pass both hints, or an upgrade of trafilatura could find bylines
    they hide."""
    import re

    from trafilatura.metadata import AUTHOR_XPATHS

    from storywatch.extraction.article import (
        BYLINE_ATTRIBUTES,
        may_have_byline,
        may_have_byline_in,
        parse_page,
    )

    def page(markup: str) -> str:
        return f"<html><body><p>Report</p>{markup}</body></html>"

    def both(markup: str) -> bool:
        tree = parse_page(page(markup))
        return may_have_byline(page(markup)) and tree is not None and may_have_byline_in(tree)

    for xpath in AUTHOR_XPATHS:
        source = xpath.path
        # @attr='v', contains(@attr, 'v'), re:test(@attr, 'a|b'), child='v'
        conditions = re.findall(r"(@?)([\w-]+)(?:\s*=\s*|,\s*)'([^']*)'", source)
        assert len(conditions) == source.count("'") // 2, source  # every literal parsed
        for attribute, name, value in conditions:
            if not attribute:  # a child element's text: the element must be in the markup
                assert both(f"<div><{name}>{value}</{name}></div>"), name
                continue
            assert name in BYLINE_ATTRIBUTES, name
            for alternative in value.split("|"):
                word = re.sub(r"\[(\w)\w*\]", r"\1", alternative)  # [Aa]uthor -> Author
                word = word.replace("-?", "-")  # author-?name
                assert both(f'<span {name}="x {word} y">Jane Roe</span>'), (name, alternative)
        for element in re.findall(r"//(\w+)\s*(?:\||$)", source.strip()):  # //author
            assert both(f"<{element}>Jane Roe</{element}>"), element
    # The words elsewhere in the markup (a script, a meta tag) pass the first hint only.
    elsewhere = page('<script>var author = "x";</script><meta name="author" content="x">')
    assert may_have_byline(elsewhere)
    tree = parse_page(elsewhere)
    assert tree is not None and not may_have_byline_in(tree)


@pytest.mark.parametrize("byline", [
    "<span class='byline'>By Jane Roe</span>",
    "<div class='article-author'>Jane Roe</div>",
    "<p itemprop='author'>Jane Roe</p>",
])
def test_a_byline_in_the_markup_is_found_and_none_is_invented(byline: str) -> None:
    body = "".join(f"<p>Paragraph {n} of the report tells what the council decided.</p>"
                   for n in range(10))
    page = "<html><head><title>Council</title></head><body><article>{}" + body + \
        "</article></body></html>"
    assert extract_article(page.format(byline), "https://x.example/a").authors == ["Jane Roe"]
    assert extract_article(page.format(""), "https://x.example/b").authors == []


_CHARSETS = ["utf-8", "windows-1251", "iso-8859-1", "shift_jis", "utf-16", "gb18030"]
_TEXTS = ["Déserteurs russes", "Русские дезертиры получили визы", "ロシア軍の脱走兵",
          "plain ascii text", "俄罗斯逃兵获得法国签证"]


@pytest.mark.parametrize("header", [None, "text/html", "text/html; charset={c}",
                                    "text/html; charset=bogus-name"])
@pytest.mark.parametrize("meta", [False, True])
@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("charset", _CHARSETS)
def test_the_worker_reads_the_charset_scrapy_s_response_would(
        charset: str, header: str | None, meta: bool, bom: bool) -> None:
    """The crawl process hands the worker the page's bytes and Content-Type, and the worker
    reads the charset (extraction.encoding.page_encoding); it must be the one Scrapy's
    TextResponse.encoding gives for the same bytes and header, declared or not, so that a
    page decodes as it did when the crawl process decoded it."""
    from scrapy.http import HtmlResponse

    from storywatch.extraction.encoding import decode_page, page_encoding

    head = f'<meta charset="{charset}">' if meta else ""
    html = f"<html><head>{head}</head><body><p>{' '.join(_TEXTS)}</p></body></html>"
    try:
        body = html.encode(charset)
    except UnicodeEncodeError:
        body = html.encode(charset, errors="xmlcharrefreplace")
    if bom:
        body = {"utf-8": b"\xef\xbb\xbf"}.get(charset, b"") + body
    content_type = None if header is None else header.format(c=charset)
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = HtmlResponse("https://n.test/a.html", body=body, headers=headers)
    assert page_encoding(body, content_type) == response.encoding
    assert decode_page(body, page_encoding(body, content_type)) == decode_page(
        body, response.encoding)
