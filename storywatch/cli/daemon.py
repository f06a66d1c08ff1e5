"""`storywatch run` (the daemon, in the foreground) and `storywatch status` (health check)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from storywatch.cli.common import console, fail, options
from storywatch.logs import setup_logging

if TYPE_CHECKING:
    from storywatch.scheduler.health import ClusterHealth

EXIT_UNHEALTHY = 1


def run(ctx: typer.Context) -> None:
    """Run the scheduler in the foreground: crawl every source on its schedule, for months.

    Logs go to stderr (one line per crawl run); stop with SIGTERM or Ctrl-C, reload the
    config with SIGHUP. Only one daemon runs per database.

    Example: storywatch --config storywatch.toml --log-format json run
    """
    from storywatch.scheduler.daemon import Daemon
    from storywatch.scheduler.lock import LeaseHeld
    from storywatch.scheduler.tasks import TASKS

    opts = options(ctx)
    config = opts.config()
    if not config.sources and not TASKS:
        fail(f"{config.path or 'the default config'}: no [[sources]] configured, nothing to "
             "schedule; see examples/storywatch.toml")
    if config.web.listen is not None:  # the web app runs in the daemon ([web] listen)
        from storywatch.web.auth import missing_password

        problem = missing_password(config.web.read)
        if problem:
            fail(f"{config.path or 'config'}: web.listen is set: {problem}")
    # The daemon's own run lines are INFO: shown unless DEBUG asks for more. Crawl
    # children keep the requested level, so Scrapy stays as quiet as `storywatch crawl`.
    setup_logging("DEBUG" if opts.log_level == "DEBUG" else "INFO", opts.log_format)
    if opts.log_level != "DEBUG":
        # APScheduler warns each time a run is skipped because the previous one is still
        # going: normal for short intervals, and the run lines already tell the story.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.WARNING)
    daemon = Daemon(config, log_level=opts.log_level, log_format=opts.log_format)
    try:
        code = daemon.run()
    except LeaseHeld as exc:
        fail(str(exc), code=EXIT_UNHEALTHY)
    # sys.exit, not typer.Exit: with standalone_mode=False click returns typer.Exit's code
    # from app() instead of exiting with it, and cli.main() drops that return value.
    sys.exit(code)


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    seconds = (value - now).total_seconds()
    ago = seconds < 0
    seconds = abs(seconds)
    if seconds < 90:
        text = f"{seconds:.0f}s"
    elif seconds < 5400:
        text = f"{seconds / 60:.0f}m"
    elif seconds < 172800:
        text = f"{seconds / 3600:.1f}h"
    else:
        text = f"{seconds / 86400:.1f}d"
    return f"{text} ago" if ago else f"in {text}"


def status(
    ctx: typer.Context,
    max_failures: Annotated[
        int | None,
        typer.Option(min=1, help="Unhealthy when a source failed this many runs in a row "
                     "(default: daemon.failure_threshold)."),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Show every source's last run, outcome and next run; exit 1 when unhealthy.

    Unhealthy: the daemon is not running (no fresh heartbeat) or a source failed too many
    runs in a row. Usable as a container health check.

    Example: storywatch --config storywatch.toml status --max-failures 5
    """
    from storywatch.scheduler.health import collect_health

    if format not in ("table", "json"):
        fail(f"--format {format!r}: use table or json")
    opts = options(ctx)
    config = opts.config()
    storage = opts.storage(config)
    try:
        health = collect_health(config, storage, threshold=max_failures)
    finally:
        storage.dispose()
    now = health.now
    if format == "json":
        print(json.dumps({
            "healthy": health.healthy,
            "daemon": {
                "running": health.daemon_alive,
                "host": health.daemon.host if health.daemon else None,
                "pid": health.daemon.pid if health.daemon else None,
                "heartbeat_at": health.daemon.heartbeat_at.isoformat()
                if health.daemon else None,
            },
            "failure_threshold": health.threshold,
            "sources": [s.as_json() for s in health.sources],
            "cluster": health.cluster.as_json(now) if health.cluster else None,
            "problems": health.problems(),
        }, ensure_ascii=False))
    else:
        table = Table(title="sources", title_justify="left")
        for column in ("source", "schedule", "last run", "outcome", "next run",
                       "items 24h", "failures in a row"):
            table.add_column(column, justify="right" if column in (
                "items 24h", "failures in a row") else "left")
        for s in health.sources:
            outcome = s.outcome or "-"
            if s.outcome and s.outcome not in ("ok", "running"):
                outcome = f"[red]{outcome}[/red]"
            failures = str(s.failures_in_row)
            if s.failures_in_row >= health.threshold:
                failures = f"[red]{failures}[/red]"
            table.add_row(s.source, s.schedule, _when(s.last_run, now), outcome,
                          _when(s.next_run, now), str(s.items_24h), failures)
        console.print(table)
        if health.daemon_alive and health.daemon is not None:
            console.print(f"daemon: running ({health.daemon.describe(now)})", highlight=False)
        else:
            console.print("daemon: [red]not running[/red]")
        if health.cluster is not None:
            _print_cluster(health.cluster, now)
        for problem in health.problems():
            console.print(f"[red]unhealthy:[/red] {problem}", highlight=False)
    if not health.healthy:
        sys.exit(EXIT_UNHEALTHY)


def _print_cluster(cluster: ClusterHealth, now: datetime) -> None:
    table = Table(title="workers", title_justify="left")
    for column in ("worker", "alive", "last heartbeat", "current job", "jobs done"):
        table.add_column(column, justify="right" if column == "jobs done" else "left")
    for w in cluster.workers:
        table.add_row(w.id, "yes" if w.alive(now) else "[red]no[/red]",
                      _when(w.heartbeat_at, now), w.current_job or "-", str(w.jobs_done))
    console.print(table)
    depth = "?" if cluster.queue_depth is None else str(cluster.queue_depth)
    console.print(f"queue {cluster.queue}: {depth} waiting", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(status)
