"""Builds every response of the demo news site as plain data.

``build_site(base_url)`` returns a mapping from request path (path plus query) to a
:class:`Page`. Keeping the site a pure mapping, separate from the HTTP server, lets tests
inspect exactly what will be served, and lets them swap single pages at runtime (a changed
feed, a server error) without re-rendering anything.

The site imitates the awkward parts of real news sites on purpose: tracking parameters in
feed links, AMP twins, three page layouts, non-UTF-8 pages, a malformed feed, an HTML page
served as RSS, an entry pointing to a deleted story, stale news-sitemap entries and a page
that robots.txt forbids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from storywatch.demo.world import SECTIONS, DemoArticle, load_articles, load_private_article

SITE_NAME = "Meridian Courier"
"""Name of the fictional newspaper (also the news-sitemap publication name)."""

DELETED_ARTICLE_PATH = "/world/2024/11/deleted-story.html"
"""Listed in /feeds/world.rss but answers 404: the story was taken down."""
DELETED_ARTICLE_TITLE = "Deserters stranded in Armenia appeal for European help"
DELETED_ARTICLE_PUBLISHED = datetime.fromisoformat("2024-11-08T09:00:00+04:00")

PRIVATE_ARTICLE_PATH = "/private/secret-article.html"
"""Article-like page that robots.txt disallows; linked from the homepage and pages.xml."""

RSS_TRACKING_QUERY = "?utm_source=rss&utm_medium=feed"
"""Appended to every item link of /feeds/world.rss (including the deleted one)."""
FBCLID_SLUG = "france-admits-second-group-of-russian-deserters"
"""The world.rss item whose link additionally carries an fbclid parameter."""
FBCLID_QUERY = RSS_TRACKING_QUERY + "&fbclid=IwAR2demoTrackingToken_x9Yq"
HOMEPAGE_TRACKING_QUERY = "?utm_source=homepage&utm_medium=teaser"
AMP_QUERY = "?outputType=amp"

NEWS_SITEMAP_FRESH: tuple[str, ...] = (
    "meps-debate-common-line-on-russian-deserters",
    "gericht-schutz-fuer-russischen-deserteur",
    "france-admits-second-group-of-russian-deserters",
    "ofpra-grants-refugee-status-to-russian-deserter",
    "six-russian-deserters-granted-french-visas-wire",
    "security-services-warn-of-russian-sabotage",
    "french-senate-tightens-family-reunification-rules",
    "router-firmware-adds-mesh-networking",
    "lighthouse-novel-wins-regional-book-prize",
)
"""News-sitemap entries dated within 2 days of ``now`` (ages in NEWS_SITEMAP_FRESH_HOURS)."""
NEWS_SITEMAP_FRESH_HOURS: tuple[int, ...] = (1, 2, 4, 7, 11, 16, 22, 30, 44)
NEWS_SITEMAP_STALE: tuple[str, ...] = (
    "russian-deserter-held-in-kazakhstan-fights-extradition",
    "winter-track-series-opens-with-sprint-double",
)
"""News-sitemap entries dated more than 10 days before ``now`` (ages in ..._STALE_DAYS)."""
NEWS_SITEMAP_STALE_DAYS: tuple[int, ...] = (11, 15)

PAGES_SITEMAP_ARTICLES: tuple[str, ...] = (
    "france-opens-doors-to-six-russian-deserters",
    "la-france-accorde-des-visas-a-six-deserteurs-russes",
    "harbour-city-snatch-cup-win-in-stoppage-time",
    "winter-track-series-opens-with-sprint-double",
    "router-firmware-adds-mesh-networking",
    "city-tests-battery-swapping-for-delivery-e-bikes",
    "lighthouse-novel-wins-regional-book-prize",
    "textile-gallery-reopens-after-renovation",
)
"""Articles listed in /sitemaps/pages.xml (besides listing pages and the private page)."""

PAGE_SIZE = 8
"""Teasers per homepage page; 23 articles give /, /page/2/ and /page/3/."""

RSS_TYPE = "application/rss+xml; charset=utf-8"
RDF_TYPE = "application/rdf+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"

FEED_PATHS: tuple[str, ...] = (
    "/feeds/world.rss",
    "/feeds/europe.rdf",
    "/feeds/all.atom",
    "/feeds/broken.rss",
    "/feeds/html.rss",
    "/feeds/empty.rss",
)
"""Every feed path; all are served with ETag and Last-Modified."""

_TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "de": [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    "ru": [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ],
}

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "by": "By",
        "and": "and",
        "read_more": "Read more",
        "comments": "Reader comments",
        "tags": "Topics",
        "back": "Back to the front page",
        "published_line": "Published {date} by {authors}.",
    },
    "fr": {
        "by": "Par",
        "and": "et",
        "read_more": "Lire aussi",
        "comments": "Commentaires des lecteurs",
        "tags": "Sujets",
        "back": "Retour à la une",
        "published_line": "Publié le {date} par {authors}.",
    },
    "de": {
        "by": "Von",
        "and": "und",
        "read_more": "Mehr zum Thema",
        "comments": "Leserkommentare",
        "tags": "Themen",
        "back": "Zurück zur Startseite",
        "published_line": "Veröffentlicht am {date} von {authors}.",
    },
    "ru": {
        "by": "Автор:",
        "and": "и",
        "read_more": "Читайте также",
        "comments": "Комментарии читателей",
        "tags": "Темы",
        "back": "На главную",
        "published_line": "Опубликовано {date}. Автор: {authors}.",
    },
}

_COMMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (
        ("M. Ortega", "Thanks for staying on this, it is rare to see a follow-through."),
        ("reader_1984", "Would be good to hear from the other side as well."),
        ("K. Lindqvist", "The photo caption in the print edition had the wrong date."),
    ),
    "ru": (
        ("Иван", "Спасибо за материал, очень интересно."),
        ("Наталья", "Посмотрим, что будет дальше."),
    ),
    "fr": (("Julien", "Merci pour cet article."),),
    "de": (("Petra K.", "Danke für den Bericht."),),
}


@dataclass
class Page:
    """One HTTP response of the fixture site: status, Content-Type, body and extra headers."""

    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def html(cls, text: str, *, status: int = 200) -> Page:
        """Build a UTF-8 HTML page (handy for tests that override a path)."""
        return cls(status=status, body=text.encode("utf-8"))

    def with_validators(self, last_modified: datetime) -> Page:
        """Return a copy carrying an ETag (hash of the body) and a Last-Modified header.

        Feeds get these so crawlers can make conditional requests; tests that swap a feed
        should call this on the replacement so the ETag changes with the content.
        """
        etag = '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'
        headers = dict(self.headers)
        headers["ETag"] = etag
        headers["Last-Modified"] = http_date(last_modified)
        return replace(self, headers=headers)


def http_date(moment: datetime) -> str:
    """Format a datetime as an HTTP date (RFC 9110 IMF-fixdate, always GMT)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(_TEMPLATE_DIR)),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def _render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


