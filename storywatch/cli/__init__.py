"""The `storywatch` command line: one Typer app, one module per group of commands."""

from __future__ import annotations

import sys

import typer

from storywatch.cli import (
    classify,
    cluster,
    crawl,
    daemon,
    demo,
    digest,
    items,
    subscribers,
    web,
)
from storywatch.cli.common import app, fail
from storywatch.config import ConfigError
from storywatch.storage import StorageError

__all__ = ["app", "main"]

# Registration order is the order of `storywatch --help`.
for module in (crawl, items, classify, daemon, cluster, subscribers, digest, web, demo):
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
        if isinstance(exc, _click_exceptions()):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
    # With standalone_mode=False click returns a `typer.Exit(code)`'s code instead of exiting.
    if isinstance(code, int) and code:
        sys.exit(code)


def _click_exceptions() -> tuple[type[Exception], ...]:
    """Usage errors' base classes: typer >= 0.22 raises its vendored copy of click's."""
    kinds: list[type[Exception]] = []
    try:
        from click.exceptions import ClickException

        kinds.append(ClickException)
    except ImportError:
        pass
    try:
        from typer._click.exceptions import ClickException as VendoredClickException

        kinds.append(VendoredClickException)
    except ImportError:
        pass
    return tuple(kinds)
