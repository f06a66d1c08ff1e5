"""The date search on real pages: how often it runs, what its extensive mode finds, and
what it costs in a fresh process and once warm.

extract_article asks htmldate for a date only where the page's markup states none and no
listing dates the article. This runs that search, with the settings extraction uses, on
trafilatura's evaluation pages (realpages.py; never committed), with and without the
extensive mode, then twice more to show the per-process warm-up (dateparser compiling its
patterns for every language htmldate lets it try).

    python benchmarks/date_search.py PATH-TO-TRAFILATURA-CHECKOUT
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from htmldate import find_date
from trafilatura.settings import set_date_params
from w3lib.encoding import html_to_unicode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.realpages import DEFAULT_CORPUS, load_pages
from storywatch.extraction.article import parse_page
from storywatch.extraction.metadata import read_metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="?", default=DEFAULT_CORPUS)
    args = parser.parse_args()
    pages = load_pages(args.corpus)
    searched = []
    for page in pages:
        tree = parse_page(html_to_unicode(None, page.body)[1])
        if tree is None:
            continue
        meta = read_metadata(tree, page.url)
        if meta.published is None:  # as extract_article: only then is the date searched
            searched.append((tree, {**set_date_params(True), "url": meta.canonical or page.url}))
    seconds = []
    found = {}
    for extensive in (True, True, True, False):
        started = time.process_time()
        found[extensive] = [find_date(tree, **{**settings, "extensive_search": extensive})
                            for tree, settings in searched]
        seconds.append(time.process_time() - started)
    only_extensive = sum(a is not None and b is None
                         for a, b in zip(found[True], found[False], strict=True))
    n = len(searched)
    print(f"{len(pages)} real pages; the date is searched on {n} (no date in the markup)")
    print(f"  found: {sum(d is not None for d in found[True])} with the extensive mode, "
          f"{sum(d is not None for d in found[False])} without; "
          f"{only_extensive} only by the extensive mode")
    print(f"  CPU ms per search: first pass in this process {1000 * seconds[0] / n:.1f}, "
          f"then {1000 * seconds[1] / n:.1f} and {1000 * seconds[2] / n:.1f}; "
          f"without the extensive mode {1000 * seconds[3] / n:.1f}")


if __name__ == "__main__":
    main()
