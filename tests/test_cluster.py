"""Cluster mode on the real broker (RabbitMQ) and PostgreSQL, with workers as processes.

- the same world crawled by 1 worker and by 4 gives the same statuses;
- a worker killed with -9 mid-crawl loses nothing: its job returns to the queue, the next
  worker takes over its source lease and its claims, every article is stored once;
- `storywatch status` shows the workers and the queue depth;
- claims: two workers never both get one URL; a dead worker's claims are free at once.
"""

from __future__ import annotations

import json
import os
import random
import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storywatch.demo.config import DEMO_FEEDS, demo_config_toml
from storywatch.demo.hosts import HostsWorld
from storywatch.storage.daemon import OK
from tests.conftest import POSTGRES_URL, fresh_postgres_schema, run_cli, wait_until
from tests.faults.cluster import (
    AMQP_URL,
    Cluster,
    cluster_toml,
    queue_name,
    started_cluster,
    statuses,
    wait_for_runs,
)
from tests.faults.crawling import toml_string
from tests.faults.killing import after_seconds, skip_unless_slow_selected
from tests.faults.proxy import RestartingProxy

__all__ = ["queue_name"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="STORYWATCH_TEST_POSTGRES_URL is not set")


# The demo world's feeds that list articles; all-atom lists those of the other two, so
# with several workers the same article is listed to two of them at once.
FEEDS = {name: DEMO_FEEDS[name] for name in ("world-rss", "europe-rdf", "all-atom")}


def _demo_config(path: Path, base_url: str, database_url: str, queue: str) -> Path:
    toml = demo_config_toml(base_url, database_url, feeds=FEEDS, discovery={})
    path.write_text(toml + cluster_toml(queue), encoding="utf-8")
    return path


def _crawl_world(workers: int, base_url: str, database_url: str, queue: str,
                 workdir: Path) -> dict[str, str]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = _demo_config(workdir / "storywatch.toml", base_url, database_url, queue)
    with started_cluster(config, database_url, workdir / "logs", workers) as (engine, cluster):
        outcomes = wait_for_runs(engine, list(FEEDS), cluster)
        used = _workers_that_ran(engine)
    assert set(outcomes.values()) == {OK}, outcomes
    if workers > 1:  # the runs were really spread
        assert len(used) > 1, used
    return statuses(database_url)


def _workers_that_ran(engine: object) -> set[str]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return {w for (w,) in conn.execute(text(
            "SELECT DISTINCT worker FROM crawl_runs WHERE worker IS NOT NULL"))}


@pytest.fixture
def second_postgres_url(postgres_url: str) -> Iterator[str]:
    """Another fresh schema beside `postgres_url`."""
    yield from fresh_postgres_schema()


def test_one_worker_and_four_workers_give_the_same_statuses(
        world: object, postgres_url: str, second_postgres_url: str, queue_name: str,
        tmp_path: Path) -> None:
    base = world.base_url  # type: ignore[attr-defined]
    one = _crawl_world(1, base, postgres_url, queue_name, tmp_path / "one")
    four = _crawl_world(4, base, second_postgres_url, queue_name, tmp_path / "four")
    assert one, "nothing was stored"
    assert set(one) == set(four)
    assert "unjudged" not in one.values()
    differing = {url: (one[url], four[url]) for url in one if one[url] != four[url]}
    assert differing == {}


# -- kill -9 of a worker mid-crawl ------------------------------------------------------------

# Two slow hosts, one request at a time each: a crawl takes ~10 s and stores its items in
# batches of about a second, so a kill lands mid-crawl.
HOSTS, ARTICLES, LATENCY = 2, 50, 0.2


def _hosts_config(path: Path, world: HostsWorld, database_url: str, queue: str, *,
                  broker_url: str = AMQP_URL) -> Path:
    lines = ["[storage]", f"url = {toml_string(database_url)}", "", "[crawl]",
             "allow_private_networks = true", "autothrottle = false",
             "concurrency_per_domain = 1", 'download_timeout = "10s"']
    for host in range(world.hosts):
        lines += ["", "[[sources]]", f'name = "host-{host}"', 'kind = "feed"',
                  f"url = {toml_string(world.feed_url(host))}", 'every = "1h"']
    path.write_text("\n".join(lines) + "\n" + cluster_toml(queue, broker_url=broker_url),
                    encoding="utf-8")
    return path


