"""The layered decision: duplicate, off-topic or follow-up, with the reasons that led to it.

Layers, first match wins, and the reasons name the layer that decided:
  1. url        the item IS a seed (same canonical URL)
  2. hash       same normalised body as a seed or an earlier stored item
  3. near-copy  syndicated / lightly edited / truncated copy of a seed or earlier item
  4. relevance  not about the story's core (or only near it) -> offtopic
  5. novelty    on topic but re-says the seeds (paraphrase, translation) -> duplicate
  6. followup   on topic and new; grouped with earlier reports of the same development
A copy of an earlier item takes that item's verdict: a copy of a follow-up is a duplicate
of the follow-up, a copy of a duplicate is a duplicate of the same original, a copy of an
off-topic item is off-topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from storywatch.classify import near_copies
from storywatch.classify.clusters import ClusterIndex, Development, new_cluster_id
from storywatch.classify.novelty import measure
from storywatch.classify.relevance import Background, build_profile, score
from storywatch.classify.seeds import Seed
from storywatch.classify.semantic import SemanticModel
from storywatch.classify.text import analyse
from storywatch.config import ClassifyConfig, TopicConfig
from storywatch.normalise.dates import iso, utc_now
from storywatch.normalise.text import content_hash
from storywatch.storage.models import Item, Judgement
from storywatch.storage.repository import upsert_judgement

# Reasons keep this many novel sentences, each cut to this many characters: enough to
# see why, small enough for a JSON column read on every `storywatch items`.
MAX_REASON_SENTENCES = 5
MAX_REASON_CHARS = 240


@dataclass
class Decision:
    status: str
    layer: str
    duplicate_of: str | None = None
    cluster_id: str | None = None
    relevance: float | None = None
    novelty: float | None = None
    reasons: dict[str, Any] = field(default_factory=dict)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


# Built once: statements rebuilt per call cost more than the SQLite lookups themselves.
_EARLIER_SAME_BODY = (
    select(Item.id)
    .where(Item.content_hash == bindparam("hash"), Item.id < bindparam("id"))
    .order_by(Item.id).limit(1)
)
_JUDGEMENT_OF = (
    select(Judgement.status, Judgement.duplicate_of, Judgement.cluster_id,
           Judgement.relevance, Item.canonical_url)
    .join(Item, Item.id == Judgement.item_id)
    .where(Judgement.item_id == bindparam("item"), Judgement.topic == bindparam("topic"))
)


@dataclass
class ItemFeatures:
    """What every topic's judgement of one item needs, computed once per item."""

    shingles: set[str]
    band_keys: list[int]

    @classmethod
    def of(cls, item: Item) -> ItemFeatures:
        shingle_set = near_copies.shingles(item.text)
        return cls(shingle_set, near_copies.band_keys(near_copies.signature(shingle_set)))