def _human_date(moment: datetime, language: str) -> str:
    months = _MONTHS.get(language, _MONTHS["en"])
    month = months[moment.month - 1]
    if language == "de":
        return f"{moment.day}. {month} {moment.year}, {moment:%H:%M} Uhr"
    if language == "fr":
        return f"{moment.day} {month} {moment.year} à {moment:%H}h{moment:%M}"
    return f"{moment.day} {month} {moment.year}, {moment:%H:%M}"


def _short_date(moment: datetime) -> str:
    return f"{moment.day} {_MONTHS['en'][moment.month - 1]} {moment.year}"


def _authors_text(authors: Sequence[str], language: str) -> str:
    conj = _LABELS.get(language, _LABELS["en"])["and"]
    if len(authors) <= 1:
        return "".join(authors)
    return f"{', '.join(authors[:-1])} {conj} {authors[-1]}"


def _json_ld(article: DemoArticle, url: str, base: str) -> Markup:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "description": article.lead,
        "datePublished": article.published.isoformat(),
        "dateModified": article.published.isoformat(),
        "inLanguage": article.language,
        "articleSection": article.section,
        "keywords": list(article.tags),
        "author": [{"@type": "Person", "name": name} for name in article.authors],
        "publisher": {"@type": "Organization", "name": SITE_NAME, "url": base + "/"},
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
    }
    text = json.dumps(data, ensure_ascii=False, indent=1).replace("</", "<\\/")
    return Markup(text)


def _html_page(text: str, charset: str, *, declared_in_header: bool = True) -> Page:
    # Strict encoding: a character the page's charset cannot hold is a content bug.
    body = text.encode(charset)
    content_type = f"text/html; charset={charset}" if declared_in_header else "text/html"
    return Page(content_type=content_type, body=body)


