"""Fast start: the commands people type often load only what they use.

Start-up time is a benchmark figure (benchmarks/startup.py), not a timed test; what is
tested here is its cause: which heavy libraries a command imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli

# Each costs 0.1-0.5 s to import; none is needed to print help or list stored items.
HEAVY = ("alembic", "scrapy", "twisted", "trafilatura", "py3langid", "numpy", "jinja2",
         "email_validator", "bs4", "lxml", "apscheduler", "simplemma", "wordfreq",
         "tldextract", "requests")

_PROBE = """
import json, sys
sys.argv = ["storywatch", *json.loads(sys.argv[1])]
from storywatch.cli import main
try:
    main()
except SystemExit:
    pass
print("\\nLOADED " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def loaded_by(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED "))
    return set(json.loads(line.removeprefix("LOADED ")))


def test_help_loads_no_heavy_library() -> None:
    loaded = loaded_by("--help")
    assert "typer" in loaded  # the probe really ran the CLI
    assert not loaded & {*HEAVY, "sqlalchemy"}, loaded & {*HEAVY, "sqlalchemy"}


def test_items_on_an_up_to_date_database_needs_no_alembic(tmp_path: Path) -> None:
    config = tmp_path / "storywatch.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "sw.db"}"\n', encoding="utf-8")
    first = run_cli("items", config=config)  # creates and migrates the database
    assert first.code == 0, first.stderr
    loaded = loaded_by("--config", str(config), "items", "--format", "jsonl")
    assert "sqlalchemy" in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_migration_heads_read_from_the_files_agree_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    from storywatch.storage.db import alembic_config, migration_heads

    assert migration_heads() == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_a_long_listing_is_printed_as_plain_columns(tmp_path: Path) -> None:
    """rich's table costs ~0.3 ms a row; past RICH_TABLE_MAX_ROWS items are plain lines."""
    from storywatch.cli.items import RICH_TABLE_MAX_ROWS
    from storywatch.normalise.dates import utc_now
    from storywatch.normalise.item import NewsItem
    from storywatch.storage import open_storage
    from storywatch.storage.repository import save_item

    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    storage = open_storage(database_url)
    with storage.session() as session:
        for n in range(RICH_TABLE_MAX_ROWS + 1):
            url = f"https://news.example/{n}.html"
            save_item(session, NewsItem(
                url=url, canonical_url=url, title=f"Title {n}", authors=[],
                published_at=utc_now(), fetched_at=utc_now(), language="en", text="t",
                source="s", discovered_via="feed", content_hash=str(n), word_count=1))
    storage.dispose()
    config = tmp_path / "storywatch.toml"
    config.write_text(f'[storage]\nurl = "{database_url}"\n', encoding="utf-8")
    listed = run_cli("items", config=config)
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == f"{RICH_TABLE_MAX_ROWS + 1} items"
    assert lines[1].split() == ["published", "status", "conf.", "source", "lang", "title"]
    assert len(lines) == RICH_TABLE_MAX_ROWS + 3 and "┃" not in listed.stdout
    assert any(line.endswith(f"Title {RICH_TABLE_MAX_ROWS}") for line in lines)
    short = run_cli("items", "--limit", "3", config=config)
    assert "┃" in short.stdout  # a short listing keeps rich's table
