"""Cluster mode (issue 14): `storywatch run` dispatches due crawls through a broker
(Dramatiq on RabbitMQ or Redis) to `storywatch worker` processes on any number of
machines, all sharing one PostgreSQL store. See docs/cluster.md.

- registry.py: each worker's row and heartbeat (what `status` shows), dead ones reaped;
- claims.py: a claim per canonical URL before its request is sent (every article once);
- slots.py: per-host request slots in Redis (politeness across the cluster);
- broker.py: the broker from the config, the crawl message, the queue depth;
- dispatch.py: the scheduler's side, in place of forking local crawl children;
- worker.py: the worker's side, one crawl child per job, under the source's lease.
"""
