"""The signals the decision is learned from: one item against what its topic knows.

Every signal is a number that means the same in every language and on every story, so
that weights learned on some stories carry over to others:

- **how close the item is to the story**: lexical relevance to the seeds' profile, and
  multilingual embedding similarity of its lead to the seeds and to the follow-ups
  already accepted;
- **whether it reports the seed event or another one**: how close its lead sentences are
  to the seeds' sentences, *relative to how close the two seeds are to each other* (two
  reports of the same event: the story's own yardstick of "says the same thing"), and
  when it was published relative to the seed event.

Which signals each stage uses (TOPIC_SIGNALS, NOVELTY_SIGNALS) was chosen on the
cross-story corpus (docs/classification.md); signals that did not generalise across
stories were dropped: counts of new names and numbers, lexical novelty, title similarity,
similarity to accepted duplicates.

Embeddings are multilingual (storywatch.classify.embeddings), so a translation of the
seeds scores like a rewrite, and a follow-up in another language still looks like the
story. Cross-language cosines run lower than same-language ones; `cross_lingual` and
`x_doc_sim` let the weights correct for that.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from anyascii import anyascii

from storywatch.classify.embeddings import DIMENSIONS, Embedder
from storywatch.classify.model import UNKNOWN
from storywatch.classify.novelty import measure
from storywatch.classify.relevance import Profile, Relevance, build_profile, score
from storywatch.classify.text import Analysed, analyse, language_key, split_sentences
from storywatch.normalise.segment import TOKEN, prefix

# The news of an article is in its title and first sentences: these are compared one by
# one with the seeds' sentences (about 1 ms each); the rest only counts lexically.
LEAD_SENTENCES = 6
# The item as one text for whole-item similarity: title and lead, not the whole article
# (whose tail is background shared by rewrites and follow-ups alike). In characters of a
# spaced script; a Chinese, Japanese or Korean one counts three (segment.prefix).
DOC_CHARS = 700
# The seed event is stated in each seed's first sentences; `seed_lead_recall` compares
# with these only.
SEED_LEAD_SENTENCES = 4
# Lexical sentence coverage for the explanation (novel sentences, new names and numbers
# shown by `explain`); it is not a signal of the decision.
COVERAGE_MIN = 0.5

NAMES = (
    "lexical",            # lemma (or cross-lingual skeleton) cosine to the seeds' profile
    "doc_rel",            # embedding cosine of title+lead to the closest seed, / yardstick
    "story_sim",          # cosine to the closest seed or accepted follow-up
    "lead_rel",           # best cosine of one lead sentence to one seed sentence, / yardstick
    "cover_rel",          # mean over lead sentences of the best seed-sentence cosine, / yardstick
    "title_rel",          # best cosine of the headline (or 1st sentence) to a seed one, / yardstick
    "seed_lead_recall",   # mean over the seeds' first sentences of their best item-lead match
    "cross_lingual",      # 1 when the item's language is not the seeds'
    "x_doc_sim",          # the raw title+lead cosine, for items in another language only
    "head_names",         # share of the seeds' headline names in the item's headline
    "date_known",         # 1 when both the item's and the seed event's dates are known
    "days_after",         # log(1 + days the item was published after the seed event)
    "days_before",        # log(1 + days before it): older news is another story
)
DATE_SIGNALS = ("date_known", "days_after", "days_before")
# head_names: a report of this story names whom it is about up front; a near-topic one
# (another athlete's doping case, another trial) names someone else (cross-story runs:
# follow-up P 0.878 -> 0.945, near-topic 0.162 -> 0.060; docs/classification.md).
TOPIC_SIGNALS = ("lexical", "doc_rel", "story_sim", "lead_rel", "seed_lead_recall",
                 "cross_lingual", "head_names", *DATE_SIGNALS)
# Where the seeds name whom the story is about (title and first two sentences), and
# where an item must name them for `head_names` (its headline and first sentence).
HEADLINE_SENTENCES = 3
ITEM_HEADLINE_SENTENCES = 2
# Not days_before: a seed page dated a few days after the event it reports put the first
# rewrites "before" it, and they came out as developments (the demo world's seed-2).
# title_rel: a headline states the item's own event; one the seeds already say marks a
# rewrite (cross-story runs: follow-up P 0.906 -> 0.915, R 0.754 -> 0.768 at the model,
# no story worse; docs/classification.md).
NOVELTY_SIGNALS = ("doc_rel", "lead_rel", "cover_rel", "title_rel", "seed_lead_recall",
                   "cross_lingual", "x_doc_sim", "date_known", "days_after")


@dataclass
class TextView:
    """One text as the signals see it, analysed and embedded once.

    `doc`, the item as one text for whole-item similarity, is its title and lead (the
    first DOC_CHARS), not the whole article, whose tail is background shared by rewrites
    and follow-ups alike; pooled from the same forward pass as the lead sentences
    (Embedder.embed_pooled), which mostly are the same sentences."""

    analysed: Analysed
    doc: np.ndarray
    lead: np.ndarray  # one row per lead sentence (title first)


def doc_text(title: str | None, text: str) -> str:
    """The item as one text for whole-item similarity: its title and lead."""
    doc = f"{title.strip()}\n{text}" if title and title.strip() else text
    return prefix(doc, DOC_CHARS)


def doc_sentences(title: str | None, text: str) -> list[str]:
    """The item as one text for whole-item similarity, as the sentences it is pooled
    from: its title and text cut at DOC_CHARS, sentence by sentence."""
    return split_sentences(doc_text(title, text))


def doc_vector(title: str | None, text: str, embedder: Embedder) -> np.ndarray:
    """A stored item's `doc`, as its view has it, without a full view."""
    return embedder.embed_pooled([], doc_sentences(title, text))[1]


