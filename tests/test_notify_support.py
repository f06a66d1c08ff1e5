"""Shared pieces of the digest tests (no tests here): a real SMTP server on 127.0.0.1,
a config file, and a small stored world of judged articles written for these tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from storywatch.normalise.item import NewsItem
from storywatch.storage import Storage
from storywatch.storage.repository import save_item, save_judgement

TOPIC = "deserters"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Sink:
    """aiosmtpd handler: keeps every accepted message; can refuse chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply
        self._changed = threading.Condition()

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self._changed:
            self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos),
                                          bytes(content)))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()
            self.refuse.clear()

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.recipients]

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self.messages)


@dataclass
class SmtpServer:
    host: str
    port: int
    sink: Sink


def free_port() -> int:
    """A port the OS says is free (aiosmtpd's Controller cannot be given port 0: it
    connects to its own port to check that it started)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def smtp_session() -> Iterator[SmtpServer]:
    """One real SMTP server (aiosmtpd) on 127.0.0.1 and a free port for the whole session."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, sink)
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_session: SmtpServer) -> Iterator[SmtpServer]:
    smtp_session.sink.clear()
    yield smtp_session
    smtp_session.sink.clear()


def write_config(tmp_path: Path, database_url: str, smtp: SmtpServer | None = None,
                 extra: str = "") -> Path:
    smtp_section = ""
    if smtp is not None:
        smtp_section = f"""
[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
sender = "Storywatch <digest@storywatch.example>"
timeout = "10s"
retries = 1
retry_backoff = "0.1s"
"""
    path = tmp_path / "storywatch.toml"
    path.write_text(f"""
[storage]
url = "{database_url}"

[[topics]]
name = "{TOPIC}"
seeds = ["https://news.example/seed.html"]

[[topics]]
name = "other"
seeds = ["https://news.example/other-seed.html"]
{smtp_section}
[digest]
public_url = "https://watch.example.org"
{extra}
""", encoding="utf-8")
    return path


# Fresh prose written for these tests (not quoted from any article).
BASE = datetime(2024, 10, 10, 6, 0, tzinfo=UTC)
HOSTILE_TITLE = "Deserters <script>alert('x')</script>\r\nBcc: victim@evil.example"

WORLD: list[dict[str, Any]] = [
    {"key": "visas", "source": "Riverside Courier", "status": "followup", "cluster": "c-visas",
     "hours": 0,
     "title": "France lets in six Russian deserters on short-term visas",
     "text": "Six men who walked away from the Russian army have reached Paris on "
             "short-term French visas and asked for asylum. Campaigners call it a first for "
             "the European Union, because the men travelled as a group and held no passports "
             "valid abroad. Their journey started in Kazakhstan."},
    {"key": "visas-2", "source": "Northern Ledger", "status": "followup", "cluster": "c-visas",
     "hours": 3,
     "title": "Group of Russian deserters granted entry to France",
     "text": "A small group of former Russian soldiers now waits in Paris for an asylum "
             "decision. They had spent months in Kazakhstan."},
    {"key": "network", "source": "Harbour Times", "status": "followup", "cluster": "c-network",
     "hours": 30,
     "title": "Volunteer network hopes other European states will follow France",
     "text": "The volunteers who helped the men leave say they checked every applicant "
             "for months. Their spokesman hopes more governments will open the door. "
             "He also repeated figures published earlier.",
     "novel": ["Their spokesman hopes more governments will open the door."]},
    {"key": "copy", "source": "Aggregator Daily", "status": "duplicate", "cluster": "c-visas",
     "hours": 5,
     "title": "COPY France lets in six Russian deserters",
     "text": "Six men who walked away from the Russian army have reached Paris."},
    {"key": "sabotage", "source": "Capital Wire", "status": "offtopic", "cluster": None,
     "hours": 8,
     "title": "Security chief warns of sabotage plots in Europe",
     "text": "A senior intelligence official warned about arson and sabotage."},
    {"key": "hostile", "source": "Odd <b>Source</b>", "status": "followup", "cluster": None,
     "hours": 20, "url": "javascript:alert(document.cookie)",
     "title": HOSTILE_TITLE,
     "text": "Text with <img src=\"http://tracker.example/pixel.gif\"> inside it. "
             "Nothing else happened."},
]


def news_item(key: str, *, source: str, title: str, text: str, published: datetime,
              url: str | None = None) -> NewsItem:
    link = url or f"https://news.example/{key}.html"
    return NewsItem(
        url=link, canonical_url=link, title=title, authors=[], published_at=published,
        fetched_at=published + timedelta(minutes=30), language="en", text=text,
        source=source, discovered_via="feed", content_hash=f"hash-{key}",
        word_count=len(text.split()), extractor="trafilatura",
    )


def store(storage: Storage, entries: list[dict[str, Any]] | None = None, *,
          decided_at: datetime | None = None, topic: str = TOPIC) -> dict[str, int]:
    """Save items and their judgements; return item ids by key."""
    ids: dict[str, int] = {}
    with storage.session() as session:
        for entry in entries if entries is not None else WORLD:
            published = BASE + timedelta(hours=entry["hours"])
            item_id = save_item(session, news_item(
                entry["key"], source=entry["source"], title=entry["title"],
                text=entry["text"], published=published, url=entry.get("url"),
            )).id
            save_judgement(
                session, item_id=item_id, topic=topic, status=entry["status"],
                decided_at=decided_at or datetime.now(UTC) - timedelta(hours=1),
                cluster_id=entry["cluster"], relevance=0.8, novelty=0.5,
                reasons={"novel_sentences": entry["novel"]} if "novel" in entry else {},
                duplicate_of="https://news.example/visas.html"
                if entry["status"] == "duplicate" else None,
            )
            ids[entry["key"]] = item_id
    return ids
