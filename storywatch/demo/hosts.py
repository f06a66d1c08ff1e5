"""Many small news hosts on loopback, each slow to answer: a world for cluster tests.

Each host is a server of its own on 127.0.0.1 (its own port, so its own host for Scrapy's
per-domain politeness and for the cluster's per-host slots) with a feed of its articles
and a few of its neighbour's (the same article listed by two sources, as syndication
does), a robots.txt, and article pages of generated text. Every response waits
`latency` seconds first, so that fetching, not the CPU, limits a crawl. Every request is
logged per host, so a test can count articles fetched twice.

Run by hand: python -m storywatch.demo.hosts --hosts 20 --articles 100 --latency 0.3
"""

from __future__ import annotations

import argparse
import itertools
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

_SUBJECTS = ["The harbour board", "A district court", "The water company", "Two unions",
             "The transport agency", "Hospital managers", "The university", "Farmers",
             "The housing office", "Firefighters", "The museum trust", "Shop owners"]
_VERBS = ["approved", "delayed", "opposed", "announced", "reviewed", "funded", "cancelled",
          "defended", "questioned", "extended"]
_OBJECTS = ["a new ferry timetable", "repairs to the old dam", "a ban on night flights",
            "the tram extension", "a pay offer for nurses", "a flood barrier",
            "cheaper bus passes", "the closure of a school", "a recycling plant",
            "plans for a concert hall", "a rent cap", "the market square redesign"]


def _sentence(rng: random.Random) -> str:
    return (f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} on "
            f"{rng.choice(['Monday', 'Tuesday', 'Friday'])}, affecting "
            f"{rng.randint(2, 90000)} residents of ward {rng.randint(1, 400)}.")


def article_html(host: int, n: int, base_url: str) -> tuple[str, str, datetime]:
    """(title, html, published) of article n of host `host`: deterministic, ~250 words."""
    rng = random.Random(host * 100_003 + n)
    published = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=7 * n + host)
    title = f"Host {host} report {n}: {_sentence(rng)[:-1]}"
    body = "".join(f"<p>{escape(' '.join(_sentence(rng) for _ in range(4)))}</p>"
                   for _ in range(5))
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title>"
            f'<meta property="og:type" content="article">'
            f'<meta property="article:published_time" content="{published.isoformat()}">'
            f'<link rel="canonical" href="{base_url}/news/{n}.html"></head><body>'
            f"<article><h1>{escape(title)}</h1>{body}</article></body></html>")
    return title, page, published


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a crawler killed mid-response resets its connections


class HostsWorld:
    """`hosts` servers of `articles` articles each; host i's feed also lists the first
    `shared` articles of host i+1 (so those are listed by two sources)."""

    def __init__(self, hosts: int = 20, articles: int = 100, *, latency: float = 0.3,
                 shared: int = 2) -> None:
        self.hosts = hosts
        self.articles = articles
        self.latency = latency
        self.shared = shared
        self._servers: list[_Server] = []
        self._lock = threading.Lock()
        self._log: Counter[str] = Counter()
        self._in_flight: Counter[int] = Counter()
        self._most_in_flight: Counter[int] = Counter()
        self._arrivals: dict[int, list[float]] = {}

    def __enter__(self) -> HostsWorld:
        for host in range(self.hosts):
            server = _Server(("127.0.0.1", 0), self._handler(host))
            self._servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True,
                             name=f"hosts-world-{host}").start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def base_url(self, host: int) -> str:
        return f"http://127.0.0.1:{self._servers[host].server_address[1]}"

    def feed_url(self, host: int) -> str:
        return self.base_url(host) + "/feed.rss"

    def netlocs(self) -> list[str]:
        return [self.base_url(h).removeprefix("http://") for h in range(self.hosts)]

    def article_urls(self) -> set[str]:
        return {f"{self.base_url(h)}/news/{n}.html" for h in range(self.hosts)
                for n in range(self.articles)}

    # -- the request log ------------------------------------------------------------------

    def fetches(self) -> Counter[str]:
        """Article URL -> times it was fetched."""
        with self._lock:
            return Counter({url: n for url, n in self._log.items() if "/news/" in url})

    def most_in_flight(self, host: int) -> int:
        """The most requests the host was answering at one moment."""
        with self._lock:
            return self._most_in_flight[host]

    def least_gap(self, host: int) -> float | None:
        """The shortest time between two requests' arrivals at the host (seconds)."""
        with self._lock:
            times = sorted(self._arrivals.get(host, []))
        gaps = [b - a for a, b in itertools.pairwise(times)]
        return min(gaps) if gaps else None

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def _feed(self, host: int) -> bytes:
        entries = [(host, n) for n in range(self.articles)]
        if self.hosts > 1:
            entries += [((host + 1) % self.hosts, n) for n in range(self.shared)]
        items = []
        for h, n in entries:
            base = self.base_url(h)
            title, _, published = article_html(h, n, base)
            items.append(f"<item><title>{escape(title)}</title><link>{base}/news/{n}.html</link>"
                         f"<pubDate>{published.strftime('%a, %d %b %Y %H:%M:%S +0000')}"
                         "</pubDate></item>")
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Host {host}</title><link>{self.base_url(host)}/</link>"
                f"{''.join(items)}</channel></rss>").encode()

    def _handler(self, host: int) -> type[BaseHTTPRequestHandler]:
        world = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with world._lock:
                    world._arrivals.setdefault(host, []).append(time.monotonic())
                    world._log[world.base_url(host) + path] += 1
                    world._in_flight[host] += 1
                    world._most_in_flight[host] = max(world._most_in_flight[host],
                                                      world._in_flight[host])
                try:
                    time.sleep(world.latency)  # the simulated network, not a synchronisation
                    self._answer(path)
                finally:
                    with world._lock:
                        world._in_flight[host] -= 1

            def _answer(self, path: str) -> None:
                status, kind, body = 404, "text/plain", b"not found"
                if path == "/feed.rss":
                    status, kind, body = 200, "application/rss+xml", world._feed(host)
                elif path == "/robots.txt":
                    status, kind, body = 200, "text/plain", b"User-agent: *\nAllow: /\n"
                elif path.startswith("/news/") and path.endswith(".html"):
                    stem = path.removeprefix("/news/").removesuffix(".html")
                    if stem.isdigit() and int(stem) < world.articles:
                        _, page, _ = article_html(host, int(stem), world.base_url(host))
                        status, kind, body = 200, "text/html; charset=utf-8", page.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args()
    with HostsWorld(args.hosts, args.articles, latency=args.latency) as world:
        for host in range(world.hosts):
            print(world.feed_url(host), flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