def _related(article: DemoArticle, articles: Sequence[DemoArticle], base: str) -> list[dict]:
    others = [a for a in articles if a.slug != article.slug]
    same = [a for a in others if a.section == article.section]
    picks = (same + [a for a in others if a not in same])[:3]
    return [{"title": a.title, "url": base + a.path} for a in picks]


def render_article(
    article: DemoArticle, articles: Sequence[DemoArticle], base: str, *, path: str | None = None
) -> Page:
    """Render an article in its own template and charset.

    The French (ISO-8859-1) page declares its charset only in a <meta http-equiv>; the
    Russian (windows-1251) page declares it in both the header and a <meta charset>.
    """
    url = base + (path or article.path)
    language = article.language
    labels = _LABELS.get(language, _LABELS["en"])
    human = _human_date(article.published, language)
    authors = _authors_text(article.authors, language)
    http_equiv = article.charset == "iso-8859-1"
    context = {
        "a": article,
        "base": base,
        "url": url,
        "amp_url": base + article.amp_path if article.amp_path and path is None else None,
        "lang": language,
        "charset": article.charset,
        "charset_mode": "http-equiv" if http_equiv else "meta",
        "site_name": SITE_NAME,
        "sections": SECTIONS,
        "labels": labels,
        "iso": article.published.isoformat(),
        "human_date": human,
        "authors_text": authors,
        "published_line": labels["published_line"].format(date=human, authors=authors),
        "related": _related(article, articles, base),
        "comments": _COMMENTS.get(language, _COMMENTS["en"]),
        "jsonld": _json_ld(article, url, base),
    }
    text = _render(f"{article.template}.html", **context)
    return _html_page(text, article.charset, declared_in_header=not http_equiv)


def render_amp(article: DemoArticle, base: str) -> Page:
    """Render the AMP twin of an article (always UTF-8, rel=canonical to the main page)."""
    url = base + article.path
    labels = _LABELS.get(article.language, _LABELS["en"])
    text = _render(
        "amp.html",
        a=article,
        base=base,
        url=url,
        lang=article.language,
        site_name=SITE_NAME,
        labels=labels,
        iso=article.published.isoformat(),
        human_date=_human_date(article.published, article.language),
        authors_text=_authors_text(article.authors, article.language),
        jsonld=_json_ld(article, url, base),
    )
    return _html_page(text, "utf-8")


# --------------------------------------------------------------------------- feeds


def _x(text: str) -> str:
    return escape(text)


def _rss_item(
    title: str, link: str, guid: str, published: datetime, authors: Iterable[str], extra: str
) -> str:
    creators = "".join(f"      <dc:creator>{_x(name)}</dc:creator>\n" for name in authors)
    return (
        "    <item>\n"
        f"      <title>{_x(title)}</title>\n"
        f"      <link>{_x(link)}</link>\n"
        f'      <guid isPermaLink="false">{_x(guid)}</guid>\n'
        f"      <pubDate>{format_datetime(published)}</pubDate>\n"
        f"{creators}{extra}"
        "    </item>\n"
    )


def _rss_document(
    base: str, self_path: str, title: str, link: str, items: str, built: datetime
) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:atom="http://www.w3.org/2005/Atom">\n'
        "  <channel>\n"
        f"    <title>{_x(title)}</title>\n"
        f"    <link>{_x(link)}</link>\n"
        f"    <description>{_x(title)} from the {SITE_NAME}</description>\n"
        "    <language>en</language>\n"
        f"    <lastBuildDate>{format_datetime(built)}</lastBuildDate>\n"
        f'    <atom:link href="{_x(base + self_path)}" rel="self"'
        ' type="application/rss+xml"/>\n'
        f"{items}"
        "  </channel>\n"
        "</rss>\n"
    )


