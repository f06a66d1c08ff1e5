"""Evaluation on labelled items: the same decision code, a fresh database, items in order.

Labelled format: JSON lines with at least id, label (followup / duplicate / offtopic),
text, and optionally title, url, language, source, published_at, duplicate_of, cluster,
kind. The corpus files in tests/data/eval/ are in this format. Items are judged one by
one in published_at order, as a crawl would meet them.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from storywatch.classify.model import DecisionModel
from storywatch.classify.seeds import prefetch_seeds
from storywatch.classify.service import Classifier
from storywatch.config import ClassifyConfig, Config, TopicConfig
from storywatch.normalise.dates import to_utc, utc_now
from storywatch.normalise.item import NewsItem
from storywatch.normalise.language import detect_language
from storywatch.normalise.segment import word_count
from storywatch.normalise.text import clean_text, content_hash
from storywatch.normalise.urls import canonical_url
from storywatch.storage import open_storage
from storywatch.storage.labels import lock_topics, save_label
from storywatch.storage.models import Item
from storywatch.storage.repository import save_item

CLASSES = ("followup", "duplicate", "offtopic")


class LabelledError(Exception):
    """A labelled file that cannot be used; the message names the file, line and field."""


@dataclass
class Outcome:
    record: dict[str, Any]
    status: str
    duplicate_of: str | None
    cluster_id: str | None
    reasons: dict[str, Any]
    confidence: float | None = None

    @property
    def correct(self) -> bool:
        return self.status == self.record["label"]


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def confusion(self) -> dict[str, Counter[str]]:
        table: dict[str, Counter[str]] = {c: Counter() for c in CLASSES}
        for o in self.outcomes:
            table.setdefault(o.record["label"], Counter())[o.status] += 1
        return table

    def metrics(self) -> dict[str, dict[str, float]]:
        out = {}
        for cls in CLASSES:
            tp = sum(1 for o in self.outcomes if o.status == cls and o.record["label"] == cls)
            predicted = sum(1 for o in self.outcomes if o.status == cls)
            actual = sum(1 for o in self.outcomes if o.record["label"] == cls)
            precision = tp / predicted if predicted else 0.0
            recall = tp / actual if actual else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            out[cls] = {"precision": round(precision, 4), "recall": round(recall, 4),
                        "f1": round(f1, 4), "support": actual}
        return out

    def accuracy(self) -> float:
        return sum(o.correct for o in self.outcomes) / len(self.outcomes) if self.outcomes \
            else 0.0

    def subset(self, keep: Any) -> Report:
        return Report([o for o in self.outcomes if keep(o)])

    def misjudged(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct]

    def cluster_pairs(self) -> dict[str, Any]:
        """Pairs of follow-ups: same labelled development judged one cluster (recall), and
        different developments merged into one cluster (false merges)."""
        followups = [o for o in self.outcomes
                     if o.record.get("label") == "followup" and o.record.get("cluster")
                     and o.status == "followup"]
        same = together = merged = different = 0
        for i, a in enumerate(followups):
            for b in followups[i + 1:]:
                if a.record["cluster"] == b.record["cluster"]:
                    same += 1
                    together += a.cluster_id == b.cluster_id
                else:
                    different += 1
                    merged += a.cluster_id == b.cluster_id
        return {"same_development_pairs": same, "judged_together": together,
                "different_development_pairs": different, "falsely_merged": merged}

    def summary(self) -> dict[str, Any]:
        languages = sorted({o.record.get("language") or "?" for o in self.outcomes})
        return {
            "items": len(self.outcomes),
            "accuracy": round(self.accuracy(), 4),
            "classes": self.metrics(),
            "confusion": {k: dict(v) for k, v in self.confusion().items()},
            "per_language": {
                lang: {"items": len(sub.outcomes), "accuracy": round(sub.accuracy(), 4)}
                for lang in languages
                for sub in [self.subset(lambda o, lang=lang:
                                        (o.record.get("language") or "?") == lang)]
            },
            "clusters": self.cluster_pairs(),
            "syndicated_followup_copies_judged_followup": sum(
                1 for o in self.outcomes
                if o.record.get("kind") == "syndicated-followup" and o.status == "followup"),
        }


def read_labelled(paths: Iterable[Path]) -> list[dict[str, Any]]:
    records = []
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise LabelledError(f"{path}: cannot read the file: {exc}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabelledError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(record, dict):
                raise LabelledError(f"{path}:{number}: expected a JSON object")
            for key in ("id", "label", "text"):
                if not record.get(key):
                    raise LabelledError(f"{path}:{number}: the field {key!r} is missing")
            if record["label"] not in CLASSES:
                raise LabelledError(f"{path}:{number}: label {record['label']!r} is not one of "
                                    f"{', '.join(CLASSES)}")
            records.append(record)
    return records


def _news_item(record: dict[str, Any]) -> NewsItem:
    text = clean_text(record["text"])
    url = record.get("url") or f"https://eval.invalid/{record['id']}"
    return NewsItem(
        url=url, canonical_url=canonical_url(url), title=record.get("title"), authors=[],
        published_at=to_utc(record.get("published_at")), fetched_at=utc_now(),
        language=record.get("language") or detect_language(text),
        text=text, source=record.get("source") or "eval", discovered_via="feed",
        content_hash=content_hash(text), word_count=word_count(text), extractor="eval",
    )


def evaluate(records: Sequence[dict[str, Any]], seeds: Sequence[str],
             settings: ClassifyConfig | None = None, topic: str = "eval", *,
             model: DecisionModel | None = None,
             labels: Mapping[str, str] | None = None,
             event_date: date | None = None) -> Report:
    """Store the records, then judge them in published_at order in a temporary SQLite
    database, as `rescore` would: the same code as a crawl.

    `labels` (record id -> status) are human corrections saved before judging, as a
    person's labels are before a rescore; the report still holds the machine's verdicts.
    """
    config = Config(
        topics=[TopicConfig(name=topic, seeds=list(seeds), event_date=event_date)],
        classify=settings or ClassifyConfig(),
    )
    ordered = sorted(records, key=lambda r: (to_utc(r.get("published_at")) or utc_now(),
                                             r["id"]))
    report = Report()
    with tempfile.TemporaryDirectory(prefix="storywatch-eval-") as tmp:
        storage = open_storage(f"sqlite:///{Path(tmp) / 'eval.db'}")
        classifier = Classifier(config, model)
        try:
            prefetch_seeds(config, storage)
            ids = []
            with storage.session() as session:
                for record in ordered:
                    ids.append(save_item(session, _news_item(record)).id)
                for record, item_id in zip(ordered, ids, strict=True):
                    if labels and record["id"] in labels:
                        save_label(session, item_id=item_id, topic=topic,
                                   status=labels[record["id"]], labelled_at=utc_now())
            for record, item_id in zip(ordered, ids, strict=True):
                with storage.session() as session:
                    lock_topics(session, [topic])
                    item = session.get(Item, item_id)
                    assert item is not None
                    decision = classifier.classify(session, item)[topic]
                report.outcomes.append(Outcome(record, decision.status, decision.duplicate_of,
                                               decision.cluster_id, decision.reasons,
                                               decision.confidence))
        finally:
            storage.dispose()
    return report
