"""What goes into one subscriber's digest: the follow-ups not mailed to them yet, newest
first, with the several outlets covering one development folded into one entry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from storywatch.storage.models import Item, Judgement, Label
from storywatch.storage.notify import DigestDelivery

# Ledger states that keep an item out of the next digest: mailed, being mailed, or
# possibly mailed (found "sending" after a crash). "failed" items come back.
BLOCKING_STATES = ("sending", "sent", "unknown")

# Hand-written sentence split: a regex on end punctuation (plus closing quotes) followed by
# white space is right for news prose in the languages we follow; a tokenizer model would
# be a large dependency for the two sentences a lead needs.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»”’)\]]*\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str | None) -> str:
    """Scraped text on one line: CR/LF and other control characters become spaces, so a
    title can go into a Subject header or a text mail without breaking either."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


def safe_link(url: str | None) -> str | None:
    """Only absolute http(s) links are ever rendered; anything else is shown unlinked."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:–- ")
    return cut + "…"


def lead_of(text: str, novel_sentences: object, limit: int) -> str:
    """The novel sentences when classification named them (they are what is new), else the
    opening sentences; whole sentences up to the limit, at least one (shortened)."""
    sentences: list[str] = []
    if isinstance(novel_sentences, list):
        for entry in novel_sentences:
            # Plain strings, or {"text": ...} records should classification add scores.
            sentence = entry.get("text") if isinstance(entry, dict) else entry
            if isinstance(sentence, str) and sentence.strip():
                sentences.append(one_line(sentence))
    if not sentences:
        for paragraph in (text or "").split("\n"):
            sentences.extend(one_line(s) for s in _SENTENCE_END.split(paragraph) if s.strip())
            if sum(len(s) for s in sentences) >= limit:
                break
    lead = ""
    for sentence in sentences:
        candidate = f"{lead} {sentence}".strip()
        if lead and len(candidate) > limit:
            break
        lead = candidate
    return shorten(lead, limit)


@dataclass(frozen=True)
class DigestItem:
    item_id: int
    title: str
    url: str | None
    source: str
    published_at: datetime  # published, or when storywatch found it if the page had no date
    dated: bool  # False when published_at is the fetch time
    lead: str
    cluster_id: str | None


@dataclass(frozen=True)
class DigestEntry:
    """One development: the first outlet to publish it, and who else reported it."""

    primary: DigestItem
    also: tuple[DigestItem, ...] = ()

    @property
    def item_ids(self) -> list[int]:
        return [self.primary.item_id, *(i.item_id for i in self.also)]


@dataclass(frozen=True)
class Digest:
    topic: str
    email: str
    tz: str
    entries: tuple[DigestEntry, ...]
    held_back: int = 0  # pending entries beyond max_items, left for the next digest
    subscriber_id: int | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def item_ids(self) -> list[int]:
        return [i for entry in self.entries for i in entry.item_ids]

    def restricted_to(self, item_ids: Iterable[int]) -> Digest | None:
        """The digest without the items another process claimed first (None if nothing left)."""
        keep = set(item_ids)
        entries = []
        for entry in self.entries:
            members = [i for i in (entry.primary, *entry.also) if i.item_id in keep]
            if members:
                entries.append(DigestEntry(members[0], tuple(members[1:])))
        return replace(self, entries=tuple(entries)) if entries else None


def _digest_item(item: Item, judgement: Judgement, lead_chars: int) -> DigestItem:
    reasons = judgement.reasons if isinstance(judgement.reasons, dict) else {}
    return DigestItem(
        item_id=item.id,
        title=one_line(item.title) or "(untitled)",
        url=safe_link(item.canonical_url) or safe_link(item.url),
        source=one_line(item.source),
        published_at=item.published_at or item.fetched_at,
        dated=item.published_at is not None,
        lead=lead_of(item.text, reasons.get("novel_sentences"), lead_chars),
        cluster_id=judgement.cluster_id,
    )


def group_entries(items: Sequence[DigestItem]) -> list[DigestEntry]:
    """Fold items sharing a story cluster into one entry led by the earliest report;
    entries newest first by that lead's time."""
    clusters: dict[str, list[DigestItem]] = {}
    entries: list[DigestEntry] = []
    for item in items:
        if item.cluster_id:
            clusters.setdefault(item.cluster_id, []).append(item)
        else:
            entries.append(DigestEntry(item))
    for members in clusters.values():
        members.sort(key=lambda i: (i.published_at, i.item_id))
        entries.append(DigestEntry(members[0], tuple(members[1:])))
    entries.sort(key=lambda e: (e.primary.published_at, e.primary.item_id), reverse=True)
    return entries


def followups_query(topic: str, since: datetime, subscriber_id: int | None):  # type: ignore[no-untyped-def]
    """Ids (and judgement times) of the topic's follow-ups judged since `since`, minus what
    the ledger blocks, newest first. A person's label wins over the machine's judgement:
    an item labelled off-topic or duplicate is never sent, one labelled follow-up is."""
    query = (
        select(Item.id, Judgement.decided_at)
        .join(Judgement, and_(Judgement.item_id == Item.id, Judgement.topic == topic))
        .outerjoin(Label, and_(Label.item_id == Item.id, Label.topic == topic))
        .where(func.coalesce(Label.status, Judgement.status) == "followup",
               Judgement.decided_at >= since)
    )
    if subscriber_id is not None:
        query = query.where(~exists().where(
            DigestDelivery.subscriber_id == subscriber_id,
            DigestDelivery.item_id == Item.id,
            DigestDelivery.state.in_(BLOCKING_STATES),
        ))
    newest = func.coalesce(Item.published_at, Item.fetched_at)
    return query.order_by(newest.desc(), Item.id.desc())


def build_digest(
    session: Session,
    *,
    topic: str,
    email: str,
    tz: str,
    since: datetime,
    subscriber_id: int | None,
    max_items: int,
    lead_chars: int,
    cache: dict[tuple[int, datetime], DigestItem] | None = None,
) -> Digest | None:
    """The pending digest of one subscriber (or, with subscriber_id None, every follow-up
    since `since`, for previews); None when there is nothing to send.

    `cache` (one per run) keeps items already loaded for another subscriber: a run over many
    subscribers then reads each article's text once, not once per subscriber.
    """
    cache = {} if cache is None else cache
    wanted = [(row[0], row[1]) for row in session.execute(
        followups_query(topic, since, subscriber_id))]
    missing = [item_id for item_id, decided in wanted if (item_id, decided) not in cache]
    if missing:
        loaded = session.execute(
            select(Item, Judgement)
            .join(Judgement, and_(Judgement.item_id == Item.id, Judgement.topic == topic))
            .where(Item.id.in_(missing))
        )
        for item, judgement in loaded:
            cache[(item.id, judgement.decided_at)] = _digest_item(item, judgement, lead_chars)
    # A judgement re-decided between the two queries is left for the next run.
    items = [cache[key] for key in wanted if key in cache]
    entries = group_entries(items)
    if not entries:
        return None
    return Digest(topic=topic, email=email, tz=tz, entries=tuple(entries[:max_items]),
                  held_back=max(0, len(entries) - max_items), subscriber_id=subscriber_id)


def first_digest_start(created_at: datetime, covers: timedelta) -> datetime:
    """A new subscriber's first digest reaches back `covers` before they subscribed."""
    return created_at - covers