def _world_rss(base: str, articles: Sequence[DemoArticle]) -> tuple[str, datetime]:
    entries: list[tuple[datetime, str]] = []
    for a in articles:
        if a.section != "world":
            continue
        query = FBCLID_QUERY if a.slug == FBCLID_SLUG else RSS_TRACKING_QUERY
        extra = "".join(f"      <category>{_x(t)}</category>\n" for t in a.tags)
        extra += f"      <description>{_x(a.lead)}</description>\n"
        entries.append(
            (
                a.published,
                _rss_item(
                    a.title,
                    base + a.path + query,
                    f"meridian-{a.slug}",
                    a.published,
                    a.authors,
                    extra,
                ),
            )
        )
    deleted_extra = (
        "      <description>Men who fled the Russian army and now live in Armenia say"
        " they need a safe route to the EU.</description>\n"
    )
    entries.append(
        (
            DELETED_ARTICLE_PUBLISHED,
            _rss_item(
                DELETED_ARTICLE_TITLE,
                base + DELETED_ARTICLE_PATH + RSS_TRACKING_QUERY,
                "meridian-deleted-story",
                DELETED_ARTICLE_PUBLISHED,
                ["Aigerim Bekova"],
                deleted_extra,
            ),
        )
    )
    entries.sort(key=lambda e: e[0], reverse=True)
    newest = entries[0][0]
    items = "".join(item for _, item in entries)
    doc = _rss_document(
        base, "/feeds/world.rss", f"{SITE_NAME} - World", base + "/section/world/", items, newest
    )
    return doc, newest


def _europe_rdf(base: str, articles: Sequence[DemoArticle]) -> tuple[str, datetime]:
    chosen = sorted(
        (a for a in articles if a.section == "europe"), key=lambda a: a.published, reverse=True
    )
    seq = "".join(f"        <rdf:li rdf:resource={quoteattr(base + a.path)}/>\n" for a in chosen)
    items = ""
    for a in chosen:
        creators = "".join(f"    <dc:creator>{_x(n)}</dc:creator>\n" for n in a.authors)
        items += (
            f"  <item rdf:about={quoteattr(base + a.path)}>\n"
            f"    <title>{_x(a.title)}</title>\n"
            f"    <link>{_x(base + a.path)}</link>\n"
            f"    <description>{_x(a.lead)}</description>\n"
            f"    <dc:date>{a.published.isoformat()}</dc:date>\n"
            f"    <dc:language>{a.language}</dc:language>\n"
            f"{creators}"
            "  </item>\n"
        )
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        f"  <channel rdf:about={quoteattr(base + '/feeds/europe.rdf')}>\n"
        f"    <title>{SITE_NAME} - Europe</title>\n"
        f"    <link>{base}/section/europe/</link>\n"
        "    <description>European news</description>\n"
        "    <items>\n      <rdf:Seq>\n"
        f"{seq}"
        "      </rdf:Seq>\n    </items>\n"
        "  </channel>\n"
        f"{items}"
        "</rdf:RDF>\n"
    )
    return doc, chosen[0].published


def _all_atom(base: str, articles: Sequence[DemoArticle]) -> tuple[str, datetime]:
    chosen = sorted(articles, key=lambda a: a.published, reverse=True)
    entries = ""
    for a in chosen:
        authors = "".join(f"    <author><name>{_x(n)}</name></author>\n" for n in a.authors)
        cats = "".join(f"    <category term={quoteattr(t)}/>\n" for t in a.tags)
        entries += (
            f'  <entry xml:lang="{a.language}">\n'
            f"    <title>{_x(a.title)}</title>\n"
            f'    <link rel="alternate" type="text/html" href={quoteattr(base + a.path)}/>\n'
            f"    <id>tag:meridian-courier.test,2024:{a.slug}</id>\n"
            f"    <published>{a.published.isoformat()}</published>\n"
            f"    <updated>{a.published.isoformat()}</updated>\n"
            f"{authors}{cats}"
            f"    <summary>{_x(a.lead)}</summary>\n"
            "  </entry>\n"
        )
    newest = chosen[0].published
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
        f"  <title>{SITE_NAME} - All stories</title>\n"
        f"  <id>{base}/feeds/all.atom</id>\n"
        f'  <link rel="self" type="application/atom+xml" href="{base}/feeds/all.atom"/>\n'
        f'  <link rel="alternate" type="text/html" href="{base}/"/>\n'
        f"  <updated>{newest.isoformat()}</updated>\n"
        f"  <author><name>{SITE_NAME}</name></author>\n"
        f"{entries}"
        "</feed>\n"
    )
    return doc, newest


