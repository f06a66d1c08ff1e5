"""Near-copy index: lookup time and bytes per item at 10k, 100k and 1M stored signatures.

Filler items get random band keys (what distinct articles look like to the index); the
probe is a real article indexed among them. Prints one line per size.

    python benchmarks/near_copies.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
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
from storywatch.normalise.dates import utc_now
from storywatch.storage import open_storage
from storywatch.storage.models import Item

SEED = Path(__file__).resolve().parent.parent / "tests" / "data" / "eval" / "seeds" / "seed-a.txt"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
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
