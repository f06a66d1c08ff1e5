"""`storywatch crawl` end to end: real Scrapy crawls of the news world on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import select

from storywatch.demo.config import demo_config_toml
from storywatch.demo.site import DELETED_ARTICLE_PATH
from storywatch.demo.world import load_articles
from storywatch.normalise.text import clean_text
from storywatch.storage import open_storage
from storywatch.storage.models import Item
from tests.conftest import run_cli

ARTICLES = {a.path: a for a in load_articles()}


def crawl_config(tmp_path: Path, base_url: str, database_url: str) -> Path:
    path = tmp_path / "storywatch.toml"
    # Feeds only (discovery={}): these tests pin which feed source stores each article.
    path.write_text(demo_config_toml(base_url, database_url, discovery={}), encoding="utf-8")
    return path


def stored(database_url: str) -> dict[str, Item]:
    storage = open_storage(database_url)
    with storage.session() as session:
        items = {item.canonical_url: item for item in session.execute(select(Item)).scalars()}
    storage.dispose()
    return items


def test_first_crawl_stores_every_article_once_normalised(
    world, tmp_path: Path, database_url: str
) -> None:
    config = crawl_config(tmp_path, world.base_url, database_url)
    result = run_cli("crawl", config=config)
    assert result.code == 0, result.stderr
    assert "23 new" in result.stdout

    items = stored(database_url)
    assert set(items) == {world.base_url + path for path in ARTICLES}
    for url, item in items.items():
        article = ARTICLES[url.removeprefix(world.base_url)]
        assert "utm_" not in item.url or item.url != item.canonical_url
        assert item.title == article.title
        assert item.language == article.language
        assert item.source in {"world-rss", "europe-rdf", "all-atom", "broken-feed"}
        assert item.authors, url
        # Every body paragraph is in the text; page furniture is not.
        for paragraph in article.paragraphs:
            assert clean_text(paragraph) in item.text, (url, paragraph[:40])
        assert "cookie" not in item.text.lower()
        assert item.published_at is not None
        if article.template == "minimal":  # the date is only in the prose: day precision
            assert item.published_at.date() == article.published.astimezone(UTC).date()
        else:
            assert item.published_at == article.published.astimezone(UTC)
        assert item.word_count == len(item.text.split())
        assert len(item.content_hash) == 64


def test_failures_are_reported_against_their_urls_and_the_crawl_goes_on(
    world, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    result = run_cli("crawl", config=crawl_config(tmp_path, world.base_url, database_url))
    assert result.code == 0
    assert f"{DELETED_ARTICLE_PATH}" in result.stdout and "HTTP 404" in result.stdout
    assert "/feeds/html.rss" in result.stdout and "not a" in result.stdout
    assert "/feeds/broken.rss" in result.stderr and "malformed feed" in result.stderr
    assert "Traceback" not in result.stderr


def test_non_utf8_pages_are_decoded_by_their_declared_charset(world, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    assert run_cli("crawl", config=crawl_config(tmp_path, world.base_url, database_url)).code == 0
    items = stored(database_url)
    for path, article in ARTICLES.items():
        if article.charset != "utf-8":
            item = items[world.base_url + path]
            assert clean_text(article.paragraphs[0]) in item.text
            assert "\ufffd" not in item.text


def test_second_crawl_downloads_no_article_and_stores_nothing_twice(
    world, tmp_path: Path, database_url: str
) -> None:
    config = crawl_config(tmp_path, world.base_url, database_url)
    assert run_cli("crawl", config=config).code == 0
    first = stored(database_url)
    world.clear_log()

    again = run_cli("crawl", config=config)
    assert again.code == 0, again.stderr
    assert "0 new" in again.stdout
    assert stored(database_url).keys() == first.keys()
    fetched = {r.path.split("?")[0] for r in world.requests}
    assert not fetched & set(ARTICLES), "article pages were downloaded again"
    assert {"/feeds/world.rss", "/feeds/all.atom"} <= fetched


def test_items_command_formats(world, tmp_path: Path) -> None:
    import csv
    import io
    import json

    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = crawl_config(tmp_path, world.base_url, database_url)
    assert run_cli("crawl", config=config).code == 0

    lines = run_cli("items", "--format", "jsonl", config=config).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 23
    required = {"url", "canonical_url", "title", "authors", "published_at", "fetched_at",
                "language", "text", "source", "topic", "status", "duplicate_of", "relevance",
                "novelty", "reasons"}
    assert required <= rows[0].keys()
    assert all(row["published_at"].endswith("Z") for row in rows)
    assert [r["published_at"] for r in rows] == sorted((r["published_at"] for r in rows),
                                                       reverse=True)

    table = run_cli("items", "--format", "csv", "--since", "2000-01-01", config=config)
    assert len(list(csv.DictReader(io.StringIO(table.stdout)))) == 23

    assert run_cli("items", "--format", "csv", "--since", "2099-01-01",
                   config=config).stdout.count("\n") == 1
    bad = run_cli("items", "--since", "someday", config=config)
    assert bad.code == 2 and "--since" in bad.stderr
    unknown = run_cli("items", "--topic", "nope", config=config)
    assert unknown.code == 2 and "no topic named 'nope'" in unknown.stderr


def _command_paths() -> list[list[str]]:
    """Every command a user can run, groups' subcommands included ([] is the program)."""
    import typer

    from storywatch.cli import app

    def walk(command: object, path: list[str]) -> list[list[str]]:
        subcommands = getattr(command, "commands", None) or {}
        return [path] + [p for name, sub in sorted(subcommands.items())
                         for p in walk(sub, [*path, name])]

    return [path for path in walk(typer.main.get_command(app), [])
            if not getattr(_lookup(path), "commands", None) or not path]


