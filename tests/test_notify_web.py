"""The unsubscribe page over real HTTP: GET asks, POST (RFC 8058 one-click) unsubscribes.

Served by the web app (storywatch.web.unsubscribe), as `storywatch digest
serve-unsubscribe` serves it: only that page."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from storywatch.config import Config
from storywatch.normalise.dates import utc_now
from storywatch.notify.subscribers import Schedule, add_subscription, list_subscriptions
from storywatch.notify.tokens import make_token, signing_secret
from storywatch.storage import Storage, open_storage
from storywatch.web.app import create_app
from storywatch.web.serve import start_web_server
from tests.test_notify_support import TOPIC


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[Storage, str]]:
    storage = open_storage(database_url)
    config = Config.model_validate({"storage": {"url": database_url}})
    server = start_web_server(create_app(config, storage, password=None,
                                         unsubscribe_only=True), "127.0.0.1:0")
    yield storage, f"http://127.0.0.1:{server.port}"
    server.stop()
    storage.dispose()


def fetch(url: str, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def test_get_asks_and_one_click_post_unsubscribes(served: tuple[Storage, str]) -> None:
    storage, base = served
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(), utc_now())
        add_subscription(session, "ana@example.org", "other", Schedule.parse(), utc_now())
        created = list_subscriptions(session, topic=TOPIC)[0].created_at
        token = make_token(signing_secret(session), "ana@example.org", TOPIC, created)
    url = f"{base}/unsubscribe?token={token}"
    status, page = fetch(url)
    assert status == 200 and "<form method=\"post\"" in page and "ana@example.org" in page
    with storage.session() as session:
        assert len(list_subscriptions(session)) == 2  # a GET (link preview) changes nothing
    status, page = fetch(url, b"List-Unsubscribe=One-Click")
    assert status == 200 and "Unsubscribed" in page
    with storage.session() as session:
        assert [r.topic for r in list_subscriptions(session)] == ["other"]
    # Posting again is harmless.
    assert fetch(url, b"List-Unsubscribe=One-Click")[0] == 200


def test_bad_tokens_and_paths_are_refused(served: tuple[Storage, str]) -> None:
    storage, base = served
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(), utc_now())
    forged = make_token("someone else's key", "ana@example.org", TOPIC, utc_now())
    status, page = fetch(f"{base}/unsubscribe?token={forged}", b"List-Unsubscribe=One-Click")
    assert status == 400 and "not valid" in page
    assert fetch(f"{base}/unsubscribe")[0] == 400
    assert fetch(f"{base}/admin")[0] == 404
    with storage.session() as session:
        assert len(list_subscriptions(session)) == 1


def test_link_of_an_earlier_subscription_is_refused(served: tuple[Storage, str]) -> None:
    from datetime import timedelta

    storage, base = served
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(),
                         utc_now() - timedelta(days=2))
        secret = signing_secret(session)
        old = make_token(secret, "ana@example.org", TOPIC,
                         list_subscriptions(session)[0].created_at)
    assert fetch(f"{base}/unsubscribe?token={old}", b"List-Unsubscribe=One-Click")[0] == 200
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(), utc_now())
    for data in (None, b"List-Unsubscribe=One-Click"):
        status, page = fetch(f"{base}/unsubscribe?token={old}", data)
        assert status == 400 and "earlier subscription" in page
    with storage.session() as session:
        assert len(list_subscriptions(session)) == 1


def test_log_has_no_token_and_no_request_lines(
    served: tuple[Storage, str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import socket
    from urllib.parse import urlsplit

    storage, base = served
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(), utc_now())
        created = list_subscriptions(session)[0].created_at
        token = make_token(signing_secret(session), "ana@example.org", TOPIC, created)
    parts = urlsplit(base)
    caplog.set_level(logging.DEBUG)
    assert fetch(f"{base}/unsubscribe?token={token}")[0] == 200
    assert fetch(f"{base}/unsubscribe?token={token}", b"List-Unsubscribe=One-Click")[0] == 200
    # A request line with an escape sequence and a fake log line in it: refused, unlogged.
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as raw:
        raw.sendall(b"GET /x\x1b[2J\x08\x08INFO fake-entry HTTP/1.0\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 400")
    assert any("unsubscribed ana@example.org" in r.getMessage() for r in caplog.records)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert token[:20] not in text
    assert "fake-entry" not in text and "\x1b" not in text
    # The pages of the full app are not served by the unsubscribe-only server.
    assert fetch(f"{base}/sources")[0] == 404
