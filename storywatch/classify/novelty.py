"""Novelty: which sentences of an item the seeds do not already say, and what is new in them.

An item sentence is covered when one seed sentence shares enough of its content words
(lemmas in the seeds' language, consonant skeletons across languages). The novel
sentences and the numbers and names in them that no seed mentions are what `explain`
shows of an item; the decision itself is learned (storywatch.classify.model).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
    total = sum(weights.values())
    uncovered_weight = covered = 0
    novel: list[str] = []
    anchors: set[str] = set()
    for index in weights:
        if index not in lexically_uncovered:
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
