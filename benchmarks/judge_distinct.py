"""The judge's memory over a stream of distinct real articles: does it stay bounded?

The other judging and crawl benchmarks cycle a few hundred real texts (or change words
within them), so the words they meet stop being new after one round. A real crawl of
general news keeps meeting new words, names and languages, and every per-word cache of
the analysis grows with them until its bound. This stream is every real article at hand,
each judged once: the cross-story corpus's items (benchmarks/corpus, rebuilt locally)
and the text that `extract_article` gives for each page of trafilatura's evaluation
corpus (realpages.py: news, blogs and public bodies in many languages), shuffled.

Against one topic (a corpus story's seeds), each article is stored and judged one by one
as `rescore` does; printed every 200 articles: the process's RSS, the entries held by the
word caches of `storywatch.classify.text`, and the judging time per article so far.

    python benchmarks/judge_distinct.py [PATH-TO-TRAFILATURA-CHECKOUT] [--topic STORY]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus.load import load_stories, write_seed_files
from benchmarks.realpages import DEFAULT_CORPUS, load_pages
from storywatch.classify import text
from storywatch.classify.evaluate import _news_item
from storywatch.classify.service import Classifier
from storywatch.config import ClassifyConfig, Config, TopicConfig
from storywatch.extraction.article import extract_article
from storywatch.extraction.encoding import decode_page
from storywatch.storage import open_storage
from storywatch.storage.models import Item
from storywatch.storage.repository import save_item


def _page_records(path: Path) -> list[dict]:
    records = []
    for page in load_pages(path):
        article = extract_article(decode_page(page.body, None), page.url)
        if len(article.text) >= 300:
            records.append({"url": page.url, "title": article.title, "text": article.text,
                            "language": None, "published_at": None})
    return records


def _cache_entries() -> int:
    return sum(f.cache_info().currsize for f in vars(text).values()
               if callable(getattr(f, "cache_info", None)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pages", nargs="?", type=Path, default=DEFAULT_CORPUS,
                        help="a trafilatura checkout (its evaluation pages)")
    parser.add_argument("--topic", default="nippon-ussteel", help="the corpus story whose "
                        "seeds make the topic")
    args = parser.parse_args()
    stories = load_stories(written=False)
    records = [dict(r) for s in stories for r in s.items] + _page_records(args.pages)
    random.Random(1).shuffle(records)
    with tempfile.TemporaryDirectory() as tmp:
        story = next(s for s in stories if s.name == args.topic)
        seeds = write_seed_files(story, Path(tmp) / "seeds")
        config = Config(topics=[TopicConfig(name="t", seeds=seeds)], classify=ClassifyConfig())
        storage = open_storage(f"sqlite:///{Path(tmp) / 'judge.db'}")
        classifier = Classifier(config)
        with storage.session() as session:
            classifier.topic_classifier(session, config.topics[0])
        process = psutil.Process()
        print(f"{len(records)} distinct real articles against the {args.topic} topic; "
              f"each word cache of classify.text holds at most {text.WORD_CACHE:,} entries")
        print(f"{'articles':>8} {'RSS MB':>7} {'cache entries':>14} {'ms/article':>11}")
        print(f"{0:8d} {process.memory_info().rss / 2**20:7.0f} {_cache_entries():14,d}")
        judging = 0.0
        for n, record in enumerate(records, 1):
            record["url"] = f"https://distinct.example/{n}"
            with storage.session() as session:
                item = session.get(Item, save_item(session, _news_item(record)).id)
                started = time.perf_counter()
                classifier.classify(session, item)
                judging += time.perf_counter() - started
            if n % 200 == 0 or n == len(records):
                print(f"{n:8d} {process.memory_info().rss / 2**20:7.0f} "
                      f"{_cache_entries():14,d} {judging / n * 1000:11.1f}", flush=True)
        storage.dispose()


if __name__ == "__main__":
    main()
