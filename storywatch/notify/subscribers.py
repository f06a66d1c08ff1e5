"""Who gets which topic's digest, when: validation, storage, and the schedule arithmetic."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from storywatch.storage.notify import Subscriber, Subscription
from storywatch.storage.repository import dialect_insert

EVERY = ("immediate", "daily", "weekly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SubscriptionError(ValueError):
    """A subscriber, schedule or time zone the user gave that cannot be used."""


def normalise_email(address: str) -> str:
    """The address in the normal form email-validator gives (so case variants of the domain
    are one subscriber); refuses anything that is not a single plain address.

    `=?` is refused too: `=?utf-8?q?a=2C_b=40evil.example?=@example.org` is valid
    RFC 5322 syntax, but the stdlib's header parser decodes the encoded word, and the To:
    header that comes out names other recipients (or holds a CR/LF and cannot be built).
    """
    try:
        # No SMTPUTF8 local parts: many relays still refuse them, and the message headers
        # are written with the plain (7-bit) SMTP policy.
        valid = validate_email(address.strip(), check_deliverability=False,
                               allow_smtputf8=False)
        normal = valid.ascii_email or valid.normalized
    except EmailNotValidError as exc:
        raise SubscriptionError(f"{address!r} is not a valid email address: {exc}") from None
    if "=?" in normal:
        raise SubscriptionError(f"{address!r} is not accepted: it contains an RFC 2047 "
                                "encoded word (=?...?=), which mail programs decode into "
                                "a different address")
    return normal


def lookup_email(address: str) -> str:
    """The stored form to look an address up by: normalised when it can be, else as given,
    so an address stored before a validation rule existed can still be removed."""
    try:
        return normalise_email(address)
    except SubscriptionError:
        return address.strip()


@dataclass(frozen=True)
class Schedule:
    every: str = "daily"
    at: str = "07:00"
    tz: str = "UTC"
    weekday: int = 0

    @classmethod
    def parse(cls, every: str = "daily", at: str = "07:00", tz: str = "UTC",
              day: str = "monday") -> Schedule:
        if every not in EVERY:
            raise SubscriptionError(f"--every {every!r}: use immediate, daily or weekly")
        match = _HHMM.match(at.strip())
        if not match:
            raise SubscriptionError(f"--at {at!r} is not a time of day; write HH:MM, e.g. 07:00")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise SubscriptionError(
                f"--tz {tz!r} is not a known time zone; use an IANA name like Europe/Paris"
            ) from None
        day_name = day.strip().lower()
        matches = [i for i, name in enumerate(WEEKDAYS) if day_name in (name, name[:3])]
        if not matches:
            raise SubscriptionError(f"--day {day!r}: use a weekday name, e.g. monday or mon")
        return cls(every=every, at=f"{int(match.group(1)):02d}:{match.group(2)}", tz=tz,
                   weekday=matches[0])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def describe(self) -> str:
        if self.every == "immediate":
            return "immediate"
        when = f"{self.at} {self.tz}"
        return f"daily {when}" if self.every == "daily" else \
            f"weekly {WEEKDAYS[self.weekday]} {when}"

    def last_slot(self, now: datetime) -> datetime | None:
        """The latest scheduled moment at or before now (None for immediate delivery).

        Computed in the subscriber's zone so 07:00 stays 07:00 across DST changes; a time
        that does not exist on a spring-forward day is taken as zoneinfo maps it (fold=0).
        """
        if self.every == "immediate":
            return None
        zone = self.zone
        local_now = now.astimezone(zone)
        hour, minute = (int(part) for part in self.at.split(":"))

        def at_day(day: date) -> datetime:
            return datetime.combine(day, time(hour, minute), tzinfo=zone)

        day = local_now.date()
        # Eight days back always contains one matching weekday at or before now.
        for back in range(8):
            candidate = at_day(day - timedelta(days=back))
            if candidate > local_now:
                continue
            if self.every == "daily" or candidate.weekday() == self.weekday:
                return candidate
        raise AssertionError("unreachable: a week always has the weekday")

    def is_due(self, now: datetime, last_run_at: datetime | None, created_at: datetime,
               has_news: bool) -> bool:
        """Immediate: whenever something new exists. Daily/weekly: once per slot, when the
        latest slot has not been handled yet (a slot before the subscription does not count)."""
        if self.every == "immediate":
            return has_news
        slot = self.last_slot(now)
        assert slot is not None
        return slot > (last_run_at or created_at)


def schedule_of(subscription: Subscription) -> Schedule:
    return Schedule(every=subscription.every, at=subscription.at, tz=subscription.tz,
                    weekday=subscription.weekday)


def add_subscription(session: Session, email: str, topic: str, schedule: Schedule,
                     now: datetime) -> bool:
    """Subscribe (or change the schedule of an existing subscription); True when new."""
    email = normalise_email(email)
    session.execute(
        dialect_insert(session, Subscriber).values(email=email, created_at=now)
        .on_conflict_do_nothing(index_elements=["email"])
    )
    subscriber_id = session.execute(
        select(Subscriber.id).where(Subscriber.email == email)
    ).scalar_one()
    values = {"subscriber_id": subscriber_id, "topic": topic, "every": schedule.every,
              "at": schedule.at, "weekday": schedule.weekday, "tz": schedule.tz,
              "created_at": now}
    statement = dialect_insert(session, Subscription).values(**values)
    created = session.execute(
        statement.on_conflict_do_nothing(index_elements=["subscriber_id", "topic"])
        .returning(Subscription.id)
    ).scalar_one_or_none()
    if created is None:
        session.execute(
            update(Subscription)
            .where(Subscription.subscriber_id == subscriber_id, Subscription.topic == topic)
            .values(every=schedule.every, at=schedule.at, weekday=schedule.weekday,
                    tz=schedule.tz)
        )
    return created is not None


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    subscriber_id: int
    email: str
    topic: str
    schedule: Schedule
    created_at: datetime
    last_run_at: datetime | None
    last_sent_at: datetime | None


def list_subscriptions(session: Session, topic: str | None = None,
                       email: str | None = None) -> list[SubscriptionRow]:
    query = select(Subscription, Subscriber.email).join(Subscriber)
    if topic is not None:
        query = query.where(Subscription.topic == topic)
    if email is not None:
        query = query.where(Subscriber.email == lookup_email(email))
    rows = session.execute(query.order_by(Subscription.topic, Subscriber.email)).all()
    return [
        SubscriptionRow(
            id=sub.id, subscriber_id=sub.subscriber_id, email=address, topic=sub.topic,
            schedule=schedule_of(sub), created_at=sub.created_at, last_run_at=sub.last_run_at,
            last_sent_at=sub.last_sent_at,
        )
        for sub, address in rows
    ]


def remove_subscription(session: Session, email: str, topic: str) -> bool:
    """End one subscription; the address and its send history stay, so re-subscribing
    never brings back what was already mailed."""
    subscriber_id = session.execute(
        select(Subscriber.id).where(Subscriber.email == lookup_email(email))
    ).scalar()
    if subscriber_id is None:
        return False
    result = session.execute(
        delete(Subscription).where(Subscription.subscriber_id == subscriber_id,
                                   Subscription.topic == topic)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def remove_subscriber(session: Session, email: str) -> bool:
    """Forget the address entirely: subscriptions and send history go with it."""
    result = session.execute(
        delete(Subscriber).where(Subscriber.email == lookup_email(email))
    )
    return bool(cast(CursorResult[Any], result).rowcount)
