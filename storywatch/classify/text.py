"""The text features every layer shares: words, lemmas, sentences and language-free anchors.

Anchors are what survives translation: numbers ("2,000" = "2 000" = "2.000") and proper
names reduced to a consonant skeleton after transliteration, so that Chuviliaev,
Chuvilyaev and Чувиляев (any case ending) meet on the same key.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import simplemma
from anyascii import anyascii

from storywatch.classify import wordlists
from storywatch.normalise import segment
from storywatch.normalise.segment import has_spaceless, split_spaceless_sentences

# Spaced-script tokens; words in every script come from storywatch.normalise.segment.
_TOKEN = segment.TOKEN
_NUMBER = re.compile(r"\d{1,3}(?:[ ,.\u00a0\u202f’']\d{3})+(?!\d)|\d+(?:[.,]\d+)?")
# Sentence ends: . ! ? … followed by space and an upper-case letter, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”»“)]?\s+(?=[\"“«„(]?[A-ZÀ-ÖØ-ÞА-ЯЁ0-9])")
# ... but not after a number of one or two digits ("der 1. Senat"), a short abbreviation
# ("Dr.", "Az.") or an initialism ("U.S. Steel", "U.N. agency"): these are mostly inside one.
_NOT_AN_END = re.compile(r"(?:^|[\s(])(?:\d{1,2}|[A-Z][a-z]{0,2}|(?:[A-Z]\.)+[A-Z])\.$")
# Month names and abbreviations in the languages the corpus has (en, fr, de, ru); a
# hand-written list because no installed library offers month names for all four.
_MONTHS = (
    r"jan(?:uary|vier|uar)?|feb(?:ruary|ruar)?|f[ée]v(?:rier)?|mar(?:ch|s)?|m[äa]rz|"
    r"apr(?:il)?|avr(?:il)?|may|mai|june?|juin|juni|july?|juil(?:let)?|juli|aug(?:ust)?|"
    r"ao[ûu]t|sep(?:t(?:ember|embre)?)?|oct(?:ober|obre)?|okt(?:ober)?|nov(?:ember|embre)?|"
    r"dec(?:ember)?|d[ée]c(?:embre)?|dez(?:ember)?|"
    r"января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
)
_DATE_DAY = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?!\d)|\d{{1,2}}\.?\s+(?:{_MONTHS})\b)",
    re.IGNORECASE,
)
_PARTS = re.compile(r"[-’']")
_VOWELS = re.compile(r"[aeiouyj'h]+")

# wordfreq's Zipf scale: 7 is "the", 3 is once per million words. A word at or above
# this is common in its language and carries no topic information on its own.
COMMON_ZIPF = 4.6
# A capitalised dictionary word rarer than this (Almaty 2.6, but not Kazakhstan 3.6)
# is taken for a name.
NAME_MAX_ZIPF = 3.0
# A German word this common in English text (Oswald 3.4, Samara 2.7, Katrin 2.3) is a
# name; German common nouns are near 0 in English (Novum 2.05), and words above 4 are
# English words that German borrowed (Medium 4.6, Migration 4.1). Acronyms are names.
NAME_IN_ENGLISH_ZIPF = 2.2
COMMON_IN_ENGLISH = 4.0


# Entries each per-word cache below keeps (the content-term cache, asked for every word of
# every text, twice as many). A crawl of general news keeps meeting new words, names and
# languages (most words of a text are ones no earlier text had), so these caches fill to
# their bound, at ~200 bytes an entry (tracemalloc). At 200,000 entries each (1.6 million
# in all, up to ~320 MB) a judge fed 1,409 distinct real articles held 512,000 entries and
# was still growing, where the benchmarks that cycle a few hundred texts showed it flat;
# at this size it holds at most ~52 MB and was as fast, within run-to-run noise (22-26
# against 24-27 ms an article; benchmarks/judge_distinct.py, docs/classification.md).
WORD_CACHE = 32_768


@lru_cache(maxsize=WORD_CACHE)
def zipf(word: str, language: str, small: bool = False) -> float:
    """How common a word is in its language (0 = unknown, 7 = "the"); cached, it is slow.

    `small` reads wordfreq's small list (words down to Zipf 3, 30-60,000 words a language)
    instead of the best one (down to Zipf 1, up to 320,000 words, 0.3 s to read): what a
    language other than the topic's needs (see `analyse`). Both are held compactly
    (`storywatch.classify.wordlists`).

    Languages without a list (Thai) give 0; Chinese, Japanese and Korean words are looked
    up as they are (`wordlists.zipf`).
    """
    return wordlists.zipf(word, language, "small" if small else "best")


# py3langid names Norwegian "no"; wordfreq and simplemma know its usual written form as
# "nb" (Bokmål) and nothing as "no", which left every Norwegian word unknown (so rare,
# so a name).
_ALIASES = {"no": "nb"}


def language_key(language: str | None) -> str:
    """The two-letter code every layer keys languages by (an unknown language is English)."""
    key = (language or "en").lower()[:2]
    return _ALIASES.get(key, key)




@lru_cache(maxsize=WORD_CACHE)
def lemma(word: str, language: str) -> str:
    """simplemma's lemma; a language it does not know keeps the word form."""
    try:
        return str(simplemma.lemmatize(word, lang=language, low_memory=True)).lower()
    except (ValueError, KeyError):
        return word


