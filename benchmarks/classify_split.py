"""Split-half check of the thresholds: choose relevance_min and the cross-lingual anchor
count on one half of the labelled corpus, report the other half with that choice.

Halves are fixed by a hash of the item id (no peeking at labels); syndicated copies and
their originals can land in different halves, which is what a crawl also meets.

    python benchmarks/classify_split.py
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storywatch.classify.evaluate import evaluate, read_labelled
from storywatch.config import ClassifyConfig

EVAL = Path(__file__).resolve().parent.parent / "tests" / "data" / "eval"
SEEDS = [str(EVAL / "seeds" / "seed-a.txt"), str(EVAL / "seeds" / "seed-b.html")]
GRID = {"relevance_min": [0.1, 0.15, 0.2], "new_anchors_min_cross_lingual": [1, 2]}


def half(record_id: str) -> str:
    return "A" if hashlib.sha256(record_id.encode()).digest()[0] % 2 == 0 else "B"


def macro_f1(report) -> float:  # type: ignore[no-untyped-def]
    metrics = report.metrics()
    return sum(m["f1"] for m in metrics.values()) / len(metrics)


def main() -> None:
    records = read_labelled(sorted(EVAL.glob("*.jsonl")))
    halves = {h: [r for r in records if half(r["id"]) == h] for h in "AB"}
    settings = [dict(zip(GRID, values, strict=True))
                for values in itertools.product(*GRID.values())]
    scores = {h: [] for h in "AB"}
    for h, part in halves.items():
        for setting in settings:
            scores[h].append(evaluate(part, SEEDS, ClassifyConfig(**setting)))
    for tune, test in (("A", "B"), ("B", "A")):
        best = max(range(len(settings)), key=lambda i: macro_f1(scores[tune][i]))
        report = scores[test][best]
        m = report.metrics()
        print(f"tuned on {tune} ({len(halves[tune])} items) -> {settings[best]}; "
              f"on {test} ({len(halves[test])} items): macro-F1 {macro_f1(report):.3f}, "
              f"followup P {m['followup']['precision']:.3f} R {m['followup']['recall']:.3f}, "
              f"duplicate R {m['duplicate']['recall']:.3f}, "
              f"offtopic R {m['offtopic']['recall']:.3f}")
    default = ClassifyConfig()
    for h in "AB":
        i = settings.index({k: getattr(default, k) for k in GRID})
        print(f"defaults on half {h}: macro-F1 {macro_f1(scores[h][i]):.3f}")


if __name__ == "__main__":
    main()
