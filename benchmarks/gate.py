"""The gate before the learned decision, measured on the real corpus.

For each story, its seeds are the topic; its own articles are what the gate must let
through (every follow-up and report of the seed event), and the other stories' articles
stand for the rest of the news a crawl reads (what the gate should stop, saving the
lead's embedding). Prints, per story: the on-topic articles the gate would stop, and the
share of the other stories' articles it lets through.

    python benchmarks/gate.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus.load import load_stories
from storywatch.classify.decide import GATE_LEXICAL, GATE_SIMILARITY, opening
from storywatch.classify.embeddings import load_embedder
from storywatch.classify.features import doc_vector, full_analysis
from storywatch.classify.relevance import Profile, build_profile, score
from storywatch.classify.text import analyse


def passes(article: dict[str, Any], profile: Profile, seed_docs: np.ndarray,
           openings: dict[str, np.ndarray]) -> bool:
    """TopicClassifier._gate's test, on a corpus article (no follow-ups accepted yet)."""
    analysed = analyse(article["text"], article.get("language"), article.get("title"),
                       full=full_analysis(article.get("language"), profile.language))
    relevance = score(analysed, profile)
    if relevance.score >= GATE_LEXICAL:
        return True
    if relevance.mode == "same-language":
        return False  # the seeds' own language: the words alone decide
    return float((seed_docs @ openings[article["id"]]).max()) >= GATE_SIMILARITY


def main() -> None:
    stories = load_stories(written=False)
    embedder = load_embedder()
    every = [a for s in stories for a in [*s.seeds, *s.items]]
    openings = dict(zip([a["id"] for a in every], embedder.embed(
        [opening(a.get("title"), a["text"]) for a in every]), strict=True))
    totals = {"stopped_on_topic": 0, "on_topic": 0, "passed_other": 0, "other": 0}
    for story in stories:
        profile = build_profile([analyse(s["text"], s.get("language"), s.get("title"))
                                 for s in story.seeds])
        seed_docs = np.vstack([doc_vector(s.get("title"), s["text"], embedder)
                               for s in story.seeds])

        on_topic = [a for a in story.items if a["label"] != "offtopic"]
        stopped = [f"{a['id']} ({a['language']}, {a['kind']})" for a in on_topic
                   if not passes(a, profile, seed_docs, openings)]
        others = [a for o in stories if o is not story for a in [*o.seeds, *o.items]]
        passed = float(np.mean([passes(a, profile, seed_docs, openings) for a in others]))
        print(f"{story.name}: {len(stopped)} of {len(on_topic)} on-topic articles stopped "
              f"{stopped}; other stories' articles let through: {passed:.0%} of {len(others)}")
        totals["stopped_on_topic"] += len(stopped)
        totals["on_topic"] += len(on_topic)
        totals["passed_other"] += round(passed * len(others))
        totals["other"] += len(others)
    print(f"all: {totals['stopped_on_topic']} of {totals['on_topic']} on-topic stopped; "
          f"{totals['passed_other'] / totals['other']:.0%} of other news let through "
          f"(gate: lexical >= {GATE_LEXICAL} or opening similarity >= {GATE_SIMILARITY})")


if __name__ == "__main__":
    main()
