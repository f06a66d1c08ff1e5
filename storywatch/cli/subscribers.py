"""`storywatch subscribers add|list|remove` and `storywatch unsubscribe TOKEN`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from storywatch.cli.common import console, fail, options
from storywatch.normalise.dates import iso, utc_now

subscribers_app = typer.Typer(
    help="Who receives digests of which topic, and when.", no_args_is_help=True
)


@subscribers_app.command("add")
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The subscriber's address.")],
    topic: Annotated[str, typer.Option(help="A topic of the config.")],
    every: Annotated[str, typer.Option(help="immediate, daily or weekly.")] = "daily",
    at: Annotated[str, typer.Option(help="Local time of daily/weekly digests, HH:MM.")] = "07:00",
    tz: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Paris.")] = "UTC",
    day: Annotated[str, typer.Option(help="Weekday of weekly digests.")] = "monday",
) -> None:
    """Subscribe an address to a topic (again: change its schedule).

    Example: storywatch subscribers add ana@example.org --topic deserters --every daily
    --at 07:00 --tz Europe/Paris
    """
    from storywatch.notify.subscribers import (
        Schedule,
        SubscriptionError,
        add_subscription,
        normalise_email,
    )

    opts = options(ctx)
    config = opts.config()
    config.topic(topic)  # unknown topic: clear error, exit 2
    try:
        address = normalise_email(email)
        schedule = Schedule.parse(every=every, at=at, tz=tz, day=day)
    except SubscriptionError as exc:
        fail(str(exc))
    storage = opts.storage(config)
    with storage.session() as session:
        created = add_subscription(session, address, topic, schedule, utc_now())
    storage.dispose()
    verb = "subscribed" if created else "updated"
    console.print(f"{verb}: {address} → {topic} ({schedule.describe()})", markup=False,
                  highlight=False)


@subscribers_app.command("list")
def list_(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option(help="Only this topic.")] = None,
) -> None:
    """List subscriptions with their schedule and last digest.

    Example: storywatch subscribers list --topic deserters
    """
    from storywatch.notify.subscribers import list_subscriptions

    opts = options(ctx)
    storage = opts.storage()
    with storage.session() as session:
        rows = list_subscriptions(session, topic=topic)
    storage.dispose()
    table = Table(title=f"{len(rows)} subscriptions", title_justify="left")
    for column in ("email", "topic", "schedule", "since", "last digest"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.email, row.topic, row.schedule.describe(),
                      (iso(row.created_at) or "")[:16].replace("T", " "),
                      (iso(row.last_sent_at) or "never")[:16].replace("T", " "))
    console.print(table)


@subscribers_app.command("remove")
def remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The subscriber's address.")],
    topic: Annotated[
        str | None,
        typer.Option(help="Only this topic; without it the address and its history are erased."),
    ] = None,
) -> None:
    """Remove a subscription, or (without --topic) forget the address entirely.

    Example: storywatch subscribers remove ana@example.org --topic deserters
    """
    from storywatch.notify.subscribers import lookup_email, remove_subscriber, remove_subscription

    opts = options(ctx)
    # Not validated: an address stored before today's rules must still be removable.
    address = lookup_email(email)
    storage = opts.storage()
    with storage.session() as session:
        if topic is None:
            removed = remove_subscriber(session, address)
        else:
            removed = remove_subscription(session, address, topic)
    storage.dispose()
    if not removed:
        fail(f"{address} is not subscribed" + (f" to {topic!r}" if topic else ""), code=1)
    console.print(f"removed: {address}" + (f" from {topic}" if topic else ""), markup=False,
                  highlight=False)


def unsubscribe(
    ctx: typer.Context,
    token: Annotated[str, typer.Argument(help="The token of an unsubscribe link.")],
) -> None:
    """Honour an unsubscribe link: end the subscription its signed token names.

    Example: storywatch unsubscribe eyJlIjoi...
    """
    from storywatch.notify.tokens import BadToken, read_token, redeem, signing_secret

    opts = options(ctx)
    storage = opts.storage()
    with storage.session() as session:
        secret = signing_secret(session)
        try:
            request = read_token(secret, token)
            removed = redeem(session, request)
        except BadToken as exc:
            storage.dispose()
            fail(str(exc))
    storage.dispose()
    state = "unsubscribed" if removed else "already unsubscribed"
    console.print(f"{state}: {request.email} from {request.topic}", markup=False,
                  highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(subscribers_app, name="subscribers")
    app.command()(unsubscribe)
