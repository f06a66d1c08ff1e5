"""How common a word is in its language: wordfreq's data, held in a tenth of the memory.

wordfreq keeps every list it has read for the life of the process twice over, as a list
of Python strings and as a dict of them (both `lru_cache`d). A judge that met 15
languages held ~88 MB of them (English's best list 34 MB, each other language's small
list 2-9 MB), about a third of its memory. No library offers these frequencies in a
compact form, so `WordList` holds one list's words sorted, as UTF-8 in one `bytes`
block with their offsets and their centibels in arrays (English's best list: ~5 MB),
found by binary search. `zipf` is what the classifier asks; `zipf_frequency` computes
what `wordfreq.zipf_frequency` does from a list, with wordfreq's own tokenizer and number
rules; `tests/test_classify_wordlists.py` compares the two word for word.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from functools import cache

import wordfreq

# The languages wordfreq has lists for (the same in its best and small ones).
_LISTED = frozenset(wordfreq.available_languages())
# Languages wordfreq cuts with a segmenter it does not install (wordfreq.language_info:
# jieba for Chinese, MeCab for Japanese and Korean): it raised ModuleNotFoundError and
# left every such item unjudged. Our words are cut already (normalise.segment), so they
# are looked up as listed.
_PRESEGMENTED = frozenset({"zh", "ja", "ko"})
# wordfreq.zipf_frequency's floor (Zipf 0): an unknown word is this frequent.
_MINIMUM = wordfreq.zipf_to_freq(0)
_BLOCK = 32


class WordList:
    """One wordfreq list (a cBpack: bucket i holds the words at -i centibels)."""

    def __init__(self, buckets: list[list[str]]) -> None:
        words: list[str] = []
        centibels = array("H")
        for index, bucket in enumerate(buckets):
            words.extend(bucket)
            centibels.extend([index] * len(bucket))
        # A stable sort keeps a word's buckets in order, and the last one wins, as in
        # wordfreq's dict.
        order = sorted(range(len(words)), key=words.__getitem__)
        blob = bytearray()
        self._offsets = array("I", [0])
        self._centibels = array("H")
        previous = None
        for i in order:
            word = words[i]
            if word == previous:
                self._centibels[-1] = centibels[i]
                continue
            blob += word.encode()
            self._offsets.append(len(blob))
            self._centibels.append(centibels[i])
            previous = word
        self._blob = bytes(blob)
        # UTF-8 sorts bytes in code-point order, the order str sorts in.
        self._positions = range(len(self._centibels))
        # Every _BLOCK-th word as bytes of its own: a search first bisects these in C,
        # then a block of _BLOCK words in the blob (~4 us a word, against ~10 over the
        # whole blob).
        self._index = [self._word(i) for i in range(0, len(self._positions), _BLOCK)]

    def __len__(self) -> int:
        return len(self._centibels)

    def _word(self, position: int) -> bytes:
        return self._blob[self._offsets[position]:self._offsets[position + 1]]

    def frequency(self, word: str) -> float | None:
        """The word's frequency (a probability), or None if the list lacks it."""
        key = word.encode()
        block = bisect_right(self._index, key) - 1
        if block < 0:
            return None
        start = block * _BLOCK
        position = bisect_left(self._positions, key, start,
                               min(start + _BLOCK, len(self._positions)), key=self._word)
        if position < len(self._positions) and self._word(position) == key:
            return wordfreq.cB_to_freq(-self._centibels[position])
        return None


@cache
def word_list(language: str, wordlist: str = "best") -> WordList:
    """The language's list, read once; LookupError where wordfreq has none. Languages are
    the two-letter codes wordfreq files its lists under (`text.language_key`), so there
    is no nearest language to look for, as wordfreq would."""
    path = wordfreq.available_languages(wordlist).get(language)
    if path is None:
        raise LookupError(f"no wordlist {wordlist!r} for language {language!r}")
    return WordList(wordfreq.read_cBpack(path))


def word_frequency(word: str, language: str, wordlist: str = "best") -> float:
    """wordfreq.word_frequency(word, language, wordlist, minimum=Zipf 0), from `WordList`:
    the word cut by wordfreq's tokenizer, numbers smashed to zeros and given wordfreq's
    digit distribution, the parts' frequencies combined as 1/f = sum 1/f_i."""
    tokens = wordfreq.lossy_tokenize(word, language)
    if not tokens:
        return _MINIMUM
    frequencies = word_list(language, wordlist)
    one_over_result = 0.0
    for token in tokens:
        smashed = wordfreq.smash_numbers(token)
        frequency = frequencies.frequency(smashed)
        if frequency is None:
            return _MINIMUM
        if smashed != token:
            frequency *= wordfreq.digit_freq(token)
        one_over_result += 1.0 / frequency
    frequency = 1.0 / one_over_result
    if wordfreq.get_language_info(language)["tokenizer"] == "jieba":
        frequency *= wordfreq.INFERRED_SPACE_FACTOR ** -(len(tokens) - 1)
    unrounded = max(frequency, _MINIMUM)
    return round(unrounded, math.floor(-math.log(unrounded, 10)) + 3)


def zipf_frequency(word: str, language: str, wordlist: str = "best") -> float:
    """wordfreq.zipf_frequency(word, language, wordlist): 0 = unknown, 7 = "the"."""
    return round(wordfreq.freq_to_zipf(word_frequency(word, language, wordlist)), 2)


def listed_zipf(word: str, language: str, wordlist: str = "best") -> float:
    """The Zipf value of a word exactly as listed, not cut again (wordfreq cuts Chinese
    with jieba and Japanese and Korean with MeCab, which it does not install; our words
    are already cut)."""
    frequency = word_list(language, wordlist).frequency(word.casefold())
    return round(math.log10(frequency) + 9, 2) if frequency else 0.0


def zipf(word: str, language: str, wordlist: str = "best") -> float:
    """How common a word is in its language, 0 (unknown, or a language wordfreq has no
    list for, Thai for one: it warns on every call) to 7 ("the")."""
    if language not in _LISTED:
        return 0.0
    if language in _PRESEGMENTED:
        return listed_zipf(word, language, wordlist)
    return zipf_frequency(word, language, wordlist)
