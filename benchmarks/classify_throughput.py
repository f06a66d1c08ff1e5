"""Classification throughput: items judged per second against one topic with N stored items.

The database is filled with N stored items (synthetic news-like texts, their near-copy
bands and judgements), then articles are judged as the crawl's writer judges them: in
batches of up to 50 (`--batch`), each stored, made ready together (the embeddings of the
batch in one forward pass, Classifier.prepare) and judged item by item in one transaction,
through the same code the crawl uses (the learned decision over multilingual embeddings:
the default install); `--batch 1` judges one item a transaction, as before 2026-12-01.
Peak RSS of the process is printed at the end.

What is judged:
- default: the self-written demo-story corpus (tests/data/eval), every article near the
  story (rewrites, follow-ups, near-topic distractors): the dearest case;
- `--real STORY`: real pages (benchmarks/corpus, rebuilt locally): the topic is STORY's
  seeds, and the stream is every article of all five stories, so that about four in five
  are other news, as in a crawl of general feeds (an honest stream would hold even more).

With --cjk-share F, that share of the stored items and of the judged items is Chinese,
Japanese, Thai or Korean (built from the texts of tests/data/cjk/: stored fillers from
their segmented words, judged items the texts themselves with every 4th word replaced).

    python benchmarks/classify_throughput.py [--stored 100000] [--judge 500] [--real STORY]
                                             [--cjk-share 0.1] [--batch 50]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
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
from storywatch.normalise.segment import words as segment_words
from storywatch.storage import open_storage
from storywatch.storage.models import Item
from storywatch.storage.repository import save_item

EVAL = Path(__file__).resolve().parent.parent / "tests" / "data" / "eval"
CJK = EVAL.parent / "cjk"
_JOINER = {"zh": "", "ja": "", "th": "", "ko": " "}  # Korean is spaced between phrases


def _cjk_records() -> list[dict[str, str]]:
    """The CJK texts as judged records (headline, body, language from the file name)."""
    out = []
    for path in sorted(CJK.glob("*.txt")):
        title, _, body = path.read_text(encoding="utf-8").strip().partition("\n")
        out.append({"id": path.stem, "title": title, "text": body,
                    "language": path.stem.split("-")[0]})
    return out


def _cjk_words(text: str, language: str, rng: random.Random, vocabulary: list[str]) -> str:
    """Every 4th segmented word replaced, joined as the script writes (no near copy)."""
    tokens = segment_words(text)
    for k in range(rng.randrange(4), len(tokens), 4):
        tokens[k] = rng.choice(vocabulary)
    return _JOINER[language].join(tokens)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--judge", type=int, default=500)
    parser.add_argument("--real", metavar="STORY",
                        help="judge real pages against this corpus story's seeds")
    parser.add_argument("--cjk-share", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=50,
                        help="items stored and judged per transaction, as the crawl's "
                             "writer's batches (at most 50 items or 1 s); 1: one by one")
    parser.add_argument("--profile", metavar="FILE",
                        help="write a cProfile of the timed judging loop to FILE")
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


def _fill(path: Path, stored: int, cjk_every: int, vocabulary: list[str],
          cjk_vocabulary: dict[str, list[str]]) -> None:
    """The stored items: random news-like texts, their near-copy bands, no judgement."""
    rng = random.Random(5)
    storage = open_storage(f"sqlite:///{path}")
    with storage.engine.begin() as conn:
        now = utc_now().replace(tzinfo=None)
        for base in range(0, stored, 10_000):
            items, bands = [], []
            for i in range(base, min(base + 10_000, stored)):
                language = "en"
                if cjk_every and i % cjk_every == 0:
                    language = list(_JOINER)[(i // cjk_every) % len(_JOINER)]
                    text = _JOINER[language].join(rng.choices(cjk_vocabulary[language], k=400))
                else:
                    text = " ".join(rng.choices(vocabulary, k=250))
                items.append((i + 1, f"https://filler.example/{i}", "u", now, text,
                              "filler", "feed", f"h{i}", 250, "x", "[]", language))
                bands += [(k, i + 1) for k in dict.fromkeys(
                    near_copies.band_keys(near_copies.signature(near_copies.shingles(text))))]
            conn.exec_driver_sql(
                "INSERT INTO items (id, canonical_url, url, fetched_at, text, source, "
                "discovered_via, content_hash, word_count, extractor, authors, language) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", items)
            conn.exec_driver_sql(
                "INSERT INTO near_copy_bands (band_key, item_id) VALUES (?, ?)", bands)
    storage.dispose()


def _run(args: argparse.Namespace, records: list[dict], vocabulary: list[str],
         rng: random.Random, config: Config, tmp: Path) -> None:
    cjk = _cjk_records()
    cjk_vocabulary = {language: sorted({w for r in cjk if r["language"] == language
                                        for w in segment_words(r["text"])})
                      for language in _JOINER}
    cjk_every = round(1 / args.cjk_share) if args.cjk_share > 0 else 0
    # Filled in a child process, so that the judge's memory below is the judge's alone.
    start = time.perf_counter()
    filler = multiprocessing.get_context("fork").Process(
        target=_fill, args=(tmp / "bench.db", args.stored, cjk_every, vocabulary,
                            cjk_vocabulary))
    filler.start()
    filler.join()
    if filler.exitcode != 0:
        raise SystemExit(f"filling the database failed (exit code {filler.exitcode})")
    storage = open_storage(f"sqlite:///{tmp / 'bench.db'}")
    print(f"filled {args.stored} stored items in {time.perf_counter() - start:.0f} s")
    classifier = Classifier(config)
    with storage.session() as session:  # seeds, profile, model: once per crawl
        classifier.topic_classifier(session, config.topics[0])
    # Warm-up, not timed: the lemma dictionaries and word frequencies of each language
    # load on first use (a few seconds per language, once per process).
    warmup = records + (cjk if cjk_every else [])
    for n in range(len(warmup)):
        record = dict(warmup[n])
        record["url"] = f"https://warmup.example/{n}"
        record["text"] = record["text"] + "\nWarm-up copy."
        with storage.session() as session:
            saved = save_item(session, _news_item(record))
            classifier.classify(session, session.get(Item, saved.id))
    ready_rss = psutil.Process().memory_info().rss / 2**20
    judged = judged_cjk = 0
    judging = 0.0
    layers: dict[str, list[float]] = {}
    cjk_layers: dict[str, list[float]] = {}  # the same, for the CJK items alone
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    preparing = 0.0
    topics = list(config.topics)
    for first in range(0, args.judge, args.batch):
        batch = []
        for n in range(first, min(first + args.batch, args.judge)):
            if cjk_every and n % cjk_every == 0:
                record = dict(cjk[(n // cjk_every) % len(cjk)])
                record["text"] = _cjk_words(record["text"], record["language"], rng,
                                            cjk_vocabulary[record["language"]])
                judged_cjk += 1
            else:
                record = dict(records[n % len(records)])
                # Every 4th word replaced: the item is no near copy of an earlier one
                # (5-shingle Jaccard ~0.2), so it goes through every layer, as most crawled
                # items do. Real pages take the words from their own text, so that what
                # they are about (their bag of words) does not change.
                words = record["text"].split(" ")
                pool = words[:] if args.real else vocabulary
                for k in range(n % 4, len(words), 4):
                    words[k] = rng.choice(pool)
                record["text"] = " ".join(words)
            record["url"] = f"https://bench.example/{n}"
            batch.append(record)
        # As the crawl's writer does (storywatch.spiders.writer): a batch stored, made
        # ready for judging together (its embeddings in one forward pass), then judged
        # item by item, in one transaction.
        with storage.session() as session:
            items = [session.get(Item, save_item(session, _news_item(r)).id) for r in batch]
            started = time.perf_counter()
            prepared = classifier.prepare(session, [(item, topics) for item in items])
            took = time.perf_counter() - started
            preparing += took
            judging += took
            for record, item in zip(batch, items, strict=True):
                started = time.perf_counter()
                decision = classifier.classify(session, item, topics,
                                               features=prepared[item.id])["t"]
                took = time.perf_counter() - started
                judging += took
                judged += 1
                layers.setdefault(decision.layer, []).append(took)
                if record["language"] in _JOINER:
                    cjk_layers.setdefault(decision.layer, []).append(took)
    elapsed = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    print(f"{judged} items ({judged_cjk} in CJK), {args.stored} stored items "
          f"({args.cjk_share:.0%} CJK) in the window:")
    print(f"  judging (all layers + near-copy index write): {judged / judging:.0f} items/s "
          f"({judging / judged * 1000:.1f} ms/item)")
    print(f"  store + judge + commit, {args.batch} items a transaction: "
          f"{judged / elapsed:.0f} items/s")
    print(f"  the batches' shared embedding (prepare): {preparing / judged * 1000:.1f} "
          f"ms/item; then, by the layer that decided:")
    for layer, times in sorted(layers.items()):
        print(f"  decided by {layer}: {len(times)} items, "
              f"{sum(times) / len(times) * 1000:.1f} ms/item")
    for layer, times in sorted(cjk_layers.items()):
        print(f"    of which in CJK: {layer} {len(times)} items, "
              f"{sum(times) / len(times) * 1000:.1f} ms/item")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of the judging process: {peak:.0f} MB (the database was filled "
          f"by another process); after the warm-up: {ready_rss:.0f} MB, after judging: "
          f"{psutil.Process().memory_info().rss / 2**20:.0f} MB")
    storage.dispose()


if __name__ == "__main__":
    main()
