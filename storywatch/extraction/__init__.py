"""Extract: main text and metadata of an article page.

`extract_article` is the public entry point; it is benchmarked on its own against
trafilatura, so it must stay a pure function of (html, url).

It is loaded on first use (PEP 562): the crawl process imports `extraction.metadata`
for its page analysis and hands articles to worker processes, which run the extractor;
importing trafilatura, justext, htmldate and py3langid there cost it 15 MB and 0.14 s
at every start for nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storywatch.extraction.article import Article, extract_article

__all__ = ["Article", "extract_article"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from storywatch.extraction import article

        return getattr(article, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
