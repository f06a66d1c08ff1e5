"""The `storywatch` command line: one Typer app, one module per group of commands."""

from __future__ import annotations

import sys

import typer

from storywatch.cli import crawl, daemon, demo, digest, items, subscribers
from storywatch.cli.common import app, fail
from storywatch.config import ConfigError
from storywatch.storage import StorageError

__all__ = ["app", "main"]

# Registration order is the order of `storywatch --help`.
for module in (crawl, items, daemon, subscribers, digest, demo):
    module.register(app)


def main() -> None:
    """Entry point: known errors become one clear line and exit code 2, never a traceback."""
    try:
        code = app(standalone_mode=False)
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
    # With standalone_mode=False click returns a `typer.Exit(code)`'s code instead of exiting.
    if isinstance(code, int) and code:
        sys.exit(code)