def words(text: str) -> list[str]:
    """Word tokens in every script, lower-cased (for shingles and hashing)."""
    return [w.lower() for w in segment.words(text)]


def split_sentences(text: str) -> list[str]:
    """Sentences, paragraph by paragraph; a heuristic splitter is enough for coverage.

    A period after a number of one or two digits (German ordinals: "der 1. Senat") or
    after a short abbreviation ("Az.", "Dr.") does not end a sentence. 。！？ end one
    without a space after them (storywatch.normalise.segment).
    """
    out: list[str] = []
    for paragraph in text.split("\n"):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        for part in split_spaceless_sentences(paragraph):
            out.extend(_split_spaced(part))
    return out


def _split_spaced(paragraph: str) -> list[str]:
    out: list[str] = []
    pending = ""
    for piece in _SENTENCE_END.split(paragraph):
        piece = piece.strip()
        if not piece:
            continue
        pending = f"{pending} {piece}" if pending else piece
        if not _NOT_AN_END.search(pending):
            out.append(pending)
            pending = ""
    if pending:
        out.append(pending)
    return out


def normalise_number(raw: str) -> str | None:
    """Digits only, thousands separators removed; decimals kept with a dot."""
    if re.fullmatch(r"\d{1,3}(?:[ ,.\u00a0\u202f’']\d{3})+", raw):
        return re.sub(r"\D", "", raw)
    raw = raw.replace(",", ".")
    return raw if raw.strip(".") else None


@lru_cache(maxsize=WORD_CACHE)
def skeleton(word: str) -> str:
    """Consonant skeleton of a transliterated word: vowels, y/j/h and soft signs dropped,
    sounds that transliterations spell differently merged (Tschuwiljajew, Tchouviliaev,
    Chuviliaev, Чувиляев all give "Kvlv"; Donetsk and Donezk give "dnsk"), doubled
    letters merged, the first four kept so that Russian case endings do not count."""
    w = anyascii(word).lower()
    for old, new in (("tsch", "K"), ("tch", "K"), ("sch", "S"), ("ch", "K"), ("kh", "K"),
                     ("sh", "S"), ("zh", "S"), ("ts", "s"), ("tz", "s"), ("ck", "k"),
                     ("x", "ks"), ("w", "v"), ("z", "s"), ("c", "k"), ("q", "k"), ("ph", "f")):
        w = w.replace(old, new)
    core = re.sub(r"[^a-zA-Z]", "", _VOWELS.sub("", w))
    return re.sub(r"(.)\1+", r"\1", core)[:4]


