"""Loaders for the demo news world's content (articles and topic seeds).

The content lives in data files next to this module (``world/articles.json``,
``world/private-article.json`` and ``world/seeds/``) so that writers can edit prose
without touching code, and so tests can assert against the same ground truth
(each article's ``expected`` label) that the site is built from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

WORLD_DIR = Path(__file__).resolve().parent / "world"
"""Folder holding the JSON content and the seed files."""

SECTIONS: tuple[str, ...] = ("world", "europe", "politics", "sport", "tech", "culture")
TEMPLATES: tuple[str, ...] = ("classic", "modern", "minimal")
EXPECTED_LABELS: tuple[str, ...] = ("followup", "duplicate", "offtopic")

# Non-UTF-8 pages exist on purpose: extraction must honour declared charsets.
_CHARSETS = {"ru": "windows-1251", "fr": "iso-8859-1"}

_REQUIRED = (
    "slug",
    "section",
    "title",
    "authors",
    "published",
    "language",
    "lead",
    "paragraphs",
    "tags",
    "template",
    "expected",
)


@dataclass(frozen=True)
class DemoArticle:
    """One article of the fake news site, plus what a good classifier should say about it."""

    slug: str
    section: str
    title: str
    authors: tuple[str, ...]
    published: datetime
    language: str
    lead: str
    paragraphs: tuple[str, ...]
    tags: tuple[str, ...]
    template: str
    expected: str

    @property
    def path(self) -> str:
        """Site path of the article page, dated by the publication's local date."""
        return f"/{self.section}/{self.published:%Y}/{self.published:%m}/{self.slug}.html"

    @property
    def has_amp(self) -> bool:
        """Minimal pages are bare HTML with no AMP twin; the others have one."""
        return self.template != "minimal"

    @property
    def amp_path(self) -> str | None:
        """Path of the AMP variant, or None when the article has none."""
        return f"/amp{self.path}" if self.has_amp else None

    @property
    def charset(self) -> str:
        """Encoding the article page is served in (the AMP twin is always UTF-8)."""
        return _CHARSETS.get(self.language, "utf-8")

    @property
    def has_canonical(self) -> bool:
        """Classic pages carry <link rel=canonical>."""
        return self.template == "classic"

    @property
    def has_og_url(self) -> bool:
        """Modern pages carry og:url (minimal pages carry neither hint)."""
        return self.template == "modern"

    @property
    def text(self) -> str:
        """The article's body text (lead then paragraphs), for comparing with extraction."""
        return "\n\n".join((self.lead, *self.paragraphs))


def _article_from_dict(raw: dict[str, Any]) -> DemoArticle:
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise ValueError(f"article {raw.get('slug', '?')!r} lacks fields {missing}")
    article = DemoArticle(
        slug=raw["slug"],
        section=raw["section"],
        title=raw["title"],
        authors=tuple(raw["authors"]),
        published=datetime.fromisoformat(raw["published"]),
        language=raw["language"],
        lead=raw["lead"],
        paragraphs=tuple(raw["paragraphs"]),
        tags=tuple(raw["tags"]),
        template=raw["template"],
        expected=raw["expected"],
    )
    if article.published.tzinfo is None:
        raise ValueError(f"article {article.slug!r}: published needs a UTC offset")
    if article.template not in TEMPLATES:
        raise ValueError(f"article {article.slug!r}: unknown template {article.template!r}")
    if article.expected not in EXPECTED_LABELS:
        raise ValueError(f"article {article.slug!r}: unknown label {article.expected!r}")
    return article


def load_articles() -> list[DemoArticle]:
    """Return the public articles in file order (the private one is not included)."""
    raw = json.loads((WORLD_DIR / "articles.json").read_text(encoding="utf-8"))
    articles = [_article_from_dict(item) for item in raw]
    for article in articles:
        if article.section not in SECTIONS:
            raise ValueError(f"article {article.slug!r}: unknown section {article.section!r}")
    slugs = [a.slug for a in articles]
    if len(set(slugs)) != len(slugs):
        raise ValueError("duplicate article slugs in articles.json")
    return articles


def load_private_article() -> DemoArticle:
    """Return the article served under /private/, which robots.txt forbids crawling."""
    raw = json.loads((WORLD_DIR / "private-article.json").read_text(encoding="utf-8"))
    return _article_from_dict(raw)


def seed_paths() -> list[Path]:
    """Return the demo topic's seed files: a plain-text retelling and a full HTML page."""
    seeds = WORLD_DIR / "seeds"
    return [seeds / "seed-1.txt", seeds / "seed-2.html"]
