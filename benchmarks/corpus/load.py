"""Load the labelled stories as the classifier's evaluation sees them.

Two sources of stories:
- the real cross-story corpus (stories/<story>.jsonl + the git-ignored texts/), see
  README.md beside this file;
- the self-written corpus of the demo story in tests/data/eval/ (story id
  `deserters-written`): our own texts, on which the old hand-tuned rules were chosen.

An excerpt becomes an item the same way every time: a leading ` date YYYY-MM-DD` marker
is dropped, a first line of at most 200 characters is the title, the rest is the text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WRITTEN = ROOT / "tests" / "data" / "eval"
WRITTEN_STORY = "deserters-written"
# The day of the written story's seed event (its seeds are text files, which carry none;
# the earliest rewrite is dated 2024-10-09).
WRITTEN_EVENT_DATE = "2024-10-09"
_DATE_MARKER = re.compile(r"^\s*date (\d{4}-\d{2}(?:-\d{2})?)\s*")
TITLE_MAX = 200


@dataclass
class Story:
    name: str
    seeds: list[dict[str, Any]]  # title, text, language
    items: list[dict[str, Any]]  # storywatch eval records (id, label, text, title, ...)
    missing: list[str] = field(default_factory=list)  # ids whose text is not rebuilt

    @property
    def real(self) -> bool:
        return self.name != WRITTEN_STORY

    @property
    def event_date(self) -> date | None:
        """The seed event's day: the earliest seed's publication date."""
        days = [date.fromisoformat(s["published_at"][:10]) for s in self.seeds
                if s.get("published_at")]
        return min(days) if days else None


def split_excerpt(excerpt: str) -> tuple[str | None, str, str | None]:
    """(title, text, date marker) of an excerpt as the pages corpus returns it."""
    date = None
    marker = _DATE_MARKER.match(excerpt)
    if marker:
        date, excerpt = marker.group(1), excerpt[marker.end():]
    lines = [line.strip() for line in excerpt.strip().split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    if lines and len(lines[0]) <= TITLE_MAX and len(lines) > 1:
        return lines[0], "\n".join(lines[1:]).strip(), date
    return None, "\n".join(lines).strip(), date


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def real_story_names() -> list[str]:
    return sorted(p.stem for p in (HERE / "stories").glob("*.jsonl"))


def load_real(name: str) -> Story:
    manifest = _jsonl(HERE / "stories" / f"{name}.jsonl")
    excerpts = {r["id"]: r["excerpt"] for r in _jsonl(HERE / "texts" / f"{name}.jsonl")}
    story = Story(name, [], [])
    for line in manifest:
        if line["id"] not in excerpts:
            story.missing.append(line["id"])
            continue
        title, text, _ = split_excerpt(excerpts[line["id"]])
        if line["role"] == "seed":
            story.seeds.append({"id": line["id"], "title": title, "text": text,
                                "language": line.get("language"),
                                "published_at": line.get("published_at")})
            continue
        story.items.append({
            "id": line["id"], "label": line["label"], "kind": line["kind"],
            "title": title, "text": text, "url": line["url"],
            "language": line.get("language"), "published_at": line.get("published_at"),
            "cluster": line.get("development"), "source": _site(line["url"]),
        })
    return story


def _site(url: str) -> str:
    host = re.sub(r"^https?://", "", url).split("/")[0]
    return host.removeprefix("www.")


def load_written() -> Story:
    """The self-written demo-story corpus, in the same shape."""
    from storywatch.classify.evaluate import read_labelled
    from storywatch.extraction import extract_article

    seeds = []
    for path in sorted((WRITTEN / "seeds").iterdir()):
        raw = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            article = extract_article(raw, None)
            seeds.append({"id": path.stem, "title": article.title, "text": article.text,
                          "language": "en", "published_at": WRITTEN_EVENT_DATE})
        else:
            lines = raw.strip().split("\n")
            seeds.append({"id": path.stem, "title": lines[0].strip(),
                          "text": "\n".join(lines[1:]).strip(), "language": "en",
                          "published_at": WRITTEN_EVENT_DATE})
    records = read_labelled(sorted(WRITTEN.glob("*.jsonl")))
    for record in records:
        record.setdefault("kind", record["label"])
        if record["id"].startswith("rw-"):
            record["kind"] = "translation" if record.get("language", "en") != "en" \
                else "rewrite"
    return Story(WRITTEN_STORY, seeds, records)


def load_stories(names: list[str] | None = None, *, written: bool = True) -> list[Story]:
    stories = [load_real(n) for n in (names or real_story_names())]
    if written and (names is None or WRITTEN_STORY in names):
        stories.append(load_written())
    return [s for s in stories if s.seeds and s.items]


def write_seed_files(story: Story, folder: Path) -> list[str]:
    """The story's seeds as .txt files (title on the first line), as a topic names them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in story.seeds:
        path = folder / f"{seed['id']}.txt"
        path.write_text(f"{seed['title'] or ''}\n{seed['text']}\n", encoding="utf-8")
        paths.append(str(path))
    return paths
