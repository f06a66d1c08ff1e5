"""`storywatch run` as it runs in production: a real daemon process, real crawl children,
the demo news world on 127.0.0.1, SQLite or PostgreSQL.

Every wait polls the database or the daemon's JSON log against a deadline; the deadlines
are generous because crawl children start a full Python + Scrapy each (2-5 s on a busy
2-core machine), but a passing run takes only as long as the events it waits for.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import Column, Float, MetaData, Table, Unicode, func, select

from storywatch.demo.server import FixtureServer
from storywatch.storage import Storage, open_storage
from storywatch.storage.daemon import CrawlRun, DaemonLease
from storywatch.storage.models import Item
from tests.conftest import REPO, run_cli, wait_until

# Long enough for several child starts on a loaded CI machine; a pass is much faster.
DEADLINE = 90.0

_jobs = Table("apscheduler_jobs", MetaData(), Column("id", Unicode(191), primary_key=True),
              Column("next_run_time", Float(25)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaemonProcess:
    """`storywatch --log-format json run` in the background, its stderr in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "storywatch", "--config", str(config), "--log-format",
             "json", "run"],
            stdout=subprocess.DEVNULL, stderr=self._log_file, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if "event" in data and (event is None or data["event"] == event):
                out.append(data)
        return out

    def started(self) -> dict[str, Any]:
        """Wait for this process's "started" line (the log file may hold older daemons')."""
        def mine() -> dict[str, Any] | None:
            found = [e for e in self.events("started") if e.get("pid") == self.proc.pid]
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n"
                                     + self.log.read_text()[-3000:])
            return found[0] if found else None
        return wait_until(mine, "the daemon to start", log=self.log)

    def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM; returns the exit code and the seconds it took."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def cleanup(self) -> None:
        """After a failed test: leave no daemon or crawl child behind."""
        if self.proc.poll() is None:
            try:
                children = psutil.Process(self.proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                children = []
            self.proc.kill()
            self.proc.wait()
            for child in children:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGKILL)
        self._log_file.close()


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.cleanup()


