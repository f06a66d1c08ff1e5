"""The layered decision: duplicate, off-topic or follow-up, with the reasons that led to it.

Layers, first match wins, and the reasons name the layer that decided:
  1. url        the item IS a seed (same canonical URL)
  2. hash       same normalised body as a seed or an earlier stored item
  3. near-copy  syndicated / lightly edited / truncated copy of a seed or earlier item
  4. gate       off-topic at a glance: almost no shared words and, in another language
                than the seeds', an opening far from the story (most crawled news stops
                here, without the full embedding)
  5. model      the learned decision (storywatch.classify.model) over the signals of
                storywatch.classify.features: off-topic, the seed story again
                (paraphrase, translation), or a follow-up; a follow-up is grouped with
                earlier reports of the same development (clusters)
A copy of an earlier item takes that item's verdict: a copy of a follow-up is a duplicate
of the follow-up, a copy of a duplicate is a duplicate of the same original, a copy of an
off-topic item is off-topic.

What the topic knows beyond its seeds lives in the database, not in this object: the
accepted follow-ups (for the `followup_sim` signal and for clusters) and the human labels
(corrections) are read back incrementally before each judgement, so every process that
judges the topic sees the same state.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from storywatch.classify import near_copies
from storywatch.classify.clusters import ClusterIndex, Development, new_cluster_id
from storywatch.classify.embeddings import Embedder
from storywatch.classify.features import (
    DATE_SIGNALS,
    Reference,
    TextView,
    doc_text,
    doc_vector,
    full_analysis,
    signals,
    view,
    views,
)
from storywatch.classify.model import Calibration, DecisionModel
from storywatch.classify.relevance import Profile, Relevance, score, shared_names
from storywatch.classify.seeds import Seed
from storywatch.classify.text import Analysed, analyse
from storywatch.config import ClassifyConfig, TopicConfig
from storywatch.normalise.dates import iso, to_utc, utc_now
from storywatch.normalise.segment import prefix
from storywatch.normalise.text import content_hash
from storywatch.storage.models import Item, Judgement, Label
from storywatch.storage.repository import upsert_judgement

# The gate before the learned decision (TopicClassifier._gate). Chosen on the real
# corpus, every story's seeds against the other stories' articles as the news a crawl
# meets (benchmarks/gate.py): the lowest values that pass every follow-up and report of
# the seed event the learned decision could judge (opening similarity of the Hebrew and
# Tamil reports of yoon-martial-law: 0.05 and 0.11; USE does not cover those languages).
GATE_LEXICAL = 0.02
GATE_SIMILARITY = 0.25
GATE_CHARS = 200


def opening(title: str | None, text: str) -> str:
    """What the gate embeds of an item: the first GATE_CHARS of its title and text (a
    Chinese, Japanese or Korean character counting three, segment.prefix)."""
    return prefix(doc_text(title, text), GATE_CHARS)

# A labelled follow-up lends its label to reports of the same development published
# from the day before it on: a development is reported on its day and after, while the
# reports of the seed event, which it resembles too, came out before it. The day before,
# because publication dates are often a day without a time, and a report from another
# time zone carries the previous day's (docs/classification.md, corrections: measured
# on the five stories, 0 days lost the same development's reports a day apart, 7 days
# pulled rewrites of the seed event along).
LABEL_SLACK = timedelta(days=1)
# The labels a labelled item lends to items like it (_like_labelled).
LENT_LABELS = frozenset({"offtopic", "followup"})

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
    confidence: float | None = None
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
_NEW_FOLLOWUPS = (
    select(Judgement.id, Judgement.cluster_id, Judgement.reasons, Item.id, Item.canonical_url,
           Item.published_at, Item.title, Item.text, Item.language)
    .join(Item, Item.id == Judgement.item_id)
    .where(Judgement.topic == bindparam("topic"), Judgement.status == "followup",
           Judgement.id > bindparam("after"))
    .order_by(Judgement.id)
)
# Items that report the seed event as judged WITHOUT any date (reasons.seed_event_report):
# their dates estimate the event's, and that judgement does not depend on the estimate,
# so an early wrong estimate (a two-year-old report of a similar event) cannot feed itself.
_NEW_SEED_REPORTS = (
    select(Judgement.id, Judgement.item_id, Item.published_at)
    .join(Item, Item.id == Judgement.item_id)
    .where(Judgement.topic == bindparam("topic"),
           Judgement.reasons["seed_event_report"].as_boolean(),
           Judgement.id > bindparam("after"))
    .order_by(Judgement.id)
)
# Reports of the seed event needed before their median date stands for the event's
# date: one or two could be a late rewrite; three make a middle value.
EVENT_DATE_REPORTS = 3
_NEW_LABELS = (
    select(Label.id, Label.status, Item.id, Item.canonical_url, Item.published_at, Item.title,
           Item.text, Item.language, Item.source, Item.authors)
    .join(Item, Item.id == Label.item_id)
    .where(Label.topic == bindparam("topic"), Label.id > bindparam("after"))
    .order_by(Label.id)
)


@dataclass
class ItemFeatures:
    """What every topic's judgement of one item needs, computed once per item (its view
    once per kind of analysis: topics in other languages analyse it differently)."""

    shingles: set[str]
    band_keys: list[int]
    analyses: dict[bool, Analysed] = field(default_factory=dict)
    views: dict[bool, TextView] = field(default_factory=dict)
    opening: np.ndarray | None = None
    # Lexical relevance per topic (a topic's profile never changes), computed once
    # whether `prepare` or the judgement asks first.
    relevances: dict[str, Relevance] = field(default_factory=dict)
    # Near-copy candidates read with the item's batch (Classifier.prepare); None: read
    # them at its turn.
    copy_candidates: list[int] | None = None
    # What earlier stored items it copies (the same for every topic), found once.
    _same_body_read: bool = field(default=False, init=False, repr=False)
    _same_body: int | None = field(default=None, init=False, repr=False)
    _copies: list[near_copies.StoredCopy] | None = field(default=None, init=False,
                                                         repr=False)

    @classmethod
    def of(cls, item: Item) -> ItemFeatures:
        shingle_set = near_copies.shingles(item.text)
        return cls(shingle_set, near_copies.band_keys(near_copies.signature(shingle_set)))

    def analysed(self, item: Item, full: bool) -> Analysed:
        if full not in self.analyses:
            self.analyses[full] = analyse(item.text, item.language, item.title, full=full)
        return self.analyses[full]

    def opening_of(self, item: Item, embedder: Embedder) -> np.ndarray:
        """The embedding of the item's opening (the gate's), once for all its topics."""
        embed_openings([(item, self)], embedder)
        assert self.opening is not None
        return self.opening

    def relevance(self, item: Item, full: bool, topic: str, profile: Profile) -> Relevance:
        if topic not in self.relevances:
            self.relevances[topic] = score(self.analysed(item, full), profile)
        return self.relevances[topic]

    def view(self, item: Item, full: bool, embedder: Embedder) -> TextView:
        embed_views([(item, self, full)], embedder)
        return self.views[full]

    def earlier_same_body(self, session: Session, item: Item) -> int | None:
        """The first earlier stored item with the same body, if any."""
        if not self._same_body_read:
            self._same_body = session.connection().execute(
                _EARLIER_SAME_BODY, {"hash": item.content_hash, "id": item.id}).scalar()
            self._same_body_read = True
        return self._same_body

    def earlier_copies(self, session: Session, item: Item) -> list[near_copies.StoredCopy]:
        """Verified near copies of it among earlier stored items (only those are
        originals), best first: its texts read and compared once, not once a topic."""
        if self._copies is None:
            self._copies = near_copies.find_stored_copies(
                session, self.shingles, self.band_keys, exclude=item.id, before=item.id,
                candidate_ids=self.copy_candidates)
        return self._copies


def embed_openings(batch: Sequence[tuple[Item, ItemFeatures]], embedder: Embedder) -> None:
    """The gate's openings of the items that lack one, in one forward pass."""
    missing = [(item, features) for item, features in batch if features.opening is None]
    if missing:
        vectors = embedder.embed([opening(item.title, item.text) for item, _ in missing])
        for (_, features), vector in zip(missing, vectors, strict=True):
            features.opening = vector


