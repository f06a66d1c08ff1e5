"""Classification throughput: items judged per second against one topic with N stored items.

The database is filled with N stored items (synthetic news-like texts, their near-copy
bands and judgements), then articles are judged one by one, each in its own transaction,
through the same code the crawl uses (the learned decision over multilingual embeddings:
the default install). Peak RSS of the process is printed at the end.

What is judged:
- default: the self-written demo-story corpus (tests/data/eval), every article near the
  story (rewrites, follow-ups, near-topic distractors): the dearest case;
- `--real STORY`: real pages (benchmarks/corpus, rebuilt locally): the topic is STORY's
  seeds, and the stream is every article of all five stories, so that about four in five
  are other news, as in a crawl of general feeds (an honest stream would hold even more).

    python benchmarks/classify_throughput.py [--stored 100000] [--judge 500] [--real STORY]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storywatch.classify import near_copies
from storywatch.classify.evaluate import _news_item
from storywatch.classify.service import Classifier
from storywatch.config import ClassifyConfig, Config, TopicConfig
from storywatch.normalise.dates import utc_now
from storywatch.storage import open_storage
from storywatch.storage.models import Item
from storywatch.storage.repository import save_item

EVAL = Path(__file__).resolve().parent.parent / "tests" / "data" / "eval"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--judge", type=int, default=500)
    parser.add_argument("--real", metavar="STORY",
                        help="judge real pages against this corpus story's seeds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.real:
            from benchmarks.corpus.load import load_stories, write_seed_files

            stories = load_stories(written=False)
            topic_story = next(s for s in stories if s.name == args.real)
            seeds = write_seed_files(topic_story, Path(tmp) / "seeds")
            records = [r for s in stories for r in s.items]
        else:
            records = [json.loads(line) for name in ("rewrites", "followups", "offtopic")
                       for line in (EVAL / f"{name}.jsonl").read_text(
                           encoding="utf-8").splitlines()]
            seeds = [str(EVAL / "seeds" / "seed-a.txt"), str(EVAL / "seeds" / "seed-b.html")]
        rng = random.Random(3)
        rng.shuffle(records)
        vocabulary = sorted({w for r in records for w in r["text"].split()})
        config = Config(topics=[TopicConfig(name="t", seeds=seeds)], classify=ClassifyConfig())
        _run(args, records, vocabulary, rng, config, Path(tmp))


def _run(args: argparse.Namespace, records: list[dict], vocabulary: list[str],
         rng: random.Random, config: Config, tmp: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp / 'bench.db'}")
    start = time.perf_counter()
    with storage.engine.begin() as conn:
        now = utc_now().replace(tzinfo=None)
        for base in range(0, args.stored, 10_000):
            items, bands = [], []
            for i in range(base, min(base + 10_000, args.stored)):
                text = " ".join(rng.choices(vocabulary, k=250))
                items.append((i + 1, f"https://filler.example/{i}", "u", now, text,
                              "filler", "feed", f"h{i}", 250, "x", "[]", "en"))
                bands += [(k, i + 1) for k in dict.fromkeys(
                    near_copies.band_keys(near_copies.signature(near_copies.shingles(text))))]
            conn.exec_driver_sql(
                "INSERT INTO items (id, canonical_url, url, fetched_at, text, source, "
                "discovered_via, content_hash, word_count, extractor, authors, language) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", items)
            conn.exec_driver_sql(
                "INSERT INTO near_copy_bands (band_key, item_id) VALUES (?, ?)", bands)
    print(f"filled {args.stored} stored items in {time.perf_counter() - start:.0f} s")
    classifier = Classifier(config)
    with storage.session() as session:  # seeds, profile, model: once per crawl
        classifier.topic_classifier(session, config.topics[0])
    # Warm-up, not timed: the lemma dictionaries and word frequencies of each language
    # load on first use (a few seconds per language, once per process).
    for n in range(len(records)):
        record = dict(records[n])
        record["url"] = f"https://warmup.example/{n}"
        record["text"] = record["text"] + "\nWarm-up copy."
        with storage.session() as session:
            saved = save_item(session, _news_item(record))
            classifier.classify(session, session.get(Item, saved.id))
    judged = 0
    judging = 0.0
    layers: dict[str, list[float]] = {}
    start = time.perf_counter()
    for n in range(args.judge):
        record = dict(records[n % len(records)])
        record["url"] = f"https://bench.example/{n}"
        # Every 4th word replaced: the item is no near copy of an earlier one (5-shingle
        # Jaccard ~0.2), so it goes through every layer, as most crawled items do. Real
        # pages take the words from their own text, so that what they are about (their
        # bag of words) does not change.
        words = record["text"].split(" ")
        pool = words[:] if args.real else vocabulary
        for k in range(n % 4, len(words), 4):
            words[k] = rng.choice(pool)
        record["text"] = " ".join(words)
        with storage.session() as session:
            saved = save_item(session, _news_item(record))
            item = session.get(Item, saved.id)
            started = time.perf_counter()
            decision = classifier.classify(session, item)["t"]
            took = time.perf_counter() - started
            judging += took
            judged += 1
            layers.setdefault(decision.layer, []).append(took)
    elapsed = time.perf_counter() - start
    print(f"{judged} items, {args.stored} stored items in the window:")
    print(f"  judging (all layers + near-copy index write): {judged / judging:.0f} items/s "
          f"({judging / judged * 1000:.1f} ms/item)")
    print(f"  store + judge + commit, one transaction per item: {judged / elapsed:.0f} "
          f"items/s")
    for layer, times in sorted(layers.items()):
        print(f"  decided by {layer}: {len(times)} items, "
              f"{sum(times) / len(times) * 1000:.1f} ms/item")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of the judging process: {peak:.0f} MB (filling the database "
          f"included); after judging: {psutil.Process().memory_info().rss / 2**20:.0f} MB")
    storage.dispose()


if __name__ == "__main__":
    main()
