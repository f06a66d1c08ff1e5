"""The fault-injection server: a hostile web on 127.0.0.1, one fault per path.

It is a raw `http.server` on purpose: the faults (a reset mid-body, a body shorter than
its Content-Length, a stall) need control over the socket that a framework would hide.
Every response is built on demand, so a 50 MB page or a gzip bomb costs the server a
stream, not memory.

Run it by hand with ``python -m tests.faults.server`` to point a crawler at it.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from tests.faults import content

# Good articles in /feeds/good.rss; enough that a kill -9 lands in the middle of a crawl.
GOOD_ARTICLES = 40
# Article numbers linked from the hostile feeds (XXE, billion laughs, duplicates, one URL):
# stored only if the crawler recovers the entries, never counted in GOOD_ARTICLES.
XXE_ARTICLE, LAUGHS_ARTICLE, DUPLICATE_ARTICLE, ONE_URL_ARTICLE = 900, 901, 902, 903
# Ten times the crawler's default 5 MB page limit.
HUGE_BYTES = 50 * 1024 * 1024
# 1 GiB of zeros unpacks from about 1 MB on the wire: far beyond any memory limit we set.
GZIP_BOMB_UNPACKED = 1024 * 1024 * 1024
# Longer than any download timeout a test sets, short enough that a leaked stall ends.
STALL_SECONDS = 60
# The "page with 100,000 links" of the brief.
MANY_LINKS = 100_000
# Entries repeated inside one feed / entries of the one-URL feed.
DUPLICATE_COPIES, ONE_URL_ENTRIES = 50, 20

# Article-level faults: each path is listed in /feeds/faults.rss; the value says what the
# crawler should end with (stored or failed), used by the tests and docs/hardening.md.
FAULT_ARTICLES: dict[str, str] = {
    "/status/500": "failed",
    "/status/502": "failed",
    "/status/503": "failed",
    "/status/503-retry-after": "failed",
    "/status/429": "failed",
    "/status/404": "failed",
    "/status/410": "failed",
    "/redirect/loop/0": "failed",
    "/reset": "failed",
    "/truncated": "failed",
    "/stall": "failed",
    "/huge": "failed",
    "/huge-unsized": "failed",
    "/gzip-bomb": "failed",
    "/empty": "failed",
    "/binary.html": "failed",
    "/many-links.html": "failed",
    "/calendar?page=1": "failed",
    "/bad-utf8.html": "stored",
    "/charset-lie.html": "stored",
}

# Listing-level faults: a feed source whose feed URL is itself hostile.
FAULT_FEEDS: dict[str, str] = {
    "feed-500": "/status/500",
    "feed-reset": "/reset",
    "feed-stall": "/stall",
    "feed-huge": "/huge",
    "feed-gzip-bomb": "/gzip-bomb",
    "feed-empty": "/empty",
    "feed-html": "/feeds/html.rss",
    "feed-laughs": "/feeds/billion-laughs.rss",
    "feed-xxe": "/feeds/xxe.rss",
    "feed-duplicates": "/feeds/duplicates.rss",
    "feed-one-url": "/feeds/one-url.rss",
    "feed-faults": "/feeds/faults.rss",
}


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """GZIP_BOMB_UNPACKED zeros, compressed once per process in 1 MiB steps."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = bytes(1024 * 1024)
    parts = [packer.compress(chunk) for _ in range(GZIP_BOMB_UNPACKED // len(chunk))]
    parts.append(packer.flush())
    return b"".join(parts)


def _invalid_utf8_html() -> bytes:
    text = content.good_article_html(904).encode()
    # Lone continuation bytes, an overlong encoding and a truncated sequence in the body.
    return text.replace(b"Residents", b"Resid\x80\xbf\xc0\xafents\xe2\x82", 1)


def _charset_lie_html() -> bytes:
    # Declares UTF-8, is windows-1251 Russian: the bytes are invalid UTF-8 throughout.
    russian = (
        "В городе Линдхольм открылась новая библиотека. Жители ждали этого решения с лета, "
        "когда первые планы показали на собрании в общественном зале. Заместитель мэра "
        "сказал, что бюджет согласован с областным управлением, а расходы разделят город, "
        "две местные фирмы и благотворительный фонд. Владельцы магазинов приветствовали "
        "новость, но попросили не перекрывать доставку в праздничные недели. Следующее "
        "сообщение ожидается в конце месяца вместе с фотографиями хода работ."
    )
    page = (
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>Библиотека '
        f"Линдхольма</title></head><body><article><h1>Новая библиотека</h1><p>{russian}</p>"
        f"<p>{russian}</p></article></body></html>"
    )
    return page.encode("windows-1251")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # crawlers hanging up mid-response is the point of this server


class FaultServer:
    """The hostile web on a loopback port, in a daemon thread; use as a context manager."""

    def __init__(self, secret_path: Path | None = None, host: str = "127.0.0.1") -> None:
        self.secret_path = secret_path
        self._host = host
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.paths: list[str] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FaultServer:
        gzip_bomb()  # built before serving, so its 3 s never count against a timeout
        handler = self._handler_class()
        self._httpd = _QuietServer((self._host, 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="storywatch-fault-server")
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "FaultServer is not started"
        return f"http://{self._host}:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def good_url(self, n: int) -> str:
        return self.url(f"/good/{n}.html")

    @property
    def requests(self) -> list[str]:
        with self._lock:
            return list(self.paths)

    def feed(self, path: str) -> bytes | None:
        """The feed documents, built for this server's address."""
        base = self.base_url
        if path.startswith("/feeds/good.rss"):
            # ?count=N lists N articles (the crash loop wants a crawl long enough to kill).
            count = int((parse_qs(urlsplit(path).query).get("count") or [GOOD_ARTICLES])[0])
            links = [(content.good_article_title(n), self.good_url(n)) for n in range(count)]
            return content.rss("Lindholm Post", links)
        if path == "/feeds/faults.rss":
            return content.rss("Faults", [(f"Fault {p}", base + p) for p in FAULT_ARTICLES])
        if path == "/feeds/billion-laughs.rss":
            return content.billion_laughs_rss(self.good_url(LAUGHS_ARTICLE))
        if path == "/feeds/xxe.rss":
            secret = str(self.secret_path or "/etc/hostname")
            return content.xxe_rss(secret, self.good_url(XXE_ARTICLE))
        if path == "/feeds/duplicates.rss":
            link = self.good_url(DUPLICATE_ARTICLE)
            return content.rss("Duplicates", [(f"Copy {i}", link)
                                              for i in range(DUPLICATE_COPIES)])
        if path == "/feeds/one-url.rss":
            link = self.good_url(ONE_URL_ARTICLE)
            return content.rss("One URL", [(f"Different story {i}", link)
                                           for i in range(ONE_URL_ENTRIES)])
        return None

    # ------------------------------------------------------------------------ HTTP
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.paths.append(self.path)
                # The crawler hanging up (as it should on a too-large body) is no error.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._route()

            def _send(self, status: int, body: bytes, content_type: str = "text/html; "
                      "charset=utf-8", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, chunks: Iterator[bytes], headers: dict[str, str]) -> None:
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for chunk in chunks:
                    if server._stop.is_set():
                        return
                    self.wfile.write(chunk)

            def _route(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path
                if path == "/robots.txt":
                    return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
                if path.startswith("/good/") and path.endswith(".html"):
                    try:
                        n = int(path.removeprefix("/good/").removesuffix(".html"))
                    except ValueError:
                        return self._send(404, b"not found")
                    return self._send(200, content.good_article_html(n).encode())
                feed = server.feed(self.path if path == "/feeds/good.rss" else path)
                if feed is not None:
                    return self._send(200, feed, "application/rss+xml; charset=utf-8")
                if path == "/feeds/html.rss":
                    page = content.good_article_html(905).encode()
                    return self._send(200, page, "application/rss+xml")
                if path.startswith("/status/"):
                    return self._status(path.removeprefix("/status/"))
                if path.startswith("/redirect/loop/"):
                    n = int(path.rsplit("/", 1)[1]) + 1
                    return self._send(302, b"", headers={"Location": f"/redirect/loop/{n}"})
                if path == "/redirect/private":
                    # Never followed by a correct crawler; the address is never served.
                    return self._send(302, b"", headers={"Location": "http://10.0.0.1/"})
                if path == "/redirect/metadata":
                    return self._send(302, b"", headers={
                        "Location": "http://169.254.169.254/latest/meta-data/"})
                handler = getattr(self, "_fault_" + path.strip("/").replace("-", "_")
                                  .replace(".html", "").replace("/", "_"), None)
                if handler is not None:
                    return handler(parts.query)
                return self._send(404, b"not found")

            def _status(self, name: str) -> None:
                code = int(name.split("-", 1)[0])
                headers = {"Retry-After": "1"} if name.endswith("retry-after") or code == 429 \
                    else {}
                self._send(code, f"status {code}\n".encode(), "text/plain", headers)

            def _fault_reset(self, query: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(content.good_article_html(906).encode()[:500])
                self.wfile.flush()
                # SO_LINGER with a zero timeout turns close() into a TCP RST.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True

            def _fault_truncated(self, query: str) -> None:
                body = content.good_article_html(907).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body) * 2))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

            def _fault_stall(self, query: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", "5000")
                self.end_headers()
                self.wfile.write(b"<html><body><p>Wait for it")
                self.wfile.flush()
                server._stop.wait(STALL_SECONDS)
                self.close_connection = True

            def _fault_huge(self, query: str) -> None:
                block = (b"<p>" + b"padding " * 127 + b"</p>\n")  # 1 KiB of markup
                chunk = block * 1024
                self._stream((chunk for _ in range(HUGE_BYTES // len(chunk))),
                             {"Content-Type": "text/html; charset=utf-8",
                              "Content-Length": str(HUGE_BYTES)})

            def _fault_huge_unsized(self, query: str) -> None:
                block = (b"<p>" + b"padding " * 127 + b"</p>\n")
                chunk = block * 1024
                self.close_connection = True  # no length: the body ends when we close
                self._stream((chunk for _ in range(HUGE_BYTES // len(chunk))),
                             {"Content-Type": "text/html; charset=utf-8",
                              "Connection": "close"})

            def _fault_gzip_bomb(self, query: str) -> None:
                body = gzip_bomb()
                self._send(200, body, "text/html; charset=utf-8",
                           {"Content-Encoding": "gzip"})

            def _fault_empty(self, query: str) -> None:
                self._send(200, b"")

            def _fault_binary(self, query: str) -> None:
                # Seeded noise: the same 120 kB of bytes on every run.
                self._send(200, random.Random(7).randbytes(120_000))

            def _fault_many_links(self, query: str) -> None:
                self._send(200, content.many_links_html(MANY_LINKS).encode())

            def _fault_calendar(self, query: str) -> None:
                page = int((parse_qs(query).get("page") or ["1"])[0])
                self._send(200, content.calendar_html(page).encode())

            def _fault_bad_utf8(self, query: str) -> None:
                self._send(200, _invalid_utf8_html())

            def _fault_charset_lie(self, query: str) -> None:
                self._send(200, _charset_lie_html())

        return Handler


def main() -> int:
    """Serve until Ctrl-C, printing the base URL and the fault feeds."""
    with FaultServer() as server:
        print(server.base_url, flush=True)
        for name, path in FAULT_FEEDS.items():
            print(f"  {name}: {server.url(path)}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