def embed_views(batch: Sequence[tuple[Item, ItemFeatures, bool]], embedder: Embedder) -> None:
    """The views (of the kind of analysis `full` says) the items lack, in one forward pass."""
    missing = [(item, features, full) for item, features, full in batch
               if full not in features.views]
    if missing:
        made = views([(features.analysed(item, full), item.title, item.text)
                      for item, features, full in missing], embedder)
        for (_, features, full), made_view in zip(missing, made, strict=True):
            features.views[full] = made_view


class TopicClassifier:
    """Judges items for one topic; built once per crawl (seeds analysed once)."""

    def __init__(
        self,
        topic: TopicConfig,
        seeds: list[Seed],
        settings: ClassifyConfig,
        embedder: Embedder,
        model: DecisionModel,
    ) -> None:
        self.topic = topic
        self.settings = settings
        self.seeds = seeds
        self.embedder = embedder
        self.model = model
        self.seed_views = [view(s.text, s.language, s.title, embedder) for s in seeds]
        known = event_date(topic, seeds)
        self.reference = Reference.of_seeds(self.seed_views, topic.keywords, embedder, known)
        self.event_date_from = ("config" if topic.event_date else "seeds") if known else None
        # Reports of the seed event judged so far (any process): their items, and their
        # dates kept sorted, so that the median is read, not sorted, at every report.
        self._seed_report_items: set[int] = set()
        self._seed_report_dates: list[datetime] = []
        self._last_seed_report = 0
        self.seed_shingles = [near_copies.shingles(s.text) for s in seeds]
        self.seed_hashes = {content_hash(s.text): s.name for s in seeds}
        self.seed_urls = {s.url: s.name for s in seeds if s.url}
        self.clusters = ClusterIndex(settings.cluster_anchors_min, settings.cluster_window,
                                     settings.cluster_overlap_min)
        self.bias = Calibration(settings.topic_bias, settings.novelty_bias)
        # Corrections that lend their label (LENT_LABELS): item id -> (URL, title+lead
        # embedding, labelled status, published).
        self._labelled: dict[int, tuple[str, np.ndarray, str, datetime | None]] = {}
        # Accepted follow-ups (machine or person): item id -> its row in reference.followups.
        self._followup_rows: dict[int, int] = {}
        self._last_judgement = 0
        self._last_label = 0
        # The transaction `refresh` last read in (see `judge`).
        self._refreshed_in: object | None = None

    # -- state from storage ---------------------------------------------------------------

    def refresh(self, session: Session) -> None:
        """Read what other judgements and people added since the last call (any process),
        once a transaction: the caller holds the topic's lock, so judgements come only
        from this classifier until it ends (what it decides, `judge` keeps), and a
        person's label saved meanwhile counts from the next transaction (a writer's
        batch: at most a second later). Three queries an item were 4 % of judging."""
        if session.get_transaction() is self._refreshed_in:
            return
        connection = session.connection()
        rows = connection.execute(_NEW_FOLLOWUPS, {"topic": self.topic.name,
                                                   "after": self._last_judgement}).all()
        fresh = [r for r in rows if r[3] not in self._followup_rows]
        if fresh:
            for row in fresh:
                self._remember_followup(row[3], row.canonical_url, row.cluster_id,
                                        set((row.reasons or {}).get("new_anchors", [])),
                                        row.published_at,
                                        doc_vector(row.title, row.text, self.embedder))
        if rows:
            self._last_judgement = max(self._last_judgement, rows[-1][0])
        if self._estimating_date:
            self._estimate_event_date(connection)
        labels = connection.execute(_NEW_LABELS, {"topic": self.topic.name,
                                                  "after": self._last_label}).all()
        for row in labels:
            self._learn_label(row)
        if labels:
            self._last_label = labels[-1][0]
        self._refreshed_in = session.get_transaction()

    def _estimate_event_date(self, connection: Any) -> None:
        """With no date from the config or the seeds, the seed event's date is the median
        publication date of the reports of it judged so far (by any process)."""
        rows = connection.execute(_NEW_SEED_REPORTS, {
            "topic": self.topic.name, "after": self._last_seed_report}).all()
        if not rows:
            return
        self._last_seed_report = rows[-1][0]
        for row in rows:
            self._note_seed_report(row.item_id, row.published_at)

    @property
    def _estimating_date(self) -> bool:
        return self.event_date_from in (None, "estimated")

    def _note_seed_report(self, item_id: int, published_at: datetime | None) -> None:
        """A report of the seed event, judged here or read back (each item once)."""
        if published_at is None or item_id in self._seed_report_items:
            return
        self._seed_report_items.add(item_id)
        bisect.insort(self._seed_report_dates, published_at)
        dates = self._seed_report_dates
        if len(dates) >= EVENT_DATE_REPORTS:
            self.reference.event_date = dates[len(dates) // 2]
            self.event_date_from = "estimated"

    def _remember_followup(self, item_id: int, url: str, cluster_id: str | None,
                           anchors: set[str], published_at: datetime | None,
                           doc: np.ndarray) -> None:
        if item_id in self._followup_rows:
            return
        self._followup_rows[item_id] = len(self.reference.followups)
        self.reference.add_followup(doc)
        self.clusters.add(Development(item_id, url, cluster_id or new_cluster_id(item_id),
                                      anchors, published_at))

    def _learn_label(self, row: Any) -> None:
        """A correction: what a person said this item is, folded into the topic's state.

        The item joins what the topic knows (a labelled duplicate widens the seeds, a
        labelled follow-up is an accepted development), and items as close to a labelled
        off-topic or follow-up one as the seeds are to each other take its label
        (`_like_labelled`).
        """
        item_id = row[2]
        item_view = view(row.text, row.language, row.title, self.embedder,
                         full=full_analysis(row.language, self.reference.profile.language))
        self._labelled.pop(item_id, None)  # a person may change their mind
        if row.status in LENT_LABELS:
            self._labelled[item_id] = (row.canonical_url, item_view.doc, row.status,
                                       to_utc(row.published_at))
        if row.status == "duplicate":
            self.reference.add_duplicate(item_view)
        elif row.status == "followup":
            found = signals(item_view, self.reference, published_at=row.published_at)
            self._remember_followup(item_id, row.canonical_url, None,
                                    set(found.new_anchors), row.published_at, item_view.doc)

    def _like_labelled(self, item_id: int, doc: np.ndarray, published_at: datetime | None
                       ) -> tuple[str, str, float] | None:
        """The labelled item this one is a report of the same thing as, if any: the
        closest labelled item, when it is at least as close as the two seeds are to each
        other (the story's own yardstick of "says the same thing"; no constant of its own)
        and closer than any seed or other accepted follow-up (else what the topic holds
        says more about it than the label does: with the follow-ups left out, one label
        pulled the reports of a whole development along, and without the seed event's
        date 5 corrections lowered the follow-up F1 of two stories,
        benchmarks/cross_story.py). Off-topic and follow-up labels are lent, a follow-up
        label only to items published from the day before it on (LABEL_SLACK).
        """
        yardstick = self.reference.yardstick.get("doc")
        if yardstick is None:
            return None
        if not self._labelled:
            return None
        to_followups = self.reference.followups @ doc
        threshold = max(yardstick, self.reference.story_similarity(doc))
        best: tuple[str, str, float] | None = None
        for other, (url, other_doc, status, labelled_at) in self._labelled.items():
            # A labelled duplicate lends nothing (not in _labelled): it teaches through
            # the widened seeds (doc_rel, story_sim); lent, without the event's date, it
            # turned a later development's four reports into duplicates. A labelled
            # follow-up lends its label forward in time only (LABEL_SLACK): reports close
            # to one development are often close to the seed event too, and lent to every
            # such item it turned rewrites into follow-ups (benchmarks/cross_story.py).
            if other == item_id:
                continue
            if status == "followup" and (published_at is None or labelled_at is None
                                         or published_at < labelled_at - LABEL_SLACK):
                continue
            # An accepted follow-up (a labelled one is) is compared through its row of
            # the product story_similarity takes its maximum from: the same number, not
            # the same cosine summed in another order.
            row = self._followup_rows.get(other)
            similarity = float(to_followups[row] if row is not None else other_doc @ doc)
            if similarity >= threshold and (best is None or similarity > best[2]):
                best = (url, status, similarity)
        return best

    # -- the decision -----------------------------------------------------------------

    def prepare(self, session: Session, batch: Sequence[tuple[Item, ItemFeatures]]) -> None:
        """Embed, in one forward pass each, what judging a batch's items will need: the
        openings the gate will look at, then the views of the items it will let through.
        Each embedding call reads all the model's weights, so a batch embedded together
        costs less than its items one by one (benchmarks/classify_throughput.py). Nothing
        is decided here: `judge` still decides each item in order, against what the
        items before it added; an item whose turn comes out otherwise than foreseen
        (a copy of an earlier item of the batch, a gate opened by a follow-up accepted
        meanwhile) has its embedding made then, or not used."""
        self.refresh(session)
        passing: list[tuple[Item, ItemFeatures]] = []
        openings: list[tuple[Item, ItemFeatures]] = []
        for item, features in batch:
            if self._of_seed(item) is not None or self._seed_copy(features) is not None:
                continue
            relevance = self._relevance(item, features)
            if relevance.score >= GATE_LEXICAL:
                passing.append((item, features))
            elif relevance.mode != "same-language":
                openings.append((item, features))
        embed_openings(openings, self.embedder)
        passing += [(item, features) for item, features in openings
                    if self.reference.story_similarity(features.opening_of(item, self.embedder))
                    >= GATE_SIMILARITY]
        embed_views([(item, features, self._full(item)) for item, features in passing],
                    self.embedder)

    def judge(self, session: Session, item: Item, features: ItemFeatures | None = None
              ) -> Decision:
        self.refresh(session)
        features = features or ItemFeatures.of(item)
        decision = self._decide(session, item, features)
        decision.reasons.setdefault("layer", decision.layer)
        decision.reasons["topic"] = self.topic.name
        # Only the model makes follow-ups, so the item's view (and its embedding) exists.
        item_view = features.views.get(self._full(item))
        if decision.status == "followup" and item_view is not None:
            self._remember_followup(item.id, item.canonical_url, decision.cluster_id,
                                    set(decision.reasons.get("new_anchors", [])),
                                    item.published_at, item_view.doc)
        if decision.reasons.get("seed_event_report") and self._estimating_date:
            self._note_seed_report(item.id, item.published_at)
        return decision

    def _of_seed(self, item: Item) -> Decision | None:
        """The item is a seed: the seed's own URL, or its body."""
        if item.canonical_url in self.seed_urls:
            seed_name = self.seed_urls[item.canonical_url]
            return Decision("duplicate", "url", duplicate_of=seed_name, confidence=1.0,
                            reasons={"matched": seed_name,
                                     "why": "the item is a seed of the topic"})
        if item.content_hash in self.seed_hashes:
            seed_name = self.seed_hashes[item.content_hash]
            return Decision("duplicate", "hash", duplicate_of=seed_name, confidence=1.0,
                            reasons={"matched": seed_name, "why": "same body text as the seed",
                                     "seed_event_report": True})
        return None

    def _seed_copy(self, features: ItemFeatures) -> Decision | None:
        """The item is a near copy of a seed."""
        for seed, seed_shingles in zip(self.seeds, self.seed_shingles, strict=True):
            match = near_copies.compare(features.shingles, seed_shingles)
            if match.is_copy:
                return Decision("duplicate", "near-copy", duplicate_of=seed.name,
                                confidence=1.0, reasons={
                    "seed_event_report": True,
                    "matched": seed.name, "jaccard": _round(match.jaccard),
                    "containment": _round(match.containment),
                    "thresholds": {"jaccard": near_copies.JACCARD_MIN,
                                   "containment": near_copies.CONTAINMENT_MIN}})
        return None

    def _relevance(self, item: Item, features: ItemFeatures) -> Relevance:
        return features.relevance(item, self._full(item), self.topic.name,
                                  self.reference.profile)

    def _decide(self, session: Session, item: Item, features: ItemFeatures) -> Decision:
        # layers 1 and 2 (url, hash): the seed itself, or its body
        of_seed = self._of_seed(item)
        if of_seed is not None:
            return of_seed
        # layer 2 (hash): the body of an earlier item
        earlier = features.earlier_same_body(session, item)
        if earlier is not None:
            inherited = self._inherit(session, earlier, "hash", {"why": "same body text"})
            if inherited is not None:
                return inherited
        # layer 3 (near-copy): of a seed, else of an earlier item
        seed_copy = self._seed_copy(features)
        if seed_copy is not None:
            return seed_copy
        for copy in features.earlier_copies(session, item):
            inherited = self._inherit(session, copy.item_id, "near-copy", {
                "jaccard": _round(copy.match.jaccard),
                "containment": _round(copy.match.containment),
                "thresholds": {"jaccard": near_copies.JACCARD_MIN,
                               "containment": near_copies.CONTAINMENT_MIN}})
            if inherited is not None:
                return inherited
        full = self._full(item)
        relevance = self._relevance(item, features)
        gated = self._gate(item, features, relevance)
        if gated is not None:
            return gated
        return self._judge_content(item, features.view(item, full, self.embedder), relevance)

    def _gate(self, item: Item, features: ItemFeatures, relevance: Relevance
              ) -> Decision | None:
        """Off-topic without the full embedding, when nothing about the item is near the
        story: it shares almost no weighted words with the seeds and, in another language
        than theirs, its opening (the first GATE_CHARS of title and text, a tenth of the
        cost of the lead's embedding) is far from the seeds and from every accepted
        follow-up. In the seeds' own language the words say it alone: no report of the
        story in the corpus scores under 0.05 there, ten times the gate, so the opening
        is not embedded (benchmarks/gate.py). Most of what a crawl reads is such news;
        the learned decision runs on the rest."""
        if relevance.score >= GATE_LEXICAL:
            return None
        reasons: dict[str, Any] = {
            "why": "shares almost no words with the seeds, in their own language",
            "relevance": {"lexical": _round(relevance.score), "mode": relevance.mode},
            "thresholds": {"lexical": GATE_LEXICAL}}
        if relevance.mode != "same-language":
            closest = self.reference.story_similarity(features.opening_of(item, self.embedder))
            if closest >= GATE_SIMILARITY:
                return None
            reasons.update(
                why="shares almost no words with the seeds, and its opening is far from "
                    "them and from every accepted follow-up",
                opening_similarity=_round(closest),
                thresholds={"lexical": GATE_LEXICAL, "opening_similarity": GATE_SIMILARITY})
        return Decision("offtopic", "gate", relevance=0.0, confidence=1.0, reasons=reasons)

    def _full(self, item: Item) -> bool:
        return full_analysis(item.language, self.reference.profile.language)

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
                            relevance=judgement.relevance, novelty=0.0, confidence=1.0,
                            reasons={**reasons, "why": "copy of an earlier follow-up"})
        if judgement.status == "duplicate":
            return Decision("duplicate", layer, duplicate_of=judgement.duplicate_of or url,
                            relevance=judgement.relevance, novelty=0.0, confidence=1.0,
                            reasons={**reasons, "why": "copy of an earlier duplicate"})
        return Decision("offtopic", layer, relevance=judgement.relevance, confidence=1.0,
                        reasons={**reasons, "why": "copy of an earlier off-topic item"})

    def _judge_content(self, item: Item, item_view: TextView, relevance: Relevance
                       ) -> Decision:
        found = signals(item_view, self.reference,
                        ignore_names=[item.source or "", *(item.authors or [])],
                        published_at=item.published_at, relevance=relevance)
        verdict = self.model.verdict(found.values, self.bias)
        shared, rare = shared_names(item_view.analysed, self.reference.profile)
        undated = self.model.verdict({**found.values, **dict.fromkeys(DATE_SIGNALS, 0.0)},
                                     self.bias) if found.values["date_known"] else verdict
        reasons: dict[str, Any] = {
            "probabilities": {k: _round(v) for k, v in verdict.probabilities.items()},
            "signals": {k: _round(v) for k, v in found.values.items()},
            "contributions": {stage: {k: _round(v) for k, v in sorted(
                parts.items(), key=lambda kv: -abs(kv[1]))[:5]}
                for stage, parts in verdict.contributions.items()},
            "relevance": {"lexical": _round(found.relevance.score),
                          "mode": found.relevance.mode,
                          "shared_anchors": shared,
                          "shared_rare_names": rare},
            "novelty": {"covered_sentences": found.covered,
                        "counted_sentences": found.counted,
                        "novel_sentences": [x[:MAX_REASON_CHARS] for x in
                                            found.novel_sentences[:MAX_REASON_SENTENCES]]},
            "new_anchors": found.new_anchors,
            "event_date": iso(self.reference.event_date),
            "seed_event_report": undated.status == "duplicate",
            "event_date_from": self.event_date_from and (
                f"the median date of {len(self._seed_report_dates)} reports of the seed event"
                if self.event_date_from == "estimated" else self.event_date_from),
        }
        if self.bias.topic_shift or self.bias.novelty_shift:
            reasons["bias"] = {"topic": self.bias.topic_shift,
                               "novelty": self.bias.novelty_shift}
        decision = Decision(verdict.status, "model", relevance=verdict.p_topic,
                            novelty=verdict.p_new, confidence=verdict.confidence,
                            reasons=reasons)
        like = self._like_labelled(item.id, item_view.doc, to_utc(item.published_at))
        if like is not None:
            url, status, similarity = like
            decision.layer = "labelled"
            decision.status = status
            decision.confidence = similarity
            reasons["like_labelled"] = {
                "url": url, "label": status, "cosine": _round(similarity),
                "threshold": _round(self.reference.yardstick.get("doc")),
                "machine_would_say": verdict.status}
        if decision.status == "offtopic":
            return decision
        if decision.status == "duplicate":
            decision.duplicate_of = reasons["matched"] = (
                like[0] if like is not None else self._closest_seed(item_view))
            return decision
        # Embeddings were measured for this and do not tell developments of one story
        # apart (docs/classification.md): clusters stay on shared new anchors.
        related = self.clusters.match(set(found.new_anchors), item.published_at,
                                      exclude=item.id)
        if related is not None:
            development, shared = related
            cluster_id = development.cluster_id
            reasons["cluster"] = {"with": development.url, "shared_anchors": shared}
        else:
            cluster_id = new_cluster_id(item.id)
            reasons["cluster"] = {"representative": True}
        decision.cluster_id = cluster_id
        return decision

    def _closest_seed(self, item_view: TextView) -> str:
        sims = [float(s.doc @ item_view.doc) for s in self.seed_views]
        return self.seeds[int(np.argmax(sims))].name


def event_date(topic: TopicConfig, seeds: list[Seed]) -> datetime | None:
    """The seed event's date: the topic's `event_date`, else the earliest seed page's."""
    if topic.event_date is not None:
        return datetime(topic.event_date.year, topic.event_date.month, topic.event_date.day,
                        tzinfo=UTC)
    dates = [s.published_at for s in seeds if s.published_at is not None]
    return min(dates) if dates else None


def store_decision(session: Session, item: Item, topic: str, decision: Decision,
                   decided_at: datetime | None = None) -> None:
    """Insert or replace the (item, topic) judgement, in the caller's transaction."""
    when = decided_at or utc_now()
    decision.reasons.setdefault("decided_at", iso(when))
    upsert_judgement(session, {
        "item_id": item.id, "topic": topic, "status": decision.status, "decided_at": when,
        "duplicate_of": decision.duplicate_of, "cluster_id": decision.cluster_id,
        "relevance": _round(decision.relevance), "novelty": _round(decision.novelty),
        "confidence": _round(decision.confidence), "reasons": decision.reasons,
    })
