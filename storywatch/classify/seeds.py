"""Topic seeds: the articles that define a story, loaded from files or fetched once.

A .txt seed is plain text whose first non-empty line is the title; an .html file or a
URL goes through the same extractor as crawled pages. A URL is fetched once and kept in
the seed_pages table, so the daemon does not download it again on every run.

URLs are fetched by `prefetch_seeds`, before a crawl or a rescore starts, through the
crawl's own guarded path (spiders/seeds.py: private-network guard on every redirect,
http(s) only, robots.txt, size cap, user agent) in a child process; `load_seed` only
reads what that stored.
"""

from __future__ import annotations

__all__ = ["Seed", "SeedError", "load_seed", "load_seeds", "prefetch_seeds", "read_seed_files",
           "seed_page_from_html", "seed_urls"]

import logging
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

from sqlalchemy.orm import Session

from storywatch.classify.seed_pages import SeedError, seed_page_from_html
from storywatch.config import Config
from storywatch.normalise.language import detect_language, model_loaded
from storywatch.normalise.text import clean_text
from storywatch.normalise.urls import canonical_url
from storywatch.storage import Storage
from storywatch.storage.classify import SeedPage

log = logging.getLogger(__name__)


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
        # Deferred: trafilatura and its parsers (8 MB, 0.2 s) are needed only for seed pages,
        # not in the process that judges a crawl's items.
        from storywatch.extraction import extract_article

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
        raise SeedError(f"seed {ref}: not fetched (it is fetched before each crawl and "
                        "rescore, and the log says why it failed)")
    return Seed(ref, url, url, cached.title, cached.text, cached.language or "en",
                cached.published_at)


def seed_urls(config: Config) -> list[str]:
    return list(dict.fromkeys(ref for topic in config.topics for ref in topic.seeds
                              if _is_url(ref)))


def prefetch_seeds(config: Config, storage: Storage) -> dict[str, str]:
    """Fetch the topics' seed URLs that are not stored yet; why each failed, by URL.

    In a child process, through the crawl's guarded path (spiders/seeds.py). Called
    before anything that classifies (a crawl, rescore, eval) and outside any session, so
    those see the stored pages; a failure is logged, and the topic's classification then
    reports its SeedError per item as before.
    """
    urls = seed_urls(config)
    if not urls:
        return {}
    with storage.session() as session:
        missing = [url for url in urls if session.get(SeedPage, canonical_url(url)) is None]
    if not missing:
        return {}
    # spawn: a fresh interpreter for Scrapy's reactor, whatever this process already runs.
    # The pages go into the database given, whatever the config's storage.url says.
    target = config.model_copy(update={"storage": config.storage.model_copy(
        update={"url": storage.engine.url.render_as_string(hide_password=False)})})
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        failures = pool.submit(_crawl_seeds, target, missing).result()
    for url, reason in failures.items():
        log.warning("seed %s not fetched: %s", url, reason)
    return failures


def _crawl_seeds(config: Config, urls: list[str]) -> dict[str, str]:
    from storywatch.spiders.seeds import crawl_seeds  # Scrapy only in the child

    return crawl_seeds(config, urls)


def load_seeds(refs: list[str], session: Session | None = None,
               files: dict[str, Seed | SeedError] | None = None) -> list[Seed]:
    """The topic's seeds. `files`: seed files read already (`read_seed_files`), so that
    a classifier of many topics reads them in one child, not one child per topic."""
    wanted = [ref for ref in refs if not _is_url(ref) and (files is None or ref not in files)]
    read = {**(files or {}), **(read_seed_files(wanted) if wanted else {})}
    seeds = []
    for ref in refs:
        seed = read[ref] if ref in read else load_seed(ref, session)
        if isinstance(seed, SeedError):
            raise seed
        seeds.append(seed)
    return seeds


# What reading a seed file loads: the extractor, and py3langid's model (75 MB of the
# ~120 MB). The process that judges a crawl's items needs neither: its items come with
# their language.
_READER_MODULES = ("py3langid", "trafilatura")


def _readers_loaded() -> bool:
    """Whether this process holds the readers already, their memory included: the
    modules imported and py3langid's model loaded (it loads on first use). A crawl's
    writer, forked from the crawl, has the modules but not the model: reading its seed
    pages itself loaded the model and, for a page whose markup states no date, compiled
    dateparser's patterns for the date search: +150 MB and 1.8 s of CPU, kept for the
    whole crawl (benchmarks/crawl_real.py: the writer 514 -> 398 MB at its peak)."""
    return all(name in sys.modules for name in _READER_MODULES) and model_loaded()


def read_seed_files(refs: list[str]) -> dict[str, Seed | SeedError]:
    """Seed files (not URLs), each read or its error, in a spawned child unless this
    process holds the readers already (`_readers_loaded`; the judge stays ~150 MB
    lighter for the ~0.7 s the child takes, once per crawl)."""
    files = list(dict.fromkeys(ref for ref in refs if not _is_url(ref)))
    if not files:
        return {}
    if _readers_loaded():
        return _load_files(files)
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            return pool.submit(_load_files, files).result()
    except BrokenProcessPool:
        # A spawned child re-imports the main script, which fails for one read from
        # standard input (`python -`): read here then, at the memory cost above.
        log.debug("seed files read in this process: the child could not start")
        return _load_files(files)


def _load_files(refs: list[str]) -> dict[str, Seed | SeedError]:
    """Each file's seed, or why it could not be read (one topic's bad seed file must not
    stop the others)."""
    out: dict[str, Seed | SeedError] = {}
    for ref in refs:
        try:
            out[ref] = load_seed(ref)
        except SeedError as exc:
            out[ref] = exc
    return out
