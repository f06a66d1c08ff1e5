"""Start-up: wall time of `storywatch --help`, `items`, `status` and `explain` on a database
of N stored items (default 10,000), as a user runs them (a fresh process each time).

    python benchmarks/startup.py [--items 10000] [--runs 7]

Prints the median and the fastest of the runs; goals: --help <= 0.4 s, items <= 0.8 s.
`items` prints every stored item (as a table, like a user would see it, to /dev/null).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def fill(database_url: str, n: int) -> str:
    """N judged items in one transaction; returns the URL of one of them."""
    from storywatch.normalise.dates import utc_now
    from storywatch.normalise.item import NewsItem
    from storywatch.normalise.text import content_hash
    from storywatch.storage import open_storage
    from storywatch.storage.repository import save_item, save_judgement

    storage = open_storage(database_url)
    now = utc_now()
    with storage.session() as session:
        for i in range(n):
            text = f"Article {i}: the council met again about the harbour budget. " * 20
            url = f"https://news.example/{i}.html"
            saved = save_item(session, NewsItem(
                url=url, canonical_url=url, title=f"Article {i}", authors=["A. Writer"],
                published_at=now, fetched_at=now, language="en", text=text, source="bench",
                discovered_via="feed", content_hash=content_hash(text),
                word_count=len(text.split()), extractor="trafilatura"))
            save_judgement(session, item_id=saved.id, topic="bench", status="offtopic",
                           decided_at=now, relevance=0.1, reasons={"layer": "relevance"})
    storage.dispose()
    return "https://news.example/7.html"


def timed(command: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=env, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            sys.exit(f"{command}: exit {done.returncode}: {done.stderr[-1000:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sw-startup-"))
    database_url = f"sqlite:///{workdir / 'sw.db'}"
    url = fill(database_url, args.items)
    config = workdir / "storywatch.toml"
    config.write_text(f'[storage]\nurl = "{database_url}"\n'
                      f'[[topics]]\nname = "bench"\nseeds = ["{workdir / "seed.txt"}"]\n',
                      encoding="utf-8")
    (workdir / "seed.txt").write_text("Seed\n\n" + "harbour budget council " * 30)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
           "COLUMNS": "120"}
    exe = [sys.executable, "-m", "storywatch"]
    commands = {
        "storywatch --help": [*exe, "--help"],
        f"storywatch items ({args.items} items)": [*exe, "--config", str(config), "items"],
        "storywatch status": [*exe, "--config", str(config), "status"],
        "storywatch explain URL": [*exe, "--config", str(config), "explain", url],
    }
    timed(commands["storywatch --help"], 1, env)  # warm the file cache and .pyc files
    print(f"start-up, {args.runs} runs each, a database of {args.items} items "
          f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
    for label, command in commands.items():
        times = timed(command, args.runs, env)
        print(f"  {label:34s} median {statistics.median(times):5.2f} s, "
              f"fastest {min(times):5.2f} s")


if __name__ == "__main__":
    main()
