"""`storywatch crawl`: crawl every (or some) source once, now."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from storywatch.cli.common import console, fail, options
from storywatch.config import check_seed_files
from storywatch.spiders.run import CrawlSummary, run_crawl


def print_summary(summary: CrawlSummary) -> None:
    table = Table(title="crawl summary", title_justify="left")
    for column in ("source", "kind", "listed", "known", "fetched", "new", "failed"):
        table.add_column(column, justify="left" if column in ("source", "kind") else "right")
    for s in summary.sources:
        failed = s.failed + s.listings_failed
        table.add_row(s.source, s.kind, str(s.listed), str(s.known), str(s.fetched), str(s.new),
                      f"[red]{failed}[/red]" if failed else "0")
    totals = summary.totals
    table.add_row("all", "", str(totals["listed"]), str(totals["known"]), str(totals["fetched"]),
                  str(totals["new"]), str(totals["failed"] + totals["listings_failed"]),
                  style="bold")
    console.print(table)
    console.print(
        f"{len(summary.sources)} sources, {totals['listed']} articles seen, {totals['new']} new, "
        f"{totals['failed'] + totals['listings_failed']} failed, {summary.seconds:.1f} s"
    )
    for s in summary.sources:
        for url, reason in s.failures:
            console.print(f"  [yellow]failed[/yellow] {url}: {reason}", highlight=False,
                          soft_wrap=True)  # one line per failure, whatever the width


def crawl(
    ctx: typer.Context,
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
) -> None:
    """Crawl sources once and store new articles.

    Example: storywatch --config storywatch.toml crawl --source example-news
    """
    opts = options(ctx)
    config = opts.config()
    if not config.sources:
        fail(f"{config.path or 'the default config'}: no [[sources]] configured; "
             "see examples/storywatch.toml")
    chosen = [config.source(name) for name in source] if source else config.sources
    check_seed_files(config)  # classification needs them: fail before any download
    opts.storage(config).dispose()  # migrate and fail early, before any download
    summary = run_crawl(config, chosen, settings_overrides={"LOG_LEVEL": opts.log_level})
    print_summary(summary)


def register(app: typer.Typer) -> None:
    app.command()(crawl)
