"""URL, text, date and language normal forms."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storywatch.normalise import (
    canonical_url,
    clean_text,
    content_hash,
    detect_language,
    is_same_site,
    to_utc,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.ORG/News/a.html?utm_source=rss&utm_medium=feed",
         "https://www.example.org/News/a.html"),
        ("https://example.org/a.html?id=5&fbclid=XYZ&gclid=1#comments",
         "https://example.org/a.html?id=5"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org/amp/world/2024/10/a.html", "https://example.org/world/2024/10/a.html"),
        ("https://example.org/world/a.amp.html", "https://example.org/world/a.html"),
        ("https://example.org/world/a.html?outputType=amp", "https://example.org/world/a.html"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_declared_canonical_wins_only_on_the_same_site() -> None:
    page = "https://news.example.org/a.html?utm_campaign=x"
    assert canonical_url(page, "/stories/a") == "https://news.example.org/stories/a"
    assert canonical_url(page, "https://www.news.example.org/b") == "https://www.news.example.org/b"
    assert canonical_url(page, "https://partner.example.com/a") == "https://news.example.org/a.html"


@pytest.mark.parametrize(("a", "b", "same"), [
    ("https://bbc.co.uk/news/1", "https://news.bbc.co.uk/2", True),
    ("https://www.bbc.co.uk/news/1", "https://m.bbc.co.uk/news/1", True),
    ("https://www.lemonde.fr/a", "https://amp.lemonde.fr/a", True),
    ("https://alice.github.io/a", "https://bob.github.io/a", False),
    ("https://alice.github.io/a", "https://alice.github.io/b", True),
    ("https://bbc.co.uk/a", "https://itv.co.uk/a", False),
    ("https://example.co.uk/a", "https://example.org.uk/a", False),
    ("http://127.0.0.1:8080/a", "http://127.0.0.1:9090/b", True),
    ("http://127.0.0.1/a", "http://127.0.0.2/a", False),
    ("https://Sub.News.Example.COM./x", "https://example.com/y", True),
])
def test_same_site_is_the_registered_domain(a: str, b: str, same: bool) -> None:
    assert is_same_site(a, b) is same
    assert is_same_site(b, a) is same


def test_the_public_suffix_list_is_never_downloaded_or_cached(tmp_path: Path) -> None:
    """In a child process with every socket refused and an empty cache directory, the
    registered domain still comes out (tldextract's bundled snapshot) and nothing is written."""
    cache = tmp_path / "cache"
    cache.mkdir()
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from storywatch.normalise.urls import registered_domain\n"
        "print(registered_domain('news.bbc.co.uk'), registered_domain('a.github.io'))\n"
    )
    env = {**os.environ, "TLDEXTRACT_CACHE": str(cache), "XDG_CACHE_HOME": str(cache),
           "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["bbc.co.uk", "a.github.io"]
    assert "network used" not in done.stderr
    assert list(cache.iterdir()) == [] and not (tmp_path / ".cache").exists()


def test_non_http_urls_are_refused() -> None:
    with pytest.raises(ValueError):
        canonical_url("javascript:alert(1)")


def test_clean_text_keeps_paragraphs_and_nfc() -> None:
    text = "  Cafe\u0301   au lait \r\n\r\n\n second\u00a0para  "
    assert clean_text(text) == "Café au lait\nsecond para"


def test_content_hash_ignores_typography() -> None:
    assert content_hash("Six deserters — arrived.") == content_hash("six deserters arrived")
    assert content_hash("six deserters arrived") != content_hash("seven deserters arrived")


def test_dates_to_utc() -> None:
    assert to_utc("2024-10-10T08:00:00+02:00") == datetime(2024, 10, 10, 6, tzinfo=UTC)
    assert to_utc("Thu, 10 Oct 2024 08:00:00 GMT") == datetime(2024, 10, 10, 8, tzinfo=UTC)
    assert to_utc("not a date") is None
    assert to_utc("0001-01-01") is None


@pytest.mark.parametrize("text", [
    "2024-10-16", "2024-10-16T10:00:00Z", "2024-10-16T10:00:00.5+02:00", "2024-10-16 10:00",
    "2024-10-16T10:00:00-04:30", "20241016T100000Z", "2024-10-16T10:00:00.123456789Z",
    "16 October 2024", "Wed, 16 Oct 2024 10:00:00 +0000",
])
def test_iso_dates_read_by_the_standard_library_agree_with_dateutil(text: str) -> None:
    from dateutil import parser as dateutil_parser

    expected = dateutil_parser.parse(text)
    if expected.tzinfo is None:
        expected = expected.replace(tzinfo=UTC)
    assert to_utc(text) == expected.astimezone(UTC)


def test_language_from_text_beats_a_wrong_declaration() -> None:
    french = ("Six déserteurs russes ont obtenu des visas temporaires pour la France, une "
              "première pour un groupe de soldats ayant fui l'armée, selon les associations "
              "qui les accompagnent depuis le Kazakhstan.") * 2
    assert detect_language(french, declared="en-GB") == "fr"
    assert detect_language("Short.", declared="de-DE") == "de"
