"""A local HTTP server for the demo news site, for ``storywatch demo`` and the tests.

Real Scrapy crawls need a real HTTP endpoint; this serves the pages of
:func:`storywatch.demo.site.build_site` on 127.0.0.1, answers conditional requests with
304, logs every request so tests can assert what a crawler fetched (and did not), and lets
tests change or delete pages while it runs.

Run it by hand with ``python -m storywatch.demo.server [--port N]``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

from storywatch.demo.site import Page, build_site, not_found_page


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it; header names are lower-cased for easy lookup."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    time: float  # seconds since the epoch


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True

    def weak(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    return weak(etag) in {weak(tag) for tag in if_none_match.split(",")}


def _not_modified(page: Page, request_headers: dict[str, str]) -> bool:
    """Decide a conditional GET as RFC 9110 says: If-None-Match wins over If-Modified-Since."""
    if page.status != 200:
        return False
    etag = page.headers.get("ETag")
    last_modified = page.headers.get("Last-Modified")
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        return etag is not None and _etag_matches(if_none_match, etag)
    if_modified_since = request_headers.get("if-modified-since")
    if if_modified_since and last_modified:
        try:
            since = parsedate_to_datetime(if_modified_since)
            modified = parsedate_to_datetime(last_modified)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None or modified.tzinfo is None:
            return False
        return modified <= since
    return False


class FixtureServer:
    """The demo news site on a loopback port, in a daemon thread.

    Use as a context manager::

        with FixtureServer() as server:
            crawl(server.base_url + "/feeds/world.rss")
            assert any(r.path == "/robots.txt" for r in server.requests)
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        now: datetime | None = None,
        quiet: bool = True,
    ) -> None:
        self._host = host
        self._port = port
        self._now = now
        self._quiet = quiet
        self._lock = threading.Lock()
        self._pages: dict[str, Page] = {}
        self._built: dict[str, Page] = {}
        self._log: list[RequestRecord] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FixtureServer:
        """Bind, build the site for the bound address and start serving; returns self."""
        if self._httpd is not None:
            return self
        httpd = ThreadingHTTPServer((self._host, self._port), self._handler_class())
        httpd.daemon_threads = True
        self._httpd = httpd
        self._built = build_site(self.base_url, now=self._now)
        with self._lock:
            self._pages = dict(self._built)
        self._thread = threading.Thread(
            target=httpd.serve_forever, name="storywatch-fixture-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The bound port (only meaningful once started)."""
        if self._httpd is None:
            return self._port
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` with no trailing slash."""
        if self._httpd is None:
            raise RuntimeError("FixtureServer is not started")
        return f"http://{self._host}:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL for a site path such as ``/feeds/world.rss``."""
        return self.base_url + path

    # ---------------------------------------------------------------- pages

    @property
    def pages(self) -> dict[str, Page]:
        """A snapshot of what is being served right now (after overrides and removals)."""
        with self._lock:
            return dict(self._pages)

    def set_override(self, path: str, page: Page) -> None:
        """Serve ``page`` at ``path`` from now on (replaces an existing page or adds one)."""
        with self._lock:
            self._pages[path] = page

    def remove(self, path: str) -> None:
        """Make ``path`` answer 404 from now on, as a deleted story would."""
        with self._lock:
            self._pages.pop(path, None)

    def reset(self) -> None:
        """Undo every override and removal."""
        with self._lock:
            self._pages = dict(self._built)

    def lookup(self, raw_path: str) -> Page:
        """Resolve a request target: exact path+query first, then the bare path."""
        parts = urlsplit(raw_path)
        path = parts.path or "/"
        key = f"{path}?{parts.query}" if parts.query else path
        with self._lock:
            page = self._pages.get(key)
            if page is None and parts.query:
                page = self._pages.get(path)
        return page if page is not None else not_found_page()

    # ---------------------------------------------------------------- request log

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request served so far, oldest first (a copy)."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget the requests logged so far."""
        with self._lock:
            self._log.clear()

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    # ---------------------------------------------------------------- HTTP

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "MeridianCourier/1.0"

            def version_string(self) -> str:
                return self.server_version

            def do_GET(self) -> None:
                self._serve(send_body=True)

            def do_HEAD(self) -> None:
                self._serve(send_body=False)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self._respond(
                    Page(
                        status=405,
                        body=b"Method not allowed\n",
                        content_type="text/plain; charset=utf-8",
                        headers={"Allow": "GET, HEAD"},
                    ),
                    send_body=True,
                )

            def _serve(self, send_body: bool) -> None:
                page = fixture.lookup(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if _not_modified(page, headers):
                    validators = {
                        k: v for k, v in page.headers.items() if k in ("ETag", "Last-Modified")
                    }
                    page = Page(status=304, content_type="", body=b"", headers=validators)
                self._respond(page, send_body=send_body)

            def _respond(self, page: Page, send_body: bool) -> None:
                fixture._record(
                    RequestRecord(
                        method=self.command,
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        status=page.status,
                        time=time.time(),
                    )
                )
                self.send_response(page.status)
                if page.status != 304:
                    if page.content_type:
                        self.send_header("Content-Type", page.content_type)
                    self.send_header("Content-Length", str(len(page.body)))
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if send_body and page.status != 304 and page.body:
                    self.wfile.write(page.body)

            def log_message(self, format: str, *args: object) -> None:
                if not fixture._quiet:
                    super().log_message(format, *args)

        return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve the demo site until Ctrl-C, printing its base URL first."""
    parser = argparse.ArgumentParser(
        prog="python -m storywatch.demo.server",
        description="Serve the storywatch demo news site on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any)")
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="pin the clock the news sitemap is relative to (ISO 8601)",
    )
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    server = FixtureServer(port=args.port, now=args.now, quiet=not args.verbose)
    server.start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
