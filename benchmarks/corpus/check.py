"""Check the real-article corpus: every manifest line has its excerpt, and the excerpt is
the one that was labelled (same SHA-1). `--update STORY` writes the SHA-1s of a story's
excerpts into its manifest (run once, by whoever gathered the story).

    python benchmarks/corpus/check.py             # all stories
    python benchmarks/corpus/check.py --update mpox
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = {"followup", "duplicate", "offtopic"}
KINDS = {"seed", "rewrite", "translation", "followup", "near-topic", "offtopic"}


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def check_story(story: str, update: bool) -> list[str]:
    manifest_path = HERE / "stories" / f"{story}.jsonl"
    manifest = read_jsonl(manifest_path)
    excerpts = {r["id"]: r["excerpt"] for r in read_jsonl(HERE / "texts" / f"{story}.jsonl")}
    problems = []
    seen = set()
    for line in manifest:
        rid = line.get("id")
        if rid in seen:
            problems.append(f"{story}: duplicate id {rid}")
        seen.add(rid)
        if line.get("role") == "item" and line.get("label") not in LABELS:
            problems.append(f"{story}: {rid}: bad label {line.get('label')!r}")
        if line.get("kind") not in KINDS:
            problems.append(f"{story}: {rid}: bad kind {line.get('kind')!r}")
        if rid not in excerpts:
            problems.append(f"{story}: {rid}: no excerpt in texts/ (rebuild it)")
            continue
        digest = sha1(excerpts[rid])
        if update:
            line["sha1"] = digest
        elif line.get("sha1") != digest:
            problems.append(f"{story}: {rid}: excerpt differs from the labelled one")
    if update:
        manifest_path.write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in manifest),
            encoding="utf-8")
    kinds = Counter(line.get("kind") for line in manifest)
    languages = Counter(line.get("language") for line in manifest)
    print(f"{story}: {len(manifest)} lines, kinds {dict(kinds)}, languages {dict(languages)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", metavar="STORY", help="write the SHA-1s of STORY")
    args = parser.parse_args()
    stories = [args.update] if args.update else sorted(
        p.stem for p in (HERE / "stories").glob("*.jsonl"))
    problems = [p for story in stories for p in check_story(story, bool(args.update))]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