def skeletons(terms: Iterable[str]) -> set[str]:
    """Language-free keys of content terms long enough not to collide by chance."""
    out = set()
    for term in terms:
        if len(term) >= 5:
            key = skeleton(term)
            if len(key) >= 3:
                out.add(key)
    return out


@dataclass
class Analysed:
    """One text, analysed once and reused by every layer.

    Its anchors (names and numbers) are found on first use: the gate decides on terms
    alone, and finding names (a dictionary or word-list lookup for every capitalised
    word) was about half of the analysis of the news it stops."""

    language: str
    sentences: list[str]
    sentence_terms: list[set[str]]
    terms: Counter[str] = field(default_factory=Counter)
    full: bool = True  # lemmas and the best word lists (see `analyse`)

    @cached_property
    def sentence_anchors(self) -> list[set[str]]:
        return [anchors_of(unicodedata.normalize("NFC", sentence), self.language,
                           full=self.full) for sentence in self.sentences]

    @cached_property
    def anchors(self) -> set[str]:
        return set().union(*self.sentence_anchors)

    @property
    def term_set(self) -> set[str]:
        return set(self.terms)


def content_terms(sentence: str, language: str, full: bool = True) -> list[str]:
    """Lemmas of the words that carry meaning: no digits-only tokens, no very common words.
    Not `full`: lower-cased word forms, common by the small word list (see `analyse`)."""
    out = []
    for token in segment.words(sentence):
        term = _content_term(token.lower(), language, full)
        if term is not None:
            out.append(term)
    return out


# Shortest content word: three letters in spaced scripts, two characters in the others
# (most Chinese words have two; one-character words are mostly particles: 的, の, は).
_MIN_TERM = 3
_MIN_SPACELESS_TERM = 2


# Japanese words written in hiragana only are endings and particles (した, する, から);
# the words that carry meaning are in kanji or katakana. wordfreq cannot say so: its list
# is cut by MeCab, which splits these words further (し + た), so they look rare.
_HIRAGANA_ONLY = re.compile(r"[\u3040-\u309f\u30fc]+")


@lru_cache(maxsize=2 * WORD_CACHE)
def _content_term(low: str, language: str, full: bool = True) -> str | None:
    if low.isdigit() or len(low) < (_MIN_SPACELESS_TERM if has_spaceless(low) else _MIN_TERM):
        return None
    if language == "ja" and _HIRAGANA_ONLY.fullmatch(low):
        return None
    if not full:
        return None if zipf(low, language, small=True) >= COMMON_ZIPF else low
    lem = lemma(low, language)
    if zipf(low, language) >= COMMON_ZIPF and zipf(lem, language) >= COMMON_ZIPF:
        return None
    return lem


@lru_cache(maxsize=WORD_CACHE)
def is_name(token: str, language: str, full: bool = True) -> bool:
    """A capitalised word that is a person, place or organisation of the story.

    Outside German: a word the lemmatiser does not know, or a rare one. German capitalises
    every noun and simplemma's German dictionary also lists first names and places, so
    there a known word counts as a name only when it is also used in English (Oswald,
    Samara, BAMF; German nouns such as Strafverfolgung are not). Not `full`: a word
    below the small word list's floor (Zipf 3), with no lemmatiser asked; German keeps
    its rules, with the small list (a name is told by its absence from the dictionary,
    not by its frequency: Donezk and Strafverfolgung are equally common).
    """
    low = token.lower()
    if not full and language != "de":
        return zipf(low, language, small=True) < NAME_MAX_ZIPF
    if zipf(low, language, small=not full) >= COMMON_ZIPF:
        return False  # a common word capitalised (Евросоюза, EU, Monday)
    if not _known(low, language):
        return not (language == "de" and _is_compound(low, language))
    if language == "de":
        return token.isupper() or NAME_IN_ENGLISH_ZIPF <= zipf(low, "en") < COMMON_IN_ENGLISH
    return zipf(low, language) < NAME_MAX_ZIPF


