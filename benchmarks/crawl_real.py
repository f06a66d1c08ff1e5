"""Crawl throughput on real pages, with a topic: `storywatch crawl` against trafilatura alone.

The real pages of trafilatura's evaluation corpus (see realpages.py; read from a path given
here, never committed) are served from 127.0.0.1, cycled under unique URLs up to
--articles, behind one RSS feed. The pages' own rel=canonical / og:url are neutralised
(one attribute renamed) so each URL is a distinct article. One topic is configured (its
seed is one of the pages), so every article is extracted, normalised, stored and judged.

In the same run it measures trafilatura.extract alone on the same pages in one process,
and prints the ratio first; then the crawl's peak memory (the whole process tree, sampled,
and the largest single process) and where the time goes (CPU per article of each stage,
measured in-process, and the crawl's own CPU use).

    python benchmarks/crawl_real.py PATH-TO-TRAFILATURA-CHECKOUT [--articles 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.crawl_throughput import serve, write_config
from benchmarks.newsgen import rss_feed
from benchmarks.realpages import DEFAULT_CORPUS, load_pages

_CANONICAL = re.compile(rb"""(rel\s*=\s*["']?canonical|property\s*=\s*["']og:url)""", re.I)


class TreeMemory:
    """Peak summed RSS of a process and its descendants, sampled every 0.1 s, and each
    process's own peak (named by its role: the crawl, or a worker).

    Also the peak summed PSS (proportional set size): pages that processes share (what
    a forked extraction worker inherited from the forkserver) count once, split among
    them, where the RSS sum counts them in every process. It is what the tree costs the
    machine."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self.peak_pss = 0
        self.peaks: dict[int, int] = {}
        # Each process's PSS and USS (its private pages) in the sample of the tree's peak
        # PSS: what each would give back if it ended, and what it costs as a share.
        self.at_peak: dict[int, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                total = total_pss = 0
                sample: dict[int, tuple[int, int]] = {}
                for proc in procs:
                    with contextlib.suppress(psutil.Error):  # it ended meanwhile
                        info = proc.memory_full_info()
                        total += info.rss
                        total_pss += info.pss
                        sample[proc.pid] = (info.pss, info.uss)
                        self.peaks[proc.pid] = max(self.peaks.get(proc.pid, 0), info.rss)
                self.peak = max(self.peak, total)
                if total_pss > self.peak_pss:
                    self.peak_pss, self.at_peak = total_pss, sample
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def stage_breakdown(bodies: list[tuple[str, bytes]], config_path: Path, limit: int) -> None:
    """CPU per article of each stage, in this process, on the first `limit` pages."""
    from w3lib.encoding import html_to_unicode

    from storywatch.classify.service import Classifier
    from storywatch.config import load_config
    from storywatch.extraction import extract_article
    from storywatch.extraction.article import parse_page
    from storywatch.extraction.metadata import read_metadata
    from storywatch.normalise.item import normalise_article
    from storywatch.storage import open_storage
    from storywatch.storage.models import Item
    from storywatch.storage.repository import save_item

    sample = bodies[:limit]
    htmls = [(url, html_to_unicode(None, body)[1]) for url, body in sample]
    n = len(htmls)
    timings: list[tuple[str, float]] = []

    def timed(label: str, work: object) -> object:
        started = time.process_time()
        result = work()  # type: ignore[operator]
        timings.append((label, (time.process_time() - started) * 1000 / n))
        return result

    timed("decode (bytes -> str)", lambda: [html_to_unicode(None, b) for _, b in sample])
    trees = timed("parse (lxml, once)", lambda: [parse_page(h) for _, h in htmls])
    timed("metadata (same tree)", lambda: [read_metadata(t, u) for (u, _), t in
                                             zip(htmls, trees, strict=True) if t is not None])
    timed("trafilatura.extract alone", lambda: [trafilatura.extract(
        h, url=u, include_comments=False, deduplicate=False) for u, h in htmls])
    # As the crawl calls it: the feed dates every entry, names no author.
    articles = timed("extract_article (all of it)",
                     lambda: [extract_article(h, u, listing_date=True) for u, h in htmls])
    items = timed("normalise (incl. language)", lambda: [normalise_article(
        a, url=u + "?bench", source="bench-feed", discovered_via="feed")
        for (u, _), a in zip(htmls, articles, strict=True)])  # type: ignore[call-overload]
    items = [i for i in items if i.word_count >= 15]  # type: ignore[attr-defined]
    config = load_config(config_path)
    storage = open_storage(f"sqlite:///{config_path.parent / 'stages.db'}")
    classifier = Classifier(config)

    def store() -> list[int]:
        with storage.session() as session:
            return [save_item(session, item).id for item in items]  # type: ignore[arg-type]

    ids = timed("store (one transaction)", store)

    failures: list[str] = []

    def judge() -> None:
        with storage.session() as session:
            for item_id in ids:  # type: ignore[attr-defined]
                item = session.get(Item, item_id)
                try:
                    with session.begin_nested():
                        classifier.classify(session, item, config.topics)  # type: ignore[arg-type]
                except Exception as exc:  # as the crawl does: counted, the rest goes on
                    failures.append(type(exc).__name__)

    with storage.session() as session:  # seeds loaded and analysed once, not per item
        classifier.topic_classifier(session, config.topics[0])
    timed("judge 1 topic + near-copy index", judge)
    storage.dispose()
    print(f"\nwhere the time goes, CPU ms per article in one process ({n} pages):")
    for label, ms in timings:
        print(f"  {label:34s} {ms:7.2f}")
    if failures:
        print(f"  (judging raised on {len(failures)} items: {sorted(set(failures))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="?", default=DEFAULT_CORPUS)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--extract-workers", type=int, default=None,
                        help="crawl.extract_workers (default: the crawl's own default)")
    parser.add_argument("--stages", type=int, default=200,
                        help="pages for the per-stage breakdown (0: skip it)")
    args = parser.parse_args()

    real = load_pages(args.corpus)
    pages: dict[str, bytes] = {}
    server = serve(pages, charset=None)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    bodies: list[tuple[str, bytes]] = []
    entries = []
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(args.articles):
        page = real[n % len(real)]
        path = f"/a/{n}.html"
        body = _CANONICAL.sub(lambda m: b"data-x-" + m.group(0).replace(b"=", b"-"), page.body)
        pages[path] = body
        bodies.append((base + path, body))
        entries.append((path, f"Article {n}", start + timedelta(minutes=n)))
    pages["/feed.rss"] = rss_feed(base, entries).encode()
    pages["/robots.txt"] = b"User-agent: *\nAllow: /\n"

    workdir = Path(tempfile.mkdtemp(prefix="sw-bench-real-"))
    seed = workdir / "seed.html"
    seed.write_bytes(real[0].body)
    config = write_config(workdir, base, seed, args.extract_workers)

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    log = workdir / "crawl.log"
    with log.open("w") as log_file:
        child = subprocess.Popen([sys.executable, "-m", "storywatch", "--config", str(config),
                                  "--log-level", "INFO", "crawl"], stdout=subprocess.PIPE,
                                 stderr=log_file, text=True, env=env)
        memory = TreeMemory(child.pid)
        stdout, _ = child.communicate()
    stderr = log.read_text(encoding="utf-8", errors="replace")
    crawl_seconds = time.perf_counter() - started
    tree_peak = memory.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0:
        sys.exit(f"crawl failed: {stderr[-3000:]}")
    summary = next((line for line in stdout.splitlines() if " new, " in line), "")
    stored = int(m.group(1)) if (m := re.search(r"(\d+) new", summary)) else 0

    started = time.perf_counter()
    for url, body in bodies:
        trafilatura.extract(body, url=url, include_comments=False, deduplicate=False)
    trafilatura_seconds = time.perf_counter() - started

    n = args.articles
    crawl_rate, traf_rate = n / crawl_seconds, n / trafilatura_seconds
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"{n} real-page articles ({len(real)} distinct pages), one topic, "
          f"{os.cpu_count()} cores")
    print(f"crawl with a topic / trafilatura alone (same run): "
          f"{crawl_rate / traf_rate:.2f}  (goal >= 0.8, stretch 1.5)")
    print(f"storywatch crawl end to end : {crawl_seconds:7.1f} s  {crawl_rate:6.1f} articles/s "
          f"({stored} stored)")
    print(f"trafilatura.extract alone   : {trafilatura_seconds:7.1f} s  {traf_rate:6.1f} pages/s")
    others = sorted((peak for pid, peak in memory.peaks.items() if pid != child.pid),
                    reverse=True)
    print(f"crawl peak memory of the process tree (sampled): PSS {memory.peak_pss / 2**20:.0f}"
          f" MB (shared pages counted once), RSS sum {tree_peak / 2**20:.0f} MB")
    print(f"crawl peak RSS: {tree_peak / 2**20:.0f} MB for the process tree (sampled); "
          f"crawl process {memory.peaks.get(child.pid, 0) / 2**20:.0f} MB, its helpers "
          f"(forkserver, extraction workers) {[round(p / 2**20) for p in others]} MB")
    roles = {pid: ("crawl" if pid == child.pid else f"pid {pid}") for pid in memory.at_peak}
    print("at the peak PSS, each process's PSS / USS (private) MB: " + ", ".join(
        f"{roles[pid]} {pss / 2**20:.0f} / {uss / 2**20:.0f}"
        for pid, (pss, uss) in sorted(memory.at_peak.items(), key=lambda kv: -kv[1][0])))
    print(f"crawl CPU: {cpu:.1f} s over {crawl_seconds:.1f} s wall "
          f"({cpu / crawl_seconds:.2f} cores busy), {1000 * cpu / n:.1f} ms per article")
    print(f"crawl summary: {summary.strip()} (log: {log})")
    for line in stderr.splitlines():
        if "time: extracting" in line:
            print("crawl's own account:", line.split("time: ", 1)[1])
    if args.stages:
        stage_breakdown(bodies, config, min(args.stages, n))
    server.shutdown()


if __name__ == "__main__":
    main()