def write_config(path: Path, url: str, sources: list[tuple[str, str, str]],
                 crawl: str = "", daemon: str = "") -> Path:
    lines = [
        "[storage]", f'url = "{url}"', "",
        "[crawl]", "allow_private_networks = true  # the test servers are on loopback",
        "autothrottle = false", crawl, "",
        "[daemon]", daemon, "",
    ]
    for name, feed, every in sources:
        lines += ["[[sources]]", f'name = "{name}"', f'url = "{feed}"', f'every = "{every}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def all_runs(storage: Storage) -> list[CrawlRun]:
    with storage.session() as session:
        return list(session.execute(select(CrawlRun).order_by(CrawlRun.id)).scalars())


def ok_runs(storage: Storage, source: str) -> list[CrawlRun]:
    return [r for r in all_runs(storage) if r.source == source and r.outcome == "ok"]


def next_run_times(storage: Storage) -> dict[str, float | None]:
    with storage.session() as session:
        rows = session.execute(select(_jobs.c.id, _jobs.c.next_run_time))
        return {job_id: next_run for job_id, next_run in rows}


def assert_no_half_written_rows(storage: Storage) -> None:
    rows = all_runs(storage)
    assert rows, "no run was recorded"
    unfinished = [(r.id, r.source, r.outcome) for r in rows
                  if r.finished_at is None or r.outcome == "running"]
    assert not unfinished, f"runs left unfinished: {unfinished}"
    assert {r.outcome for r in rows} <= {"ok", "failed", "killed", "timeout"}


def test_daemon_crawls_reports_refuses_a_second_and_survives_restart_and_sighup(
    world: FixtureServer, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    url = f"sqlite:///{tmp_path / 'storywatch.db'}"
    weekly = ("weekly", world.url("/feeds/all.atom"), "7d")
    sources = [("world", world.url("/feeds/world.rss"), "1s"),
               ("europe", world.url("/feeds/europe.rdf"), "2s"), weekly]
    daemon_section = 'jitter = "0.2s"\ngrace_period = "30s"\nbatch_window = "0.5s"'
    config = write_config(tmp_path / "storywatch.toml", url, sources, daemon=daemon_section)
    log = tmp_path / "daemon.log"
    first = DaemonProcess(config, log)
    daemons.append(first)
    started = first.started()
    assert sorted(started["added"]) == ["crawl:europe", "crawl:weekly", "crawl:world"]
    storage = open_storage(url)

    # Several runs of the short-interval sources, and the weekly one once.
    wait_until(lambda: len(ok_runs(storage, "world")) >= 2 and len(ok_runs(storage, "europe"))
               >= 2 and ok_runs(storage, "weekly"), "repeated ok runs", log=log)
    with storage.session() as session:
        stored = {source: count for source, count in session.execute(
            select(Item.source, func.count()).group_by(Item.source))}
    # The feeds overlap; an article belongs to whichever source stored it first.
    assert sum(stored.values()) >= 15
    lines = first.events("crawl_run")
    assert any(e["source"] == "world" and e["outcome"] == "ok" and e["seen"] >= 5
               and e["bytes"] > 0 for e in lines)

    status = run_cli("status", "--format", "json", config=config, timeout=120)
    assert status.code == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert report["healthy"] and report["daemon"]["pid"] == first.proc.pid
    by_source = {s["source"]: s for s in report["sources"]}
    assert {name: s["items_24h"] for name, s in by_source.items() if s["items_24h"]} == stored
    assert by_source["world"]["failures_in_row"] == 0 and by_source["world"]["outcome"] in (
        "ok", "running")
    assert by_source["weekly"]["next_run"] is not None
    second = run_cli("run", config=config, timeout=120)
    assert second.code == 1
    assert "another storywatch daemon is running" in second.stderr
    assert str(first.proc.pid) in second.stderr

    weekly_next = next_run_times(storage)["crawl:weekly"]
    assert weekly_next is not None and weekly_next > time.time() + 6 * 86400
    code, seconds = first.terminate(timeout=60)
    assert code == 0 and seconds < 30 + 10  # within the grace period (+ the last record)
    assert_no_half_written_rows(storage)
    with storage.session() as session:
        assert session.get(DaemonLease, "daemon") is None  # released: status says "down"

    # Restart: the job store kept every schedule, and the weekly source is not re-crawled.
    restarted = DaemonProcess(config, log)
    daemons.append(restarted)
    again = restarted.started()
    assert sorted(again["kept"]) == ["crawl:europe", "crawl:weekly", "crawl:world"]
    assert again["added"] == [] and again["changed"] == []
    assert next_run_times(storage)["crawl:weekly"] == weekly_next
    runs_before = len(ok_runs(storage, "world"))
    wait_until(lambda: len(ok_runs(storage, "world")) > runs_before, "a run after the restart",
               log=log)

    # SIGHUP: europe removed, a new source added; the others keep their state.
    sources = [sources[0], weekly, ("all", world.url("/feeds/all.atom"), "1s")]
    write_config(config, url, sources, daemon=daemon_section)
    restarted.proc.send_signal(signal.SIGHUP)
    reloaded = wait_until(lambda: restarted.events("reloaded"), "the reload", log=log)[0]
    assert reloaded["added"] == ["crawl:all"] and reloaded["removed"] == ["crawl:europe"]
    assert sorted(reloaded["kept"]) == ["crawl:weekly", "crawl:world"]
    assert next_run_times(storage)["crawl:weekly"] == weekly_next
    assert "crawl:europe" not in next_run_times(storage)
    wait_until(lambda: ok_runs(storage, "all"), "the added source's first run", log=log)
    code, _ = restarted.terminate(timeout=60)
    assert code == 0
    assert_no_half_written_rows(storage)
    storage.dispose()


def test_daemon_on_postgresql(
    world: FixtureServer, postgres_url: str, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    config = write_config(tmp_path / "storywatch.toml", postgres_url,
                          [("world", world.url("/feeds/world.rss"), "1s")],
                          daemon='jitter = "0.2s"')
    log = tmp_path / "daemon.log"
    daemon = DaemonProcess(config, log)
    daemons.append(daemon)
    daemon.started()
    storage = open_storage(postgres_url)
    wait_until(lambda: ok_runs(storage, "world"), "an ok run", log=log)
    # (The lease itself is tested on PostgreSQL in test_scheduler.py.)
    table = run_cli("status", config=config, timeout=120)
    assert table.code == 0, table.stdout + table.stderr
    assert "world" in table.stdout and "every 1s" in table.stdout
    assert "daemon: running" in table.stdout
    assert next_run_times(storage)["crawl:world"] is not None  # the job store is in PostgreSQL
    code, _ = daemon.terminate(timeout=60)
    assert code == 0
    assert_no_half_written_rows(storage)
    storage.dispose()


def test_failing_source_backs_off_and_recovers_and_a_hung_one_is_killed(
    world: FixtureServer, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    flaky_port = free_port()
    flaky = FixtureServer(port=flaky_port)  # down until started below
    # A server that accepts connections (the kernel does, via the backlog) and never answers.
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)
    hang_url = f"http://127.0.0.1:{hang.getsockname()[1]}/feed.rss"
    url = f"sqlite:///{tmp_path / 'storywatch.db'}"
    config = write_config(
        tmp_path / "storywatch.toml", url,
        [("good", world.url("/feeds/world.rss"), "1s"),
         ("flaky", f"http://127.0.0.1:{flaky_port}/feeds/world.rss", "1s"),
         ("hung", hang_url, "1s")],
        # The crawl timeout must fire, not Scrapy's own download timeout.
        crawl='timeout = "20s"\ndownload_timeout = "60s"',
        daemon='jitter = "0.1s"\nbackoff_cap = "3s"\nbatch_window = "0s"\n'
               'grace_period = "3s"\nfailure_threshold = 2',
    )
    log = tmp_path / "daemon.log"
    daemon = DaemonProcess(config, log)
    daemons.append(daemon)
    storage = open_storage(url)
    try:
        daemon.started()

        # The flaky source fails, and waits twice as long after each failure (capped at 3 s).
        backoffs = wait_until(
            lambda: [e for e in daemon.events("backoff") if e["source"] == "flaky"][:2]
            if len([e for e in daemon.events("backoff") if e["source"] == "flaky"]) >= 2
            else None, "two backoffs of the flaky source", log=log)
        assert [e["failures"] for e in backoffs] == [1, 2]
        assert [e["delay"] for e in backoffs] == [2, 3]  # 1 s x 2, then 1 s x 4 capped
        failed = [r for r in all_runs(storage) if r.source == "flaky" and r.outcome != "running"]
        assert all(r.outcome == "failed" and "no listing" in (r.error or "") for r in failed)
        for earlier, later in itertools.pairwise(failed):
            assert later.started_at is not None and earlier.finished_at is not None
            # Never earlier than the backoff asked for (jitter is at most 0.1 s here).
            assert (later.started_at - earlier.finished_at).total_seconds() >= 1.8

        status = run_cli("status", "--format", "json", config=config, timeout=120)
        assert status.code == 1
        report = json.loads(status.stdout)
        assert report["daemon"]["running"]
        assert any("flaky failed" in problem for problem in report["problems"])

        # The hung source is killed at the crawl timeout while the good one keeps running.
        def hung_while_good_ran() -> list[CrawlRun]:
            good = ok_runs(storage, "good")
            return [r for r in all_runs(storage)
                    if r.source == "hung" and r.outcome == "timeout" and r.finished_at
                    and any(r.started_at <= g.started_at <= r.finished_at for g in good)]

        hung = wait_until(hung_while_good_ran, "a good run during a hung one", log=log)[0]
        assert "timeout of 20 s" in (hung.error or "")
        took = (hung.finished_at - hung.started_at).total_seconds()  # type: ignore[operator]
        assert 20 <= took < 20 + 5 + 10  # the timeout, SIGTERM->SIGKILL, and the records

        # The flaky server comes back: the source recovers.
        flaky.start()
        recovered = wait_until(lambda: [e for e in daemon.events("recovered")
                                        if e["source"] == "flaky"], "recovery", log=log)
        assert recovered[0]["failures"] >= 2
        assert ok_runs(storage, "flaky")
        with storage.session() as session:
            assert session.execute(select(func.count()).select_from(Item)
                                   .where(Item.source == "flaky")).scalar() or \
                ok_runs(storage, "flaky")[0].seen > 0

        # SIGTERM while the hung source is probably mid-run: still a clean, bounded exit.
        code, seconds = daemon.terminate(timeout=60)
        assert code == 0 and seconds < 3 + 5 + 10
        assert_no_half_written_rows(storage)
    finally:
        flaky.stop()
        hang.close()
        storage.dispose()
