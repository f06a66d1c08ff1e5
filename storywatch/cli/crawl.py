"""`storywatch crawl`: crawl every (or some) source once, now."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from storywatch.cli.common import console, fail, options

if TYPE_CHECKING:  # Scrapy is imported only when a crawl runs: the daemon never loads it.
    from storywatch.spiders.run import CrawlSummary
from storywatch.config import check_seed_files


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
    extra = {"not modified (304)": totals["not_modified"], "not articles": totals["not_articles"],
             "stale entries skipped": totals["stale"], "refused": totals["refused"],
             "robots.txt forbids": totals["robots_forbidden"]}
    if any(extra.values()):
        console.print(", ".join(f"{label}: {n}" for label, n in extra.items() if n))
    for s in summary.sources:
        for url, reason in s.failures:
            console.print(f"  [yellow]failed[/yellow] {url}: {reason}", highlight=False,
                          soft_wrap=True)  # one line per failure, whatever the width


def crawl(
    ctx: typer.Context,
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
    format: Annotated[
        str, typer.Option("--format", help="table, or json: one line of figures per crawl "
                          "(what the daemon reads from its crawl children).")
    ] = "table",
) -> None:
    """Crawl sources once and store new articles.

    Example: storywatch --config storywatch.toml crawl --source example-news
    """
    if format not in ("table", "json"):
        fail(f"--format {format!r}: use table or json")
    opts = options(ctx)
    config = opts.config()
    if not config.sources:
        fail(f"{config.path or 'the default config'}: no [[sources]] configured; "
             "see examples/storywatch.toml")
    chosen = [config.source(name) for name in source] if source else config.sources
    check_seed_files(config)  # classification needs them: fail before any download
    opts.storage(config).dispose()  # migrate and fail early, before any download
    from storywatch.spiders.run import run_crawl

    summary = run_crawl(config, chosen, settings_overrides={"LOG_LEVEL": opts.log_level})
    if format == "json":
        print(summary_json(summary), flush=True)
    else:
        print_summary(summary)


def summary_json(summary: CrawlSummary) -> str:
    """One line: per-source figures, totals and seconds."""
    return json.dumps(
        {"sources": [asdict(s) for s in summary.sources], "totals": summary.totals,
         "seconds": round(summary.seconds, 3)},
        ensure_ascii=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(crawl)
