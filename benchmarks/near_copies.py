"""Near copies: recall per script on the same light edits, then the index at scale.

Recall: each base text (English: the eval corpus; Chinese, Japanese, Thai, Korean: the
texts written for tests/data/cjk/) is edited the same ways (a byline added; one
sentence replaced, for every sentence in turn; one sentence dropped; both a byline and a
replaced sentence; cut to its first 60 %; copy-edited: the middle word of every third,
every second or every sentence cut), and each edit is checked as the classifier
checks a stored item: found by the band index (>= MIN_BAND_HITS shared bands) *and*
verified on the shingle sets. "before" is the same with the tokens used before
segmentation (one token per run of letters between spaces). Distinct articles of the
same script must not match ("false").

Index: filler items get random band keys (what distinct articles look like to the
index); the probe is a real article indexed among them. Prints one line per size.

    python benchmarks/near_copies.py [--sizes 10000,100000,1000000] [--recall-only]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from storywatch.classify import near_copies
from storywatch.classify.text import split_sentences
from storywatch.normalise.dates import utc_now
from storywatch.normalise.segment import TOKEN
from storywatch.normalise.segment import words as segment_words
from storywatch.storage import open_storage
from storywatch.storage.models import Item

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SEED = DATA / "eval" / "seeds" / "seed-a.txt"
CJK = DATA / "cjk"
BASES = {
    "en": [SEED.read_text(encoding="utf-8"),
           *[row["text"] for row in map(json.loads, (DATA / "eval" / "followups.jsonl")
                                        .read_text(encoding="utf-8").splitlines())
             if row["language"] == "en"][:3]],
    "zh": ["zh-seed-a", "zh-seed-b", "zh-rewrite", "zh-followup"],
    "ja": ["ja-article"],
    "th": ["th-article"],
    "ko": ["ko-article"],
}
# The same edits in each script: a byline, and a sentence of another article.
BYLINES = {"en": "By Anna Petrova, staff correspondent", "zh": "本报记者 王丽华 新加坡报道",
           "ja": "社会部 山本美咲", "th": "ผู้สื่อข่าว สมชาย ใจดี รายงาน", "ko": "김지훈 기자"}
REPLACEMENTS = {
    "en": "Officials declined to say when the next group would arrive, citing the safety of "
          "the men and their families.",
    "zh": "当局没有透露具体细节，只表示相关部门会在下个月向国会提交一份详细的报告。",
    "ja": "関係者によると、具体的な日程はまだ決まっておらず、"
          "来月にも改めて説明会を開く予定だという。",
    "th": "เจ้าหน้าที่ยังไม่เปิดเผยรายละเอียดเพิ่มเติมแต่ระบุว่าจะชี้แจงต่อสาธารณชนอีกครั้งในเดือนหน้า",
    "ko": "관계자는 구체적인 일정은 아직 정해지지 않았으며 다음 달에 다시 설명회를 열 예정이라고 "
          "말했다.",
}


def _base_texts(language: str) -> list[str]:
    out = []
    for entry in BASES[language]:
        if language == "en":
            out.append(entry)
        else:  # first line: the headline
            out.append((CJK / f"{entry}.txt").read_text(encoding="utf-8").split("\n", 1)[1])
    return out


def _edits(text: str, language: str) -> dict[str, list[str]]:
    sentences = [s for s in split_sentences(text) if s in text]
    byline = BYLINES[language]
    replacement = REPLACEMENTS[language]
    return {
        "byline": [f"{byline}\n{text}"],
        "1 sentence replaced": [text.replace(s, replacement, 1) for s in sentences],
        "1 sentence dropped": [text.replace(s, "", 1) for s in sentences],
        "byline + replaced": [f"{byline}\n{text.replace(s, replacement, 1)}" for s in sentences],
        "first 60 %": [text[: int(len(text) * 0.6)]],
        "a word cut, 1 in 3 sent.": [_copy_edited(text, sentences, 3, offset)
                                     for offset in range(3)],
        "a word cut, 1 in 2 sent.": [_copy_edited(text, sentences, 2, offset)
                                     for offset in range(2)],
        "a word cut, every sent.": [_copy_edited(text, sentences, 1, 0)],
    }


def _copy_edited(text: str, sentences: list[str], every: int, offset: int) -> str:
    """Copy-editing spread through the text: the middle word of every n-th sentence cut."""
    for sentence in sentences[offset::every]:
        tokens = segment_words(sentence)
        if len(tokens) >= 3:
            middle = tokens[len(tokens) // 2]
            at = sentence.find(middle)
            text = text.replace(sentence, sentence[:at] + sentence[at + len(middle):], 1)
    return text


def _old_shingles(text: str) -> set[str]:
    """Shingles as they were before segmentation: runs of letters between spaces."""
    return near_copies.shingles_of([w.lower() for w in TOKEN.findall(text)])


def _found(new: set[str], old: set[str]) -> bool:
    """Found by the index and verified, as find_stored_copies does."""
    new_keys = near_copies.band_keys(near_copies.signature(new))
    old_keys = near_copies.band_keys(near_copies.signature(old))
    shared = len(set(new_keys) & set(old_keys))
    return shared >= near_copies.MIN_BAND_HITS and near_copies.compare(new, old).is_copy


def recall_table() -> None:
    print(f"{'script':>6} {'edit':>24} {'n':>4} {'recall':>7} {'before':>7}")
    for language in BASES:
        texts = _base_texts(language)
        totals = [0, 0, 0]
        for kind in _edits(texts[0], language):
            n = now = before = 0
            for original in texts:
                base, base_old = near_copies.shingles(original), _old_shingles(original)
                for edited in _edits(original, language)[kind]:
                    n += 1
                    now += _found(near_copies.shingles(edited), base)
                    before += _found(_old_shingles(edited), base_old)
            totals = [totals[0] + n, totals[1] + now, totals[2] + before]
            print(f"{language:>6} {kind:>24} {n:>4} {now / n:>7.2f} {before / n:>7.2f}")
        pairs = [(a, b) for i, a in enumerate(texts) for b in texts[i + 1:]]
        false = sum(_found(near_copies.shingles(a), near_copies.shingles(b)) for a, b in pairs)
        print(f"{language:>6} {'all edits':>24} {totals[0]:>4} {totals[1] / totals[0]:>7.2f} "
              f"{totals[2] / totals[0]:>7.2f}   false matches {false}/{len(pairs)} distinct pairs",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--recall-only", action="store_true")
    args = parser.parse_args()
    recall_table()
    if args.recall_only:
        return
    print()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(1)
    article = SEED.read_text(encoding="utf-8")
    probe = article[: len(article) // 2]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        storage = open_storage(f"sqlite:///{db}")
        with storage.session() as session:
            session.add(Item(id=1, canonical_url="https://x.example/0", url="u", title=None,
                             authors=[], published_at=None, fetched_at=utc_now(),
                             language="en", text=article, source="s", discovered_via="feed",
                             content_hash="h", word_count=1, extractor="x"))
            session.flush()
            near_copies.index_item(session, 1, near_copies.keys_of(article))
        stored = 1
        print(f"{'stored':>10} {'lookup ms (median of 200)':>26} {'index bytes/item':>17}")
        for size in sizes:
            with storage.engine.begin() as conn:
                # Filler rows point at items that do not exist: only the index is measured.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                while stored < size:
                    batch = min(20_000, size - stored)
                    rows = [(rng.getrandbits(63) - (1 << 62), stored + 2 + i)
                            for i in range(batch) for _ in range(near_copies.BANDS)]
                    conn.exec_driver_sql(
                        "INSERT INTO near_copy_bands (band_key, item_id) VALUES (?, ?)", rows)
                    stored += batch
            timings = []
            with storage.session() as session:
                for _ in range(200):
                    start = time.perf_counter()
                    found = near_copies.candidates(session, near_copies.keys_of(probe))
                    timings.append((time.perf_counter() - start) * 1000)
                assert found and found[0] == 1
            with storage.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
                pages = conn.execute(text(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name IN "
                    "('near_copy_bands', 'ix_near_copy_bands_item_id')")).scalar()
            per_item = (pages or os.path.getsize(db)) / stored
            print(f"{stored:>10} {statistics.median(timings):>26.2f} {per_item:>17.0f}",
                  flush=True)
        storage.dispose()


if __name__ == "__main__":
    main()
