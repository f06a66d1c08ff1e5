"""Request meta keys and the "declined" exceptions that the spiders and their middlewares
share.

Why a module of its own: the base spider and the politeness middlewares both need them,
and the base spider uses the politeness module (validators); kept in either, the two would
import each other.
"""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest

ARTICLE_META = "storywatch_article"
# Listing documents (feeds, sitemaps) are fetched conditionally; see politeness.py.
CONDITIONAL_META = "storywatch_conditional"
# The listing an article request came from, so a transient failure can keep the listing's
# validators from being saved (the next run must list the article again).
LISTING_META = "storywatch_listing"


class Declined(IgnoreRequest):
    """A request a storywatch middleware declined and already reported (or that is known)."""


class AlreadyKnown(Declined):
    """A request skipped because its article is stored or requested already: not a failure.

    Every IgnoreRequest that is not a Declined (too many redirects, a body over the size
    limit once decompressed) is a failure and is recorded against its URL.
    """
