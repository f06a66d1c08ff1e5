"""The page behind the unsubscribe link, including RFC 8058 one-click unsubscribing.

A WSGI app on the stdlib's wsgiref: the whole job is one form and one POST, too little
for a web framework. GET only shows a confirmation button, because mail scanners and
link previews fetch every URL in a message; the unsubscription itself is a POST, which is
also what mail providers send for `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
Run it behind the HTTPS reverse proxy that serves digest.public_url.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from storywatch.notify.tokens import BadToken, read_token, redeem, signing_secret, subscription_of
from storywatch.storage import Storage

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;max-width:36rem;margin:3rem auto;
padding:0 1rem;line-height:1.5;color:#1b1b19}}button{{font-size:1rem;padding:.6rem 1.2rem}}
</style></head><body><h1>{title}</h1>{body}</body></html>"""


def _page(start_response: StartResponse, status: str, title: str, body: str) -> list[bytes]:
    data = _PAGE.format(title=html.escape(title), body=body).encode("utf-8")
    start_response(status, [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"),
        ("Referrer-Policy", "no-referrer"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                                    "form-action 'self'"),
    ])
    return [data]


def unsubscribe_app(storage: Storage) -> Callable[[dict[str, Any], StartResponse],
                                                  Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").rstrip("/") != "/unsubscribe":
            return _page(start_response, "404 Not Found", "Not found", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "POST"):
            return _page(start_response, "405 Method Not Allowed", "Not allowed", "")
        token = (parse_qs(environ.get("QUERY_STRING", "")).get("token") or [""])[0]
        with storage.session() as session:
            try:
                request = read_token(signing_secret(session), token)
                subscription_of(session, request)  # an earlier subscription's link: refused
            except BadToken as exc:
                return _page(start_response, "400 Bad Request", "Invalid link",
                             f"<p>{html.escape(str(exc))}.</p>")
            who = f"{html.escape(request.email)} from “{html.escape(request.topic)}”"
            if method == "GET":
                return _page(
                    start_response, "200 OK", "Unsubscribe?",
                    f"<p>Stop sending digests to {who}?</p><form method=\"post\" "
                    f"action=\"?token={html.escape(token)}\"><button type=\"submit\">"
                    "Unsubscribe</button></form>",
                )
            removed = redeem(session, request)
        log.info("unsubscribed %s from %s via the web (%s)", request.email, request.topic,
                 "removed" if removed else "already gone")
        return _page(start_response, "200 OK", "Unsubscribed",
                     f"<p>Unsubscribed {who}. No more digests of this topic will be sent.</p>")

    return app


# A token in a request line, kept to its first characters in the log: enough to match a
# complaint to a request, not enough to unsubscribe anyone with a copy of the log.
_TOKEN_IN_LINE = re.compile(r"(token=[^&\s]{6})[^&\s]*")


def loggable(value: object) -> str:
    """Request data as it may go into the log: tokens shortened, and control characters
    (a request line is the client's bytes) escaped, so no log line can be forged."""
    text = _TOKEN_IN_LINE.sub(r"\1…", str(value))
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), loggable(format % args))


def make_unsubscribe_server(storage: Storage, host: str, port: int) -> WSGIServer:
    return make_server(host, port, unsubscribe_app(storage), handler_class=_QuietHandler)
