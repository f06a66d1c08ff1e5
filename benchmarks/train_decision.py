"""Train the decision's weights on every labelled story and write them into the package.

    python benchmarks/train_decision.py                 # train, print the weights
    python benchmarks/train_decision.py --write         # ... and write them (ships)
    python benchmarks/train_decision.py --stories a b   # only these stories

Stories: the real cross-story corpus (benchmarks/corpus/, texts rebuilt locally) and the
self-written demo-story corpus (tests/data/eval/). The figures that say how well this
generalises come from benchmarks/cross_story.py, which trains the same way with one
story left out; this script's own fit is a training figure and is not reported.
Needs the `train` extra: pip install -e '.[train]'.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus.load import load_stories  # noqa: E402
from storywatch.classify.embeddings import load_embedder  # noqa: E402
from storywatch.classify.model import WEIGHTS_FILE  # noqa: E402
from storywatch.classify.training import fit, story_examples  # noqa: E402

WEIGHTS = ROOT / "storywatch" / "classify" / WEIGHTS_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", nargs="*", help="story ids (default: all)")
    parser.add_argument("--write", action="store_true", help=f"write {WEIGHTS.name}")
    parser.add_argument("--real-only", action="store_true",
                        help="leave out the self-written demo story")
    args = parser.parse_args()
    stories = load_stories(args.stories, written=not args.real_only)
    embedder = load_embedder()
    examples = []
    for story in stories:
        found = story_examples(story.name, story.seeds, story.items, embedder)
        print(f"{story.name}: {len(found)} examples"
              + (f" ({len(story.missing)} texts missing)" if story.missing else ""))
        examples += found
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    model = fit(examples, {"date": date.today().isoformat(), "commit": commit})
    for name, stage in (("topic", model.topic), ("novelty", model.novelty)):
        print(f"\n{name}: intercept {stage.intercept:+.3f}")
        for feature, coef in sorted(zip(stage.features, stage.coef, strict=True),
                                    key=lambda kv: -abs(kv[1])):
            print(f"  {feature:18} {coef:+.3f}")
    if args.write:
        WEIGHTS.write_text(json.dumps(model.as_json(), indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {WEIGHTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
