"""The classifier as the crawl and the CLI use it: every topic of an item in the caller's
transaction; a batch's embeddings made together beforehand (`prepare`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from storywatch.classify import near_copies
from storywatch.classify.decide import Decision, ItemFeatures, TopicClassifier, store_decision
from storywatch.classify.embeddings import load_embedder
from storywatch.classify.model import DecisionModel
from storywatch.classify.seeds import Seed, SeedError, load_seeds, read_seed_files
from storywatch.config import Config, TopicConfig
from storywatch.storage import Storage
from storywatch.storage.classify import NearCopyBand
from storywatch.storage.labels import lock_topics
from storywatch.storage.models import Item, Judgement

log = logging.getLogger(__name__)


# Items re-judged to a transaction by `rescore`: the crawl writer's batch size.
RESCORE_BATCH = 50

_INDEXED = select(NearCopyBand.item_id).where(NearCopyBand.item_id == bindparam("id")).limit(1)


class Classifier:
    """Per-topic classifiers, built on first use (seeds read or fetched once)."""

    def __init__(self, config: Config, model: DecisionModel | None = None) -> None:
        self.config = config
        self.model = model or DecisionModel.load(config.classify.model)
        self._topics: dict[str, TopicClassifier] = {}
        self._seed_files: dict[str, Seed | SeedError] | None = None

    def topics_for(self, source: str | None) -> list[TopicConfig]:
        """The topics a source applies to (SourceConfig.topics None = all topics)."""
        for configured in self.config.sources:
            if configured.name == source and configured.topics is not None:
                return [self.config.topic(name) for name in configured.topics]
        return list(self.config.topics)

    def topic_classifier(self, session: Session, topic: TopicConfig) -> TopicClassifier:
        if topic.name not in self._topics:
            if self._seed_files is None:  # every topic's seed files, in one child
                self._seed_files = read_seed_files(
                    [ref for t in self.config.topics for ref in t.seeds])
            seeds = load_seeds(topic.seeds, session, self._seed_files)
            self._topics[topic.name] = TopicClassifier(topic, seeds, self.config.classify,
                                                       load_embedder(), self.model)
        return self._topics[topic.name]

    def prepare(self, session: Session, batch: Sequence[tuple[Item, Sequence[TopicConfig]]],
                *, reindex: bool = False) -> dict[int, ItemFeatures]:
        """The features of a batch's items, with what their topics will embed made in one
        forward pass per topic (TopicClassifier.prepare) and their near-copy candidates
        read in one query; hand each to `classify`, in the batch's order. The caller
        holds the topic locks, as for `classify`. `reindex` as for `classify`."""
        features = {item.id: ItemFeatures.of(item) for item, _ in batch}
        found = near_copies.batch_candidates(
            session, [(item.id, features[item.id].band_keys) for item, _ in batch])
        if not reindex:
            # Re-indexed items (rescore) replace keys stored earlier, which the read above
            # counted too: they look their candidates up at their turn.
            for (item, _), ids in zip(batch, found, strict=True):
                features[item.id].copy_candidates = ids
        # A copy takes its original's verdict: nothing of it is embedded beforehand (in
        # a crawl of real pages, half the items were copies, and their views wasted).
        copies = near_copies.likely_copies(
            [(item.id, features[item.id].shingles) for item, _ in batch], found)
        for topic in self.config.topics:
            wanted = [(item, features[item.id]) for item, topics in batch
                      if topic in topics and item.id not in copies]
            if wanted:
                self.topic_classifier(session, topic).prepare(session, wanted)
        return features

    def classify(self, session: Session, item: Item,
                 topics: Iterable[TopicConfig] | None = None, *,
                 reindex: bool = False, locked: bool = False,
                 features: ItemFeatures | None = None) -> dict[str, Decision]:
        """Judge and store the item for each topic, then index it for near-copy lookups;
        the caller's transaction makes it all or nothing. On SQLite the caller must have
        taken the topic locks first (lock_topics), before any read; `locked`: it took every
        topic's lock in this transaction already (the crawl's writer, once per batch).
        `reindex` replaces band keys stored earlier (`rescore`: keys of Chinese, Japanese
        and Thai text changed with word segmentation; those of spaced text come out the
        same)."""
        decisions = {}
        features = features or ItemFeatures.of(item)
        wanted = list(topics) if topics is not None else self.topics_for(item.source)
        if not locked:
            lock_topics(session, [t.name for t in wanted])
        for topic in wanted:
            classifier = self.topic_classifier(session, topic)
            decision = classifier.judge(session, item, features)
            store_decision(session, item, topic.name, decision)
            decisions[topic.name] = decision
        if reindex:
            near_copies.index_item(session, item.id, features.band_keys, replace=True)
        elif session.connection().execute(_INDEXED, {"id": item.id}).scalar() is None:
            near_copies.index_item(session, item.id, features.band_keys, replace=False)
        return decisions

    def classify_stored(self, storage: Storage, item_id: int, *,
                        only_missing: bool = False) -> dict[str, Decision]:
        """Judge a stored item; with only_missing, only for topics it has no judgement of
        (an article met again keeps its first judgement)."""
        with storage.session() as session:
            # First statement: on SQLite a transaction that read first works on a stale
            # snapshot. Every topic is locked: which apply is only known after a read.
            lock_topics(session, [t.name for t in self.config.topics])
            item = session.get(Item, item_id)
            if item is None:
                return {}
            topics = self.topics_for(item.source)
            if only_missing:
                judged = set(session.execute(
                    select(Judgement.topic).where(Judgement.item_id == item_id)
                ).scalars())
                topics = [t for t in topics if t.name not in judged]
                if not topics:
                    return {}
            return self.classify(session, item, topics)

    def rescore(self, storage: Storage, *, topic: str | None = None,
                only_unjudged: bool = False) -> int:
        """Re-judge stored items oldest first, RESCORE_BATCH to a transaction; nothing
        fetched. A crash keeps the batches done (`rescore --unjudged` finishes the rest)."""
        topics = [self.config.topic(topic)] if topic else list(self.config.topics)
        with storage.session() as session:
            ids = list(session.execute(
                select(Item.id).order_by(Item.published_at.nulls_last(), Item.id)
            ).scalars())
            if not only_unjudged:
                names = [t.name for t in topics]
                # Clusters and copy verdicts are rebuilt from scratch, oldest first.
                # Declarative types __table__ as FromClause; a mapped class's table is a Table.
                judgements = cast(Table, Judgement.__table__)
                session.execute(judgements.delete().where(Judgement.topic.in_(names)))
        done = 0
        # In batches, as the crawl's writer judges: one transaction and one forward pass
        # of the embedding model (prepare) per batch, items judged one by one in order.
        for first in range(0, len(ids), RESCORE_BATCH):
            with storage.session() as session:
                lock_topics(session, [t.name for t in topics])
                chunk = ids[first:first + RESCORE_BATCH]
                # The batch's items and, for --unjudged, their judged topics: one query
                # each, not one an item.
                items = {item.id: item for item in session.execute(
                    select(Item).where(Item.id.in_(chunk))).scalars()}
                judged: dict[int, set[str]] = {}
                if only_unjudged:
                    for item_id, name in session.execute(
                            select(Judgement.item_id, Judgement.topic)
                            .where(Judgement.item_id.in_(chunk))):
                        judged.setdefault(item_id, set()).add(name)
                batch: list[tuple[Item, list[TopicConfig]]] = []
                for item_id in chunk:
                    item = items.get(item_id)
                    if item is None:
                        continue
                    wanted = [t for t in self.topics_for(item.source) if t in topics
                              and t.name not in judged.get(item_id, ())]
                    if wanted:
                        batch.append((item, wanted))
                prepared = self.prepare(session, batch, reindex=True)
                for item, wanted in batch:
                    self.classify(session, item, wanted, reindex=True,
                                  features=prepared[item.id])
                    done += 1
        return done
