#!/usr/bin/env bash
# Start the local PostgreSQL, Redis and RabbitMQ used by the real-connection tests, if down.
# Commands as documented for this machine kind; harmless when the services already run.
set -u
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
# RabbitMQ for the cluster-mode tests (tests/test_cluster.py): the broker of `storywatch worker`.
if command -v rabbitmq-server >/dev/null 2>&1 && command -v rabbitmqctl >/dev/null 2>&1 \
    && ! rabbitmqctl -q status >/dev/null 2>&1; then
  rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do rabbitmqctl -q await_startup >/dev/null 2>&1 && break; sleep 1; done
fi
if [ "${CI:-}" = "true" ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "PostgreSQL on 127.0.0.1:5432 is not running and could not be started" >&2
  exit 1
fi
exit 0
