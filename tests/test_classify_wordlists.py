"""The compact word lists give wordfreq's own frequencies, word for word."""

from __future__ import annotations

import random

import pytest
import wordfreq

from storywatch.classify import wordlists
from storywatch.classify.wordlists import WordList

# Words wordfreq cuts again, smashes digits in, or lacks.
_AWKWARD = ["covid-19", "2024", "3,000", "1.5", "don't", "U.S.", "l'état", "Hello",
            "NATO's", "xqzzyv", "", "   ", "e-mail", "Straße", "STRASSE", "naïve", "42nd"]


def _sample(language: str, wordlist: str, n: int) -> list[str]:
    words = [w for bucket in wordfreq.get_frequency_list(language, wordlist) for w in bucket]
    return random.Random(7).sample(words, min(n, len(words))) + _AWKWARD


@pytest.mark.parametrize(("language", "wordlist"), [
    ("en", "best"), ("de", "small"), ("ru", "small"), ("ar", "small"), ("fr", "best"),
    ("nb", "small"), ("tr", "small"),
])
def test_zipf_frequency_is_wordfreqs(language: str, wordlist: str) -> None:
    sample = _sample(language, wordlist, 3000)
    ours = [wordlists.zipf_frequency(w, language, wordlist) for w in sample]
    theirs = [wordfreq.zipf_frequency(w, language, wordlist=wordlist) for w in sample]
    assert ours == theirs
    assert len({z for z in ours if z > 0}) > 100  # not all misses


@pytest.mark.parametrize("language", ["zh", "ja", "ko"])
def test_listed_zipf_reads_the_list_as_it_is(language: str) -> None:
    """Chinese, Japanese and Korean words are looked up uncut (wordfreq would need jieba
    or MeCab): the value is the list's own."""
    listed = wordfreq.get_frequency_dict(language, "small")
    sample = random.Random(3).sample(sorted(listed), 2000)
    for word in sample:
        assert wordlists.listed_zipf(word, language, "small") == round(
            wordfreq.freq_to_zipf(listed[word]), 2), word
    assert wordlists.listed_zipf("not a word at all", language, "small") == 0.0


def test_a_word_listed_twice_takes_its_last_bucket_as_wordfreqs_dict_does() -> None:
    words = WordList([[], ["beta", "alpha"], [], ["alpha", "zeta"], ["ä"]])
    assert len(words) == 4
    assert words.frequency("alpha") == wordfreq.cB_to_freq(-3)
    assert words.frequency("beta") == wordfreq.cB_to_freq(-1)
    assert words.frequency("ä") == wordfreq.cB_to_freq(-4)
    assert words.frequency("a") is None
    assert words.frequency("zzz") is None
    assert words.frequency("") is None


def test_a_language_without_a_list_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        wordlists.word_list("th", "best")
