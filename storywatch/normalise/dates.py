"""Dates: every timestamp storywatch keeps is an aware datetime in UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from dateutil import parser as dateutil_parser


def to_utc(value: str | datetime | time.struct_time | None) -> datetime | None:
    """Parse what pages and feeds give (ISO 8601, RFC 822, struct_time) into UTC.

    A date without a zone is taken as UTC: it is wrong by a few hours at worst, whereas
    guessing the publisher's zone from its country is wrong in other ways.
    """
    if value is None or value == "":
        return None
    if isinstance(value, time.struct_time):  # feedparser's *_parsed fields are UTC already
        return datetime(*value[:6], tzinfo=UTC)
    if isinstance(value, str):
        value = _parse(value.strip())
        if value is None:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        result = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    if not 1990 <= result.year <= 2100:
        return None
    return result


def _parse(text: str) -> datetime | None:
    """ISO 8601 by the standard library (sitemaps and meta tags: ~50x faster), anything
    else (RFC 822 feed dates, free text) by dateutil."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        parsed: datetime = dateutil_parser.parse(text)
    except (ValueError, OverflowError):
        return None
    return parsed


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None
