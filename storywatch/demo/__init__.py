"""A small news world of our own, so the demo and the tests need no network.

``storywatch demo`` and the test suite run real Scrapy crawls. Crawling the live web would
make them slow, flaky and dependent on other people's pages, so this package ships a
fictional newspaper, the *Meridian Courier*, and serves it on 127.0.0.1:

- ``world/articles.json``: the articles, each labelled with what a good classifier should
  say about it for the demo topic (Russian deserters given French visas, October 2024);
  ``world/seeds/`` holds that topic's seed articles.
- :mod:`storywatch.demo.world`: loaders for that content.
- :mod:`storywatch.demo.site`: renders every page, feed and sitemap as plain data.
- :mod:`storywatch.demo.server`: :class:`FixtureServer`, the HTTP server used by tests.

Names are imported lazily so that ``python -m storywatch.demo.server`` does not import the
server module twice.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storywatch.demo.server import FixtureServer, RequestRecord
    from storywatch.demo.site import Page, build_site
    from storywatch.demo.world import DemoArticle, load_articles, seed_paths

_EXPORTS = {
    "FixtureServer": "storywatch.demo.server",
    "RequestRecord": "storywatch.demo.server",
    "Page": "storywatch.demo.site",
    "build_site": "storywatch.demo.site",
    "DemoArticle": "storywatch.demo.world",
    "load_articles": "storywatch.demo.world",
    "seed_paths": "storywatch.demo.world",
}

__all__ = [
    "DemoArticle",
    "FixtureServer",
    "Page",
    "RequestRecord",
    "build_site",
    "load_articles",
    "seed_paths",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
