"""The `storywatch` command line: one Typer app, one module per group of commands."""

from __future__ import annotations

import sys

import typer

from storywatch.cli import classify, crawl, demo, items
from storywatch.cli.common import app, fail
from storywatch.config import ConfigError
from storywatch.storage import StorageError

__all__ = ["app", "main"]

# Registration order is the order of `storywatch --help`.
for module in (crawl, items, classify, demo):
    module.register(app)


def main() -> None:
    """Entry point: known errors become one clear line and exit code 2, never a traceback."""
    try:
        app(standalone_mode=False)
    except (ConfigError, StorageError) as exc:
        fail(str(exc))
    except typer.Abort:
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click's usage errors arrive here with standalone_mode=False
        from click.exceptions import ClickException

        if isinstance(exc, ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
