"""Real pages in Chinese, Japanese, Thai and Korean: page type, extraction and language.

Reads trafilatura's evaluation pages from a checkout (benchmarks/realpages.py says why
they are never committed) and keeps those whose annotated passages are mostly in a
script written without spaces, or in Hangul. For each page: whether `analyse_page` takes
it for an article (what a `site` source stores), the language and word count of the
normalised item, and trafilatura's own scoring of the text (passages that must / must
not be in it).

    python benchmarks/spaceless_real.py ~/.cache/storywatch-bench/trafilatura
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.realpages import DEFAULT_CORPUS, load_pages
from storywatch.discovery.pages import analyse_page
from storywatch.extraction.article import extract_article
from storywatch.extraction.encoding import decode_page
from storywatch.normalise.item import normalise_article
from storywatch.normalise.segment import SPACELESS_RUN

_HANGUL = re.compile("[\uac00-\ud7a3]")
_SPACES = re.compile(r"\s+")


def _share(text: str) -> float:
    letters = sum(len(run) for run in SPACELESS_RUN.findall(text)) + len(_HANGUL.findall(text))
    return letters / max(1, len(text))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    pages = [p for p in load_pages(args.corpus) if _share(" ".join(p.with_)) > 0.3]
    found = wanted = unwanted = kept = articles = 0
    print(f"{'page':<62} {'article?':>8} {'lang':>5} {'words':>6} {'with':>5} {'without':>8}")
    for page in pages:
        html = decode_page(page.body, None)
        analysis = analyse_page(html, page.url)
        item = normalise_article(extract_article(html, page.url), url=page.url, source="bench",
                                 discovered_via="feed")
        text = _SPACES.sub(" ", item.text)
        hits = sum(_SPACES.sub(" ", w) in text for w in page.with_)
        leaks = sum(_SPACES.sub(" ", w) in text for w in page.without)
        found, wanted = found + hits, wanted + len(page.with_)
        unwanted, kept = unwanted + len(page.without), kept + leaks
        articles += analysis.is_article
        print(f"{page.url[:62]:<62} {'yes' if analysis.is_article else 'no':>8} "
              f"{item.language or '-':>5} {item.word_count:>6} {hits:>2}/{len(page.with_):<2} "
              f"{leaks:>4}/{len(page.without):<3}", flush=True)
    print(f"{len(pages)} pages: {articles} taken for articles; passages found "
          f"{found}/{wanted}, unwanted passages kept {kept}/{unwanted}")


if __name__ == "__main__":
    main()
