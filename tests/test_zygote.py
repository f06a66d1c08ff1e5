"""The zygote (scheduler/zygote.py): crawl children forked from a pre-imported process
behave as children started with `python -m storywatch`: same streams, environment,
working directory, exit code and process group; a real crawl through one stores what a
new interpreter would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import func, select

from storywatch.scheduler.children import Child, ForkedChild, judge
from storywatch.scheduler.zygote import Zygote, start_zygote
from storywatch.storage import open_storage
from storywatch.storage.daemon import KILLED
from storywatch.storage.models import Item
from tests.conftest import wait_until
from tests.test_crawl_e2e import ARTICLES, crawl_config

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the zygote forks and uses PR_SET_PDEATHSIG (Linux)")

STORYWATCH = [sys.executable, "-m", "storywatch"]


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    started = start_zygote()
    assert started is not None, "the zygote did not start (its reason is logged)"
    yield started
    started.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a crawl of it hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def command_line(pid: int) -> list[str]:
    """What ps shows; [] while the title is being rewritten (psutil reads it as gone)."""
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def hanging_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "hang.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path}/hang.db"\n\n[crawl]\n'
        'allow_private_networks = true\ndownload_timeout = "60s"\nretry_times = 0\n'
        'obey_robots_txt = false\n\n'
        f'[[sources]]\nname = "silent"\nkind = "feed"\nurl = "http://127.0.0.1:{port}/f"\n',
        encoding="utf-8")
    return path


def test_a_forked_child_gets_its_environment_directory_streams_and_exit_code(
        zygote: Zygote, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[crawl]\nconcurrency_per_domain = "many"\n', encoding="utf-8")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    previous = Path.cwd()
    os.chdir(elsewhere)  # the child starts where its caller is, not where the zygote is
    try:
        # No --config: the file comes from the environment given, relative to the cwd.
        child = ForkedChild(zygote, [*STORYWATCH, "crawl"],
                            env={**os.environ, "STORYWATCH_CONFIG": "../bad.toml"})
    finally:
        os.chdir(previous)
    assert child.pid != zygote.pid
    assert child.wait(60) == 2
    assert "bad.toml" in "\n".join(child.stderr_tail)
    assert "concurrency_per_domain" in "\n".join(child.stderr_tail)

    help_child = ForkedChild(zygote, [*STORYWATCH, "crawl", "--help"], env=dict(os.environ))
    assert help_child.wait(60) == 0
    assert "Crawl sources once" in help_child.stdout


def test_a_forked_child_runs_in_its_own_session_and_stops_as_a_group(
        zygote: Zygote, tmp_path: Path, silent_port: int) -> None:
    config = hanging_config(tmp_path, silent_port)
    child = ForkedChild(zygote, [*STORYWATCH, "--config", str(config), "crawl", "--format",
                                 "json"], env=dict(os.environ))
    # What ps shows is the command a new interpreter would have had.
    wait_until(lambda: "crawl" in command_line(child.pid), "the child's title")
    assert command_line(child.pid)[-2:] == ["--format", "json"]
    assert os.getpgid(child.pid) == child.pid  # its own process group, like a Child
    assert psutil.Process(child.pid).ppid() == zygote.pid
    assert child.wait(0.5) is None  # still crawling the port that never answers
    code = child.stop(KILLED)  # SIGTERM to the group, SIGKILL if Scrapy lingers on
    # Killed by the signal if it came before Scrapy's shutdown handlers were installed;
    # after, Scrapy closes the spider and flushes its pipelines, and the crawl ends
    # normally (0): which one depends on how far the child got in its 0.5 s. Either way
    # the daemon reads it as stopped (judge, below), not as a crawl that ran its course.
    assert code in (0, -signal.SIGTERM, -signal.SIGKILL)
    assert not psutil.pid_exists(child.pid) or psutil.Process(child.pid).status() == "zombie"
    assert judge(child, code, ["silent"], 60)["silent"].outcome == KILLED


def test_a_child_whose_zygote_died_reads_as_killed(tmp_path: Path, silent_port: int) -> None:
    zygote = start_zygote()
    assert zygote is not None
    config = hanging_config(tmp_path, silent_port)
    child = ForkedChild(zygote, [*STORYWATCH, "--config", str(config), "crawl"],
                        env=dict(os.environ))
    try:
        os.kill(zygote.pid, signal.SIGKILL)
        zygote.proc.wait()
        assert child.wait(30) == -signal.SIGKILL
        assert not zygote.alive
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # an orphan now: nobody else stops it
        zygote.close()


def test_a_crawl_forked_by_the_zygote_stores_every_article_once(
        zygote: Zygote, world, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/zygote.db"
    config = crawl_config(tmp_path, world.base_url, database)
    child = ForkedChild(zygote, [*STORYWATCH, "--config", str(config), "crawl", "--format",
                                 "json"], env=dict(os.environ))
    assert child.wait(300) == 0, child.stderr_tail
    summary = json.loads(child.stdout.strip().splitlines()[-1])
    assert summary["totals"]["new"] == len(ARTICLES)
    storage = open_storage(database)
    with storage.session() as session:
        urls = list(session.execute(select(Item.canonical_url)).scalars())
        assert session.execute(select(func.count()).select_from(Item)).scalar_one() == \
            len(ARTICLES)
    storage.dispose()
    assert set(urls) == {world.base_url + path for path in ARTICLES}


@pytest.mark.parametrize("forked", [False, True], ids=["new-interpreter", "forked"])
def test_a_crawl_killed_with_9_leaves_no_writer_behind(
        forked: bool, tmp_path: Path, silent_port: int) -> None:
    """The writer process is forked from the crawl (spiders/run.py) and holds both ends of
    its task queue: without its lifeline it waited on that queue for ever once the crawl
    was killed (three such writers were found after a kill -9 loop)."""
    zygote = start_zygote() if forked else None
    config = hanging_config(tmp_path, silent_port)
    command = [*STORYWATCH, "--config", str(config), "crawl"]
    child = ForkedChild(zygote, command, env=dict(os.environ)) if zygote else \
        Child(command, env=dict(os.environ))
    try:
        crawl = psutil.Process(child.pid)

        def writer() -> psutil.Process | None:
            found = [p for p in crawl.children() if p.status() != psutil.STATUS_ZOMBIE]
            return found[0] if found else None

        forked_writer = wait_until(writer, "the crawl's writer process")
        os.kill(child.pid, signal.SIGKILL)  # the crawl alone, not its process group
        assert child.wait(30) == -signal.SIGKILL
        wait_until(lambda: not forked_writer.is_running()
                   or forked_writer.status() == psutil.STATUS_ZOMBIE,
                   "the writer to die with its crawl")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        if zygote is not None:
            zygote.close()


def test_two_threads_waiting_for_one_forked_child_both_see_its_end(
        zygote: Zygote, tmp_path: Path, silent_port: int) -> None:
    """The daemon's stop and the run's own thread both wait for a child (as both may wait
    for a Popen): the exit code must reach both, whichever reads it first. Once, the stop
    took it and the run's thread, still waiting, left its run unrecorded."""
    config = hanging_config(tmp_path, silent_port)
    child = ForkedChild(zygote, [*STORYWATCH, "--config", str(config), "crawl"],
                        env=dict(os.environ))
    seen: list[int | None] = []
    waiter = threading.Thread(target=lambda: seen.append(child.wait(120)))
    waiter.start()
    code = child.stop(KILLED)
    waiter.join(60)
    assert not waiter.is_alive()
    assert seen == [code] and code in (-signal.SIGTERM, -signal.SIGKILL)
