"""The daemon's parts in this process: jobs from config, the lease, the crawl runner.

The runner is driven by real child processes (small Python programs that speak the crawl
child's protocol: one JSON line of figures), so batching, crashes and timeouts are
tested in a second or two; tests/test_daemon.py runs the whole daemon with real crawls.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from storywatch.config import Config
from storywatch.scheduler.children import CrawlRunner, RunnerSettings
from storywatch.scheduler.daemon import backoff_delay
from storywatch.scheduler.jobs import job_specs, source_interval, sync_jobs
from storywatch.scheduler.lock import Lease, LeaseHeld, read_lease
from storywatch.scheduler.runs import RunResult, close_orphans, failures_in_row, start_runs
from storywatch.scheduler.tasks import PeriodicTask
from storywatch.storage import open_storage
from storywatch.storage.daemon import JOBS_TABLE, CrawlRun, DaemonLease
from tests.conftest import REPO, run_cli


def make_config(sources: list[dict], **daemon: object) -> Config:
    return Config.model_validate({"sources": sources, "daemon": daemon})


def src(name: str, **schedule: str) -> dict:
    return {"name": name, "url": f"https://news.example/{name}.rss", **schedule}


# ---------------------------------------------------------------- backoff


def test_backoff_doubles_per_failure_up_to_the_cap() -> None:
    minute, cap = timedelta(minutes=1), timedelta(minutes=10)
    delays = [backoff_delay(minute, n, cap) for n in range(6)]
    assert delays == [minute, 2 * minute, 4 * minute, 8 * minute, cap, cap]
    # A cap below the interval never makes a failing source run more often than a healthy one.
    assert backoff_delay(timedelta(hours=2), 3, timedelta(hours=1)) == timedelta(hours=2)


def test_cron_interval_is_the_gap_between_fires() -> None:
    config = make_config([src("c", cron="0 */2 * * *")])
    now = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    assert source_interval(config.sources[0], config.daemon, now) == timedelta(hours=2)


# ---------------------------------------------------------------- jobs in the job store


def scheduler_on(url: str) -> BackgroundScheduler:
    storage = open_storage(url)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=storage.engine, tablename=JOBS_TABLE)},
        timezone="UTC",
    )
    scheduler.start(paused=True)  # jobs are stored, none runs
    return scheduler


def test_sync_keeps_unchanged_jobs_and_applies_changes(database_url: str) -> None:
    now = datetime.now(UTC)
    tasks = [PeriodicTask("digests", "storywatch.scheduler.tasks:TASKS.copy",
                          every=timedelta(minutes=5))]
    first = make_config([src("a", every="1h"), src("b", every="2h"), src("c", cron="0 6 * * *")],
                        jitter="10s")
    scheduler = scheduler_on(database_url)
    report = sync_jobs(scheduler, job_specs(first, tasks, now), first.daemon.misfire_grace)
    assert sorted(report.added) == ["crawl:a", "crawl:b", "crawl:c", "task:digests"]
    jobs = {job.id: job for job in scheduler.get_jobs()}
    # New interval sources run within the jitter, not one interval later.
    assert jobs["crawl:a"].next_run_time <= now + timedelta(seconds=10.5)
    assert jobs["crawl:c"].next_run_time.hour == 6
    assert jobs["task:digests"].next_run_time >= now + timedelta(minutes=4)
    assert jobs["crawl:a"].max_instances == 1 and jobs["crawl:a"].coalesce
    a_next = datetime(2030, 1, 1, tzinfo=UTC)
    scheduler.modify_job("crawl:a", next_run_time=a_next)  # as a run or a backoff would
    scheduler.shutdown()

    # A restart with b changed, c removed and d added: a keeps its next run time.
    second = make_config([src("a", every="1h"), src("b", every="3h"), src("d", every="1h")],
                         jitter="10s")
    scheduler = scheduler_on(database_url)
    report = sync_jobs(scheduler, job_specs(second, tasks, now), second.daemon.misfire_grace)
    assert report.kept == ["crawl:a", "task:digests"]
    assert report.changed == ["crawl:b"]
    assert report.removed == ["crawl:c"]
    assert report.added == ["crawl:d"]
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert jobs["crawl:a"].next_run_time == a_next
    assert jobs["crawl:b"].trigger.interval == timedelta(hours=3)
    assert set(jobs) == {"crawl:a", "crawl:b", "crawl:d", "task:digests"}
    scheduler.shutdown()


def test_periodic_task_needs_one_schedule() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        PeriodicTask("x", "m:f")


# ---------------------------------------------------------------- the lease


def test_second_daemon_is_refused_until_the_lease_is_released(database_url: str) -> None:
    storage = open_storage(database_url)
    first = Lease(storage, timedelta(seconds=10))
    first.acquire()
    second = Lease(storage, timedelta(seconds=10))
    with pytest.raises(LeaseHeld, match="another storywatch daemon is running"):
        second.acquire()
    assert first.renew()
    first.release()
    second.acquire()
    assert second.held() and not first.renew()
    second.release()
    assert read_lease(storage) is None
    storage.dispose()


def test_expired_lease_is_taken_over_and_the_old_holder_notices(database_url: str) -> None:
    storage = open_storage(database_url)
    old = Lease(storage, timedelta(seconds=10))
    old.acquire(now=datetime.now(UTC) - timedelta(minutes=5))  # its heartbeat stopped then
    new = Lease(storage, timedelta(seconds=10))
    new.acquire()
    assert not old.renew()  # the old daemon stops when it sees this
    assert read_lease(storage).owner == new.owner  # type: ignore[union-attr]
    storage.dispose()


def test_lease_of_a_dead_process_on_this_host_is_taken_at_once(database_url: str) -> None:
    storage = open_storage(database_url)
    dead = psutil.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = Lease(storage, timedelta(minutes=10))
    ghost.pid = dead.pid  # a daemon that was SIGKILLed a moment ago
    ghost.acquire()
    fresh = Lease(storage, timedelta(minutes=10))
    fresh.acquire()
    assert fresh.held()
    storage.dispose()


def test_unexpired_lease_under_a_reused_pid_is_taken(database_url: str) -> None:
    """A restarted container: the new daemon is pid 1 again, like the killed one was."""
    storage = open_storage(database_url)
    killed = Lease(storage, timedelta(minutes=10))  # our host and pid
    killed.acquire()
    with storage.session() as session:  # taken long before this process was created
        session.get(DaemonLease, "daemon").started_at = datetime(  # type: ignore[union-attr]
            2020, 1, 1, tzinfo=UTC)
    restarted = Lease(storage, timedelta(minutes=10))
    restarted.acquire()
    assert restarted.held() and not killed.renew()
    storage.dispose()


# ---------------------------------------------------------------- results and streaks


def test_run_result_judges_listing_failures_not_article_failures() -> None:
    down = RunResult.from_summary({"listed": 0, "listings_failed": 1, "failures": [
        ["http://x/feed", "connection refused"]], "finish_reason": "finished"})
    assert down.outcome == "failed" and "connection refused" in (down.error or "")
    partly = RunResult.from_summary({"listed": 9, "failed": 1, "new": 8, "bytes": 10,
                                     "failures": [["http://x/a", "HTTP 404"]],
                                     "finish_reason": "finished"})
    assert partly.outcome == "ok" and partly.failed == 1 and partly.new == 8


def test_failures_in_row_and_orphans(database_url: str) -> None:
    storage = open_storage(database_url)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with storage.session() as session:
        runs = [("failed", None), ("ok", None), ("timeout", None),
                ("killed", "stopped with the daemon"),  # not the source's fault: skipped
                ("killed", "child killed by signal 9 (SIGKILL)"), ("failed", None)]
        for i, (outcome, error) in enumerate(runs):
            session.add(CrawlRun(batch=f"b{i}", source="s", started_at=base + timedelta(i),
                                 finished_at=base + timedelta(i), outcome=outcome, seen=0, new=0,
                                 failed=0, requests=0, bytes=0, error=error))
    start_runs(storage, "orphan", ["s"], base + timedelta(9), pid=None)
    with storage.session() as session:
        assert failures_in_row(session, "s") == 3  # the running row does not count
    assert close_orphans(storage, base + timedelta(10)) == 1
    with storage.session() as session:
        assert failures_in_row(session, "s") == 3  # nor the one the daemon's death ended
        orphan = session.execute(select(CrawlRun).where(CrawlRun.batch == "orphan")).scalar_one()
        assert orphan.finished_at is not None and orphan.outcome == "killed"
        assert "daemon stopped" in (orphan.error or "")
    storage.dispose()


# ---------------------------------------------------------------- the crawl runner


CHILD = textwrap.dedent("""
    import json, os, sys, time
    sources = sys.argv[2:]
    mode = sys.argv[1]
    if mode == "crash":
        print("Traceback: something broke in the spider", file=sys.stderr)
        sys.exit(3)
    if mode == "hang":
        import subprocess
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(os.environ["GRANDCHILD_FILE"], "w") as f:
            f.write(str(grandchild.pid))
        time.sleep(600)
    print(json.dumps({"sources": [
        {"source": s, "listed": 3, "new": 2, "failed": 0, "listings_failed": 0,
         "requests": 4, "bytes": 1000, "failures": [], "finish_reason": "finished"}
        for s in sources]}))