def _lookup(path: list[str]) -> object:
    import typer

    from storywatch.cli import app

    command: object = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


COMMANDS = _command_paths()
# A global option may come before the command: storywatch --config x.toml crawl ...
_GLOBAL = r"(?:\s+--?[\w-]+(?:[ =](?!-)\S+)?)*"


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "storywatch")
def test_help_has_examples(path: list[str]) -> None:
    """Each command's --help shows an `Example:` line that runs that very command."""
    from typer.testing import CliRunner

    from storywatch.cli import app

    result = CliRunner().invoke(app, [*path, "--help"], prog_name="storywatch")
    assert result.exit_code == 0, result.output
    command = "".join(rf"\s+{re.escape(word)}" for word in path)
    example = re.compile(rf"^\s*Example:\s+storywatch{_GLOBAL}{command}(\s|$)", re.M)
    assert example.search(result.output), result.output


def test_every_command_is_covered_by_the_help_test() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {"", "crawl", "items", "run", "subscribers list", "subscribers remove",
            "digest send"} <= names


def test_demo_world_is_judged_like_its_writer_labelled_it(world, tmp_path: Path) -> None:
    """A second labelled set, written apart from the eval corpus: a check on generalisation.

    Known misses (docs/classification.md): cross-lingual follow-ups that bring no new
    number or name are taken for translations of the seed story.
    """
    import json

    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = crawl_config(tmp_path, world.base_url, database_url)
    assert run_cli("crawl", config=config).code == 0
    rows = [json.loads(line) for line in
            run_cli("items", "--format", "jsonl", config=config).stdout.splitlines()]
    pairs = [(ARTICLES[r["canonical_url"].removeprefix(world.base_url)].expected, r["status"])
             for r in rows]
    assert len(pairs) == len(ARTICLES)
    agreement = sum(expected == got for expected, got in pairs) / len(pairs)
    judged_followup = [expected for expected, got in pairs if got == "followup"]
    assert agreement >= 0.9, pairs
    assert judged_followup and set(judged_followup) == {"followup"}, pairs


def test_extraction_workers_start_with_the_extractor_loaded_and_frozen() -> None:
    """The workers are forked from a forkserver that imported the extractor once and froze
    it for the garbage collector (storywatch/spiders/preload.py): a preload that failed to
    import, or a forkserver started without it, would leave nothing frozen in a worker."""
    import gc

    from storywatch.normalise.language import model_loaded
    from storywatch.spiders import malloc
    from storywatch.spiders.run import extraction_pool

    pool = extraction_pool(1)
    assert pool is not None
    try:
        assert pool.submit(gc.get_freeze_count).result(timeout=120) > 10_000
        # Before its first article: what every worker loads on its first pages came with
        # the forkserver's pages.
        assert pool.submit(model_loaded).result(timeout=120) is True
        assert pool.submit(_first_use_data_loaded).result(timeout=120) == {
            "justext stop words": True, "public suffixes": True, "extractor": True}
        if malloc.on_glibc():  # large freed blocks go back (malloc.py)
            assert pool.submit(malloc.tuned).result(timeout=120) is True
    finally:
        pool.shutdown()


def _first_use_data_loaded() -> dict[str, bool]:
    """Run in an extraction worker: whether the data trafilatura's justext fallback and
    the same-site check build on first use is there already."""
    from trafilatura import external

    from storywatch.normalise.urls import _suffixes

    return {"justext stop words": external.JT_STOPLIST is not None,
            "public suffixes": _suffixes.cache_info().currsize == 1,
            # build_item imports these on its first call (spiders/build.py)
            "extractor": "storywatch.extraction.article" in sys.modules
            and "storywatch.extraction.encoding" in sys.modules}


def test_the_spider_loader_imports_the_spiders_not_the_workers_preload() -> None:
    """Scrapy's spider loader imports every module of SPIDER_MODULES, in the crawl process
    (whose writer is forked from it): the workers' preload loads the language model and
    freezes the garbage collector, which that process must not do. Nor does the crawl
    process import the extractor with its pipelines: the workers run it."""
    probe = (
        "import json, sys\n"
        "from scrapy.settings import Settings\n"
        "from scrapy.spiderloader import SpiderLoader\n"
        "from storywatch.spiders import settings as project\n"
        "from storywatch.normalise.language import model_loaded\n"
        "settings = Settings(); settings.setmodule(project, priority='project')\n"
        "names = SpiderLoader.from_settings(settings).list()\n"
        "import storywatch.spiders.pipelines\n"
        "print(json.dumps({'spiders': sorted(names), 'model': model_loaded(),\n"
        "                  'preload': 'storywatch.spiders.preload' in sys.modules,\n"
        "                  'extractor': 'trafilatura' in sys.modules}))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"spiders": ["feed", "site", "sitemap"], "model": False, "preload": False,
                      "extractor": False}
