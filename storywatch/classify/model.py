"""The learned decision: two small logistic regressions over the signals of features.py.

  P(on topic)             is the item about this story at all?      -> else offtopic
  P(new | on topic)       does it bring a development the seeds lack? -> followup / duplicate

so that P(followup) = P(on) P(new), P(duplicate) = P(on) (1 - P(new)) and
P(offtopic) = 1 - P(on). The status answers the two questions in turn, each at its own
even odds (each stage is trained on balanced classes): off-topic if P(on) < 0.5, else
follow-up if P(new) >= 0.5, else duplicate. Taking the most probable of the three
products instead asked more of an on-topic item the less sure its novelty was (a
follow-up needed P(on) > 1 / (1 + P(new)): 0.625 at P(new) = 0.6), and sent reports of
the seed event to off-topic (docs/classification.md). The status's probability is the
item's confidence (what `storywatch items --uncertain` sorts by).

The weights are trained by benchmarks/train_decision.py on the real cross-story corpus
(benchmarks/corpus/) and shipped in decision_weights.json; nothing here is tuned by hand.
Why logistic regression: a dozen signals, a few hundred labelled articles, and every
decision must be explainable — each signal's contribution to the log-odds is its weight
times its standardised value, which `explain` prints.

Human labels do not change these weights: they change what a topic knows (see
storywatch.classify.decide), which moves the signals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

WEIGHTS_FILE = "decision_weights.json"
# A signal with this value is unknown (features.py: `head_names` when the seeds'
# headlines share no name, as in a script without capitals). It adds nothing to the
# log-odds, and training counts it at the known values' mean.
UNKNOWN = -1.0
MAYBE_UNKNOWN = frozenset({"head_names"})


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(frozen=True)
class Stage:
    """One logistic regression over standardised signals."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def contributions(self, values: Mapping[str, float]) -> dict[str, float]:
        """Each signal's weight times its standardised value; an UNKNOWN one adds nothing."""
        return {
            name: 0.0 if name in MAYBE_UNKNOWN and values[name] == UNKNOWN
            else c * (values[name] - m) / (s or 1.0)
            for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef,
                                     strict=True)
        }

    def logit(self, values: Mapping[str, float], shift: float = 0.0) -> float:
        return self.intercept + shift + sum(self.contributions(values).values())

    def as_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean),
                "scale": list(self.scale), "coef": list(self.coef),
                "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Stage:
        return cls(tuple(data["features"]), tuple(data["mean"]), tuple(data["scale"]),
                   tuple(data["coef"]), float(data["intercept"]))


@dataclass(frozen=True)
class Calibration:
    """Shifts of the two stages' log-odds: the user's [classify] topic_bias / novelty_bias."""

    topic_shift: float = 0.0
    novelty_shift: float = 0.0


@dataclass(frozen=True)
class Verdict:
    status: str
    probabilities: dict[str, float]
    confidence: float
    p_topic: float
    p_new: float
    contributions: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionModel:
    topic: Stage
    novelty: Stage
    meta: dict[str, Any]

    def verdict(self, values: Mapping[str, float],
                calibration: Calibration | None = None) -> Verdict:
        cal = calibration or Calibration()
        p_on = _sigmoid(self.topic.logit(values, cal.topic_shift))
        p_new = _sigmoid(self.novelty.logit(values, cal.novelty_shift))
        probabilities = {"followup": p_on * p_new, "duplicate": p_on * (1 - p_new),
                         "offtopic": 1 - p_on}
        status = ("offtopic" if p_on < 0.5 else "followup" if p_new >= 0.5
                  else "duplicate")
        return Verdict(status, probabilities, probabilities[status], p_on, p_new, {
            "topic": self.topic.contributions(values),
            "novelty": self.novelty.contributions(values)})

    def as_json(self) -> dict[str, Any]:
        return {"topic": self.topic.as_json(), "novelty": self.novelty.as_json(),
                "meta": self.meta}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DecisionModel:
        return cls(Stage.from_json(data["topic"]), Stage.from_json(data["novelty"]),
                   dict(data.get("meta", {})))

    @classmethod
    def load(cls, path: Path | None = None) -> DecisionModel:
        if path is not None:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        return _packaged()


@lru_cache(maxsize=1)
def _packaged() -> DecisionModel:
    text = resources.files("storywatch.classify").joinpath(WEIGHTS_FILE).read_text(
        encoding="utf-8")
    return DecisionModel.from_json(json.loads(text))
