"""`storywatch digest send|preview`: mail due digests now, or look at one in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from storywatch.cli.common import console, fail, options
from storywatch.normalise.dates import utc_now
from storywatch.notify.preview import recent_followups_digest

if TYPE_CHECKING:  # the notify package (SQLAlchemy, Jinja, email-validator) loads on use
    pass

digest_app = typer.Typer(help="Digest emails: send the due ones, preview one.",
                         no_args_is_help=True)


@digest_app.command("send")
def send(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option(help="Only this topic's subscriptions.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; send and record nothing.")
    ] = False,
) -> None:
    """Send the digests that are due now (immediate: anything new; daily/weekly: at their
    local time). Exit 1 when some digest failed and will be retried.

    Example: storywatch digest send --topic deserters --dry-run
    """
    from storywatch.notify.send import send_due_digests

    opts = options(ctx)
    config = opts.config()
    if topic is not None:
        config.topic(topic)
    storage = opts.storage(config)
    try:
        summary = send_due_digests(config, storage, utc_now(), topic=topic, dry_run=dry_run)
    finally:
        storage.dispose()
    for planned in summary.planned:
        console.print(f"would send to {planned.email} [{planned.topic}] {planned.items} items: "
                      f"{planned.subject}", markup=False, highlight=False)
    console.print(("dry run: " if dry_run else "") + summary.line(), markup=False,
                  highlight=False)
    if summary.failed or summary.aborted:
        raise typer.Exit(1)


@digest_app.command("preview")
def preview(
    ctx: typer.Context,
    topic: Annotated[str, typer.Option(help="A topic of the config.")],
    out: Annotated[Path, typer.Option(help="Where to write the HTML.")] = Path("digest.html"),
    subscriber: Annotated[
        str | None,
        typer.Option(help="Show this subscriber's pending digest (default: all recent "
                          "follow-ups)."),
    ] = None,
    tz: Annotated[str, typer.Option(help="Time zone when no --subscriber is given.")] = "UTC",
    text: Annotated[
        Path | None, typer.Option(help="Also write the plain-text part here.")
    ] = None,
) -> None:
    """Write a digest's HTML to a file to look at in a browser; nothing is sent or recorded.

    Example: storywatch digest preview --topic deserters --out digest.html
    """
    from storywatch.notify.render import render_digest
    from storywatch.notify.send import pending_digest
    from storywatch.notify.subscribers import (
        Schedule,
        SubscriptionError,
        list_subscriptions,
        normalise_email,
    )

    opts = options(ctx)
    config = opts.config()
    config.topic(topic)
    storage = opts.storage(config)
    now = utc_now()
    try:
        if subscriber is not None:
            try:
                address = normalise_email(subscriber)
            except SubscriptionError as exc:
                fail(str(exc))
            with storage.session() as session:
                rows = list_subscriptions(session, topic=topic, email=address)
            if not rows:
                fail(f"{address} is not subscribed to {topic!r}")
            schedule = rows[0].schedule
            digest = pending_digest(storage, config, rows[0])
        else:
            try:
                schedule = Schedule.parse(every="immediate", tz=tz)
            except SubscriptionError as exc:
                fail(str(exc))
            digest = recent_followups_digest(config, storage, topic, tz, now)
    finally:
        storage.dispose()
    if digest is None:
        fail(f"nothing to show: no follow-ups of {topic!r} pending", code=1)
    rendered = render_digest(digest, unsubscribe_url=None, schedule=schedule.describe())
    try:
        out.write_text(rendered.html, encoding="utf-8")
        if text is not None:
            text.write_text(rendered.text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write the preview: {exc}")
    console.print(f"wrote {out} ({len(digest.entries)} entries): {rendered.subject}",
                  markup=False, highlight=False)


@digest_app.command("serve-unsubscribe")
def serve_unsubscribe(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8025,
) -> None:
    """Serve the unsubscribe page and RFC 8058 one-click POSTs for digest.public_url
    (put it behind your HTTPS reverse proxy). Only that page: `storywatch web` serves it
    too, beside everything else.

    Example: storywatch digest serve-unsubscribe --port 8025
    """
    import threading

    from storywatch.web.app import create_app
    from storywatch.web.serve import start_web_server

    opts = options(ctx)
    config = opts.config()
    storage = opts.storage(config)
    app = create_app(config, storage, password=None, unsubscribe_only=True)
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        server = start_web_server(app, listen)
    except OSError as exc:
        storage.dispose()
        fail(f"cannot listen on {host}:{port}: {exc}")
    console.print(f"serving unsubscribe links on http://{host}:{server.port}/unsubscribe",
                  markup=False, highlight=False)
    try:
        while server.thread.is_alive():
            threading.Event().wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        storage.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(digest_app, name="digest")
