"""URL, text, date and language normal forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storywatch.normalise import canonical_url, clean_text, content_hash, detect_language, to_utc


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


def test_language_from_text_beats_a_wrong_declaration() -> None:
    french = ("Six déserteurs russes ont obtenu des visas temporaires pour la France, une "
              "première pour un groupe de soldats ayant fui l'armée, selon les associations "
              "qui les accompagnent depuis le Kazakhstan.") * 2
    assert detect_language(french, declared="en-GB") == "fr"
    assert detect_language("Short.", declared="de-DE") == "de"
