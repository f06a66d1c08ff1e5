"""Politeness and safety of real crawls: conditional GET, robots.txt, the private-network
guard, Retry-After, backoff, and failures logged per URL."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from storywatch.demo.site import Page
from storywatch.demo.world import load_articles
from tests.conftest import wait_until
from tests.test_discovery import article_paths, crawl, stored, write_config

ARTICLES = load_articles()
ONE = next(a for a in ARTICLES if a.template == "classic")


def rss(*links: str) -> Page:
    items = "".join(
        f"<item><title>Entry {n}</title><link>{link}</link><guid>g{n}</guid></item>"
        for n, link in enumerate(links)
    )
    body = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Test feed</title><link>http://x/</link>{items}</channel></rss>")
    return Page(content_type="application/rss+xml", body=body.encode())


def test_feed_second_run_is_a_304_and_downloads_nothing(world: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, world, [
        {"name": "world", "kind": "feed", "url": world.url("/feeds/world.rss")},
    ])
    crawl(config)
    first = article_paths(world)
    assert first and len(first) == len(set(first))
    world.clear_log()
    crawl(config)
    log = world.requests
    (feed,) = [r for r in log if r.path == "/feeds/world.rss"]
    assert feed.status == 304 and feed.headers.get("if-none-match")
    assert feed.headers.get("if-modified-since")
    assert article_paths(world) == []


def test_changed_feed_is_parsed_again_and_lists_only_new_articles(
    world: Any, tmp_path: Path
) -> None:
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ])
    world.set_override("/feeds/test.rss", rss(world.url(ARTICLES[0].path)).with_validators(
        ARTICLES[0].published))
    crawl(config)
    world.set_override("/feeds/test.rss", rss(
        world.url(ARTICLES[0].path), world.url(ARTICLES[1].path)
    ).with_validators(ARTICLES[1].published))
    world.clear_log()
    crawl(config)
    assert [r.status for r in world.requests if r.path == "/feeds/test.rss"] == [200]
    assert article_paths(world) == [ARTICLES[1].path]


def test_private_addresses_are_refused_before_any_connection(
    world: Any, tmp_path: Path
) -> None:
    port = world.port
    targets = [
        f"http://10.0.0.1:{port}/world/2024/10/private-lan-story.html",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        f"http://127.0.0.2:{port}/world/2024/10/other-loopback-story.html",
        f"http://[::1]:{port}/world/2024/10/ipv6-loopback-story.html",
        f"http://[::ffff:127.0.0.1]:{port}/world/2024/10/mapped-story.html",
        f"http://localhost:{port}/world/2024/10/named-loopback-story.html",
    ]
    world.set_override("/go/elsewhere.html", Page(
        status=302, body=b"", headers={"Location": f"http://127.0.0.2:{port}/redirected.html"}
    ))
    world.set_override("/feeds/test.rss", rss(*targets, world.url("/go/elsewhere.html"),
                                              world.url(ONE.path)))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ])
    out = " ".join(crawl(config).split())  # rich wraps long lines
    for target in targets:
        host = target.split("/")[2].rsplit(":", 1)[0].strip("[]") if "]" in target \
            else target.split("/")[2].split(":")[0]
        assert f"refused: {host}" in out, host
    assert "redirected.html" in out and "refused: 127.0.0.2" in out
    # The only traffic is to the exempt fixture: its own pages, never the refused paths.
    paths = {r.path for r in world.requests}
    assert "/redirected.html" not in paths and not any("story" in p for p in paths)
    assert [r[0] for r in stored(tmp_path)] == [world.url(ONE.path)]


def test_without_an_exemption_the_loopback_fixture_itself_is_refused(
    world: Any, tmp_path: Path
) -> None:
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/world.rss")},
    ])
    text = config.read_text().replace(f'allowed_hosts = ["127.0.0.1:{world.port}"]', "")
    config.write_text(text)
    out = " ".join(crawl(config).split())
    assert "refused: 127.0.0.1 is a non-public address" in out
    assert world.requests == [], "not even robots.txt was asked for"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(world: Any, tmp_path: Path, status: int) -> None:
    real = world.pages[ONE.path]
    world.set_override(ONE.path, Page(status=status, body=b"busy",
                                      content_type="text/plain",
                                      headers={"Retry-After": "1"}))

    def restore_after_first_refusal() -> None:
        # The thread only restores the page; a timeout shows as the crawl's failure.
        with contextlib.suppress(AssertionError):
            wait_until(lambda: any(r.path == ONE.path for r in world.requests),
                       "the first refused request", timeout=30)
            world.set_override(ONE.path, real)

    helper = threading.Thread(target=restore_after_first_refusal, daemon=True)
    helper.start()
    world.set_override("/feeds/test.rss", rss(world.url(ONE.path)))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ])
    crawl(config)
    helper.join(timeout=5)
    tries = [r for r in world.requests if r.path == ONE.path]
    assert [r.status for r in tries] == [status, 200]
    assert tries[1].time - tries[0].time >= 0.95, "the retry waited as asked"
    assert [r[0] for r in stored(tmp_path)] == [world.url(ONE.path)]


def test_retry_after_beyond_the_cap_is_given_up_and_recorded(
    world: Any, tmp_path: Path
) -> None:
    world.set_override(ONE.path, Page(status=429, body=b"slow down", content_type="text/plain",
                                      headers={"Retry-After": "3600"}))
    world.set_override("/feeds/test.rss", rss(world.url(ONE.path)))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ], max_retry_after="30s")
    started = time.monotonic()
    out = " ".join(crawl(config).split())
    assert time.monotonic() - started < 60, "did not wait the hour"
    assert "more than crawl.max_retry_after" in out and "given up" in out
    assert [r.status for r in world.requests if r.path == ONE.path] == [429]
    assert stored(tmp_path) == []


def test_server_errors_are_retried_with_growing_pauses(world: Any, tmp_path: Path) -> None:
    world.set_override(ONE.path, Page(status=500, body=b"oops", content_type="text/plain"))
    world.set_override("/feeds/test.rss", rss(world.url(ONE.path)))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ], retry_times=2, retry_backoff="0.4s")
    out = " ".join(crawl(config).split())
    tries = [r.time for r in world.requests if r.path == ONE.path]
    assert len(tries) == 3
    assert tries[1] - tries[0] >= 0.35 and tries[2] - tries[1] >= 0.75
    assert "HTTP 500" in out


def test_bad_pages_are_logged_per_url_and_skipped(world: Any, tmp_path: Path) -> None:
    world.set_override("/files/report.pdf", Page(content_type="application/pdf",
                                                 body=b"%PDF-1.4 not really a pdf"))
    world.set_override("/img/photo.jpg", Page(content_type="image/jpeg", body=b"\xff\xd8\xff"))
    world.set_override("/world/2024/10/huge-page.html",
                       Page.html("<html><body>" + "<p>word </p>" * 5000 + "</body></html>"))
    world.set_override("/loop/a.html", Page(status=301, headers={"Location": "/loop/b.html"}))
    world.set_override("/loop/b.html", Page(status=301, headers={"Location": "/loop/a.html"}))
    world.set_override("/world/2024/10/gone.html", Page.html("<p>gone</p>", status=410))
    links = ["/files/report.pdf", "/img/photo.jpg", "/world/2024/10/huge-page.html",
             "/loop/a.html", "/world/2024/10/gone.html", ONE.path]
    world.set_override("/feeds/test.rss", rss(*(world.url(link) for link in links)))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ], max_page_bytes=20000)
    out = " ".join(crawl(config).split())
    assert "report.pdf: not an HTML page (application/pdf)" in out
    assert "photo.jpg: not an HTML page (image/jpeg)" in out
    assert "huge-page.html: DownloadCancelledError" in out and "max size (20000)" in out
    assert "redirect loop" in out
    assert "gone.html: HTTP 410" in out
    assert [r[0] for r in stored(tmp_path)] == [world.url(ONE.path)]


REBINDING_SCRIPT = """
import json, sys
from storywatch.config import load_config
from storywatch.spiders import settings
from storywatch.logs import setup_logging
from storywatch.spiders.run import run_crawl

