"""`storywatch items`: what is stored, as a table, CSV or JSON lines."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from storywatch.cli.common import console, fail, options
from storywatch.normalise.dates import to_utc

if TYPE_CHECKING:
    from storywatch.storage import Storage

TABLE_COLUMNS = ("published", "status", "conf.", "source", "lang", "title")
# rich's table measures every cell (~0.3 ms a row): 10,000 items took 3.7 s to print.
# Longer listings are printed as plain aligned columns instead (benchmarks/startup.py).
RICH_TABLE_MAX_ROWS = 500

CSV_FIELDS = ["published_at", "status", "source", "title", "canonical_url", "language",
              "authors", "word_count", "topic", "judged", "label", "confidence",
              "duplicate_of", "cluster_id", "relevance", "novelty"]


class Status(StrEnum):
    followup = "followup"
    duplicate = "duplicate"
    offtopic = "offtopic"
    unclassified = "unclassified"
    all = "all"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    jsonl = "jsonl"


def items(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option(help="Judgements of this topic.")] = None,
    status: Annotated[Status, typer.Option(help="Only items with this status.")] = Status.all,
    since: Annotated[
        str | None, typer.Option(help="Only items fetched since this date (e.g. 2024-10-01).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    limit: Annotated[int | None, typer.Option(help="At most this many items.", min=1)] = None,
    uncertain: Annotated[bool, typer.Option(
        "--uncertain", help="Unlabelled items the machine is least sure of, first: the ones "
        "most worth a person's look (then: storywatch label URL STATUS).")] = False,
) -> None:
    """List stored items, newest first. A status is the person's label when there is one
    (`storywatch label`), else the machine's judgement.

    Example: storywatch items --topic deserters --status followup --format jsonl
    Example: storywatch items --topic deserters --uncertain --limit 5
    """
    opts = options(ctx)
    config = opts.config()
    if topic is not None:
        config.topic(topic)  # an unknown topic is an error, not an empty list
    elif len(config.topics) == 1:
        topic = config.topics[0].name
    since_at = to_utc(since) if since else None
    if since and since_at is None:
        fail(f"--since {since!r} is not a date; write e.g. 2024-10-01 or 2024-10-01T08:00Z")
    storage = opts.storage(config)
    rows = load_rows(storage, topic=topic, status=status.value, since=since_at, limit=limit,
                     uncertain=uncertain, brief=fmt is not Format.jsonl)
    storage.dispose()
    render_items(rows, fmt, topic)


def load_rows(
    storage: Storage, *, topic: str | None, status: str = "all", since: datetime | None = None,
    limit: int | None = None, uncertain: bool = False, brief: bool = False,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with storage.session() as session:
        from storywatch.storage.repository import iter_items

        for row in iter_items(session, topic=topic, status=status, since=since,
                              uncertain=uncertain, limit=limit, brief=brief):
            rows.append(row.as_json(topic))
    return rows


def render_items(
    rows: list[dict[str, Any]], fmt: Format = Format.table, topic: str | None = None
) -> None:
    """Print item rows (ItemRow.as_json dicts) in the chosen format."""
    if fmt is Format.jsonl:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt is Format.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "authors": "; ".join(row["authors"])})
    else:
        title = f"{len(rows)} items" + (f" · topic {topic}" if topic else "")
        cells: list[tuple[str, ...]] = []
        for row in rows:
            shown = f"{row['status']} (label)" if row.get("label") else row["status"]
            confidence = f"{row['confidence']:.2f}" if row.get("confidence") is not None else ""
            cells.append(((row["published_at"] or "")[:16].replace("T", " "), shown, confidence,
                          row["source"], row["language"] or "", row["title"] or ""))
        if len(cells) > RICH_TABLE_MAX_ROWS:
            _plain_table(title, cells)
            return
        table = Table(title=title, title_justify="left")
        for column in TABLE_COLUMNS:
            table.add_column(column, overflow="fold")
        for cell in cells:
            table.add_row(*cell)
        console.print(table)


def _plain_table(title: str, cells: list[tuple[str, ...]]) -> None:
    """Aligned columns written directly, titles cut to the terminal's width."""
    widths = [max([len(column), *(len(c[i]) for c in cells)])
              for i, column in enumerate(TABLE_COLUMNS[:-1])]
    room = max(20, shutil.get_terminal_size().columns - sum(widths) - 2 * len(widths))
    out = sys.stdout
    out.write(title + "\n")
    for line in (TABLE_COLUMNS, *cells):
        fixed = "  ".join(value.ljust(width) for value, width in zip(line, widths, strict=False))
        last = line[-1] if len(line[-1]) <= room else line[-1][:room - 1] + "…"
        out.write(f"{fixed}  {last}\n")


def register(app: typer.Typer) -> None:
    app.command()(items)
