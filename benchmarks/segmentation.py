"""Word segmentation: speed per script, and what one item's text analysis costs.

Prints, per script, ICU's words per second (storywatch.normalise.segment) on the texts
of tests/data/cjk/ (English: the eval seed), and the cost per item of what the classifier
does with a text before any embedding (analyse: sentences, terms, anchors; near-copy
shingles and band keys). When jieba or janome are installed (they are not dependencies:
`pip install jieba janome`), their speed on the same Chinese / Japanese text is printed
next to ICU's: that comparison chose ICU (docs/decisions.md).

    python benchmarks/segmentation.py
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storywatch.classify import near_copies
from storywatch.classify.text import analyse
from storywatch.normalise import segment
from storywatch.normalise.segment import words

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
TEXTS = {
    "en": [DATA / "eval" / "seeds" / "seed-a.txt"],
    "zh": sorted((DATA / "cjk").glob("zh-*.txt")),
    "ja": [DATA / "cjk" / "ja-article.txt"],
    "th": [DATA / "cjk" / "th-article.txt"],
    "ko": [DATA / "cjk" / "ko-article.txt"],
}
_WORD = re.compile(r"\w")


def _uncached_words(text: str) -> list[str]:
    segment._cached_icu_words.cache_clear()  # each run segments the text again
    return words(text)


def _rate(function: Callable[[], object], chars: int, seconds: float = 1.0) -> float:
    """Characters per second, over repeated runs for about `seconds` (first run apart)."""
    function()
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        function()
        runs += 1
    return chars * runs / (time.perf_counter() - start)


def main() -> None:
    print(f"{'script':>6} {'chars':>6} {'words':>6} {'ICU Mchar/s':>12} "
          f"{'analyse+shingles ms/item':>25}")
    for language, paths in TEXTS.items():
        text = "\n".join(p.read_text(encoding="utf-8") for p in paths)
        rate = _rate(partial(_uncached_words, text), len(text))
        per_item = []
        for path in paths:
            body = path.read_text(encoding="utf-8")
            analyse(body, language)  # dictionaries and word lists load on first use
            start = time.perf_counter()
            for n in range(20):
                fresh = f"{body}\n{n}"
                segment._cached_icu_words.cache_clear()  # each item is new text
                analyse(fresh, language)
                near_copies.keys_of(fresh)
            per_item.append((time.perf_counter() - start) / 20 * 1000)
        print(f"{language:>6} {len(text):>6} {len(words(text)):>6} {rate / 1e6:>12.2f} "
              f"{sum(per_item) / len(per_item):>25.2f}", flush=True)

    zh = "\n".join(p.read_text(encoding="utf-8") for p in TEXTS["zh"])
    ja = TEXTS["ja"][0].read_text(encoding="utf-8")
    if importlib.util.find_spec("jieba"):
        import jieba

        jieba.setLogLevel(60)
        start = time.perf_counter()
        jieba.initialize()
        load = time.perf_counter() - start
        rate = _rate(lambda: [w for w in jieba.cut(zh) if _WORD.search(w)], len(zh))
        print(f"jieba (zh): {rate / 1e6:.2f} Mchar/s, dictionary load {load:.2f} s")
    if importlib.util.find_spec("janome"):
        from janome.tokenizer import Tokenizer

        start = time.perf_counter()
        tokenizer = Tokenizer(wakati=True)
        load = time.perf_counter() - start
        rate = _rate(lambda: [w for w in tokenizer.tokenize(ja) if _WORD.search(w)], len(ja))
        print(f"janome (ja): {rate / 1e6:.3f} Mchar/s, load {load:.2f} s")


if __name__ == "__main__":
    main()
