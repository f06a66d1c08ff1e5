"""`storywatch demo`: the whole pipeline on a news world of our own, with no network."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from storywatch.cli.common import console, options
from storywatch.cli.crawl import print_summary
from storywatch.cli.items import load_rows, render_items
from storywatch.config import load_config
from storywatch.notify.preview import recent_followups_digest


def demo(
    ctx: typer.Context,
    workdir: Annotated[
        Path, typer.Option(help="Where the demo's config and fresh SQLite database go.")
    ] = Path("storywatch-demo"),
) -> None:
    """Serve the fixture news world on 127.0.0.1, crawl it into a fresh database, show it.

    Example: storywatch demo --workdir /tmp/sw-demo
    """
    from storywatch.demo.config import demo_config_toml
    from storywatch.demo.server import FixtureServer
    from storywatch.notify.render import render_digest
    from storywatch.spiders.run import run_crawl
    from storywatch.storage import open_storage

    opts = options(ctx)
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "storywatch.db"
    for stale in workdir.glob("storywatch.db*"):
        stale.unlink()
    config_path = workdir / "storywatch.toml"
    with FixtureServer() as server:
        console.print(f"demo news world serving at {server.base_url}")
        config_path.write_text(
            demo_config_toml(server.base_url, f"sqlite:///{database.resolve()}"), encoding="utf-8"
        )
        config = load_config(config_path)
        open_storage(config.storage.url).dispose()
        summary = run_crawl(config, settings_overrides={"LOG_LEVEL": opts.log_level})
    print_summary(summary)
    storage = open_storage(config.storage.url)
    topic = config.topics[0].name
    render_items(load_rows(storage, topic=topic), topic=topic)
    digest = recent_followups_digest(config, storage, topic)
    storage.dispose()
    preview = workdir / "digest.html"
    if digest is not None:
        rendered = render_digest(digest, unsubscribe_url=None, schedule="a preview")
        preview.write_text(rendered.html, encoding="utf-8")
        console.print(f"\nDigest preview ({len(digest.entries)} entries, "
                      f"“{rendered.subject}”): open {preview} in a browser.",
                      markup=False, highlight=False)
    console.print(
        f"\nThe demo's config and database are in {workdir}/. Explore them with:\n"
        f"  storywatch --config {config_path} items --status followup\n"
        f"  storywatch --config {config_path} explain URL\n"
        "For real sources, start from examples/storywatch.toml (see README)."
    )


def register(app: typer.Typer) -> None:
    app.command()(demo)
