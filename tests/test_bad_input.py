"""Bad input at every entry point: a clear message naming the problem, a non-zero exit,
and never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliResult, run_cli

GOOD = """
[storage]
url = "sqlite:///sw.db"

[[topics]]
name = "deserters"
seeds = ["seed.txt"]

[[sources]]
name = "example-news"
url = "http://127.0.0.1:9/rss.xml"
"""


def config_file(tmp_path: Path, text: str = GOOD, *, seed: bool = True) -> Path:
    if seed:
        (tmp_path / "seed.txt").write_text("Six deserters reached France.\n", encoding="utf-8")
    path = tmp_path / "storywatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_clean_failure(result: CliResult, *needles: str) -> None:
    output = result.stdout + result.stderr
    assert result.code != 0, output
    assert "Traceback" not in output, output
    assert result.stderr.startswith(("error:", "Usage:")), output
    for needle in needles:
        assert needle in output, output


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[storage\nurl = 1\n", ("not valid TOML",)),
        (GOOD + "\n[crawl]\nspeed = 3\n", ("crawl.speed", "unknown field")),
        (GOOD.replace('url = "http://127.0.0.1:9/rss.xml"', "url = 42"), ("sources[0].url",)),
        (GOOD + '\n[crawl]\nconcurrency_per_domain = "many"\n',
         ("crawl.concurrency_per_domain",)),
        (GOOD.replace('url = "sqlite:///sw.db"', 'url = "mysql://x"'), ("storage.url",)),
        ("\ufeff\x00\x01binary", ("storywatch.toml",)),
    ],
    ids=["malformed-toml", "unknown-key", "wrong-type", "wrong-type-int", "unknown-backend",
         "binary"],
)
def test_bad_config_file(tmp_path: Path, text: str, needles: tuple[str, ...]) -> None:
    assert_clean_failure(run_cli("items", config=config_file(tmp_path, text)), *needles)


def test_config_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "storywatch.toml"
    path.write_bytes(GOOD.encode() + b"\n# caf\xe9\n")
    assert_clean_failure(run_cli("items", config=path), "cannot read")


def test_config_missing_or_a_directory(tmp_path: Path) -> None:
    assert_clean_failure(run_cli("items", config=tmp_path / "nope.toml"), "no such config file")
    assert_clean_failure(run_cli("items", config=tmp_path), "cannot read")


def test_config_from_environment_missing(tmp_path: Path) -> None:
    result = run_cli("items", env={"STORYWATCH_CONFIG": str(tmp_path / "gone.toml")})
    assert_clean_failure(result, "gone.toml")


def test_missing_seed_file_stops_the_crawl_before_any_download(tmp_path: Path) -> None:
    result = run_cli("crawl", config=config_file(tmp_path, seed=False))
    assert_clean_failure(result, "topics[0].seeds[0]", "seed.txt")


def test_unreadable_seed_file(tmp_path: Path) -> None:
    (tmp_path / "seed.txt").mkdir()  # a directory: exists, cannot be read as a file
    result = run_cli("crawl", config=config_file(tmp_path, seed=False))
    assert_clean_failure(result, "topics[0].seeds[0]")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot open the database"),
        ("postgresql+nosuchdriver://nobody@127.0.0.1/none", "storage.url"),
        ("sqlite:////dev/null/sub/sw.db", "database"),
        ("sqlite:::", "storage.url"),
    ],
    ids=["postgres-down", "unknown-driver", "sqlite-path-under-a-file", "garbage"],
)
def test_unreachable_database(tmp_path: Path, url: str, needle: str) -> None:
    config = config_file(tmp_path, GOOD.replace('"sqlite:///sw.db"', f'"{url}"'))
    assert_clean_failure(run_cli("items", config=config, timeout=60), needle)
    assert_clean_failure(run_cli("crawl", config=config, timeout=60), needle)


def test_unknown_topic_and_source(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    assert_clean_failure(run_cli("items", "--topic", "nope", config=config),
                         "no topic named 'nope'", "deserters")
    assert_clean_failure(run_cli("crawl", "--source", "nope", config=config),
                         "no source named 'nope'", "example-news")


@pytest.mark.parametrize(
    "args",
    [("items", "--status", "maybe"), ("items", "--since", "last tuesday"),
     ("items", "--limit", "0"), ("--log-level", "LOUD", "items"), ("crawl", "--bogus"),
     ("nosuchcommand",)],
    ids=["status", "since", "limit", "log-level", "unknown-option", "unknown-command"],
)
def test_bad_command_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert_clean_failure(run_cli(*args, config=config_file(tmp_path)))
