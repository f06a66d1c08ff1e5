"""Imported once by the forkserver that starts the crawl's extraction workers, before it
forks them (`extraction_pool`): the extractor's libraries (trafilatura, lxml, htmldate,
the language detector) are then imported once, and the data they load on first use
loaded once, their pages shared by every worker instead of each worker building a copy
of its own.

Frozen for the garbage collector, as the gc module advises before a fork: a collection
in a worker would otherwise write to every object it tracks and copy the shared pages.
The forkserver ignores a preload module that fails to import (the workers would then
import the extractor themselves, as before): tests/test_crawl_e2e.py checks that a
worker starts with it loaded.
"""

import gc
import logging

from storywatch.spiders.malloc import keep_large_blocks_returnable

# First, before the extractor's imports; the workers inherit it (spiders/malloc.py).
keep_large_blocks_returnable()

# What build_item imports on its first call (spiders/build.py).
import storywatch.extraction.article  # noqa: E402
import storywatch.extraction.encoding  # noqa: E402
import storywatch.spiders.build  # noqa: E402, F401  (what the workers run)
from storywatch.normalise.language import load_model  # noqa: E402
from storywatch.normalise.urls import registered_domain  # noqa: E402

log = logging.getLogger(__name__)


def _justext_stoplist() -> None:
    """trafilatura's justext fallback (a tenth of real pages reach it) matches paragraphs
    against every language's stop words: 33 MB of strings, built on first use into
    trafilatura's JT_STOPLIST and justext's cache of lowercased sets. A worker that built
    them itself would hold a copy of its own."""
    from justext.core import define_stoplist
    from trafilatura import external

    define_stoplist(external.JT_STOPLIST or external.jt_stoplist_init())


# What every worker loads on its first pages (benchmarks/crawl_real.py, 2 workers: the
# crawl tree's PSS 932-934 -> 834 MB, 867-885 with the model alone): py3langid's model (74 MB
# of arrays: every article of 200 characters or more has its language detected), the
# public suffix list (rel=canonical is checked to be the same site), justext's stop words.
load_model()
registered_domain("www.example.org")
try:
    _justext_stoplist()
except Exception as exc:  # a trafilatura release that moved it: not fatal
    log.info("justext's stop words not preloaded: %s", exc)
gc.collect()
gc.freeze()
