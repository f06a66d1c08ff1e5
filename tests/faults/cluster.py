"""A cluster for tests: the real RabbitMQ and PostgreSQL, a scheduler and N worker processes.

Each test gets a queue of its own (deleted afterwards), so tests running side by side and
messages left by a killed test never meet.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.conftest import REPO, wait_until
from tests.faults.crawling import child_env

AMQP_URL = os.environ.get("STORYWATCH_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def rabbitmq_up(url: str = AMQP_URL) -> bool:
    import pika
    from pika.exceptions import AMQPError

    try:
        connection = pika.BlockingConnection(pika.URLParameters(url))
    except (AMQPError, OSError):
        return False
    connection.close()
    return True


def delete_queue(name: str, url: str = AMQP_URL) -> None:
    """Drop a test's queue and Dramatiq's delay and dead-letter queues beside it."""
    import pika
    from pika.exceptions import AMQPError

    with contextlib.suppress(AMQPError, OSError):
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        for queue in (name, f"{name}.DQ", f"{name}.XQ"):
            channel.queue_delete(queue)
        connection.close()


@pytest.fixture
def queue_name() -> Iterator[str]:
    if not rabbitmq_up():
        if os.environ.get("CI") == "true":
            pytest.fail(f"RabbitMQ is not reachable at {AMQP_URL} (scripts/services.sh "
                        "should have started it)")
        pytest.skip(f"RabbitMQ is not reachable at {AMQP_URL}")
    name = f"sw-test-{uuid.uuid4().hex[:10]}"
    yield name
    delete_queue(name)


def cluster_toml(queue: str, *, heartbeat: str = "1s", broker_url: str = AMQP_URL) -> str:
    return "\n".join([
        "", "[daemon]", 'jitter = "1s"', 'heartbeat = "2s"', 'grace_period = "5s"',
        "", "[cluster]", f'broker_url = "{broker_url}"', f'queue = "{queue}"',
        f'heartbeat = "{heartbeat}"', 'queue_timeout = "5m"', "",
    ])


@dataclass
class Cluster:
    """A scheduler and workers on one config; everything is stopped by `close`."""

    config: Path
    logs: Path
    workers: list[subprocess.Popen] = field(default_factory=list)
    scheduler: subprocess.Popen | None = None

    def _start(self, command: str, name: str) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "storywatch", "--config", str(self.config), command],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=child_env(), cwd=REPO)

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self.workers.append(self._start("worker", f"worker-{len(self.workers)}"))

    def start_scheduler(self) -> None:
        self.scheduler = self._start("run", "scheduler")

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}"
                         for p in sorted(self.logs.glob("*.log")))

    def close(self) -> None:
        """SIGTERM everything, then SIGKILL what lingers (a test that failed half-way)."""
        processes = [p for p in [self.scheduler, *self.workers] if p is not None]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextlib.contextmanager
def running_cluster(config: Path, logs: Path) -> Iterator[Cluster]:
    logs.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(config, logs)
    try:
        yield cluster
    finally:
        cluster.close()


@contextlib.contextmanager
def started_cluster(config: Path, database_url: str, logs: Path,
                    workers: int) -> Iterator[tuple[Engine, Cluster]]:
    """The store's schema, then `workers` workers and the scheduler on `config`; yields
    the test's own engine on `database_url` (not through any proxy the config names)
    and the cluster, and stops both."""
    from storywatch.storage import open_storage

    open_storage(database_url).dispose()  # the schema, before anyone polls it
    engine = create_engine(database_url)
    try:
        with running_cluster(config, logs) as cluster:
            cluster.start_workers(workers)
            cluster.start_scheduler()
            yield engine, cluster
    finally:
        engine.dispose()


def finished_sources(engine: Engine) -> dict[str, str]:
    """Source -> outcome of its first finished run."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT source, outcome FROM crawl_runs WHERE outcome <> 'running' ORDER BY id"))
        found: dict[str, str] = {}
        for source, outcome in rows:
            found.setdefault(source, outcome)
        return found


def wait_for_runs(engine: Engine, sources: list[str], cluster: Cluster,
                  timeout: float = 240) -> dict[str, str]:
    """Every source's first run finished (whatever its outcome)."""
    def done() -> dict[str, str] | None:
        found = finished_sources(engine)
        return found if set(sources) <= set(found) else None

    try:
        return wait_until(done, f"a finished run of each of {sources}", timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{cluster.log_tail()}") from None


def statuses(database_url: str) -> dict[str, str]:
    """canonical URL -> judged status (or 'unjudged')."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT i.canonical_url, j.status FROM items i "
                "LEFT JOIN judgements j ON j.item_id = i.id"))
            return {url: status or "unjudged" for url, status in rows}
    finally:
        engine.dispose()
