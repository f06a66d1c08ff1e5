"""Shared fixtures: the news world on 127.0.0.1, databases, and the CLI as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
POSTGRES_URL = os.environ.get("STORYWATCH_TEST_POSTGRES_URL")
T = TypeVar("T")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, config: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 240, cwd: Path | None = None) -> CliResult:
    """Run `python -m storywatch ARGS` in a child process, as a user would run the command.

    A child process per call also gives each crawl its own Twisted reactor.
    """
    command = [sys.executable, "-m", "storywatch"]
    if config is not None:
        command += ["--config", str(config)]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("STORYWATCH_CONFIG", None) if env is None or "STORYWATCH_CONFIG" not in env \
        else None
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=cwd or REPO)
    return CliResult(done.returncode, done.stdout, done.stderr)


def wait_until(check: Callable[[], T], what: str, timeout: float = 90.0,
               log: Path | None = None) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{tail}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def news_world() -> Iterator[object]:
    """The demo news world served for the whole test session."""
    from storywatch.demo.server import FixtureServer

    with FixtureServer() as server:
        yield server


@pytest.fixture
def world(news_world: object) -> Iterator[object]:
    """The same server with a clean request log and no overrides left by other tests."""
    news_world.clear_log()  # type: ignore[attr-defined]
    yield news_world
    reset = getattr(news_world, "reset", None)
    if reset is not None:
        reset()


# Real headless Chromium for the digest and web app tests (Debian's package, installed by
# scripts/browser.sh when the tests run as root); without it they skip, saying why.
CHROMIUM = shutil.which("chromium")
NEEDS_CHROMIUM = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless chromium is not installed "
                       "(scripts/browser.sh installs it when run as root)"),
]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the real PostgreSQL server, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("STORYWATCH_TEST_POSTGRES_URL is not set")
    yield from fresh_postgres_schema()


def fresh_postgres_schema() -> Iterator[str]:
    """The URL of a new schema of the test server (dropped when the generator ends)."""
    from sqlalchemy import create_engine, text

    assert POSTGRES_URL
    schema = f"sw_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on the embedded default and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'storywatch.db'}"
    return request.getfixturevalue("postgres_url")