def _broken_rss(base: str, articles: Sequence[DemoArticle]) -> tuple[str, datetime]:
    chosen = sorted(
        (a for a in articles if a.section == "politics"), key=lambda a: a.published, reverse=True
    )
    items = "".join(
        _rss_item(a.title, base + a.path, f"meridian-{a.slug}", a.published, a.authors, "")
        for a in chosen
    )
    doc = _rss_document(
        base,
        "/feeds/broken.rss",
        f"{SITE_NAME} - Politics",
        base + "/section/politics/",
        items,
        chosen[0].published,
    )
    # Cut the document in the middle of the second item's <title> element, as a server
    # that died mid-write would.
    second = doc.index("<item>", doc.index("<item>") + 1)
    cut = doc.index("<title>", second) + len("<title>") + 12
    return doc[:cut], chosen[0].published


def _empty_rss(base: str) -> tuple[str, datetime]:
    built = datetime(2024, 10, 1, tzinfo=UTC)
    doc = _rss_document(
        base, "/feeds/empty.rss", f"{SITE_NAME} - Corrections", base + "/", "", built
    )
    return doc, built


def _html_rss(base: str) -> tuple[str, datetime]:
    # A CMS error page served with a feed Content-Type: must not be parsed as a feed.
    doc = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Feed unavailable | {SITE_NAME}</title>\n</head>\n<body>\n"
        "<h1>This feed is temporarily unavailable</h1>\n"
        "<p>Our syndication system is undergoing maintenance. Please try again later or"
        f' visit our <a href="{base}/">front page</a>.</p>\n'
        "</body>\n</html>\n"
    )
    return doc, datetime(2024, 12, 1, tzinfo=UTC)


def _feed_page(doc: str, content_type: str, last_modified: datetime) -> Page:
    return Page(content_type=content_type, body=doc.encode("utf-8")).with_validators(last_modified)


# --------------------------------------------------------------------------- sitemaps


def _robots(base: str) -> Page:
    text = (
        "# Robots rules for the Meridian Courier (demo fixture site)\n"
        "User-agent: *\n"
        "Disallow: /private/\n"
        "\n"
        f"Sitemap: {base}/sitemap_index.xml\n"
    )
    return Page(content_type="text/plain; charset=utf-8", body=text.encode("utf-8"))


def _sitemap_index(base: str, now: datetime) -> Page:
    entries = "".join(
        f"  <sitemap>\n    <loc>{base}{path}</loc>\n"
        f"    <lastmod>{now.isoformat()}</lastmod>\n  </sitemap>\n"
        for path in ("/sitemaps/news.xml", "/sitemaps/pages.xml")
    )
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{entries}</sitemapindex>\n"
    )
    return Page(content_type=XML_TYPE, body=doc.encode("utf-8"))


def news_sitemap_dates(now: datetime) -> dict[str, datetime]:
    """Publication date the news sitemap gives each listed slug, relative to ``now``."""
    dates = {
        slug: now - timedelta(hours=h)
        for slug, h in zip(NEWS_SITEMAP_FRESH, NEWS_SITEMAP_FRESH_HOURS, strict=True)
    }
    dates.update(
        {
            slug: now - timedelta(days=d)
            for slug, d in zip(NEWS_SITEMAP_STALE, NEWS_SITEMAP_STALE_DAYS, strict=True)
        }
    )
    return dates


def _news_sitemap(base: str, articles: Sequence[DemoArticle], now: datetime) -> Page:
    by_slug = {a.slug: a for a in articles}
    urls = ""
    for slug, published in news_sitemap_dates(now).items():
        a = by_slug[slug]
        urls += (
            "  <url>\n"
            f"    <loc>{base}{a.path}</loc>\n"
            "    <news:news>\n"
            "      <news:publication>\n"
            f"        <news:name>{SITE_NAME}</news:name>\n"
            f"        <news:language>{a.language}</news:language>\n"
            "      </news:publication>\n"
            f"      <news:publication_date>{published.isoformat()}</news:publication_date>\n"
            f"      <news:title>{_x(a.title)}</news:title>\n"
            "    </news:news>\n"
            "  </url>\n"
        )
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
        f"{urls}</urlset>\n"
    )
    return Page(content_type=XML_TYPE, body=doc.encode("utf-8"))


