"""Config loading: good files load, bad files name the file, the field and the problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from storywatch.config import ConfigError, load_config, parse_duration
from tests.conftest import run_cli

GOOD = """
[storage]
url = "sqlite:///data/sw.db"

[[topics]]
name = "deserters"
seeds = ["seeds/a.txt", "https://example.org/story"]

[[sources]]
name = "example-news"
kind = "feed"
url = "https://example.org/rss.xml"
every = "30m"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "storywatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.sources[0].every == timedelta(minutes=30)
    assert config.topics[0].seeds[0] == str(tmp_path / "seeds/a.txt")
    assert config.topics[0].seeds[1] == "https://example.org/story"
    assert config.storage.url == f"sqlite:///{tmp_path / 'data/sw.db'}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace('every = "30m"', 'every = "often"'), "sources[0].every"),
        (GOOD.replace('kind = "feed"', 'kind = "podcast"'), "sources[0].kind"),
        (GOOD.replace('url = "https://example.org/rss.xml"', 'url = "example.org"'),
         "sources[0].url"),
        (GOOD + "\n[crawl]\nconcurency_per_domain = 3\n", "crawl.concurency_per_domain"),
        (GOOD.replace('seeds = ["seeds/a.txt", "https://example.org/story"]', "seeds = []"),
         "topics[0].seeds"),
        (GOOD.replace('name = "deserters"', "name = 5"), "topics[0].name"),
        (GOOD + '\n[crawl]\ndownload_timeout = "-3s"\n', "crawl.download_timeout"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[storage\nurl = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration(45) == timedelta(seconds=45)
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_cli_bad_config_exits_2_with_message_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('kind = "feed"', 'kind = "podcast"'))
    result = run_cli("crawl", config=path)
    assert result.code == 2
    assert str(path) in result.stderr
    assert "sources[0].kind" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_unknown_source_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    result = run_cli("crawl", "--source", "nope", config=path)
    assert result.code == 2
    assert "no source named 'nope'" in result.stderr
    assert "example-news" in result.stderr


def test_cli_unreachable_database_exits_2(tmp_path: Path) -> None:
    text = GOOD.replace('url = "sqlite:///data/sw.db"',
                        'url = "postgresql+psycopg://nobody@127.0.0.1:1/none"')
    result = run_cli("items", config=write(tmp_path, text))
    assert result.code == 2
    assert "cannot open the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_example_config_is_valid() -> None:
    from tests.conftest import REPO

    config = load_config(REPO / "examples" / "storywatch.toml")
    assert config.sources and all(s.url.startswith("https://") for s in config.sources)
    assert not config.crawl.allow_private_networks


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql+nosuch://ana:S3CRET-pw@db.example/sw", "Can't load plugin"),
    ("postgresql://ana:S3CRET-pw@db.example:abc/sw", "the port is not a number"),
    ("postgresql:ana:S3CRET-pw@db.example/sw", "is not a database URL"),
    ("postgresql://ana:S3CRET/pw@db.example:x/sw", "the port is not a number"),
    ("postgresql+psycopg://ana:S3CRET-pw@127.0.0.1:1/sw", "cannot open the database"),
])
def test_storage_url_errors_never_show_the_password(url: str, expected: str) -> None:
    from storywatch.storage import StorageError, open_storage

    with pytest.raises(StorageError) as caught:
        open_storage(url)
    assert expected in str(caught.value)
    assert "S3CRET" not in str(caught.value) and "pw" not in str(caught.value)


def test_cli_non_numeric_port_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[storage]\nurl = "postgresql://ana:S3CRET@db.example:abc/sw"\n')
    result = run_cli("status", config=path)
    assert result.code == 2
    assert "the port is not a number" in result.stderr
    assert "Traceback" not in result.stderr and "S3CRET" not in result.stderr


def test_example_config_runs_from_a_clone() -> None:
    """Every seed of the example is a published article's URL or a file in the repository,
    so a new user can run it as it is (no path to somewhere beside a clone)."""
    from tests.conftest import REPO

    path = REPO / "examples" / "storywatch.toml"
    config = load_config(path)
    seeds = [seed for topic in config.topics for seed in topic.seeds]
    assert seeds
    for seed in seeds:
        if seed.startswith("https://"):
            continue
        resolved = (path.parent / seed).resolve()
        assert resolved.is_relative_to(REPO) and resolved.is_file(), seed
