"""Digest throughput: render and send N digests of M items to a local SMTP server.

Prints digests/second for rendering alone (Jinja2 + nh3 + css-inline + MIME) and for the
whole `send_due_digests` run (selection, ledger writes, rendering, SMTP), plus peak memory.
The SMTP server (aiosmtpd) runs in a child process so the memory figure is the sender's.

    python benchmarks/digest_throughput.py [--digests 1000] [--items 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storywatch.config import Config
from storywatch.normalise.item import NewsItem
from storywatch.notify import send_due_digests
from storywatch.notify.digest import build_digest
from storywatch.notify.render import build_message, render_digest
from storywatch.notify.subscribers import Schedule, add_subscription
from storywatch.storage import open_storage
from storywatch.storage.repository import save_item, save_judgement

TOPIC = "deserters"


class CountingHandler:
    def __init__(self, counter: Any) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def serve(port: int, counter: Any, ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(CountingHandler(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def fill(database_url: str, digests: int, items: int, now: datetime) -> None:
    storage = open_storage(database_url)
    # Prose of typical length (about 120 words) so leads are cut like real ones.
    body = ("The men reached Paris after months of waiting in Kazakhstan, and their "
            "lawyers expect a first decision before the winter. ") * 6
    with storage.session() as session:
        for n in range(items):
            published = now - timedelta(hours=items - n)
            link = f"https://news.example/bench/{n}.html"
            item_id = save_item(session, NewsItem(
                url=link, canonical_url=link, title=f"Follow-up number {n} on the deserters",
                authors=[], published_at=published, fetched_at=published, language="en",
                text=body, source=f"Outlet {n % 7}", discovered_via="feed",
                content_hash=f"bench-{n}", word_count=len(body.split()), extractor="bench",
            )).id
            # Every fourth item shares a cluster with the previous one ("also reported by").
            save_judgement(session, item_id=item_id, topic=TOPIC, status="followup",
                           decided_at=now - timedelta(minutes=5),
                           cluster_id=f"c{n - 1 if n % 4 == 3 else n}",
                           reasons={"novel_sentences": [f"New fact number {n} emerged."]})
        for n in range(digests):
            add_subscription(session, f"reader{n}@example.org", TOPIC,
                             Schedule.parse("immediate", tz="Europe/Paris"),
                             now - timedelta(minutes=10))
    storage.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sw-digest-bench-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    now = datetime.now(UTC)
    fill(database_url, args.digests, args.items, now)

    port = free_port()
    counter = multiprocessing.Value("i", 0)
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(port, counter, ready, stop))
    server.start()
    if not ready.wait(30):
        raise SystemExit("the SMTP server did not start")

    config = Config.model_validate({
        "storage": {"url": database_url},
        "topics": [{"name": TOPIC, "seeds": ["https://news.example/seed.html"]}],
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none",
                 "sender": "digest@storywatch.example"},
        "digest": {"public_url": "https://watch.example.org"},
    })
    storage = open_storage(database_url)
    rss_before = peak_rss_mib()

    # 1. Rendering alone: one digest of M items rendered and serialised N times.
    with storage.session() as session:
        digest = build_digest(session, topic=TOPIC, email="reader0@example.org",
                              tz="Europe/Paris", since=now - timedelta(days=1),
                              subscriber_id=None, max_items=50, lead_chars=320)
    assert digest is not None
    started = time.perf_counter()
    size = 0
    for n in range(args.digests):
        rendered = render_digest(digest, unsubscribe_url="https://watch.example.org/u?token=x",
                                 schedule="immediate")
        size = len(build_message(rendered, sender="digest@storywatch.example",
                                 to=f"reader{n}@example.org", topic=TOPIC, digest_id=f"{n}",
                                 now=now, unsubscribe_url="https://watch.example.org/u").as_bytes())
    render_seconds = time.perf_counter() - started

    # 2. The whole run through send_due_digests.
    started = time.perf_counter()
    summary = send_due_digests(config, storage, now)
    send_seconds = time.perf_counter() - started
    storage.dispose()
    stop.set()
    server.join(30)

    backend = database_url.split(":", 1)[0]
    print(f"digests: {args.digests} x {args.items} items ({len(digest.entries)} entries), "
          f"message size {size / 1024:.1f} KiB, database {backend}")
    print(f"render only: {args.digests / render_seconds:.0f} digests/s "
          f"({render_seconds * 1000 / args.digests:.2f} ms each)")
    print(f"send_due_digests: {summary.sent} sent, {counter.value} received by the server, "
          f"{summary.sent / send_seconds:.0f} digests/s ({send_seconds:.1f} s)")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB (before the runs: {rss_before:.0f} MiB)")
    if summary.sent != args.digests or counter.value != args.digests:
        raise SystemExit("not every digest arrived")


if __name__ == "__main__":
    main()
