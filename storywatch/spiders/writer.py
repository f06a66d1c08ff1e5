"""The writer: stores and judges a batch of items in one transaction.

Used by StorePipeline's BatchWriter, either on a thread of the crawl process (plain
`scrapy crawl`, tests) or, in `storywatch crawl`, in a process of its own (`run_crawl`
starts it): judging is a third of a crawl's CPU and, on a thread, it shared one GIL with
the reactor; in an 800-article run the writer thread was busy for 55 s of wall time but
got 25 s of CPU. One writer either way, so the per-topic state sees items in order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from storywatch.config import Config, TopicConfig
from storywatch.normalise.item import NewsItem
from storywatch.storage import Storage, open_storage
from storywatch.storage.labels import lock_topics
from storywatch.storage.models import Item, Judgement
from storywatch.storage.outage import through_outage
from storywatch.storage.repository import save_item

if TYPE_CHECKING:
    from storywatch.classify.decide import ItemFeatures
    from storywatch.classify.service import Classifier

log = logging.getLogger(__name__)


@dataclass
class Written:
    """What became of one item in its batch: its row, and its judgement per topic."""

    item_id: int | None
    created: bool = False
    judgements: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # why it could not be stored
    judge_error: str | None = None  # why it is stored unjudged


class Writer:
    """Stores and judges batches; one per crawl, used from one thread or process only."""

    def __init__(self, config: Config, storage: Storage | None = None) -> None:
        self.config = config
        self._storage = storage
        self._own_storage = storage is None
        self.classifier: Classifier | None = None
        if config.topics:
            from storywatch.classify.service import Classifier

            self.classifier = Classifier(config)
        self._unusable: set[str] = set()  # topics whose seeds cannot be read this run
        # CPU seconds of the writer (and its wall time writing): where a crawl's time goes.
        self.seconds = {"storing": 0.0, "judging": 0.0, "writing_wall": 0.0}

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            self._storage = open_storage(self.config.storage.url, migrate=False)
        return self._storage

    def close(self) -> None:
        if self._own_storage and self._storage is not None:
            self._storage.dispose()
            self._storage = None

    def write_batch(self, items: list[NewsItem]) -> list[Written]:
        """Store and judge the items in one transaction; one by one if that fails."""
        started = time.monotonic()
        try:
            return self._write_batch(items)
        finally:
            self.seconds["writing_wall"] += time.monotonic() - started

    def _write_batch(self, items: list[NewsItem]) -> list[Written]:
        storage = self.storage
        def batch() -> list[Written]:
            with storage.session() as session:
                self._lock_topics(session)
                written = [self._store(session, item) for item in items]
                prepared = self._prepare(session, items, written)
                return [self._judge_stored(session, item, done, prepared)
                        for item, done in zip(items, written, strict=True)]

        try:
            # A database restart is waited out (the batch is all or nothing, so retrying
            # it is safe); a row the database refuses falls back to one by one below.
            return through_outage(batch, what=f"a batch of {len(items)} items")
        except SQLAlchemyError as exc:
            log.warning("a batch of %d items failed (%s); writing them one by one",
                        len(items), first_line(exc))
        return [self._write_alone(item) for item in items]

    def _write_alone(self, item: NewsItem) -> Written:
        storage = self.storage
        try:
            with storage.session() as session:
                self._lock_topics(session)
                return self._store_and_judge(session, item)
        except SQLAlchemyError as exc:
            error = first_line(exc)
        try:  # stored unjudged is better than lost: `storywatch rescore --unjudged` judges it
            with storage.session() as session:
                saved = save_item(session, item)
            log.error("%s: stored but not judged: %s", item.url, error)
            return Written(saved.id, saved.created)
        except SQLAlchemyError as exc:
            return Written(None, error=f"cannot store: {first_line(exc)}")

    def _lock_topics(self, session: Session) -> None:
        """The topic locks before the batch's first insert, not only before its judging:
        items then get their ids in the order they are judged, across every process. With
        several writers (cluster workers) on PostgreSQL, an item inserted before the lock
        could get a smaller id than an item judged earlier by another worker, and "only
        earlier items are originals" (decide.py) would miss that copy."""
        if self.classifier is not None:
            lock_topics(session, [t.name for t in self.config.topics])

    def _store_and_judge(self, session: Session, item: NewsItem) -> Written:
        return self._judge_stored(session, item, self._store(session, item))

    def _store(self, session: Session, item: NewsItem) -> Written:
        started = time.thread_time()
        try:
            saved = save_item(session, item)
        finally:
            self.seconds["storing"] += time.thread_time() - started
        return Written(saved.id, saved.created)

    def _prepare(self, session: Session, items: list[NewsItem], written: list[Written]
                 ) -> dict[int, ItemFeatures]:
        """The batch's stored items made ready for judging together (Classifier.prepare:
        their embeddings in one forward pass, not one per item). Best effort: if it
        fails, each item is judged on its own, as it would be anyway."""
        if self.classifier is None:
            return {}
        started = time.thread_time()
        try:
            with session.begin_nested():
                batch = []
                for item, done in zip(items, written, strict=True):
                    topics = self._topics_to_judge(session, item, done)
                    stored = session.get(Item, done.item_id) if topics else None
                    if stored is not None:
                        batch.append((stored, topics))
                return self.classifier.prepare(session, batch) if batch else {}
        except SQLAlchemyError:
            # The database's own errors go to the batch: a lost connection is waited out
            # (through_outage), anything else writes the batch one by one. Swallowed here,
            # the session would go on with an invalidated connection and lose the batch.
            raise
        except Exception as exc:
            log.warning("a batch of %d items judged one by one: %s: %s", len(items),
                        type(exc).__name__, first_line(exc),
                        exc_info=log.isEnabledFor(logging.DEBUG))
            return {}
        finally:
            self.seconds["judging"] += time.thread_time() - started

    def _judge_stored(self, session: Session, item: NewsItem, written: Written,
                      prepared: Mapping[int, ItemFeatures] | None = None) -> Written:
        if self.classifier is None:
            return written
        started = time.thread_time()
        try:
            return self._judge(session, item, written, prepared or {})
        finally:
            self.seconds["judging"] += time.thread_time() - started

    def _topics_to_judge(self, session: Session, item: NewsItem, written: Written
                         ) -> list[TopicConfig]:
        """The topics the item is judged for: its source's, less those an item met again
        was judged for already, less those whose seeds cannot be read this run."""
        assert self.classifier is not None
        topics = self.classifier.topics_for(item.source)
        if not written.created:
            judged = set(session.execute(
                select(Judgement.topic).where(Judgement.item_id == written.item_id)).scalars())
            topics = [t for t in topics if t.name not in judged]
        return [t for t in topics if self._usable(session, t)]

    def _judge(self, session: Session, item: NewsItem, written: Written,
               prepared: Mapping[int, ItemFeatures]) -> Written:
        assert self.classifier is not None
        topics = self._topics_to_judge(session, item, written)
        if not topics:
            return written
        stored = session.get(Item, written.item_id)
        assert stored is not None  # saved in this transaction
        try:
            # A savepoint: a judgement that fails half-way leaves the item stored, unjudged
            # (`storywatch rescore --unjudged` judges it later), and the batch goes on.
            with session.begin_nested():
                # Every topic's lock is held since the batch began (_lock_topics).
                decisions = self.classifier.classify(session, stored, topics, locked=True,
                                                     features=prepared.get(stored.id))
        except (OperationalError, InterfaceError):
            raise  # a lost connection: the batch is retried once it is back (through_outage)
        except Exception as exc:
            log.error("%s: stored but not judged: %s: %s", item.url, type(exc).__name__,
                      first_line(exc), exc_info=log.isEnabledFor(logging.DEBUG))
            written.judge_error = f"{type(exc).__name__}: {first_line(exc)}"
            return written
        written.judgements = {topic: d.status for topic, d in decisions.items()}
        return written

    def _usable(self, session: Session, topic: TopicConfig) -> bool:
        """False (said once per run) for a topic whose seeds cannot be read or fetched."""
        from storywatch.classify.seeds import SeedError

        if topic.name in self._unusable or self.classifier is None:
            return False
        try:
            self.classifier.topic_classifier(session, topic)
        except SeedError as exc:
            self._unusable.add(topic.name)
            log.error("cannot classify for topic %s this run: %s", topic.name, exc)
            return False
        return True



def first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# -- the writer process ------------------------------------------------------------------------
_process_writer: Writer | None = None


def start_process_writer(config: Config, log_level: str, log_format: str,
                         parent: int | None = None) -> None:
    """Initializer of the writer process: its logging as the crawl's, and its Writer.
    `parent`: the crawl process it was forked from, which it must not outlive."""
    from storywatch import lifeline
    from storywatch.logs import setup_logging
    from storywatch.spiders.malloc import let_large_blocks_stay

    if parent is not None:
        lifeline.die_with_parent(parent)
    let_large_blocks_stay()  # the judge's arrays: glibc's thresholds for speed
    global _process_writer
    setup_logging(log_level, log_format)
    _process_writer = Writer(config)


def write_in_process(items: list[NewsItem]) -> list[Written]:
    assert _process_writer is not None, "start_process_writer did not run"
    return _process_writer.write_batch(items)


def process_writer_seconds() -> dict[str, float]:
    assert _process_writer is not None, "start_process_writer did not run"
    _process_writer.close()  # the crawl ends: release the database
    return dict(_process_writer.seconds)