def full_analysis(language: str | None, topic_language: str | None) -> bool:
    """Whether a text gets the full (lemmatised) analysis: in the topic's own language, or
    when there is no topic yet (the seeds themselves). See text.analyse."""
    return topic_language is None or language_key(language) == topic_language


def view(text: str, language: str | None, title: str | None, embedder: Embedder, *,
         full: bool = True, analysed: Analysed | None = None) -> TextView:
    if analysed is None:
        analysed = analyse(text, language, title, full=full)
    return views([(analysed, title, text)], embedder)[0]


def views(texts: Sequence[tuple[Analysed, str | None, str]], embedder: Embedder
          ) -> list[TextView]:
    """The views of several analysed texts (analysis, title, text), embedded in one
    forward pass (Embedder.embed_groups): a batch's items together."""
    embedded = embedder.embed_groups([(analysed.sentences[:LEAD_SENTENCES],
                                       doc_sentences(title, text))
                                      for analysed, title, text in texts])
    return [TextView(analysed, doc, lead)
            for (analysed, _, _), (lead, doc) in zip(texts, embedded, strict=True)]


def _max_dot(matrix: np.ndarray, vector: np.ndarray) -> float:
    return float((matrix @ vector).max()) if len(matrix) else 0.0


def _empty() -> np.ndarray:
    return np.zeros((0, DIMENSIONS), np.float32)


@dataclass
class Reference:
    """What a topic knows: its seeds, and what people and the machine have added since.

    `followups` are the accepted follow-ups (machine or person); a person's labelled
    duplicates widen the seeds (`add_duplicate`).
    """

    seeds: list[TextView]
    profile: Profile
    seed_sentences: np.ndarray
    seed_docs: np.ndarray
    seed_lead: np.ndarray
    yardstick: dict[str, float] = field(default_factory=dict)
    event_date: datetime | None = None
    followups: np.ndarray = field(default_factory=_empty)
    protagonists: frozenset[str] = frozenset()

    @classmethod
    def of_seeds(cls, seeds: Sequence[TextView], keywords: Sequence[str], embedder: Embedder,
                 event_date: datetime | None = None) -> Reference:
        analysed = [s.analysed for s in seeds]
        sentences = [sentence for s in analysed for sentence in s.sentences]
        return cls(
            list(seeds), build_profile(analysed, keywords), embedder.embed(sentences),
            np.vstack([s.doc for s in seeds]),
            np.vstack([s.lead[:SEED_LEAD_SENTENCES] for s in seeds]),
            _yardstick(list(seeds)), event_date,
            protagonists=_protagonists([s.sentences[:HEADLINE_SENTENCES] for s in analysed]))

    def add_duplicate(self, item: TextView) -> None:
        """A labelled rewrite or translation: later ones that resemble it are copies too.

        It joins the seeds as a whole text (`doc_rel`, `story_sim`), not sentence by
        sentence: the sentence signals are a best match over the seeds' sentences, scaled
        by the two seeds' own match, and every sentence added raised that best match for
        every item, near-topic ones too (one labelled translation turned reports of
        other events into follow-ups: docs/classification.md, corrections)."""
        self.seed_docs = np.vstack([self.seed_docs, item.doc])

    def add_followup(self, doc: np.ndarray) -> None:
        self.followups = np.vstack([self.followups, doc])

    def story_similarity(self, doc: np.ndarray) -> float:
        """Cosine to the closest seed or accepted follow-up (`story_sim`, and the gate)."""
        return max(_max_dot(self.seed_docs, doc), _max_dot(self.followups, doc))