""")


@pytest.fixture
def child_script(tmp_path: Path) -> Path:
    path = tmp_path / "child.py"
    path.write_text(CHILD)
    return path


def runner_for(storage, script: Path, mode: str, env: dict | None = None,  # type: ignore[no-untyped-def]
               fence=None, **settings: object) -> CrawlRunner:
    values = {"timeout": timedelta(seconds=30), "max_children": 2,
              "batch_window": timedelta(seconds=0), "batch_max": 10, **settings}
    return CrawlRunner(storage, RunnerSettings(**values),  # type: ignore[arg-type]
                       lambda sources: [sys.executable, str(script), mode, *sources],
                       env={**os.environ, **(env or {})}, fence=fence)


def runs(storage) -> list[CrawlRun]:  # type: ignore[no-untyped-def]
    with storage.session() as session:
        return list(session.execute(select(CrawlRun).order_by(CrawlRun.id)).scalars())


def test_sources_due_together_share_one_child(tmp_path: Path, child_script: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'db.sqlite'}")
    # A long window so that all three threads surely arrive before the child starts.
    runner = runner_for(storage, child_script, "ok", batch_window=timedelta(seconds=2))
    results: dict[str, RunResult | None] = {}

    def crawl(name: str) -> None:
        results[name] = runner.run_source(name)

    threads = [threading.Thread(target=crawl, args=(n,)) for n in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert {name: r.outcome for name, r in results.items() if r} == {
        "a": "ok", "b": "ok", "c": "ok"}
    rows = runs(storage)
    assert len(rows) == 3 and len({row.batch for row in rows}) == 1
    assert all(row.finished_at and row.seen == 3 and row.new == 2 for row in rows)
    # A source that asks to run alone gets its own child.
    runner.run_source("d", alone=True)
    assert len({row.batch for row in runs(storage)}) == 2
    storage.dispose()


def test_crashing_child_is_a_failed_run_with_its_last_words(
    tmp_path: Path, child_script: Path
) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'db.sqlite'}")
    result = runner_for(storage, child_script, "crash").run_source("a")
    assert result is not None and result.outcome == "failed"
    (row,) = runs(storage)
    assert row.outcome == "failed" and row.finished_at is not None
    assert "exited with code 3" in (row.error or "") and "something broke" in (row.error or "")
    storage.dispose()


def test_hung_child_and_its_children_are_killed_at_the_timeout(
    tmp_path: Path, child_script: Path
) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'db.sqlite'}")
    marker = tmp_path / "grandchild.pid"
    runner = runner_for(storage, child_script, "hang", env={"GRANDCHILD_FILE": str(marker)},
                        timeout=timedelta(seconds=5))  # room to start on a busy CI box
    result = runner.run_source("a")
    assert result is not None and result.outcome == "timeout"
    (row,) = runs(storage)
    assert row.outcome == "timeout" and "timeout of 5 s" in (row.error or "")
    grandchild = int(marker.read_text())
    # The whole process group went: no sleeping grandchild left behind (a zombie at most,
    # until init reaps it).
    assert not psutil.pid_exists(grandchild) or \
        psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
    storage.dispose()


def test_stopped_runner_starts_nothing(tmp_path: Path, child_script: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'db.sqlite'}")
    runner = runner_for(storage, child_script, "ok")
    runner.stop_starting()
    assert runner.run_source("a") is None
    assert runs(storage) == [] and runner.idle()
    storage.dispose()


def test_a_daemon_whose_lease_was_taken_over_launches_nothing(
    database_url: str, tmp_path: Path, child_script: Path
) -> None:
    """Two lease holders on one database: the one whose heartbeat stopped (its lease
    expired and was taken over) is fenced off before it can start a crawl or a task."""
    from storywatch.scheduler.daemon import Daemon

    storage = open_storage(database_url)
    old = Lease(storage, timedelta(seconds=10))
    old.acquire(now=datetime.now(UTC) - timedelta(minutes=5))  # heartbeats failed since
    assert old.token is not None
    new = Lease(storage, timedelta(seconds=10))
    new.acquire()
    assert new.token == old.token + 1, "every take moves the fencing token on"
    assert new.valid() and not old.valid()

    fenced = runner_for(storage, child_script, "ok", fence=old.valid)
    assert fenced.run_source("a") is None
    assert runs(storage) == [], "the old holder started no child and wrote no run"
    result = runner_for(storage, child_script, "ok", fence=new.valid).run_source("a")
    assert result is not None and result.outcome == "ok"
    assert [row.source for row in runs(storage)] == ["a"]

    daemon = Daemon(make_config([]), tasks=[
        PeriodicTask("digests", f"{__name__}:record_call", every=timedelta(hours=1))])
    daemon.storage, daemon.lease = storage, old
    CALLS.clear()
    daemon.run_task("digests")
    assert CALLS == [], "a fenced daemon runs no periodic task either"
    # Its next heartbeat finds out, and it stops; the new holder renews as usual.
    assert not old.renew() and new.renew()
    # A lease that merely expired (nobody took it) is not valid either until renewed.
    new.release()
    lone = Lease(storage, timedelta(seconds=10))
    lone.acquire(now=datetime.now(UTC) - timedelta(minutes=5))
    assert not lone.valid()
    assert lone.renew() and lone.valid()
    storage.dispose()


# ---------------------------------------------------------------- the CLI around it


def test_daemon_process_never_imports_scrapy_or_twisted() -> None:
    code = ("import sys, storywatch.cli, storywatch.scheduler.daemon, "
            "storywatch.scheduler.health; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted')))")
    done = run_cli("--help")  # the CLI itself works
    assert done.code == 0 and " run " in done.stdout and " status " in done.stdout
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("section,problem", [
    ('[daemon]\ngrace_period = "soon"\n', "daemon.grace_period"),
    ('[daemon]\ntimezone = "Mars/Olympus"\n', "not a time zone"),
    ('[[sources]]\nname = "x"\nurl = "http://x.example/"\ncron = "61 * * * *"\n',
     "not a crontab expression"),
])
def test_bad_daemon_config_is_a_clear_error(tmp_path: Path, section: str, problem: str) -> None:
    config = tmp_path / "storywatch.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/db.sqlite"\n{section}')
    done = run_cli("run", config=config, timeout=60)
    assert done.code == 2
    assert problem in done.stderr and "Traceback" not in done.stderr


def test_status_without_a_daemon_is_unhealthy(tmp_path: Path) -> None:
    config = tmp_path / "storywatch.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/db.sqlite"\n'
                      '[[sources]]\nname = "x"\nurl = "http://x.example/"\n')
    done = run_cli("status", "--format", "json", config=config, timeout=60)
    assert done.code == 1
    data = json.loads(done.stdout)
    assert data["healthy"] is False and data["daemon"]["running"] is False
    assert data["sources"][0]["source"] == "x" and data["sources"][0]["outcome"] is None


# ---------------------------------------------------------------- periodic tasks

CALLS: list[tuple[object, object, datetime]] = []


def record_call(config: object, storage: object, now: datetime) -> int:
    CALLS.append((config, storage, now))
    return len(CALLS)


def broken_task(config: object, storage: object, now: datetime) -> None:
    raise RuntimeError("the SMTP server said no")


def test_periodic_tasks_get_config_storage_and_now_and_never_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from storywatch.scheduler.daemon import Daemon

    config = make_config([])
    tasks = [PeriodicTask("digests", f"{__name__}:record_call", every=timedelta(hours=1)),
             PeriodicTask("broken", f"{__name__}:broken_task", cron="*/5 * * * *")]
    daemon = Daemon(config, tasks=tasks)
    daemon.storage = open_storage(f"sqlite:///{tmp_path / 'db.sqlite'}")
    daemon.lease = Lease(daemon.storage, timedelta(seconds=30))  # tasks are fenced by it
    daemon.lease.acquire()
    CALLS.clear()
    daemon.run_task("digests")
    assert len(CALLS) == 1 and CALLS[0][0] is config and CALLS[0][1] is daemon.storage
    assert abs((datetime.now(UTC) - CALLS[0][2]).total_seconds()) < 60
    daemon.run_task("broken")  # logged, not raised: the daemon goes on
    assert any("periodic task broken failed" in r.getMessage() for r in caplog.records)
    specs = {s.id: s for s in job_specs(config, tasks, datetime.now(UTC))}
    assert set(specs) == {"task:digests", "task:broken"}
    daemon.storage.dispose()


# ---------------------------------------------------------------- health


def test_health_flags_a_stale_heartbeat_and_a_failing_streak(database_url: str) -> None:
    from storywatch.scheduler.health import collect_health

    storage = open_storage(database_url)
    config = make_config([src("fine", every="1h"), src("down", cron="0 * * * *")],
                         failure_threshold=2)
    now = datetime.now(UTC)
    with storage.session() as session:
        for i, (source, outcome) in enumerate([("fine", "failed"), ("fine", "ok"),
                                               ("down", "ok"), ("down", "failed"),
                                               ("down", "timeout")]):
            session.add(CrawlRun(batch=f"b{i}", source=source,
                                 started_at=now - timedelta(minutes=10 - i),
                                 finished_at=now - timedelta(minutes=9 - i), outcome=outcome,
                                 seen=0, new=0, failed=0, requests=0, bytes=0,
                                 error="no listing could be read" if outcome != "ok" else None))
    lease = Lease(storage, timedelta(seconds=10))
    lease.acquire(now=now - timedelta(seconds=31))  # three heartbeats missed, and a second
    health = collect_health(config, storage, now=now)
    assert health.daemon is not None and not health.daemon_alive and not health.healthy
    by_name = {s.source: s for s in health.sources}
    assert by_name["fine"].failures_in_row == 0 and by_name["fine"].outcome == "ok"
    assert by_name["down"].failures_in_row == 2 and by_name["down"].outcome == "timeout"
    assert by_name["down"].schedule == "cron 0 * * * *" and by_name["fine"].schedule == "every 1h"
    problems = health.problems()
    assert any("heartbeat is stale" in p for p in problems)
    assert any("source down failed 2 runs in a row" in p for p in problems)
    assert lease.renew(now=now)
    assert collect_health(config, storage, threshold=3, now=now).healthy
    storage.dispose()
