"""Training the decision: signals of labelled stories in, DecisionModel weights out.

Used by benchmarks/train_decision.py (writes the shipped weights) and
benchmarks/cross_story.py (leave-one-story-out). Needs the `train` extra
(scikit-learn); judging does not.

Signals are computed as the classifier computes them in a crawl, item by item in
publication order, except that the topic's accepted follow-ups are the *labelled*
follow-ups met so far (teacher forcing): the `followup_sim` signal then means what it
means in production, where accepted follow-ups are mostly right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storywatch.classify import near_copies
from storywatch.classify.embeddings import Embedder
from storywatch.classify.features import (
    DATE_SIGNALS,
    NOVELTY_SIGNALS,
    TOPIC_SIGNALS,
    Reference,
    full_analysis,
    signals,
    view,
)
from storywatch.classify.model import MAYBE_UNKNOWN, UNKNOWN, DecisionModel, Stage
from storywatch.normalise.dates import to_utc

if TYPE_CHECKING:
    import numpy as np

# L2 strength of both regressions (scikit-learn's C): its default, fixed before any
# corpus was seen, so that it is not a constant chosen on the data.
C = 1.0


@dataclass
class Example:
    story: str
    values: dict[str, float]
    label: str
    record: dict[str, Any]


def _when(record: dict[str, Any]) -> datetime:
    return to_utc(record.get("published_at")) or datetime.max.replace(tzinfo=UTC)


def story_examples(story: str, seeds: Sequence[dict[str, Any]],
                   items: Iterable[dict[str, Any]], embedder: Embedder) -> list[Example]:
    """One Example per item that reaches the learned layer (near copies of a seed are
    decided before it, so they would only teach the model the easy cases)."""
    seed_views = [view(s["text"], s.get("language"), s.get("title"), embedder) for s in seeds]
    seed_dates = [d for d in (to_utc(s.get("published_at")) for s in seeds) if d is not None]
    reference = Reference.of_seeds(seed_views, (), embedder,
                                   min(seed_dates) if seed_dates else None)
    seed_shingles = [near_copies.shingles(s["text"]) for s in seeds]
    out = []
    for record in sorted(items, key=lambda r: (_when(r), r["id"])):
        shingles = near_copies.shingles(record["text"])
        if any(near_copies.compare(shingles, s).is_copy for s in seed_shingles):
            continue
        item_view = view(record["text"], record.get("language"), record.get("title"), embedder,
                         full=full_analysis(record.get("language"), reference.profile.language))
        found = signals(item_view, reference, ignore_names=[record.get("source") or ""],
                        published_at=to_utc(record.get("published_at")))
        out.append(Example(story, found.values, record["label"], record))
        if record["label"] == "followup":
            reference.add_followup(item_view.doc)
    return out


def signal_matrix(examples: Sequence[Example], names: Sequence[str]) -> np.ndarray:
    """The examples' signals as rows (a numpy array), an UNKNOWN value counted at the
    mean of the known ones (so that it adds nothing, as when judging: model.Stage)."""
    import numpy as np

    x = np.array([[e.values[n] for n in names] for e in examples], dtype=float)
    for j, name in enumerate(names):
        if name in MAYBE_UNKNOWN:
            unknown = x[:, j] == UNKNOWN
            if unknown.any() and not unknown.all():
                x[unknown, j] = x[~unknown, j].mean()
    return x


def _stage(examples: Sequence[Example], positive: set[str], names: Sequence[str]) -> Stage:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = signal_matrix(examples, names)
    y = np.array([e.label in positive for e in examples], dtype=int)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    # Every story weighs the same, whatever its size; classes are balanced within.
    per_story: dict[str, int] = {}
    for e in examples:
        per_story[e.story] = per_story.get(e.story, 0) + 1
    weights = np.array([1.0 / per_story[e.story] for e in examples])
    for cls in (0, 1):
        share = weights[y == cls].sum()
        if share:
            weights[y == cls] *= 0.5 / share
    regression = LogisticRegression(C=C, max_iter=1000)
    regression.fit((x - mean) / scale, y, sample_weight=weights * len(examples))
    return Stage(tuple(names), tuple(float(v) for v in mean), tuple(float(v) for v in scale),
                 tuple(float(v) for v in regression.coef_[0]), float(regression.intercept_[0]))


def without_dates(example: Example) -> Example:
    """The same example as a topic whose seed event has no known date would see it."""
    values = {**example.values, **dict.fromkeys(DATE_SIGNALS, 0.0)}
    return Example(example.story, values, example.label, example.record)


def fit(examples: Sequence[Example], meta: dict[str, Any] | None = None, *,
        topic_names: Sequence[str] = TOPIC_SIGNALS,
        novelty_names: Sequence[str] = NOVELTY_SIGNALS) -> DecisionModel:
    """Two balanced logistic regressions: on topic (all examples), new (on-topic ones).

    Every example is seen twice, with and without the dates, so that the one model
    serves topics whose seed event date is known and topics where it is not.
    """
    examples = [*examples, *(without_dates(e) for e in examples)]
    topic = _stage(examples, {"followup", "duplicate"}, topic_names)
    novelty = _stage([e for e in examples if e.label != "offtopic"], {"followup"},
                     novelty_names)
    stories = sorted({e.story for e in examples})
    return DecisionModel(topic, novelty, {
        "trained_on": stories, "examples": len(examples), "C": C,
        **(meta or {})})
