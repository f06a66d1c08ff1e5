"""Extract: main text and metadata of an article page.

`extract_article` is the public entry point; it is benchmarked on its own against
trafilatura, so it must stay a pure function of (html, url).
"""

from storywatch.extraction.article import Article, extract_article

__all__ = ["Article", "extract_article"]