def _pages_sitemap(base: str, articles: Sequence[DemoArticle]) -> Page:
    newest = max(a.published for a in articles)
    rows: list[tuple[str, str]] = [("/", newest.date().isoformat())]
    for section in SECTIONS:
        in_section = [a.published for a in articles if a.section == section]
        rows.append((f"/section/{section}/", max(in_section).date().isoformat()))
    rows += [("/about.html", "2024-09-01"), ("/contact.html", "2024-09-01")]
    by_slug = {a.slug: a for a in articles}
    rows += [(by_slug[s].path, by_slug[s].published.isoformat()) for s in PAGES_SITEMAP_ARTICLES]
    rows.append((PRIVATE_ARTICLE_PATH, "2025-01-05"))
    urls = "".join(
        f"  <url>\n    <loc>{base}{path}</loc>\n    <lastmod>{lastmod}</lastmod>\n  </url>\n"
        for path, lastmod in rows
    )
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{urls}</urlset>\n"
    )
    return Page(content_type=XML_TYPE, body=doc.encode("utf-8"))


# --------------------------------------------------------------------------- listings


def _chrome(base: str) -> dict[str, Any]:
    return {
        "base": base,
        "lang": "en",
        "charset": "utf-8",
        "charset_mode": "meta",
        "site_name": SITE_NAME,
        "sections": SECTIONS,
    }


def _teaser(a: DemoArticle, url: str) -> dict[str, str]:
    return {
        "title": a.title,
        "url": url,
        "section": a.section,
        "lead": a.lead,
        "date": _short_date(a.published),
    }


def homepage_link(index: int, article: DemoArticle, base: str) -> str:
    """Link used for the ``index``-th teaser (0-based, across /, /page/2/, /page/3/).

    Teasers whose index is a multiple of 3 carry utm parameters; those at 2, 5, 8, ...
    point at the AMP variant (?outputType=amp) when the article has one; the rest are clean.
    """
    if index % 3 == 0:
        return base + article.path + HOMEPAGE_TRACKING_QUERY
    if index % 3 == 2 and article.has_amp:
        return base + article.path + AMP_QUERY
    return base + article.path


def _feeds_meta(base: str) -> list[dict[str, str]]:
    return [
        {"type": "application/rss+xml", "title": "World", "url": base + "/feeds/world.rss"},
        {"type": "application/rss+xml", "title": "Europe", "url": base + "/feeds/europe.rdf"},
        {"type": "application/atom+xml", "title": "All", "url": base + "/feeds/all.atom"},
    ]


def _home_pages(base: str, ordered: Sequence[DemoArticle], private: DemoArticle) -> dict[str, Page]:
    pages: dict[str, Page] = {}
    chunks = [ordered[i : i + PAGE_SIZE] for i in range(0, len(ordered), PAGE_SIZE)]

    def page_url(n: int) -> str:
        return base + "/" if n == 1 else f"{base}/page/{n}/"

    numbers = [(n, page_url(n)) for n in range(1, len(chunks) + 1)]
    for n, chunk in enumerate(chunks, start=1):
        offset = (n - 1) * PAGE_SIZE
        teasers = [_teaser(a, homepage_link(offset + i, a, base)) for i, a in enumerate(chunk)]
        context = _chrome(base) | {
            "heading": "Latest news" if n == 1 else f"Latest news - page {n}",
            "intro": "Independent reporting from Europe and beyond.",
            "canonical": page_url(n),
            "feeds": _feeds_meta(base) if n == 1 else [],
            "exclusive": (
                {"title": private.title, "url": base + PRIVATE_ARTICLE_PATH} if n == 1 else None
            ),
            "teasers": teasers,
            "pagination": {
                "newer": page_url(n - 1) if n > 1 else None,
                "older": page_url(n + 1) if n < len(chunks) else None,
                "numbers": numbers,
            },
        }
        path = "/" if n == 1 else f"/page/{n}/"
        pages[path] = _html_page(_render("listing.html", **context), "utf-8")
    return pages


def _listing(base: str, heading: str, intro: str, path: str, items: Sequence[DemoArticle]) -> Page:
    context = _chrome(base) | {
        "heading": heading,
        "intro": intro,
        "canonical": base + path,
        "feeds": [],
        "exclusive": None,
        "teasers": [_teaser(a, base + a.path) for a in items],
        "pagination": None,
    }
    return _html_page(_render("listing.html", **context), "utf-8")


