"""Shared pieces of the web app tests (no tests here): a config, a small stored world of
judged items written for these tests (hostile titles and links included), and the app."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from storywatch.config import Config, load_config
from storywatch.storage import Storage, open_storage
from storywatch.storage.models import Item
from storywatch.storage.repository import save_judgement

TOPIC = "harbour-strike"
PASSWORD = "correct horse battery staple"
# Today at noon: the chart shows the last 60 days and a digest preview the last 7.
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
SCRIPT_TITLE = "<script>alert('owned')</script> Dockers vote"


@dataclass
class World:
    config: Config
    storage: Storage
    ids: dict[str, int]


def write_config(tmp_path: Path, database_url: str, *, read: str = "login") -> Path:
    path = tmp_path / "storywatch.toml"
    path.write_text(f'''
[storage]
url = "{database_url}"

[web]
read = "{read}"
page_size = 5

[[topics]]
name = "{TOPIC}"
seeds = ["seed.txt"]

[[sources]]
name = "quay-news"
url = "http://127.0.0.1:9/feed.xml"
every = "1h"
''', encoding="utf-8")
    (tmp_path / "seed.txt").write_text("The dockers of the harbour went on strike.",
                                       encoding="utf-8")
    return path


# (key, title, source, language, days before NOW, status, cluster, text)
ROWS = [
    ("vote", SCRIPT_TITLE, "quay-news", "en", 1, "followup", None,
     "The dockers voted to extend the strike by a week, the union said."),
    ("talks", "Talks resume at the port authority", "quay-news", "en", 2, "followup", "c1",
     "Negotiators for the port authority and the union met again on Tuesday."),
    ("talks-b", "Port talks restart", "harbour-daily", "en", 2, "followup", "c1",
     "Both sides returned to the table at the port authority."),
    ("grève", "Les dockers prolongent la grève", "le-quai", "fr", 3, "followup", None,
     "Les dockers du port ont voté la prolongation de la grève."),
    ("copy", "Dockers strike (rewrite)", "copy-mill", "en", 4, "duplicate", None,
     "The dockers of the harbour went on strike, according to reports."),
    ("football", "Harbour FC wins the derby", "harbour-daily", "en", 5, "offtopic", None,
     "The local football club won the derby on Sunday."),
    ("js-link", "A link that is a script", "copy-mill", "en", 6, "followup", None,
     "Shipping companies rerouted container vessels to the northern terminal."),
]
for day in range(7, 15):  # enough follow-ups for three pages of five
    ROWS.append((f"day{day}", f"Strike day {day}: cranes idle", "quay-news", "en", day,
                 "followup", None, f"On day {day} of the strike the cranes stood idle."))


def fill(storage: Storage) -> dict[str, int]:
    ids: dict[str, int] = {}
    with storage.session() as session:
        for key, title, source, language, days, status, cluster, text in ROWS:
            url = ("javascript:alert(1)//x" if key == "js-link"
                   else f"https://{source}.example/{key}")
            item = Item(canonical_url=url, url=url, title=title, authors=[],
                        published_at=NOW - timedelta(days=days, hours=1),
                        fetched_at=NOW - timedelta(days=days), language=language, text=text,
                        source=source, discovered_via="feed",
                        content_hash=hashlib.sha256(text.encode()).hexdigest(),
                        word_count=len(text.split()), extractor="test")
            session.add(item)
            session.flush()
            ids[key] = item.id
            save_judgement(session, item_id=item.id, topic=TOPIC, status=status,
                           decided_at=NOW, cluster_id=cluster, confidence=0.8,
                           duplicate_of="https://quay-news.example/vote"
                           if status == "duplicate" else None,
                           reasons={"layer": "model", "probabilities": {status: 0.8},
                                    "novel_sentences": ["<b>bold</b> claim"]})
    return ids


@pytest.fixture
def web_world(tmp_path: Path, database_url: str) -> Iterator[World]:
    config = load_config(write_config(tmp_path, database_url))
    storage = open_storage(config.storage.url)
    ids = fill(storage)
    yield World(config, storage, ids)
    storage.dispose()


def client_for(world: World, *, password: str | None = PASSWORD) -> TestClient:
    from storywatch.web.app import create_app

    started: list[str] = []
    app = create_app(world.config, world.storage, password=password,
                     crawl_now=lambda source: started.append(source) or f"started {source}")
    app.state.crawls_started = started
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def log_in(client: TestClient, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/login").text)
    done = client.post("/login", data={"password": password, "csrf_token": token, "next": "/"})
    assert done.status_code == 303, done.text
