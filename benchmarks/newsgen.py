"""Synthetic news pages for benchmarks: deterministic, our own words, realistic page furniture.

Shared by the crawl benchmarks so each measures the same kind of page.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from html import escape

_SUBJECTS = ["The ministry", "A regional court", "The city council", "Local organisers",
             "The trade union", "A group of researchers", "The port authority", "Volunteers",
             "The central bank", "Prosecutors", "The football club", "Health officials"]
_VERBS = ["announced", "rejected", "postponed", "approved", "questioned", "welcomed",
          "reviewed", "criticised", "extended", "suspended", "confirmed", "described"]
_OBJECTS = ["a plan to rebuild the northern bridge", "new rules for night buses",
            "the budget for next year", "a study of river pollution", "the stadium lease",
            "an inquiry into hospital waiting times", "a pilot scheme for solar roofs",
            "the merger of two school districts", "an appeal by former employees",
            "the timetable for the election", "fresh funding for the library network",
            "a proposal to widen the ring road"]
_TAILS = ["on Tuesday", "after a long debate", "despite strong objections",
          "according to a statement", "in a unanimous vote", "citing rising costs",
          "for the third time this year", "following weeks of talks"]


def sentence(rng: random.Random) -> str:
    figure = rng.randint(2, 9000)
    return (f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
            f"{rng.choice(_TAILS)}, with {figure} people affected.")


def headline(prefix: str, rng: random.Random) -> str:
    return f"{prefix}: {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"


def paragraphs(rng: random.Random, count: tuple[int, int] = (5, 9)) -> list[str]:
    """Article body: 5-9 paragraphs of 3-5 sentences, the length of a short news story."""
    return [" ".join(sentence(rng) for _ in range(rng.randint(3, 5)))
            for _ in range(rng.randint(*count))]


def article_page(n: int, base_url: str, rng: random.Random) -> tuple[str, str, datetime]:
    """(path, html, published) of article n: nav, cookie banner, comments, related links."""
    published = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=37 * n)
    title = headline(f"Report {n}", rng)
    body_paragraphs = paragraphs(rng)
    path = f"/news/{published:%Y/%m}/report-{n}.html"
    body = "\n".join(f"<p>{escape(p)}</p>" for p in body_paragraphs)
    related = "".join(f'<li><a href="/news/related-{n}-{k}.html">Related story {k}</a></li>'
                      for k in range(5))
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} | Bench Daily</title>
<meta property="og:type" content="article"><meta property="og:title" content="{escape(title)}">
<meta property="article:published_time" content="{published.isoformat()}">
<meta name="author" content="Bench Reporter {n % 17}">
<link rel="canonical" href="{base_url}{path}"></head><body>
<header><nav><a href="/">Home</a> <a href="/news/">News</a> <a href="/sport/">Sport</a></nav>
</header><div class="cookie-banner">We use cookies to improve your experience.
<button>Accept</button></div>
<main><article><h1>{escape(title)}</h1><p class="byline">By Bench Reporter {n % 17}</p>
{body}</article>
<aside><h2>Read more</h2><ul>{related}</ul></aside>
<section class="comments"><h2>Comments</h2><div class="comment"><p>Reader {n}: I do not
agree with this at all, the council never listens.</p></div></section></main>
<footer>© Bench Daily. All rights reserved.</footer></body></html>"""
    return path, html, published


def rss_feed(base_url: str, entries: list[tuple[str, str, datetime]]) -> str:
    items = "".join(
        f"<item><title>{escape(title)}</title><link>{base_url}{path}?utm_source=rss</link>"
        f"<pubDate>{published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
        for path, title, published in entries
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Bench Daily</title><link>{base_url}/</link>{items}</channel></rss>")
