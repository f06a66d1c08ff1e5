"""How stored values are shown on the pages: dates, links, statuses, reasons.

Every scraped string goes through Jinja2's autoescaping; links to scraped URLs go through
`safe_link` as well, so a `javascript:` or `data:` URL is shown as text, never as a link.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from storywatch.normalise import dates
from storywatch.notify.digest import safe_link

STATUS_NAMES = {"followup": "follow-up", "duplicate": "duplicate", "offtopic": "off-topic",
                "unclassified": "not judged", "all": "any status"}


def when(value: datetime | None, with_time: bool = True) -> str:
    if value is None:
        return "no date"
    return value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def iso(value: datetime | None) -> str:
    return dates.iso(value) or ""


def status_name(status: str | None) -> str:
    return STATUS_NAMES.get(status or "unclassified", status or "")


def reason_rows(reasons: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The judgement's reasons as (name, value) rows, the deciding layer first: what
    `storywatch explain` prints, for a page. Values stay data; the template escapes."""
    reasons = dict(reasons or {})
    rows: list[tuple[str, Any]] = [("decided by", reasons.pop("layer", "?"))]
    for key, value in reasons.items():
        if key in ("topic", "decided_at"):
            continue
        rows.append((key.replace("_", " "), value))
    return rows


def is_mapping(value: object) -> bool:
    return isinstance(value, dict)


def is_sequence(value: object) -> bool:
    return isinstance(value, list | tuple)


def query_string(values: dict[str, Any], **changes: Any) -> str:
    """The list's query string with some parameters changed; empty ones left out."""
    merged = {**values, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def number(value: int | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}"


def size(value: int | None) -> str:
    if value is None:
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value = value / 1024  # type: ignore[assignment]
    return str(value)


FILTERS = {"when": when, "iso": iso, "status_name": status_name, "safe_link": safe_link,
           "reason_rows": reason_rows, "number": number, "size": size}
GLOBALS = {"is_mapping": is_mapping, "is_sequence": is_sequence, "query_string": query_string,
           "status_names": STATUS_NAMES}
