"""Novelty: which sentences of an item the seeds do not already say, and what is new in them.

An item sentence is covered when one seed sentence shares enough of its content words
(lemmas in the seeds' language, consonant skeletons across languages) or, when the
semantic model is available, is close to it in meaning. Numbers and names in the
uncovered sentences that no seed mentions are the evidence of a follow-up: a rewrite or
translation re-says the seeds' facts, a follow-up brings new ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from storywatch.classify.relevance import Profile
from storywatch.classify.text import Analysed, skeleton, skeletons

# A year dates a report ("in October 2024"); it is not a figure of the story.
_YEAR = re.compile(r"(19|20)\d\d")

# Sentences with fewer content words say too little to count either way (datelines,
# "Read more", a one-word quote).
MIN_SENTENCE_TERMS = 3


@dataclass(frozen=True)
class Novelty:
    score: float  # share of the item's content (by words) in uncovered sentences
    new_anchors: list[str]
    novel_sentences: list[str]
    covered: int
    counted: int


SemanticCover = Callable[[list[int]], list[float]]


def new_anchors_in(anchors: set[str], profile: Profile, ignore: set[str]) -> set[str]:
    """Anchors no seed mentions (a name any seed word spells the same way is not new)."""
    out = set()
    for anchor in anchors - profile.anchors:
        key = anchor[1:]
        # Moscou/Moscow: one skeleton a prefix of the other ("msk", "mskv") is the same name.
        if anchor.startswith("@") and (key in ignore or key in profile.all_keys
                                       or key[:3] in profile.key_prefixes):
            continue
        out.add(anchor)
    return out


def measure(
    item: Analysed,
    seeds: Sequence[Analysed],
    profile: Profile,
    *,
    coverage_min: float,
    ignore_names: Sequence[str] = (),
    semantic_cover: SemanticCover | None = None,
    semantic_min: float = 1.0,
) -> Novelty:
    cross = item.language != profile.language
    ignore = {skeleton(w) for name in ignore_names for w in name.split()}
    seed_sets: list[set[str]] = []
    for seed in seeds:
        for terms in seed.sentence_terms:
            seed_sets.append(skeletons(terms) if cross else terms)
    counted = [i for i, t in enumerate(item.sentence_terms) if len(t) >= MIN_SENTENCE_TERMS]
    weights: dict[int, int] = {}
    lexically_uncovered: list[int] = []
    for index in counted:
        terms = skeletons(item.sentence_terms[index]) if cross else item.sentence_terms[index]
        if not terms:
            continue
        weights[index] = len(terms)
        best = max((len(terms & s) / len(terms) for s in seed_sets), default=0.0)
        if best < coverage_min:
            lexically_uncovered.append(index)
    # The model only looks at what the words did not cover (it costs ~1 ms a sentence).
    semantic = dict(zip(lexically_uncovered, semantic_cover(lexically_uncovered), strict=True)) \
        if semantic_cover and lexically_uncovered else {}
    total = sum(weights.values())
    uncovered_weight = covered = 0
    novel: list[str] = []
    anchors: set[str] = set()
    for index in weights:
        if index not in lexically_uncovered or semantic.get(index, 0.0) >= semantic_min:
            covered += 1
            # A sentence the seeds already say, but with another figure ("has now helped
            # over 3,000" where the seeds said 2,000) is an update: its new numbers count.
            anchors |= {a for a in new_anchors_in(item.sentence_anchors[index], profile, ignore)
                        if a.startswith("#") and not _YEAR.fullmatch(a[1:])}
            continue
        uncovered_weight += weights[index]
        novel.append(item.sentences[index])
        anchors |= new_anchors_in(item.sentence_anchors[index], profile, ignore)
    return Novelty(
        score=uncovered_weight / total if total else 0.0,
        new_anchors=sorted(anchors),
        novel_sentences=novel,
        covered=covered,
        counted=len(counted),
    )
