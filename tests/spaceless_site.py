"""A small news site in Chinese, Japanese, Thai and Korean, served on 127.0.0.1.

The texts in tests/data/cjk/ were written for these tests (first line: the headline, then
one paragraph a line). Each article page has what real pages have around the body: a
navigation bar, a byline, a "most read" sidebar of headlines in other languages (the
sidebar that replaced a Japanese body in issue 15) and a footer. The homepage is a
listing of teasers in the same scripts; a feed lists the same articles.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TEXTS = Path(__file__).resolve().parent / "data" / "cjk"


@dataclass(frozen=True)
class Text:
    name: str
    language: str
    title: str
    paragraphs: list[str]

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def path(self) -> str:
        return f"/{self.language}/2026/11/{self.name}.html"


def load_text(name: str) -> Text:
    lines = [line.strip() for line in
             (TEXTS / f"{name}.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    return Text(name, name.split("-")[0], lines[0], lines[1:])


# The pages of the site: one article in each script, and a rewrite of the Chinese seeds
# published on the seed event's day (the follow-up is a year later).
ARTICLE_NAMES = ("zh-followup", "zh-rewrite", "ja-article", "th-article", "ko-article")
EVENT_DATE = "2025-11-18"
PUBLISHED = {"zh-rewrite": "2025-11-18T09:00:00+00:00"}
DEFAULT_PUBLISHED = "2026-11-17T08:30:00+00:00"
SIDEBAR = (  # other articles' headlines, in other languages, as on the page of the issue
    ("fr", "La Banque centrale relève ses taux pour la deuxième fois cette année"),
    ("ru", "В Новосибирске открылся новый мост через Обь"),
    ("es", "El Gobierno aprueba un plan para modernizar los puertos del sur"),
)
BYLINES = {"zh": "本报记者 王丽华", "ja": "社会部 山本美咲", "th": "ผู้สื่อข่าว สมชาย ใจดี",
           "ko": "김지훈 기자"}
NAV = {"zh": ("国际", "财经", "科技"), "ja": ("国際", "経済", "テクノロジー"),
       "th": ("ต่างประเทศ", "เศรษฐกิจ", "เทคโนโลยี"), "ko": ("국제", "경제", "기술")}


def published(text: Text) -> str:
    return PUBLISHED.get(text.name, DEFAULT_PUBLISHED)


def article_page(text: Text) -> str:
    lang = text.language
    nav = "".join(f'<li><a href="/section/{i}/">{escape(label)}</a></li>'
                  for i, label in enumerate(NAV[lang]))
    sidebar = "".join(
        f'<li lang="{code}"><a href="/{code}/2026/11/story-{i}.html">{escape(headline)}</a></li>'
        for i, (code, headline) in enumerate(SIDEBAR))
    body = "".join(f"<p>{escape(p)}</p>" for p in text.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{escape(text.title)} | Asia Daily</title>
<meta property="og:type" content="article">
<meta property="og:title" content="{escape(text.title)}">
<meta property="article:published_time" content="{published(text)}">
<meta name="author" content="{escape(BYLINES[lang])}">
<link rel="canonical" href="{text.path}">
</head><body>
<header><a href="/" class="logo">Asia Daily</a><nav><ul>{nav}</ul></nav></header>
<main>
<article>
<h1>{escape(text.title)}</h1>
<p class="byline">{escape(BYLINES[lang])} · {published(text)[:10]}</p>
{body}
</article>
<aside class="most-read"><h2>Most read</h2><ul>{sidebar}</ul></aside>
</main>
<footer><p>© 2026 Asia Daily</p><a href="/about.html">About</a></footer>
</body></html>"""


def listing_page(texts: list[Text]) -> str:
    """The homepage: one teaser per article, a short summary each, and nothing else."""
    teasers = "".join(
        f'<div class="teaser"><h2><a href="{t.path}">{escape(t.title)}</a></h2>'
        f"<p>{escape(t.paragraphs[0][:40])}…</p></div>" for t in texts)
    return f"""<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8"><title>Asia Daily 首页</title>
<meta property="og:type" content="website"></head><body>
<header><a href="/">Asia Daily</a></header>
<main><h1>最新新闻 · 最新ニュース</h1>{teasers}</main>
<footer><a href="/about.html">About</a></footer></body></html>"""


def feed(base_url: str, texts: list[Text]) -> str:
    items = "".join(
        f"<item><title>{escape(t.title)}</title><link>{base_url}{t.path}</link>"
        f"<guid>{base_url}{t.path}</guid><pubDate>{_rfc822(published(t))}</pubDate>"
        f"<description>{escape(t.paragraphs[0][:60])}</description></item>" for t in texts)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Asia Daily</title><link>{base_url}/</link>"
            f"<description>Asia Daily</description>{items}</channel></rss>")


def _rfc822(iso: str) -> str:
    from datetime import datetime
    from email.utils import format_datetime

    return format_datetime(datetime.fromisoformat(iso))


def site_pages(base_url: str) -> dict[str, tuple[str, str]]:
    """{path: (content type, body)} for the whole site."""
    texts = [load_text(name) for name in ARTICLE_NAMES]
    pages = {t.path: ("text/html; charset=utf-8", article_page(t)) for t in texts}
    pages["/"] = ("text/html; charset=utf-8", listing_page(texts))
    for i in range(3):  # the section pages of the navigation bar: listings too
        pages[f"/section/{i}/"] = pages["/"]
    pages["/feed.xml"] = ("application/rss+xml; charset=utf-8", feed(base_url, texts))
    return pages


@contextmanager
def serve_site() -> Iterator[str]:
    """The site on an ephemeral port of 127.0.0.1; yields its base URL."""
    pages: dict[str, tuple[str, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/robots.txt" or path not in pages:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            content_type, text = pages[path]
            body = text.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    pages.update(site_pages(base_url))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