class TopicClassifier:
    """Judges items for one topic; built once per crawl (seeds analysed once)."""

    def __init__(
        self,
        topic: TopicConfig,
        seeds: list[Seed],
        settings: ClassifyConfig,
        semantic: SemanticModel | None = None,
    ) -> None:
        self.topic = topic
        self.settings = settings
        self.seeds = seeds
        self.semantic = semantic if settings.semantic else None
        self.seed_analysed = [analyse(s.text, s.language, s.title) for s in seeds]
        self.profile = build_profile(self.seed_analysed, topic.keywords)
        self._seed_profiles = [build_profile([a]) for a in self.seed_analysed]
        self.seed_shingles = [near_copies.shingles(s.text) for s in seeds]
        self.seed_hashes = {content_hash(s.text): s.name for s in seeds}
        self.seed_urls = {s.url: s.name for s in seeds if s.url}
        self.background = Background()
        self.clusters = ClusterIndex(settings.cluster_anchors_min, settings.cluster_window,
                                     settings.cluster_overlap_min)
        self._seed_sentence_vectors: np.ndarray | None = None
        self._seed_vectors: np.ndarray | None = None
        if self.semantic is not None:
            sentences = [s for a in self.seed_analysed for s in a.sentences]
            self._seed_sentence_vectors = self.semantic.embed(sentences)
            self._seed_vectors = self.semantic.embed(
                [f"{s.title or ''}\n{s.text}" for s in seeds]
            )
        self._loaded = False

    # -- state from storage ---------------------------------------------------------------

    def load_state(self, session: Session) -> None:
        """Recent relevance scores (z-score background) and follow-ups (clusters)."""
        if self._loaded:
            return
        self._loaded = True
        since = utc_now() - self.settings.background_window
        rows = session.execute(
            select(Judgement.relevance)
            .where(Judgement.topic == self.topic.name, Judgement.decided_at >= since,
                   Judgement.relevance.is_not(None))
            .order_by(Judgement.decided_at.desc())
            .limit(self.background.limit)
        ).scalars()
        for value in rows:
            assert value is not None  # the query keeps only rows with a relevance
            self.background.add(float(value))
        for judgement, item in session.execute(
            select(Judgement, Item)
            .join(Item, Item.id == Judgement.item_id)
            .where(Judgement.topic == self.topic.name, Judgement.status == "followup")
            .order_by(Item.published_at.nulls_last(), Item.id)
        ):
            self._remember_followup(item, judgement.cluster_id or new_cluster_id(item.id),
                                    set((judgement.reasons or {}).get("new_anchors", [])))

    def _remember_followup(self, item: Item, cluster_id: str, anchors: set[str]) -> None:
        self.clusters.add(Development(item.id, item.canonical_url, cluster_id, anchors,
                                      item.published_at))

    # -- the decision -----------------------------------------------------------------

    def judge(self, session: Session, item: Item, features: ItemFeatures | None = None
              ) -> Decision:
        self.load_state(session)
        decision = self._decide(session, item, features or ItemFeatures.of(item))
        decision.reasons.setdefault("layer", decision.layer)
        decision.reasons["topic"] = self.topic.name
        if decision.relevance is not None:
            self.background.add(decision.relevance)
        return decision

    def _decide(self, session: Session, item: Item, features: ItemFeatures) -> Decision:
        # 1. the seed itself
        if item.canonical_url in self.seed_urls:
            seed_name = self.seed_urls[item.canonical_url]
            return Decision("duplicate", "url", duplicate_of=seed_name,
                            reasons={"matched": seed_name,
                                     "why": "the item is a seed of the topic"})
        # 2. same normalised body
        if item.content_hash in self.seed_hashes:
            seed_name = self.seed_hashes[item.content_hash]
            return Decision("duplicate", "hash", duplicate_of=seed_name,
                            reasons={"matched": seed_name, "why": "same body text as the seed"})
        earlier = session.connection().execute(
            _EARLIER_SAME_BODY, {"hash": item.content_hash, "id": item.id}).scalar()
        if earlier is not None:
            inherited = self._inherit(session, earlier, "hash", {"why": "same body text"})
            if inherited is not None:
                return inherited
        # 3. near copies
        new = features.shingles
        for seed, seed_shingles in zip(self.seeds, self.seed_shingles, strict=True):
            match = near_copies.compare(new, seed_shingles)
            if match.is_copy:
                return Decision("duplicate", "near-copy", duplicate_of=seed.name, reasons={
                    "matched": seed.name, "jaccard": _round(match.jaccard),
                    "containment": _round(match.containment),
                    "thresholds": {"jaccard": near_copies.JACCARD_MIN,
                                   "containment": near_copies.CONTAINMENT_MIN}})
        # Only earlier items are originals.
        for copy in near_copies.find_stored_copies(session, new, features.band_keys,
                                                   exclude=item.id, before=item.id):
            inherited = self._inherit(session, copy.item_id, "near-copy", {
                "jaccard": _round(copy.match.jaccard),
                "containment": _round(copy.match.containment),
                "thresholds": {"jaccard": near_copies.JACCARD_MIN,
                               "containment": near_copies.CONTAINMENT_MIN}})
            if inherited is not None:
                return inherited
        return self._judge_content(item)

    def _inherit(self, session: Session, other_id: int, layer: str,
                 details: dict[str, Any]) -> Decision | None:
        """A copy of an earlier judged item takes its verdict (see module doc)."""
        judgement = session.connection().execute(
            _JUDGEMENT_OF, {"item": other_id, "topic": self.topic.name}).first()
        if judgement is None:
            return None  # the original is not judged yet: judge this one on its content
        url = judgement.canonical_url
        reasons = {"matched": url, **details}
        if judgement.status == "followup":
            return Decision("duplicate", layer, duplicate_of=url, cluster_id=judgement.cluster_id,
                            relevance=judgement.relevance, novelty=0.0,
                            reasons={**reasons, "why": "copy of an earlier follow-up"})
        if judgement.status == "duplicate":
            return Decision("duplicate", layer, duplicate_of=judgement.duplicate_of or url,
                            relevance=judgement.relevance, novelty=0.0,
                            reasons={**reasons, "why": "copy of an earlier duplicate"})
        return Decision("offtopic", layer, relevance=judgement.relevance,
                        reasons={**reasons, "why": "copy of an earlier off-topic item"})

    def _judge_content(self, item: Item) -> Decision:
        s = self.settings
        analysed = analyse(item.text, item.language, item.title)
        rel = score(analysed, self.profile)
        semantic = None
        item_vector = None
        if self.semantic is not None and self._seed_vectors is not None:
            item_vector = self.semantic.embed([f"{item.title or ''}\n{item.text}"])[0]
            semantic = float((self._seed_vectors @ item_vector).max())
        z = self.background.z(rel.score)
        reasons: dict[str, Any] = {
            "relevance": {
                "score": _round(rel.score), "mode": rel.mode, "lexical": _round(rel.lexical),
                "cross_lingual": _round(rel.cross_lingual), "z": _round(z),
                "semantic": _round(semantic), "shared_anchors": rel.shared_anchors,
                "shared_rare_names": rel.shared_rare_names,
                "threshold": s.relevance_min,
            },
        }
        semantic_cover = None
        if self.semantic is not None and self._seed_sentence_vectors is not None:
            seed_vectors = self._seed_sentence_vectors

            def semantic_cover(indices: list[int]) -> list[float]:
                vectors = self.semantic.embed([analysed.sentences[i] for i in indices])  # type: ignore[union-attr]
                return [float(v) for v in (vectors @ seed_vectors.T).max(axis=1)]

        novelty = measure(
            analysed, self.seed_analysed, self.profile, coverage_min=s.coverage_min,
            ignore_names=[item.source, *(item.authors or [])], semantic_cover=semantic_cover,
            semantic_min=s.semantic_cover_min,
        )
        new_anchors = set(novelty.new_anchors)
        reasons["novelty"] = {
            "score": _round(novelty.score), "threshold": s.novelty_min,
            "new_anchors": novelty.new_anchors, "new_anchors_threshold": s.new_anchors_min,
            "covered_sentences": novelty.covered, "counted_sentences": novelty.counted,
            "novel_sentences": [x[:MAX_REASON_CHARS]
                                for x in novelty.novel_sentences[:MAX_REASON_SENTENCES]],
        }
        reasons["new_anchors"] = novelty.new_anchors
        related = self.clusters.match(new_anchors, item.published_at, exclude=item.id)
        on_topic = rel.score >= s.relevance_min
        if not on_topic and related is not None and rel.score >= s.relevance_min / 2:
            # Not close enough to the seeds alone, but the same development as an earlier
            # follow-up (several shared new names/numbers): the story has moved on.
            on_topic = True
            reasons["relevance"]["via_followup"] = related[0].url
        elif not on_topic and rel.shared_rare_names and rel.score >= s.relevance_min / 2:
            # Close to the threshold and naming the story's own actors (names the language
            # hardly knows, e.g. the organisation or the spokesperson of the seeds).
            on_topic = True
            reasons["relevance"]["via_rare_names"] = rel.shared_rare_names
        if not on_topic:
            return Decision("offtopic", "relevance", relevance=rel.score,
                            novelty=novelty.score, reasons=reasons)
        if rel.mode == "cross-lingual":
            # Across languages sentence coverage is weak (only cognates meet), so only the
            # language-free evidence counts: new numbers and names.
            is_new = len(new_anchors) >= s.new_anchors_min_cross_lingual
        else:
            is_new = len(new_anchors) >= s.new_anchors_min or (
                novelty.score >= s.novelty_min
                and len(new_anchors) >= s.new_anchors_min_with_novelty)
        reasons["novelty"]["rule"] = (
            f"cross-lingual: new anchors >= {s.new_anchors_min_cross_lingual}"
            if rel.mode == "cross-lingual" else
            f"new anchors >= {s.new_anchors_min}, or novelty >= {s.novelty_min} with new "
            f"anchors >= {s.new_anchors_min_with_novelty}")
        if not is_new:
            best = self._closest_seed(analysed)
            reasons["matched"] = best
            return Decision("duplicate", "novelty", duplicate_of=best, relevance=rel.score,
                            novelty=novelty.score, reasons=reasons)
        if related is not None:
            development, shared = related
            cluster_id = development.cluster_id
            reasons["cluster"] = {"with": development.url, "shared_anchors": shared}
        else:
            cluster_id = new_cluster_id(item.id)
            reasons["cluster"] = {"representative": True}
        self._remember_followup(item, cluster_id, new_anchors)
        return Decision("followup", "followup", cluster_id=cluster_id, relevance=rel.score,
                        novelty=novelty.score, reasons=reasons)

    def _closest_seed(self, analysed: Any) -> str:
        best, best_score = self.seeds[0].name, -1.0
        for seed, profile in zip(self.seeds, self._seed_profiles, strict=True):
            one = score(analysed, profile)
            if one.score > best_score:
                best, best_score = seed.name, one.score
        return best


def store_decision(session: Session, item: Item, topic: str, decision: Decision,
                   decided_at: datetime | None = None) -> None:
    """Insert or replace the (item, topic) judgement, in the caller's transaction."""
    when = decided_at or utc_now()
    decision.reasons.setdefault("decided_at", iso(when))
    upsert_judgement(session, {
        "item_id": item.id, "topic": topic, "status": decision.status, "decided_at": when,
        "duplicate_of": decision.duplicate_of, "cluster_id": decision.cluster_id,
        "relevance": _round(decision.relevance), "novelty": _round(decision.novelty),
        "reasons": decision.reasons,
    })
