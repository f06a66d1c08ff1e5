"""`storywatch worker`: one crawl worker of a cluster (config section [cluster])."""

from __future__ import annotations

import logging
import sys

import typer

from storywatch.cli.common import fail, options
from storywatch.logs import setup_logging


def worker(ctx: typer.Context) -> None:
    """Run a crawl worker in the foreground: take crawl jobs from the broker, one crawl
    child per job. Start as many as you like, on this machine or others, with the same
    config file; `storywatch run` dispatches to them. Stop with SIGTERM or Ctrl-C.

    Example: storywatch --config storywatch.toml worker
    """
    from storywatch.cluster.worker import ClusterWorker

    opts = options(ctx)
    config = opts.config()
    if config.cluster is None:
        fail(f"{config.path or 'the default config'}: no [cluster] section; a worker needs "
             'e.g.\n[cluster]\nbroker_url = "amqp://guest:guest@127.0.0.1:5672/"\n'
             "(see docs/cluster.md)")
    # The worker's own lines are INFO; its crawl children keep --log-level.
    setup_logging("DEBUG" if opts.log_level == "DEBUG" else "INFO", opts.log_format)
    if opts.log_level != "DEBUG":
        for noisy in ("pika", "dramatiq", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    code = ClusterWorker(config, log_level=opts.log_level, log_format=opts.log_format).run()
    sys.exit(code)


def register(app: typer.Typer) -> None:
    app.command()(worker)
