"""The message broker of cluster mode (Dramatiq on RabbitMQ or Redis) and the crawl message.

The scheduler only enqueues messages by actor name; workers declare the actor with their
own function (worker.py). Messages are persistent and acknowledged only once the crawl's
run is recorded, so a worker that dies mid-crawl leaves its message to another worker:
RabbitMQ puts an unacknowledged message back when the worker's connection drops; the
Redis broker does it once the dead worker's heartbeat is older than `heartbeat_timeout`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker

from storywatch.config import ClusterConfig

CRAWL_ACTOR = "storywatch_crawl"
# Retries of a crawl job whose worker could not run it (source lease held by another
# worker, database unreachable): spaced 2 s to 60 s apart, then given up (the scheduler
# records the run as failed at its queue timeout).
MAX_RETRIES = 20
MIN_BACKOFF_MS = 2_000
MAX_BACKOFF_MS = 60_000


def make_broker(cluster: ClusterConfig) -> dramatiq.Broker:
    """A broker for the configured URL; nothing is connected until first used."""
    url = cluster.broker_url
    if url.startswith("amqp"):
        # confirm_delivery: enqueue returns only once RabbitMQ has the message.
        return RabbitmqBroker(url=url, confirm_delivery=True)
    heartbeat_ms = int(cluster.heartbeat.total_seconds() * 1000) * 3
    # Requeueing a dead worker's messages is part of the Redis broker's maintenance, run
    # on a share of its commands (per million): often here, as a storywatch cluster sends
    # few messages.
    return RedisBroker(url=url, heartbeat_timeout=heartbeat_ms, maintenance_chance=100_000)


def crawl_message(cluster: ClusterConfig, run_id: int, source: str) -> dramatiq.Message[Any]:
    return dramatiq.Message(queue_name=cluster.queue, actor_name=CRAWL_ACTOR, args=(),
                            kwargs={"run_id": run_id, "source": source}, options={})


def actor_options(crawl_timeout: timedelta) -> dict[str, Any]:
    """Dramatiq's options for the crawl actor: retries as above, and a time limit above
    the crawl timeout (the worker stops the crawl child itself at crawl.timeout)."""
    return {"max_retries": MAX_RETRIES, "min_backoff": MIN_BACKOFF_MS,
            "max_backoff": MAX_BACKOFF_MS,
            "time_limit": int((crawl_timeout.total_seconds() + 120) * 1000)}


def queue_depth(broker: dramatiq.Broker, queue: str) -> int:
    """Messages waiting (ready or delayed for a retry), not those being processed."""
    if isinstance(broker, RabbitmqBroker):
        ready, delayed, _dead = broker.get_queue_message_counts(queue)
        return int(ready) + int(delayed)
    broker.declare_queue(queue)
    return int(broker.do_qsize(queue))  # type: ignore[attr-defined]