setup_logging("WARNING")

# As if DNS answered the request-time check with a public address: that check is off.
middlewares = dict(settings.DOWNLOADER_MIDDLEWARES)
middlewares["storywatch.spiders.politeness.PrivateNetworkMiddleware"] = None
summary = run_crawl(load_config(sys.argv[1]),
                    settings_overrides={"DOWNLOADER_MIDDLEWARES": middlewares})
print(json.dumps(summary.sources[0].failures))
"""


def test_the_lookup_a_connection_uses_is_checked_too(world: Any, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    rebound = f"http://localhost:{world.port}/world/2024/10/rebound-story.html"
    world.set_override("/feeds/test.rss", rss(rebound, world.url(ONE.path)))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ])
    done = subprocess.run([sys.executable, "-c", REBINDING_SCRIPT, str(config)],
                          capture_output=True, text=True, timeout=240, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    failures = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "DNS lookup failed" in failures[rebound]  # Twisted's words for a refused lookup
    assert "localhost resolved to the non-public address 127.0.0.1; refused" in done.stderr
    assert not any("rebound" in r.path for r in world.requests)
    assert [r[0] for r in stored(tmp_path)] == [world.url(ONE.path)]


def test_a_transient_article_failure_keeps_the_feed_from_a_304(
    world: Any, tmp_path: Path
) -> None:
    real = world.pages[ONE.path]
    feed = rss(world.url(ONE.path)).with_validators(ONE.published)
    world.set_override("/feeds/test.rss", feed)
    world.set_override(ONE.path, Page(status=502, body=b"bad gateway", content_type="text/plain"))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ], retry_times=0)
    crawl(config)
    assert stored(tmp_path) == []

    # The server recovers. The feed did not change, but its validators were not kept:
    # the feed is read again and the article fetched, instead of a 304 hiding it.
    world.set_override(ONE.path, real)
    world.clear_log()
    crawl(config)
    (request,) = [r for r in world.requests if r.path == "/feeds/test.rss"]
    assert request.status == 200 and "if-none-match" not in request.headers
    assert [r[0] for r in stored(tmp_path)] == [world.url(ONE.path)]

    world.clear_log()
    crawl(config)
    assert [r.status for r in world.requests if r.path == "/feeds/test.rss"] == [304]


def test_a_meta_refresh_is_followed_and_a_page_without_one_is_not_decoded_for_it(
        world: Any, tmp_path: Path) -> None:
    """storywatch's MetaRefreshMiddleware (in Scrapy's place) still follows a refresh: a
    feed entry whose page sends the reader on stores the page it sends them to. And it
    no longer decodes a page holding no refresh to look for one (Scrapy's decodes every
    page): the crawl hands the worker the page undecoded."""
    from scrapy.http import HtmlResponse, Request
    from scrapy.utils.test import get_crawler

    from storywatch.spiders.middlewares import MetaRefreshMiddleware

    world.set_override("/moved/story.html", Page.html(
        '<html><head><meta http-equiv="Refresh" content="0; url=' + ONE.path + '">'
        "</head><body><p>This story has moved.</p></body></html>"))
    world.set_override("/feeds/test.rss", rss(world.url("/moved/story.html")))
    config = write_config(tmp_path, world, [
        {"name": "t", "kind": "feed", "url": world.url("/feeds/test.rss")},
    ])
    crawl(config)
    assert [r[0] for r in stored(tmp_path)] == [world.url(ONE.path)]

    class Undecoded(HtmlResponse):
        """A page whose text must not be asked for."""

        @property
        def text(self) -> str:
            raise AssertionError("the page was decoded")

    middleware = MetaRefreshMiddleware.from_crawler(get_crawler())
    request = Request("https://n.test/a.html")
    plain = Undecoded(request.url, request=request,
                      body="<html><p>Déjà vu: nothing sends the reader on</p>".encode())
    assert middleware.process_response(request, plain) is plain
    for charset in ("utf-8", "utf-16", "windows-1251"):
        moved = HtmlResponse(request.url, request=request, headers={
            "Content-Type": f"text/html; charset={charset}"},
            body='<meta http-equiv="refresh" content="0;url=/b.html">'.encode(charset))
        redirected = middleware.process_response(request, moved)
        assert isinstance(redirected, Request) and redirected.url == "https://n.test/b.html"
