"""Page-type and link analysis for `site` sources, on the demo world's own pages."""

from __future__ import annotations

import pytest

from storywatch.demo.site import PRIVATE_ARTICLE_PATH, build_site
from storywatch.demo.world import load_articles
from storywatch.discovery.pages import analyse_page, url_kind

BASE = "http://news.test:8080"
SITE = build_site(BASE)
ARTICLES = load_articles()


@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: f"{a.template}-{a.slug}")
def test_every_article_layout_is_an_article(article: object) -> None:
    path = article.path  # type: ignore[attr-defined]
    analysis = analyse_page(SITE[path].body, BASE + path)
    assert analysis.is_article, analysis.reason
    assert analysis.kind == "article"


def test_navigation_section_tag_and_static_pages_are_not_articles() -> None:
    paths = [p for p in SITE if p in ("/", "/page/2/", "/page/3/", "/about.html",
                                       "/contact.html") or p.startswith(("/section/", "/tag/"))]
    assert len(paths) > 10
    for path in paths:
        analysis = analyse_page(SITE[path].body, BASE + path)
        assert not analysis.is_article, f"{path}: {analysis.reason}"
    assert analyse_page(SITE["/about.html"].body, BASE + "/about.html").kind == "static"
    assert analyse_page(SITE["/tag/eu/"].body, BASE + "/tag/eu/").kind == "listing"


def test_a_page_with_article_metadata_but_no_body_is_not_an_article() -> None:
    html = ('<html><head><meta property="og:type" content="article"></head><body>'
            "<article><h1>Headline only</h1><p>Subscribe to read.</p></article></body></html>")
    analysis = analyse_page(html, BASE + "/world/2025/01/paywalled-story-here.html")
    assert not analysis.is_article and "body words" in analysis.reason


def test_homepage_links_are_canonical_articles_and_an_older_page() -> None:
    analysis = analyse_page(SITE["/"].body, BASE + "/")
    assert analysis.next_pages == [BASE + "/page/2/"]
    assert len(analysis.article_links) == 9  # 8 teasers and the subscribers' exclusive
    assert BASE + PRIVATE_ARTICLE_PATH in analysis.article_links
    assert not any("utm_" in u or "outputType" in u for u in analysis.article_links)
    last = analyse_page(SITE["/page/3/"].body, BASE + "/page/3/")
    assert last.next_pages == [], "the last page has no older page"


def test_article_page_gives_related_links_and_its_amp_twin() -> None:
    article = next(a for a in ARTICLES if a.template == "classic" and a.has_amp)
    analysis = analyse_page(SITE[article.path].body, BASE + article.path)
    assert analysis.amphtml == BASE + article.amp_path
    assert analysis.article_links and BASE + article.path not in analysis.article_links
    assert not any("/tag/" in u or "/section/" in u for u in analysis.article_links)


@pytest.mark.parametrize(("url", "kind"), [
    ("https://n.test/", "listing"),
    ("https://n.test/world/", "listing"),
    ("https://n.test/section/world/", "listing"),
    ("https://n.test/tag/eu/", "listing"),
    ("https://n.test/page/4/", "listing"),
    ("https://n.test/news?page=2", "listing"),
    ("https://n.test/about.html", "static"),
    ("https://n.test/en/contact", "static"),
    ("https://n.test/world/2024/10/six-deserters.html", "article"),
    ("https://n.test/news/world-europe-68123456", "article"),
    ("https://n.test/politics/french-senate-votes-on-reunification", "article"),
    ("https://n.test/static/site.css", "asset"),
    ("https://n.test/files/report.pdf", "asset"),
    ("https://n.test/feeds/all.atom", "asset"),
    ("https://n.test/wp-content/uploads/2024/10/photo.jpeg", "asset"),
    ("https://n.test/docs/budget.docx", "asset"),
    ("https://n.test/topics/climate/", "listing"),
    ("https://n.test/author/jane-doe", "listing"),
    ("https://n.test/kategorie/politik/", "listing"),
    ("https://n.test/news/tags/eu-visas/", "listing"),
    ("https://n.test/impressum", "static"),
    ("https://n.test/de/kontakt.html", "static"),
    ("https://n.test/2024/10/17/the-last-cat/", "article"),
    ("https://n.test/2024/10/17/inside-the-front-page/", "article"),
])
def test_url_kind(url: str, kind: str) -> None:
    assert url_kind(url) == kind


def test_page_analysis_reads_metadata_as_extraction_does() -> None:
    """One meta/JSON-LD reader for both: the page analysis sees what extraction sees, whatever
    the markup's letter case, and JSON-LD types inside an @graph."""

    from storywatch.extraction.article import parse_page
    from storywatch.extraction.metadata import read_metadata

    body = " ".join(["Words of the body of a report from the river town."] * 12)
    html = (
        '<html><head><META PROPERTY="OG:TYPE" CONTENT="Article">'
        '<meta Name="Article:Published_Time" content="2024-10-16T10:00:00Z">'
        '<LINK REL="Canonical" HREF="/world/2024/10/story.html">'
        '<link rel="AmpHTML" href="/amp/world/2024/10/story.html">'
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
        '{"@type": "WebSite", "name": "N"}, {"@type": ["NewsArticle"], "headline": "H"}]}'
        "</script></head><body><h1>H</h1>"
        f"<div><p>{body}</p><p>{body}</p></div></body></html>"
    )
    url = "https://n.test/world/2024/10/story.html?utm_source=x"
    analysis = analyse_page(html, url)
    tree = parse_page(html)
    assert tree is not None
    metadata = read_metadata(tree, url)  # the tree extraction reads
    assert analysis.canonical == metadata.canonical == "https://n.test/world/2024/10/story.html"
    assert analysis.amphtml == metadata.amphtml
    assert metadata.page_type == "Article" and metadata.has_article_markup
    for signal in ("og:type=article", "JSON-LD article", "published_time"):
        assert signal in analysis.reason, analysis.reason
    assert analysis.is_article
