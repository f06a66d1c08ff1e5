"""Real web pages for benchmarks: trafilatura's own evaluation corpus, read from a checkout.

trafilatura's repository (Apache-2.0) keeps ~1,000 real pages (news sites, blogs,
magazines, public bodies; many languages) with hand-picked passages that must be in the
extracted text ("with") and passages that must not ("without"). The pages are other
people's words, so they are never committed here: give the benchmark a path to a
checkout (or to its tests/ folder), for example

    git clone --depth 1 https://github.com/adbar/trafilatura ~/.cache/storywatch-bench/trafilatura

Scoring is trafilatura's own (tests/eval_common.py): a passage counts as found when it
occurs in the output after whitespace normalisation; precision, recall and F1 over all
passages of all pages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CORPUS = Path.home() / ".cache" / "storywatch-bench" / "trafilatura"


@dataclass(frozen=True)
class RealPage:
    url: str
    body: bytes
    with_: tuple[str, ...]
    without: tuple[str, ...]


def tests_dir(path: Path) -> Path:
    """The folder holding evaldata.json: the given path or its tests/ subfolder."""
    for candidate in (path, path / "tests"):
        if (candidate / "evaldata.json").is_file():
            return candidate
    raise SystemExit(f"{path}: no evaldata.json here or in tests/ (a trafilatura checkout?)")


def load_pages(path: Path, limit: int | None = None) -> list[RealPage]:
    """Every annotated page whose HTML file is present, in a stable (URL) order."""
    here = tests_dir(path)
    data = json.loads((here / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url in sorted(data):
        entry = data[url]
        for sub in ("cache", "eval"):
            file = here / sub / entry["file"]
            if file.is_file():
                pages.append(RealPage(url, file.read_bytes(), tuple(entry["with"]),
                                      tuple(entry["without"])))
                break
        if limit is not None and len(pages) >= limit:
            break
    if not pages:
        raise SystemExit(f"{here}: no HTML files found under cache/ or eval/")
    return pages


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, page: RealPage, text: str | None) -> None:
        found = _norm(text or "")
        tp = sum(1 for w in page.with_ if _norm(w) in found)
        fp = sum(1 for w in page.without if _norm(w) in found)
        self.tp += tp
        self.fp += fp
        self.fn += len(page.with_) - tp
        self.tn += len(page.without) - fp

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0
