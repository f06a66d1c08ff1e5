"""Words and sentences in every script: the one place where text is cut into units.

Word counts (short-text, teaser and page-type rules), the classifier's tokens, sentence
splitting and near-copy shingles all take their words from here, so that a Chinese,
Japanese or Thai article is measured in words, as an English one is, and not as one
"word" per run of characters between two spaces.

- Text in scripts that put spaces between words (Latin, Cyrillic, Greek, Hangul, ...) is
  cut by the regular expression the classifier always used, unchanged: the stored
  near-copy band keys of such text must stay what they were (docs/cjk.md).
- Runs of scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer,
  Myanmar) go through ICU's word break iterator: UAX #29 plus ICU's own dictionaries for
  Chinese/Japanese and for Thai/Lao/Khmer/Burmese. icu4py's wheel carries ICU and its
  data, so nothing is compiled or downloaded. ICU was chosen over jieba + janome on
  measurement: 1.35 M Chinese and 0.87 M Japanese characters/s with a 15 ms import,
  against jieba's 0.22 M/s after a 1.1 s dictionary load and janome's 0.03 M/s
  (docs/cjk.md, docs/decisions.md).
- Korean is written with spaces between phrases (eojeol), which ICU also keeps as units:
  it goes through the regular expression like any spaced script.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from icu4py.locale import Locale

# A word: letters and digits, with inner hyphens and apostrophes (EU-Staaten, l'armée).
# Kept byte for byte: near-copy shingles of spaced text are made of these tokens.
TOKEN = re.compile(r"[^\W_]+(?:[-’'][^\W_]+)*", re.UNICODE)
# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, the Japanese
# kana (with the prolonged sound mark and iteration marks), CJK ideographs of the basic
# block, extension A, the compatibility block and the supplementary planes, half-width
# katakana.
_SPACELESS_CHARS = (
    "\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"
    "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003134f"
)
SPACELESS_RUN = re.compile(f"[{_SPACELESS_CHARS}]+")
_HAS_WORD = re.compile(r"[^\W_]")
# Sentence ends that need no space after them: the ideographic full stop and the
# full-width ! and ?, with any closing quotes or brackets that follow them; not a quote
# that goes on with the quotative と (「本当か？」と記者が聞いた。 is one sentence).
_SPACELESS_END = re.compile(r"([。！？]++[」』”’）)\]\"']*+)(?!と)")
_THAI_BREAK = re.compile(r"(?<=[\u0e01-\u0e4e]) +(?=[\u0e01-\u0e4e])")


# Scripts that write a word or a syllable in one or two characters (Han, kana, Hangul):
# in the embedding model's tokens one of their characters weighs about three Latin
# letters (tokens per character of the first 700: zh 0.78, ja 0.57, ko 0.57 on our own
# texts; en 0.22, de 0.22, ru 0.26 on the real corpus; Thai 0.23, like Latin), so a
# length limit that stands for an amount of text counts them three times.
_DENSE = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\uf900-\ufaff\U00020000-\U0003134f]")
DENSE_WIDTH = 3


def prefix(text: str, width: int) -> str:
    """The start of a text up to `width` characters, a character of a dense script (Han,
    kana, Hangul) counting DENSE_WIDTH: the same amount of text in every script, so that
    a Chinese lead is not three times an English one (and three times its cost)."""
    head = text[:width]
    if not _DENSE.search(head):
        return head
    used = 0
    for end, char in enumerate(text):
        used += DENSE_WIDTH if _DENSE.match(char) else 1
        if used > width:
            return text[:end]
    return text


def has_spaceless(text: str) -> bool:
    """Whether any part of the text is in a script written without spaces."""
    return SPACELESS_RUN.search(text) is not None


@lru_cache(maxsize=1)
def _locale() -> Locale:
    from icu4py.locale import Locale  # ~15 ms, only once a spaceless text is met

    # The root locale: ICU picks the dictionary by script, not by language.
    return Locale("und")


def _icu_words(run: str) -> tuple[str, ...]:
    """ICU's words of one run of a spaceless script (punctuation-free by construction)."""
    from icu4py.breakers import WordBreaker

    return tuple(w for w in WordBreaker(run, _locale()) if _HAS_WORD.search(w))


# Judging one item cuts each of its runs about three times (shingles, then terms and
# anchors sentence by sentence), so recent runs are kept; only runs up to a clause's
# length (a run ends at any punctuation), so the cache stays within ~20 MB whatever the
# text: cached whole, 10,000 long unpunctuated texts held 300 MB
# (benchmarks/classify_throughput.py --cjk-share).
_CACHED_RUN_CHARS = 64
_cached_icu_words = lru_cache(maxsize=8192)(_icu_words)


def _break_run(run: str) -> tuple[str, ...]:
    return _cached_icu_words(run) if len(run) <= _CACHED_RUN_CHARS else _icu_words(run)


def words(text: str) -> list[str]:
    """The words of a text, in order and in their own case.

    Spaced text gives exactly TOKEN's matches; a run of a spaceless script gives ICU's
    words, and the spaced text around it (Latin names, numbers) its TOKEN matches.
    """
    if not has_spaceless(text):
        return TOKEN.findall(text)
    out: list[str] = []
    position = 0
    for run in SPACELESS_RUN.finditer(text):
        out.extend(TOKEN.findall(text, position, run.start()))
        out.extend(_break_run(run.group()))
        position = run.end()
    out.extend(TOKEN.findall(text, position))
    return out


def word_count(text: str) -> int:
    """Words for length rules: whitespace-separated chunks, with each chunk that holds a
    spaceless script counted in its segmented words. For text without such a script this
    is `len(text.split())`, as it always was (stored counts stay comparable)."""
    if not has_spaceless(text):
        return len(text.split())
    count = 0
    for chunk in text.split():
        if has_spaceless(chunk):
            count += max(1, len(words(chunk)))
        else:
            count += 1
    return count


def split_spaceless_sentences(paragraph: str) -> list[str]:
    """A paragraph cut after 。！？ (and the quotes closing them), which need no space
    after them, and at a space between two Thai letters (Thai has no sentence
    punctuation: a space ends a sentence or a clause); text without either comes back
    whole, for the spaced-script splitter."""
    pieces = [paragraph]
    if _SPACELESS_END.search(paragraph):
        parts = _SPACELESS_END.split(paragraph)
        # re.split with one group: text, end, text, end, ..., text
        pieces = [parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
                  for i in range(0, len(parts), 2)]
    if _THAI_BREAK.search(paragraph):
        pieces = [p for piece in pieces for p in _THAI_BREAK.split(piece)]
    return [p.strip() for p in pieces if p.strip()]
