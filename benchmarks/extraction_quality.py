"""Main-text quality of extract_article next to trafilatura and readability, on pages we know.

Ground truth is the demo news world (its articles' own paragraphs, rendered in three
templates with navigation, cookie banners, related links and reader comments). Scores are
bag-of-words precision / recall / F1 per page, averaged, as in the public article-extraction
benchmark. This is a regression check on our own templates; the real-page comparison
is the held-out evaluation.

    python benchmarks/extraction_quality.py
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura
from bs4 import BeautifulSoup

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storywatch.demo.site import build_site
from storywatch.demo.world import load_articles
from storywatch.extraction import extract_article
from storywatch.normalise.item import normalise_article

WORD = re.compile(r"\w+", re.UNICODE)
BASE = "http://127.0.0.1:8000"


def tokens(text: str) -> Counter[str]:
    return Counter(w.casefold() for w in WORD.findall(text or ""))


def prf(got: str, truth: str) -> tuple[float, float, float]:
    g, t = tokens(got), tokens(truth)
    overlap = sum((g & t).values())
    precision = overlap / max(1, sum(g.values()))
    recall = overlap / max(1, sum(t.values()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def readability_text(html: str, url: str) -> str:
    """readability-lxml (no longer a dependency: install it to see this line)."""
    try:
        from readability import Document
    except ImportError:
        return ""
    summary = Document(html).summary(html_partial=True)
    return BeautifulSoup(summary, "lxml").get_text("\n")


EXTRACTORS: dict[str, Callable[[str, str], str]] = {
    "storywatch extract_article": lambda html, url: extract_article(html, url).text,
    "storywatch item text": lambda html, url: normalise_article(
        extract_article(html, url), url=url, source="bench", discovered_via="feed").text,
    "trafilatura (defaults)": lambda html, url: trafilatura.extract(html, url=url) or "",
    "trafilatura (no comments)": lambda html, url: trafilatura.extract(
        html, url=url, include_comments=False) or "",
    "readability-lxml": readability_text,
}


def main() -> None:
    site = build_site(BASE)
    cases = []
    for article in load_articles():
        page = site[article.path]
        html = page.body.decode(article.charset, errors="replace")
        cases.append((BASE + article.path, html, article.text))
    print(f"{len(cases)} pages with known text (3 templates, comments and furniture)")
    print(f"{'extractor':30s} {'precision':>9s} {'recall':>7s} {'F1':>6s}")
    for name, extract in EXTRACTORS.items():
        scores = [prf(extract(html, url), truth) for url, html, truth in cases]
        p, r, f = (sum(s[i] for s in scores) / len(scores) for i in range(3))
        print(f"{name:30s} {p:9.3f} {r:7.3f} {f:6.3f}")


if __name__ == "__main__":
    main()
