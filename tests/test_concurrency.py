"""Two `storywatch crawl` processes on overlapping sources, started together on a fresh
database (so they also race to migrate it): every article is stored exactly once."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import REPO
from tests.faults.crawling import child_env, crawl_command, stored_items, write_config
from tests.faults.server import DUPLICATE_ARTICLE, ONE_URL_ARTICLE, FaultServer

# Enough articles that both crawls are storing at the same time for a few seconds.
SHARED_ARTICLES = 60


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


def test_two_crawls_store_each_article_once(server: FaultServer, database_url: str,
                                            tmp_path: Path) -> None:
    shared = server.url(f"/feeds/good.rss?count={SHARED_ARTICLES}")
    configs = [
        write_config(tmp_path / "a.toml", database_url,
                     {"lindholm": shared, "one-url": server.url("/feeds/one-url.rss")}),
        write_config(tmp_path / "b.toml", database_url,
                     {"lindholm-mirror": shared,
                      "duplicates": server.url("/feeds/duplicates.rss"),
                      "one-url-again": server.url("/feeds/one-url.rss")}),
    ]
    children = [subprocess.Popen(crawl_command(config), env=child_env(), cwd=REPO,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for config in configs]
    outputs = [child.communicate(timeout=240) for child in children]

    for child, (stdout, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr
        assert "database is locked" not in stdout + stderr
    rows = stored_items(database_url)
    urls = [row["canonical_url"] for row in rows]
    expected = {server.good_url(n) for n in range(SHARED_ARTICLES)}
    expected |= {server.good_url(DUPLICATE_ARTICLE), server.good_url(ONE_URL_ARTICLE)}
    assert len(urls) == len(set(urls))
    assert set(urls) == expected
    # Each article counted "new" by exactly one of the two crawls.
    new = [int(re.search(r"(\d+) new", stdout).group(1)) for stdout, _ in outputs]  # type: ignore[union-attr]
    assert sum(new) == len(rows)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        orphans = conn.execute(text(
            "SELECT count(*) FROM item_urls u LEFT JOIN items i ON i.id = u.item_id "
            "WHERE i.id IS NULL")).scalar_one()
        versions = conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one()
    engine.dispose()
    assert orphans == 0
    assert versions == 1  # one migration history, not two half-applied ones
