"""Imported once by the forkserver that starts the crawl's extraction workers, before it
forks them (`extraction_pool`): the extractor's libraries (trafilatura, lxml, htmldate,
the language detector and its model) are then loaded once and their pages shared by every
worker, instead of each worker importing them again into memory of its own.

Frozen for the garbage collector, as the gc module advises before a fork: a collection
in a worker would otherwise write to every object it tracks and copy the shared pages.
The forkserver ignores a preload module that fails to import (the workers would then
import the extractor themselves, as before): tests/test_crawl_e2e.py checks that a
worker starts with it loaded.
"""

import gc

import storywatch.spiders.build  # noqa: F401  (what the workers run)
from storywatch.normalise.language import load_model

# Every article of 200 characters or more has its language detected, so every worker
# loads the model on its first one: loaded here, its arrays are one copy for them all
# (2 workers: ~74 MB less for the crawl; benchmarks/crawl_real.py).
load_model()
gc.collect()
gc.freeze()
