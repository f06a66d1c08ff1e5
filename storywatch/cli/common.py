"""Shared CLI pieces: the app, global options, the console, error exits."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from storywatch.config import Config, load_config
from storywatch.logs import setup_logging

if TYPE_CHECKING:  # SQLAlchemy is imported by the commands that open the database
    from storywatch.storage import Storage

app = typer.Typer(
    name="storywatch",
    help=(
        "Follow a news story: crawl feeds, sitemaps and sites, keep the follow-ups, drop the "
        "rewrites.\n\nExample: storywatch --config examples/storywatch.toml crawl"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()
err_console = Console(stderr=True)

EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_CONFIG) -> NoReturn:
    for line in message.splitlines():
        err_console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


@dataclass
class Options:
    config_path: Path | None
    log_level: str
    log_format: str

    def config(self) -> Config:
        return load_config(self.config_path)

    def storage(self, config: Config | None = None) -> Storage:
        from storywatch.storage import open_storage

        return open_storage((config or self.config()).storage.url)


def options(ctx: typer.Context) -> Options:
    obj = ctx.find_root().obj
    assert isinstance(obj, Options)
    return obj


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Config file (default: $STORYWATCH_CONFIG, ./storywatch.toml)."
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.", case_sensitive=False)
    ] = "WARNING",
    log_format: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    level = log_level.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        fail(f"--log-level {log_level!r}: use DEBUG, INFO, WARNING or ERROR")
    if log_format not in ("text", "json"):
        fail(f"--log-format {log_format!r}: use text or json")
    setup_logging(level, log_format)
    ctx.obj = Options(config_path=config, log_level=level, log_format=log_format)
