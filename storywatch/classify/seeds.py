"""Topic seeds: the articles that define a story, loaded from files or fetched once.

A .txt seed is plain text whose first non-empty line is the title; an .html file or a
URL goes through the same extractor as crawled pages. A URL is fetched once and kept in
the seed_pages table, so the daemon does not download it again on every run.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from storywatch.extraction import extract_article
from storywatch.normalise.dates import utc_now
from storywatch.normalise.language import detect_language
from storywatch.normalise.text import clean_text
from storywatch.normalise.urls import canonical_url
from storywatch.storage.classify import SeedPage

# Seeds are fetched once; a slow site should fail the first run clearly, not hang it.
FETCH_TIMEOUT = 30
USER_AGENT = "storywatch/0.1 (seed fetch)"


class SeedError(Exception):
    """A seed that cannot be read; the message names it and says why."""


@dataclass(frozen=True)
class Seed:
    ref: str  # what the config says: a path or a URL
    name: str  # short name used in reasons and duplicate_of (file stem or canonical URL)
    url: str | None
    title: str | None
    text: str
    language: str
    published_at: datetime | None = None


def _is_url(ref: str) -> bool:
    return ref.lower().startswith(("http://", "https://"))


def load_seed(ref: str, session: Session | None = None) -> Seed:
    if _is_url(ref):
        return _url_seed(ref, session)
    path = Path(ref)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"seed {ref}: cannot read the file: {exc}") from None
    if path.suffix.lower() in (".html", ".htm"):
        article = extract_article(raw, None)
        title, text, declared = article.title, article.text, article.language
        published = article.published_at
    else:
        lines = clean_text(raw).split("\n")
        title, text, declared = (lines[0] if lines else None), "\n".join(lines[1:]), None
        published = None
    if not text.strip():
        raise SeedError(f"seed {ref}: no article text in it")
    return Seed(ref, path.stem, None, title, text, detect_language(text, declared) or "en",
                published)


def _url_seed(ref: str, session: Session | None) -> Seed:
    url = canonical_url(ref)
    cached = session.get(SeedPage, url) if session is not None else None
    if cached is None:
        request = urllib.request.Request(ref, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
                html = response.read().decode(
                    response.headers.get_content_charset() or "utf-8", "replace"
                )
        except (OSError, ValueError) as exc:
            raise SeedError(f"seed {ref}: cannot fetch it: {exc}") from None
        article = extract_article(html, ref)
        if not article.text.strip():
            raise SeedError(f"seed {ref}: no article text found on the page")
        cached = SeedPage(
            url=url, title=article.title, text=article.text,
            language=detect_language(article.text, article.language), fetched_at=utc_now(),
            published_at=article.published_at,
        )
        if session is not None:
            session.merge(cached)
    return Seed(ref, url, url, cached.title, cached.text, cached.language or "en",
                cached.published_at)


def load_seeds(refs: list[str], session: Session | None = None) -> list[Seed]:
    return [load_seed(ref, session) for ref in refs]
