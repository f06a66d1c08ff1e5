"""One digest run: which subscriptions are due, what each gets, and the ledger around SMTP.

`send_due_digests` is what both `storywatch digest send` and the daemon call.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from storywatch.config import Config, ConfigError
from storywatch.normalise.dates import utc_now
from storywatch.notify import ledger
from storywatch.notify.digest import Digest, DigestItem, build_digest, first_digest_start
from storywatch.notify.mailer import Mailer, SendFailed, SendUncertain
from storywatch.notify.render import build_message, render_digest
from storywatch.notify.subscribers import (
    SubscriptionError,
    SubscriptionRow,
    list_subscriptions,
    normalise_email,
)
from storywatch.notify.tokens import make_token, signing_secret
from storywatch.storage import Storage
from storywatch.storage.notify import Subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedDigest:
    email: str
    topic: str
    subject: str
    items: int


@dataclass
class DigestRunSummary:
    """What a run did; the CLI prints it and the daemon logs it."""

    subscriptions: int = 0  # examined
    due: int = 0  # due by their schedule (immediate ones: with something new)
    sent: int = 0  # digests the server accepted
    items_sent: int = 0
    empty: int = 0  # due but nothing new: nothing sent, the slot is marked as handled
    failed: int = 0  # refused or unreachable: items stay pending for the next run
    uncertain: int = 0  # connection lost mid-message: possibly sent, never resent
    reconciled: int = 0  # "sending" rows from a dead process turned into "unknown"
    skipped_unknown_topic: int = 0
    aborted: str | None = None  # why the run stopped early (server unreachable)
    planned: list[PlannedDigest] = field(default_factory=list)  # dry run

    def line(self) -> str:
        text = (f"{self.sent} digests sent ({self.items_sent} items), {self.due} due of "
                f"{self.subscriptions} subscriptions, {self.empty} empty, {self.failed} "
                f"failed, {self.uncertain} uncertain, {self.reconciled} reconciled")
        return text + (f"; stopped early: {self.aborted}" if self.aborted else "")


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url}/unsubscribe?token={token}"


def in_flight_grace(config: Config) -> timedelta:
    """The longest a live sender keeps rows "sending": every attempt timing out, plus the
    backoff sleeps, plus a minute of slack for the database writes around it."""
    smtp = config.smtp
    if smtp is None:
        return timedelta(hours=1)
    attempts = smtp.retries + 1
    backoff = smtp.retry_backoff * (2**smtp.retries - 1)
    # Each attempt can wait up to one timeout per SMTP command: connect, EHLO, STARTTLS,
    # MAIL, RCPT, DATA and the final reply, so 8 timeouts is a generous bound.
    return smtp.timeout * 8 * attempts + backoff + timedelta(minutes=1)


def pending_digest(storage: Storage, config: Config, sub: SubscriptionRow,
                   cache: dict[tuple[int, datetime], DigestItem] | None = None) -> Digest | None:
    with storage.session() as session:
        return build_digest(
            session, topic=sub.topic, email=sub.email, tz=sub.schedule.tz,
            since=first_digest_start(sub.created_at, config.digest.first_digest_covers),
            subscriber_id=sub.subscriber_id, max_items=config.digest.max_items,
            lead_chars=config.digest.lead_chars, cache=cache,
        )


def _mark_slot(session: Session, sub: SubscriptionRow, now: datetime, *, sent: bool) -> None:
    values: dict[str, datetime] = {"last_run_at": now}
    if sent:
        values["last_sent_at"] = now
    session.execute(update(Subscription).where(Subscription.id == sub.id).values(**values))


def send_due_digests(config: Config, storage: Storage, now: datetime | None = None, *,
                     topic: str | None = None, dry_run: bool = False,
                     mailer: Mailer | None = None) -> DigestRunSummary:
    """Send every digest that is due at `now`; safe to call from several processes at once.

    Raises ConfigError when sending is impossible by configuration (no [smtp] section, no
    digest.public_url for unsubscribe links); SMTP trouble is reported in the summary.
    """
    now = now or utc_now()
    if not dry_run:
        if config.smtp is None:
            raise ConfigError("no [smtp] section in the config: digests cannot be sent "
                              "(see docs/digests.md)")
        if not config.digest.public_url:
            raise ConfigError("digest.public_url is not set: digests need it for the "
                              "unsubscribe link (see docs/digests.md)")
    summary = DigestRunSummary()
    known_topics = {t.name for t in config.topics}
    with storage.session() as session:
        if not dry_run:
            summary.reconciled = ledger.reconcile(session, now, in_flight_grace(config))
        # Not in a dry run: creating the key on first use would be a change.
        secret = "" if dry_run else signing_secret(session)
        subscriptions = list_subscriptions(session, topic=topic)
    if summary.reconciled:
        log.warning("%d ledger rows were left 'sending' by a stopped process; they count as "
                    "possibly sent and will not be mailed again", summary.reconciled)
    own_mailer = mailer is None and not dry_run
    if own_mailer:
        assert config.smtp is not None
        mailer = Mailer(config.smtp)
    items_cache: dict[str, dict[tuple[int, datetime], DigestItem]] = {}
    try:
        for sub in subscriptions:
            summary.subscriptions += 1
            if sub.topic not in known_topics:
                summary.skipped_unknown_topic += 1
                log.warning("subscription of %s to %r skipped: no such topic in the config",
                            sub.email, sub.topic)
                continue
            scheduled = sub.schedule.every != "immediate"
            if scheduled and not sub.schedule.is_due(now, sub.last_run_at, sub.created_at,
                                                     has_news=True):
                continue
            # Per topic: one article has a cluster (and so an entry) per topic.
            digest = pending_digest(storage, config, sub, items_cache.setdefault(sub.topic, {}))
            if not sub.schedule.is_due(now, sub.last_run_at, sub.created_at,
                                       has_news=digest is not None):
                continue
            summary.due += 1
            if digest is None:
                summary.empty += 1
                if not dry_run:
                    with storage.session() as session:
                        _mark_slot(session, sub, now, sent=False)
                continue
            if dry_run:
                rendered = render_digest(digest, unsubscribe_url=None,
                                         schedule=sub.schedule.describe())
                summary.planned.append(PlannedDigest(sub.email, sub.topic, rendered.subject,
                                                     len(digest.item_ids)))
                continue
            assert mailer is not None
            if not _send_one(config, storage, mailer, sub, digest, secret, now, summary):
                break
    finally:
        if own_mailer and mailer is not None:
            mailer.close()
    return summary


def _send_one(config: Config, storage: Storage, mailer: Mailer, sub: SubscriptionRow,
              digest: Digest, secret: str, now: datetime, summary: DigestRunSummary) -> bool:
    """Claim, send, record one digest; False when the run should stop (server unreachable)."""
    assert config.smtp is not None and config.digest.public_url
    digest_id = uuid.uuid4().hex
    with storage.session() as session:
        claimed = ledger.claim(session, subscriber_id=sub.subscriber_id, topic=sub.topic,
                               item_ids=digest.item_ids, digest_id=digest_id, now=now)
    restricted = digest.restricted_to(claimed)
    if restricted is None:
        return True  # another process is sending exactly these items right now
    try:
        # Checked again here (a row stored before today's rules, or written by hand); not
        # compared with its normal form, which a newer email-validator may spell otherwise.
        normalise_email(sub.email)
        link = unsubscribe_url(config.digest.public_url,
                               make_token(secret, sub.email, sub.topic, sub.created_at))
        rendered = render_digest(restricted, unsubscribe_url=link,
                                 schedule=sub.schedule.describe())
        message = build_message(rendered, sender=config.smtp.sender, to=sub.email,
                                topic=sub.topic, digest_id=digest_id, now=now,
                                unsubscribe_url=link)
    except (SubscriptionError, ValueError) as exc:
        # Nothing was sent: the rows are "failed" (sendable again once the address is
        # fixed), with the reason, and the run goes on with the next subscriber.
        reason = f"cannot build the message: {exc}"
        with storage.session() as session:
            ledger.mark(session, digest_id, "failed", utc_now(), error=reason)
        summary.failed += 1
        log.error("digest to %r (%s) not sent: %s", sub.email, sub.topic, reason)
        return True
    try:
        mailer.send(message, recipients=[sub.email])
    except SendFailed as exc:
        with storage.session() as session:
            ledger.mark(session, digest_id, "failed", utc_now(), error=str(exc))
        summary.failed += 1
        log.warning("digest to %s (%s) failed, will retry next run: %s",
                    sub.email, sub.topic, exc)
        if exc.connection:
            summary.aborted = str(exc)
            return False
        return True
    except SendUncertain as exc:
        with storage.session() as session:
            ledger.mark(session, digest_id, "unknown", utc_now(), error=str(exc))
            _mark_slot(session, sub, now, sent=False)
        summary.uncertain += 1
        log.warning("digest to %s (%s) possibly sent, not retried: %s",
                    sub.email, sub.topic, exc)
        return True
    with storage.session() as session:
        ledger.mark(session, digest_id, "sent", utc_now())
        _mark_slot(session, sub, now, sent=True)
    summary.sent += 1
    summary.items_sent += len(restricted.item_ids)
    return True