def _yardstick(seeds: list[TextView]) -> dict[str, float]:
    """How similar the seeds are to each other: two reports of the same event, so the
    level at which this story's texts say the same thing (mean over ordered pairs).
    With one seed there is no yardstick and the signals stay raw cosines."""
    pairs = [(a, b) for i, a in enumerate(seeds) for j, b in enumerate(seeds) if i != j]
    if not pairs:
        return {}
    out = {"doc": 0.0, "lead_best": 0.0, "lead_cover": 0.0}
    for a, b in pairs:
        out["doc"] += float(a.doc @ b.doc)
        if len(a.lead) and len(b.lead):
            per = (a.lead @ b.lead.T).max(axis=1)
            out["lead_best"] += float(per.max())
            out["lead_cover"] += float(per.mean())
    # A floor: two seeds that share nothing must not blow the ratios up.
    return {k: max(v / len(pairs), 0.05) for k, v in out.items()}


def _capitalised(sentences: Sequence[str]) -> set[str]:
    """Capitalised words but a sentence's first, in Latin letters, lower-cased.

    Capitals, not the name test of text.is_name (rare words): a name that is also a
    common word (Sinner, Lee) is a name here; a German noun is kept too, and counts
    only if every seed's headline has it."""
    out = set()
    for sentence in sentences:
        for i, token in enumerate(TOKEN.findall(sentence)):
            if i and len(token) >= 3 and token[:1].isupper():
                out.add(anyascii(token).lower())
    return out


def _protagonists(headlines: Sequence[Sequence[str]]) -> frozenset[str]:
    """Whom the story is about: the capitalised words that at least half of the seeds'
    headlines have, and two at least (with two seeds, as in training: both). One seed
    says nothing of which of its names the story is about (a dateline, a weekday): none."""
    counts = Counter(name for h in headlines for name in _capitalised(h))
    needed = max(2, math.ceil(len(headlines) / 2))
    return frozenset(name for name, n in counts.items() if n >= needed)


def _head_names(analysed: Analysed, protagonists: frozenset[str]) -> float:
    """The share of them the item's headline names, in any case and (transliterated)
    any script that anyascii spells as the seeds do; UNKNOWN when there are none (seeds
    in a script without capitals)."""
    if not protagonists:
        return UNKNOWN
    words = {anyascii(t).lower() for sentence in analysed.sentences[:ITEM_HEADLINE_SENTENCES]
             for t in TOKEN.findall(sentence)}
    return len(protagonists & words) / len(protagonists)


@dataclass
class Signals:
    values: dict[str, float]
    relevance: Relevance
    new_anchors: list[str]
    novel_sentences: list[str]
    covered: int
    counted: int


def signals(item: TextView, reference: Reference, ignore_names: Sequence[str] = (),
            published_at: datetime | None = None, relevance: Relevance | None = None
            ) -> Signals:
    """Every signal of NAMES for one item (see the module doc for what each says);
    `relevance`: the item's lexical relevance when the caller has it already."""
    profile = reference.profile
    analysed = item.analysed
    rel = relevance or score(analysed, profile)
    # For the explanation only: which sentences, names and numbers the seeds lack.
    novelty = measure(analysed, [s.analysed for s in reference.seeds], profile,
                      coverage_min=COVERAGE_MIN, ignore_names=ignore_names)
    if len(item.lead) and len(reference.seed_sentences):
        per_sentence = (item.lead @ reference.seed_sentences.T).max(axis=1)
        lead_best, lead_cover = float(per_sentence.max()), float(per_sentence.mean())
        headline = float(per_sentence[0])
        seed_lead_recall = float((item.lead @ reference.seed_lead.T).max(axis=0).mean())
    else:
        lead_best = lead_cover = seed_lead_recall = headline = 0.0
    doc_sim = _max_dot(reference.seed_docs, item.doc)
    cross = float(analysed.language != profile.language)
    yard = reference.yardstick
    days = _days(published_at, reference.event_date)
    values = {
        "lexical": rel.score,
        "doc_rel": doc_sim / yard.get("doc", 1.0),
        "story_sim": reference.story_similarity(item.doc),
        "lead_rel": lead_best / yard.get("lead_best", 1.0),
        "cover_rel": lead_cover / yard.get("lead_cover", 1.0),
        "title_rel": headline / yard.get("lead_best", 1.0),
        "seed_lead_recall": seed_lead_recall,
        "cross_lingual": cross,
        "x_doc_sim": cross * doc_sim,
        "head_names": _head_names(analysed, reference.protagonists),
        "date_known": float(days is not None),
        "days_after": math.log1p(max(0.0, days)) if days is not None else 0.0,
        "days_before": math.log1p(max(0.0, -days)) if days is not None else 0.0,
    }
    return Signals(values, rel, novelty.new_anchors, novelty.novel_sentences,
                   novelty.covered, novelty.counted)


def _days(published_at: datetime | None, event: datetime | None) -> float | None:
    if published_at is None or event is None:
        return None
    return (published_at - event).total_seconds() / 86400