def _static_pages(base: str) -> dict[str, Page]:
    about = [
        {
            "heading": None,
            "paragraphs": [
                f"The {SITE_NAME} is a fictional newspaper. It exists so that the storywatch"
                " demo and test suite can crawl a realistic news site without any network"
                " access.",
                "Our imaginary newsroom covers world affairs, European politics, sport,"
                " technology and culture.",
            ],
        },
        {
            "heading": "Privacy",
            "id": "privacy",
            "paragraphs": [
                "We set a cookie to remember your consent choice and nothing else.",
            ],
        },
    ]
    contact = [
        {
            "heading": None,
            "paragraphs": [
                "Newsroom: newsroom@meridian-courier.test",
                "Corrections: corrections@meridian-courier.test",
                "Postal address: 1 Harbour Lane, Meridian.",
            ],
        }
    ]
    pages = {}
    for path, heading, blocks in (
        ("/about.html", f"About the {SITE_NAME}", about),
        ("/contact.html", "Contact us", contact),
    ):
        context = _chrome(base) | {"heading": heading, "blocks": blocks}
        pages[path] = _html_page(_render("static_page.html", **context), "utf-8")
    return pages


# --------------------------------------------------------------------------- assembly


def _normalise_now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def build_site(base_url: str, now: datetime | None = None) -> dict[str, Page]:
    """Render the whole demo site for ``base_url`` (e.g. ``http://127.0.0.1:54321``).

    Article dates are fixed (Oct 2024 - Mar 2025); only the news sitemap is relative to
    ``now`` (default: the current time, naive values taken as UTC), so freshness filters
    can be tested with a pinned clock. Keys are request paths, some with a query
    (``...html?outputType=amp``); the server falls back to the bare path for other queries.
    """
    base = base_url.rstrip("/")
    moment = _normalise_now(now)
    articles = load_articles()
    private = load_private_article()
    ordered = sorted(articles, key=lambda a: a.published, reverse=True)
    pages: dict[str, Page] = {}

    for a in articles:
        pages[a.path] = render_article(a, ordered, base)
        if a.amp_path:
            amp = render_amp(a, base)
            pages[a.amp_path] = amp
            pages[a.path + AMP_QUERY] = amp
    pages[PRIVATE_ARTICLE_PATH] = render_article(private, ordered, base, path=PRIVATE_ARTICLE_PATH)

    world, world_lm = _world_rss(base, articles)
    europe, europe_lm = _europe_rdf(base, articles)
    atom, atom_lm = _all_atom(base, articles)
    broken, broken_lm = _broken_rss(base, articles)
    html_feed, html_lm = _html_rss(base)
    empty, empty_lm = _empty_rss(base)
    pages["/feeds/world.rss"] = _feed_page(world, RSS_TYPE, world_lm)
    pages["/feeds/europe.rdf"] = _feed_page(europe, RDF_TYPE, europe_lm)
    pages["/feeds/all.atom"] = _feed_page(atom, ATOM_TYPE, atom_lm)
    pages["/feeds/broken.rss"] = _feed_page(broken, RSS_TYPE, broken_lm)
    pages["/feeds/html.rss"] = _feed_page(html_feed, RSS_TYPE, html_lm)
    pages["/feeds/empty.rss"] = _feed_page(empty, RSS_TYPE, empty_lm)

    pages["/robots.txt"] = _robots(base)
    pages["/sitemap_index.xml"] = _sitemap_index(base, moment)
    pages["/sitemaps/news.xml"] = _news_sitemap(base, articles, moment)
    pages["/sitemaps/pages.xml"] = _pages_sitemap(base, articles)

    pages.update(_home_pages(base, ordered, private))
    for section in SECTIONS:
        items = [a for a in ordered if a.section == section]
        pages[f"/section/{section}/"] = _listing(
            base, section.capitalize(), f"All {section} stories.", f"/section/{section}/", items
        )
    for tag in sorted({t for a in articles for t in a.tags}):
        items = [a for a in ordered if tag in a.tags]
        pages[f"/tag/{tag}/"] = _listing(
            base, f"Topic: {tag}", f"Stories tagged {tag}.", f"/tag/{tag}/", items
        )
    pages.update(_static_pages(base))
    pages["/static/site.css"] = Page(
        content_type="text/css; charset=utf-8", body=(_TEMPLATE_DIR / "site.css").read_bytes()
    )
    return pages


def not_found_page() -> Page:
    """The site's 404 response (also used for deleted and unknown paths)."""
    text = (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>Page not found | {SITE_NAME}</title></head>\n<body>\n"
        "<h1>Page not found</h1>\n<p>The story you are looking for may have been removed.</p>\n"
        "</body>\n</html>\n"
    )
    return Page.html(text, status=404)