def _is_compound(word: str, language: str) -> bool:
    """German compounds (Antikriegshaltung) are nouns the dictionary lacks, not names: a
    word whose tail of 4+ letters is a known word is taken for one."""
    # Shortest tail first: the known word is the compound's last part (-haltung), found
    # in a few lookups instead of after every longer tail (each ~40 us in the dictionary).
    return any(_known(word[i:], language) for i in range(len(word) - 4, 1, -1))


@lru_cache(maxsize=WORD_CACHE)
def _known(word: str, language: str) -> bool:
    try:
        return bool(simplemma.is_known(word, lang=language, low_memory=True))
    except (ValueError, KeyError):
        return False


# "11h00", "11:00", "9.30 am": when a report was filed, not a fact of the story.
_TIME_OF_DAY = re.compile(r"\b\d{1,2}(?:[:h]|\.(?=\d{2}\s*[ap]\.?m))\d{2}\b", re.IGNORECASE)


def anchors_of(sentence: str, language: str, *, first_is_start: bool = True,
               full: bool = True) -> set[str]:
    """Numbers (#2000) and rare capitalised names (@chvlv) in a sentence.

    The day of a date ("Oct 10", "14 октября") is left out: a dateline or "on Tuesday,
    18 February" dates the report, it is not a fact of the story.
    """
    found: set[str] = set()
    sentence = _TIME_OF_DAY.sub(" ", _DATE_DAY.sub(" ", sentence))
    for raw in _NUMBER.findall(sentence):
        number = normalise_number(raw)
        # Numbers under 10 are counts written as digits in one paper and words in another.
        if number and (len(number) > 1 or "." in number):
            found.add(f"#{number}")
    tokens = segment.words(sentence)
    if first_is_start and tokens and len(tokens[0]) >= 3 and tokens[0].isupper():
        # An acronym opening a sentence (OFPRA, BAMF) is a name, not a capitalised word.
        found.update(_name_anchors(tokens[0], language, full))
    for token in tokens[1:] if first_is_start else tokens:
        if token[:1].isupper() or "-" in token or "'" in token or "’" in token:
            found.update(_name_anchors(token, language, full))
    return found


@lru_cache(maxsize=WORD_CACHE)
def _name_anchors(token: str, language: str, full: bool = True) -> tuple[str, ...]:
    out = []
    # Elisions and compounds: C'est -> est, EU-Staaten -> EU, Staaten.
    for part in _PARTS.split(token):
        if len(part) < 3 or not part[:1].isupper() or not is_name(part, language, full):
            continue
        key = skeleton(part)
        if len(key) >= 3:
            out.append(f"@{key}")
    return tuple(out)


def analyse(text: str, language: str | None, title: str | None = None, *,
            full: bool = True) -> Analysed:
    """Split into sentences and collect terms and anchors; the title counts as a sentence.

    `full` analysis (lemmas, the best word lists) is for text in the topic's own language,
    compared word for word with its seeds. Text in any other language is compared on
    consonant skeletons, which keep a word's first four consonants, and lemmas rarely
    change those; so it is analysed without the lemmatiser and with the small word lists.
    That keeps a judge's memory to the topic's language: wordfreq's best lists held 20-130
    MB a language as wordfreq keeps them (5 MB for English's as `wordlists` does),
    simplemma's dictionaries 25-410 MB in its default backend (Polish 410 MB and 8 s to
    load). German keeps the dictionary for telling names from nouns (`is_name`).
    simplemma's memory-frugal backend serves every lookup: the same
    lemmas for every word of the corpus, a seventh of the memory or less (German 15 MB
    instead of 113, English 3 instead of 23, Polish 47) at ~35 us a lookup, which the
    caches here absorb.
    """
    lang = language_key(language)
    sentences = split_sentences(text)
    if title and title.strip():
        sentences = [title.strip(), *sentences]
    sentence_terms = []
    terms: Counter[str] = Counter()
    for sentence in sentences:
        ts = content_terms(unicodedata.normalize("NFC", sentence), lang, full)
        sentence_terms.append(set(ts))
        terms.update(ts)
    return Analysed(lang, sentences, sentence_terms, terms, full)
