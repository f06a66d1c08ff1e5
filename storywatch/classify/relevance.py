"""Relevance: how much an item is about the topic's core, not just near it.

The topic profile is built from the seeds alone. A term weighs (a) by how rare it is in
its language (wordfreq's Zipf scale: a general background of what text normally says),
(b) by its frequency in the seeds, and (c) by how many seeds share it: with two seeds a
term only one of them uses (seed-b's sabotage paragraph: MI5, arson, Faeser) counts a
quarter of a shared one, because what all seeds share is the story.

Same-language items are compared on lemmas; items in another language on consonant
skeletons of the terms (cognates: deserter/déserteur/Deserteur/дезертир) and on the
language-free anchors (numbers, names). The score is one signal of the learned decision
(storywatch.classify.features), not a threshold of its own.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from storywatch.classify.text import Analysed, skeleton, zipf
from storywatch.normalise.segment import has_spaceless, words

# Words at Zipf 7 ("the") weigh nothing; an unknown word (Zipf 0) weighs 7.
_MAX_ZIPF = 7.0


def term_weight(term: str, language: str, small: bool = False) -> float:
    return max(0.0, _MAX_ZIPF - zipf(term, language, small))


def _tf(count: int) -> float:
    return 1.0 + math.log(count)


def _cosine(vector: dict[str, float], profile: dict[str, float], norm: float) -> float:
    vnorm = math.sqrt(sum(v * v for v in vector.values()))
    if not vnorm or not norm:
        return 0.0
    return sum(profile.get(k, 0.0) * v for k, v in vector.items()) / vnorm / norm


@dataclass
class Profile:
    language: str
    terms: dict[str, float]
    keys: dict[str, float]
    anchors: set[str]
    all_keys: set[str]  # skeletons of every seed word: what the seeds already name
    rare_names: set[str]  # anchors of names almost unknown to the language (Mediazona)
    top_terms: list[tuple[str, float]] = field(default_factory=list)

    @cached_property
    def key_prefixes(self) -> set[str]:
        return {key[:3] for key in self.all_keys if len(key) >= 3}

    @property
    def terms_norm(self) -> float:
        return math.sqrt(sum(v * v for v in self.terms.values()))

    @property
    def keys_norm(self) -> float:
        return math.sqrt(sum(v * v for v in self.keys.values()))


def build_profile(seeds: Sequence[Analysed], extra_terms: Sequence[str] = ()) -> Profile:
    """Weighted terms of the seeds; shared terms up, one-seed terms down (see module doc)."""
    n = len(seeds)
    language = Counter(s.language for s in seeds).most_common(1)[0][0]
    per_term: dict[str, list[float]] = {}
    for seed in seeds:
        for term, count in seed.terms.items():
            per_term.setdefault(term, []).append(_tf(count))
    for term in extra_terms:  # topic keywords count as if every seed used them once
        for word in (words(term.lower()) if has_spaceless(term) else term.lower().split()):
            per_term.setdefault(word, []).extend([1.0] * n)
    terms = {
        t: term_weight(t, language) * (sum(v) / n) * (min(len(v), n) / n) ** 2
        for t, v in per_term.items()
    }
    terms = {t: w for t, w in terms.items() if w > 0}
    keys: dict[str, float] = {}
    for term, weight in terms.items():
        if len(term) >= 5:
            key = skeleton(term)
            if len(key) >= 3:
                keys[key] = max(keys.get(key, 0.0), weight)
    anchors = set().union(*(s.anchors for s in seeds)) if seeds else set()
    all_keys: set[str] = set()
    for seed in seeds:
        for sentence in seed.sentences:
            # Segmented words where a script has no spaces; split() as always elsewhere.
            tokens = words(sentence) if has_spaceless(sentence) else sentence.split()
            all_keys.update(skeleton(w) for w in tokens if len(skeleton(w)) >= 3)
    rare_names = set()
    shared_terms = {t for t, v in per_term.items() if len(v) >= min(n, 2)}
    for seed in seeds:
        for sentence, sentence_terms in zip(seed.sentences, seed.sentence_terms, strict=True):
            # Only names in sentences about the core (a quarter of their words shared with
            # another seed) count: not Faeser from seed-b's sabotage paragraph.
            if not sentence_terms or \
                    len(sentence_terms & shared_terms) / len(sentence_terms) < CORE_SENTENCE_SHARE:
                continue
            for token in words(sentence)[1:]:
                if token[:1].isupper() and zipf(token.lower(), seed.language) < RARE_NAME_ZIPF:
                    key = skeleton(token)
                    if len(key) >= 3:
                        rare_names.add(f"@{key}")
    top = sorted(terms.items(), key=lambda kv: -kv[1])[:15]
    return Profile(language, terms, keys, anchors, all_keys, rare_names & anchors, top)


@dataclass(frozen=True)
class Relevance:
    score: float
    lexical: float
    cross_lingual: float
    mode: str  # "same-language" or "cross-lingual"


def shared_names(item: Analysed, profile: Profile) -> tuple[list[str], list[str]]:
    """The names and numbers the item shares with the seeds, and which of them are the
    story's rare names: for the explanation (the score does not use them)."""
    return sorted(item.anchors & profile.anchors), sorted(item.anchors & profile.rare_names)


# Names below this Zipf frequency (Mediazona 0, Chuviliaev 0, Kuzminov 0; Kremlin is 3.9)
# belong to the story's own actors: sharing one is strong evidence of aboutness.
RARE_NAME_ZIPF = 2.0

CORE_SENTENCE_SHARE = 0.25

# A cross-lingual skeleton cosine runs lower than a lemma cosine on the same pair (only
# cognates and names meet); measured on the seed-language items of the corpus, the ratio
# of the two is about 2 (docs/classification.md).
CROSS_LINGUAL_SCALE = 1.0


def score(item: Analysed, profile: Profile) -> Relevance:
    keys: dict[str, float] = {}
    for term, count in item.terms.items():
        if len(term) >= 5:
            key = skeleton(term)
            if len(key) >= 3:
                keys[key] = keys.get(key, 0.0) + _tf(count) * term_weight(
                    term, item.language, not item.full)
    cross = _cosine(keys, profile.keys, profile.keys_norm)
    if item.language == profile.language:
        vector = {t: _tf(c) * term_weight(t, item.language) for t, c in item.terms.items()}
        lexical = _cosine(vector, profile.terms, profile.terms_norm)
        return Relevance(lexical, lexical, cross, "same-language")
    return Relevance(cross * CROSS_LINGUAL_SCALE, 0.0, cross, "cross-lingual")