def _busy_worker(engine: object, cluster: Cluster, world: HostsWorld) -> int | None:
    """The pid of one of our workers in the middle of a crawl: its host has served some of
    its articles, and not yet the rest."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        busy = conn.execute(text(
            "SELECT pid, current_job FROM cluster_workers WHERE current_job IS NOT NULL")).all()
    fetches = world.fetches()
    ours = {p.pid for p in cluster.workers}
    for pid, job in busy:
        host = int(job.split(" ")[0].removeprefix("host-"))
        served = sum(1 for url in fetches if url.startswith(world.base_url(host) + "/"))
        if pid in ours and 3 <= served <= ARTICLES - 15:
            return int(pid)
    return None


def _per_source(engine: object) -> dict[str, int]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return dict(conn.execute(text("SELECT source, count(*) FROM items GROUP BY source")).all())


def _counts(engine: object) -> dict[str, int]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return {name: int(conn.execute(text(sql)).scalar_one()) for name, sql in {
            "items": "SELECT count(*) FROM items",
            "distinct_urls": "SELECT count(DISTINCT canonical_url) FROM items",
            "claims": "SELECT count(*) FROM url_claims",
        }.items()}


def test_a_worker_killed_mid_crawl_loses_nothing_and_status_shows_it(
        postgres_url: str, queue_name: str, tmp_path: Path) -> None:
    with HostsWorld(HOSTS, ARTICLES, latency=LATENCY) as world:
        config = _hosts_config(tmp_path / "storywatch.toml", world, postgres_url, queue_name)
        with started_cluster(config, postgres_url, tmp_path / "logs", 2) as (engine, cluster):
            victim = wait_until(lambda: _busy_worker(engine, cluster, world),
                                "a worker in the middle of a crawl", timeout=120)
            os.kill(victim, signal.SIGKILL)  # the worker alone: its child dies with it
            outcomes = wait_for_runs(engine, ["host-0", "host-1"], cluster)
            assert set(outcomes.values()) == {OK}, outcomes
            wait_until(lambda: _counts(engine)["claims"] == 0, "claims released", 30)
            shown = run_cli("--config", str(config), "status", "--format", "json")
        counts = _counts(engine)
        engine.dispose()
        fetched_twice = sum(1 for n in world.fetches().values() if n > 1)
    expected = len(world.article_urls())
    assert counts["items"] == counts["distinct_urls"] == expected, (counts, fetched_twice)
    status = json.loads(shown.stdout)
    workers = {w["pid"]: w for w in status["cluster"]["workers"]}
    assert workers[victim]["alive"] is False  # reaped: its pid is gone on this host
    assert sum(w["alive"] for w in workers.values()) == 1
    assert sum(w["jobs_done"] for w in workers.values()) >= 2
    assert status["cluster"]["queue_depth"] == 0
    assert shown.code == 0, shown.stdout + shown.stderr


# -- a broker restart and a database restart during a run -------------------------------------


def test_a_run_survives_a_broker_restart_and_a_database_restart(
        postgres_url: str, queue_name: str, tmp_path: Path) -> None:
    """Both servers "restart" (every connection cut, new ones refused for 4 s) while the
    workers crawl: the workers reconnect, every run completes, nothing is lost."""
    amqp = urlsplit(AMQP_URL)
    database = make_url(postgres_url)
    with HostsWorld(HOSTS, ARTICLES, latency=LATENCY) as world, \
            RestartingProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672) as broker, \
            RestartingProxy(database.host or "127.0.0.1", database.port or 5432) as db:
        proxied_db = database.set(host="127.0.0.1", port=db.port).render_as_string(
            hide_password=False)
        proxied_amqp = AMQP_URL.replace(f":{amqp.port or 5672}", f":{broker.port}", 1)
        config = _hosts_config(tmp_path / "storywatch.toml", world, proxied_db, queue_name,
                               broker_url=proxied_amqp)
        # The test's own view of the store, not through the proxy.
        with started_cluster(config, postgres_url, tmp_path / "logs", 2) as (engine, cluster):
            wait_until(lambda: len(world.fetches()) >= 5, "the first fetches", 120)
            broker.restart(4.0)
            wait_until(lambda: len(world.fetches()) >= 25, "more fetches", 120)
            db.restart(4.0)
            outcomes = wait_for_runs(engine, ["host-0", "host-1"], cluster)
            counts = _counts(engine)
    assert set(outcomes.values()) == {OK}, outcomes
    assert counts["items"] == counts["distinct_urls"] == len(world.article_urls()), counts
    assert broker.cuts == db.cuts == 1


# -- politeness across the cluster -------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _two_workers_on_one_host(world: HostsWorld, postgres_url: str, queue_name: str,
                             tmp_path: Path, crawl_lines: str = "") -> tuple[dict, dict]:
    """Two sources on the world's one host (its feed twice), crawled at once by two real
    workers sharing the machine's Redis; the runs' outcomes and the store's counts. After
    checking the runs were really spread over both workers, each overlapping the other."""
    config = _hosts_config(tmp_path / "storywatch.toml", world, postgres_url, queue_name)
    feed = toml_string(world.feed_url(0) + "?edition=2")
    toml = config.read_text(encoding="utf-8")
    if crawl_lines:
        toml = toml.replace("concurrency_per_domain = 1", crawl_lines)
    config.write_text(toml.replace(
        "[cluster]", f'[[sources]]\nname = "host-0-again"\nkind = "feed"\nurl = {feed}\n'
        f'every = "1h"\n\n[cluster]\nredis_url = "{REDIS_URL}"', 1), encoding="utf-8")
    with started_cluster(config, postgres_url, tmp_path / "logs", 2) as (engine, cluster):
        outcomes = wait_for_runs(engine, ["host-0", "host-0-again"], cluster)
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT worker, started_at, finished_at FROM crawl_runs"
                                 " ORDER BY id")).all()
    counts = _counts(engine)
    engine.dispose()
    assert len({r.worker for r in runs}) == 2 and runs[0].finished_at > runs[1].started_at, runs
    return outcomes, counts


def test_two_workers_on_one_host_share_its_slots(
        postgres_url: str, queue_name: str, tmp_path: Path) -> None:
    """Two sources on one host, crawled at once by two workers, with one request at a
    time per host: the host never answers two requests at once (without the shared slots
    each worker would send its own one)."""
    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    with HostsWorld(1, 30, latency=0.2, shared=0) as world:
        outcomes, counts = _two_workers_on_one_host(world, postgres_url, queue_name, tmp_path)
        most = world.most_in_flight(0)
        fetched = world.fetches()
    assert set(outcomes.values()) == {OK}, outcomes
    assert most == 1
    assert counts["items"] == 30 and max(fetched.values()) == 1  # and each article once


def test_two_workers_on_one_host_keep_its_download_delay_between_them(
        postgres_url: str, queue_name: str, tmp_path: Path) -> None:
    """Two sources on one host, crawled at once by two workers, with a download delay:
    requests reach the host at least the delay apart, not the delay per worker."""
    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    delay = 0.3
    with HostsWorld(1, 12, latency=0.02, shared=0) as world:
        outcomes, counts = _two_workers_on_one_host(
            world, postgres_url, queue_name, tmp_path,
            f'concurrency_per_domain = 2\ndownload_delay = "{delay}s"')
        gap = world.least_gap(0)
    assert set(outcomes.values()) == {OK}, outcomes
    assert counts["items"] == 12
    # A few ms of the hand-over from the slot to the socket, not a second request's worth.
    assert gap is not None and gap >= delay - 0.05, gap


# -- the kill -9 loop (-m slow) ----------------------------------------------------------------

KILL_RUNS = 10
KILL_SEED = int(os.environ.get("STORYWATCH_CLUSTER_KILL_SEED", "20261130"))


@pytest.mark.slow
@pytest.mark.parametrize("run", range(KILL_RUNS))
def test_kill_loop_a_random_worker_at_a_random_moment(
        run: int, postgres_url: str, queue_name: str, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    """Four hosts, three workers; one random worker SIGKILLed at a random moment after the
    first article fetch: every article stored once, no claim left."""
    skip_unless_slow_selected(request)
    rng = random.Random(KILL_SEED + run)
    with HostsWorld(4, 40, latency=0.15) as world:
        config = _hosts_config(tmp_path / "storywatch.toml", world, postgres_url, queue_name)
        with started_cluster(config, postgres_url, tmp_path / "logs", 3) as (engine, cluster):
            wait_until(lambda: len(world.fetches()) > 0, "the first fetch", 120)
            moment = after_seconds(rng.uniform(0.0, 8.0))
            wait_until(moment, "the moment of the kill", 30)
            os.kill(rng.choice(cluster.workers).pid, signal.SIGKILL)
            outcomes = wait_for_runs(engine, [f"host-{h}" for h in range(4)], cluster)
            wait_until(lambda: _counts(engine)["claims"] == 0, "claims released", 60)
        counts = _counts(engine)
        engine.dispose()
    assert set(outcomes.values()) == {OK}, outcomes
    assert counts["items"] == counts["distinct_urls"] == len(world.article_urls()), counts
