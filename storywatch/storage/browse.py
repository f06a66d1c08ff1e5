"""Reads behind the web app: one topic's items, filtered, searched and paged by key.

Paging is by key (the last entry's publication time and id), not by OFFSET: page 2,000
of 100,000 items costs what page 1 costs, because the query walks the
`ix_items_published_at` index from the key on and stops after one page. Full-text
search uses the index of migration 0008 (FTS5 on SQLite, a tsvector on PostgreSQL).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    column,
    exists,
    func,
    inspect,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from storywatch.storage.models import Item, Judgement, Label

UNCLASSIFIED = "unclassified"
STATUS_CHOICES = ("followup", "duplicate", "offtopic", UNCLASSIFIED, "all")
_WORD = re.compile(r"\w+", re.UNICODE)
# Longer searches are cut: a query of thousands of words is an attack, not a question.
MAX_SEARCH_WORDS = 16


@dataclass(frozen=True)
class ItemFilter:
    """What the follow-ups list shows; every field but `topic` optional."""

    topic: str
    status: str = "followup"
    source: str | None = None
    language: str | None = None
    since: date | None = None  # publication day, inclusive (UTC)
    until: date | None = None  # publication day, inclusive (UTC)
    search: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last entry's sort key. Items without a date sort last."""

    published_at: datetime | None
    item_id: int

    def encode(self) -> str:
        stamp = "-" if self.published_at is None else str(int(
            self.published_at.timestamp() * 1_000_000))
        return f"{stamp}.{self.item_id}"

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """Raises ValueError on anything but a cursor this module wrote."""
        stamp, _, item_id = value.partition(".")
        if not item_id.isdigit() or not (stamp == "-" or stamp.lstrip("-").isdigit()):
            raise ValueError(f"{value!r} is not a page cursor")
        when = None if stamp == "-" else datetime.fromtimestamp(int(stamp) / 1_000_000, UTC)
        return cls(when, int(item_id))


@dataclass
class Entry:
    """One line of the list: an item, or the newest report of a cluster and the others."""

    id: int
    title: str | None
    url: str
    source: str
    language: str | None
    published_at: datetime | None
    status: str
    judged: str
    labelled: bool
    confidence: float | None
    cluster_id: str | None
    also: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Page:
    entries: list[Entry]
    next_cursor: str | None


def search_words(query: str | None) -> list[str]:
    return _WORD.findall(query or "")[:MAX_SEARCH_WORDS]


# Past this many matches a word is common, and the list is fastest walked newest first,
# asking the index about each item (a common word matches one item in a few, so a page
# is found after a few hundred items). Below it the matches are few, and fastest fetched
# first and sorted. At 100,000 items: a word in 79 % of them 271 ms fetched first, 11 ms
# walked; a word in 185 of them 3.3 s walked, 1.4 ms fetched first (benchmarks/web_pages.py).
DENSE_MATCHES = 2000


# The FTS5 table of migration 0008 (not mapped: PostgreSQL has none).
_FTS = table("items_fts", column("rowid"))


@dataclass(frozen=True)
class _Plan:
    """How a list query is written, decided once per page: the search words (none: no
    search) and the plan for them, and on PostgreSQL whether the topic has any human
    label (SQLite's list needs not know)."""

    words: list[str]
    dense: bool  # SQLite: walk the list and probe the index (see DENSE_MATCHES)
    labelled: bool = True
    postgres: bool = False


def _plan(session: Session, filters: ItemFilter) -> _Plan:
    postgres = session.get_bind().dialect.name == "postgresql"
    words = search_words(filters.search)
    if postgres:  # its planner has statistics to choose a search plan; labels: _conditions
        labelled = session.execute(
            select(Label.id).where(Label.topic == filters.topic).limit(1)).first() is not None
        return _Plan(words, dense=False, labelled=labelled, postgres=True)
    if not words:
        return _Plan(words, dense=False)
    matches = session.execute(
        text("SELECT count(*) FROM (SELECT rowid FROM items_fts WHERE items_fts MATCH :q "
             "LIMIT :cap)"), {"q": _fts_query(words), "cap": DENSE_MATCHES}).scalar_one()
    return _Plan(words, dense=matches >= DENSE_MATCHES)


def _fts_query(words: list[str]) -> str:
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _search_condition(item: Any, plan: _Plan) -> ColumnElement[bool]:
    """Items whose title or text hold every word of the query, through the full-text index.

    The user's text never reaches the index's query language as such: it is cut into
    words, each quoted (FTS5) or passed as plain words (PostgreSQL's plainto_tsquery).
    """
    if plan.postgres:
        tsquery = func.plainto_tsquery(literal_column("'simple'::regconfig"),
                                       " ".join(plan.words))
        return _pg_column(item).op("@@")(tsquery)
    match = text("items_fts MATCH :fts_query").bindparams(fts_query=_fts_query(plan.words))
    if plan.dense:
        return exists(select(_FTS.c.rowid).where(match, _FTS.c.rowid == item.id))
    return item.id.in_(select(_FTS.c.rowid).where(match))


def _pg_column(item: Any) -> Any:
    """The generated `search` column of this (maybe aliased) items table; not mapped, as
    SQLite has no such column."""
    return literal_column(f"{inspect(item).selectable.name}.search")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _conditions(filters: ItemFilter, item: Any, judgement: Any, label: Any,
                plan: _Plan) -> list[ColumnElement[bool]]:
    effective = func.coalesce(label.status, judgement.status)
    out: list[ColumnElement[bool]] = []
    if filters.status == UNCLASSIFIED:
        out.append(judgement.id.is_(None))
    elif filters.status != "all" and not plan.postgres:
        # On SQLite always this form: the plain judgement status sent SQLite to the
        # (topic, status) index and a sort of the whole topic (445 ms at 100,000).
        out.append(effective == filters.status)
    elif filters.status != "all" and not plan.labelled:
        # PostgreSQL, no label in the topic: the judgement alone. Its planner took the
        # coalesce for 1 row in 200 and sorted the topic (language=fr, 100,000 items:
        # 150 ms vs 7 ms); the form below, with no label at all, 200 ms.
        out.append(judgement.status == filters.status)
    elif filters.status != "all":
        # PostgreSQL with labels: the same test spelt so that its planner can estimate it
        # (the coalesce: 190 ms; this: 9-28 ms).
        out.append(or_(label.status == filters.status,
                       and_(label.status.is_(None), judgement.status == filters.status)))
    if filters.source:
        out.append(item.source == filters.source)
    if filters.language:
        out.append(item.language == filters.language)
    if filters.since:
        out.append(item.published_at >= _day_start(filters.since))
    if filters.until:
        out.append(item.published_at < _day_start(filters.until + timedelta(days=1)))
    if plan.words:
        out.append(_search_condition(item, plan))
    return out


def _joined(filters: ItemFilter, item: Any, judgement: Any, label: Any, *columns: Any) -> Any:
    return select(*columns).select_from(item).outerjoin(
        judgement, (judgement.item_id == item.id) & (judgement.topic == filters.topic)
    ).outerjoin(label, (label.item_id == item.id) & (label.topic == filters.topic))


def _sort_key(published_at: datetime | None, item_id: int) -> tuple[bool, datetime, int]:
    """The list's order as a Python key (larger = newer; items without a date last)."""
    return (published_at is not None, published_at or _EPOCH, item_id)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Rows read per step while filling a page: a page plus what clusters hide, usually one step.
_CHUNK_EXTRA = 25


def list_entries(session: Session, filters: ItemFilter, *, after: Cursor | None = None,
                 limit: int = 50) -> Page:
    """A page of entries, newest first. A cluster is shown once, as its newest report that
    passes the filters, with the cluster's other reports that pass them as `also`.

    The items are read in steps along the publication-time index, and clusters collapsed
    here: with the collapse as a NOT EXISTS in the query, PostgreSQL's planner could no
    longer tell that walking the index and stopping after a page was cheap, and sorted
    every item of the topic instead (0.9 s at 100,000 items, benchmarks/web_pages.py).
    """
    plan = _plan(session, filters)
    columns = (Item.id, Item.title, Item.url, Item.source, Item.language, Item.published_at,
               Judgement.status, Label.status, Judgement.confidence, Judgement.cluster_id)
    base = _joined(filters, Item, Judgement, Label, *columns).where(
        *_conditions(filters, Item, Judgement, Label, plan)
    ).order_by(Item.published_at.desc().nulls_last(), Item.id.desc())
    entries: list[Entry] = []
    members: dict[str, list[Any]] = {}
    position, step = after, limit + 1 + _CHUNK_EXTRA
    while len(entries) <= limit:
        rows = session.execute(_after(base, position).limit(step)).all()
        clusters = {r[9] for r in rows if r[9] and r[9] not in members}
        members.update(_cluster_members(session, filters, clusters, plan))
        for r in rows:
            position = Cursor(r[5], r[0])
            cluster = r[9]
            if cluster and members[cluster] and members[cluster][0][0] != r[0]:
                continue  # a newer report of its cluster stands for it
            entries.append(Entry(
                id=r[0], title=r[1], url=r[2], source=r[3], language=r[4], published_at=r[5],
                status=r[7] or r[6] or UNCLASSIFIED, judged=r[6] or UNCLASSIFIED,
                labelled=r[7] is not None, confidence=r[8], cluster_id=cluster,
                also=[{"id": m[0], "source": m[1], "title": m[2], "url": m[3]}
                      for m in members.get(cluster or "", [])[1:]]))
            if len(entries) > limit:
                break
        if len(rows) < step:
            break
    next_cursor = None
    if len(entries) > limit:
        entries = entries[:limit]
        next_cursor = Cursor(entries[-1].published_at, entries[-1].id).encode()
    return Page(entries, next_cursor)


def _after(query: Any, position: Cursor | None) -> Any:
    """The part of the list after this key."""
    if position is None:
        return query
    if position.published_at is None:
        return query.where(Item.published_at.is_(None), Item.id < position.item_id)
    return query.where(or_(
        Item.published_at < position.published_at,
        and_(Item.published_at == position.published_at, Item.id < position.item_id),
        Item.published_at.is_(None)))


def _cluster_members(session: Session, filters: ItemFilter, clusters: set[str],
                     plan: _Plan) -> dict[str, list[Any]]:
    """cluster id -> its reports passing the filters, newest first (the first stands for
    the cluster in the list)."""
    if not clusters:
        return {}
    # From the judgements, inner-joined: the cluster index leads. (From items, LEFT
    # JOINed, SQLite walked every item: 280 ms at 100,000, benchmarks/web_pages.py.)
    query = select(Item.id, Item.source, Item.title, Item.url, Judgement.cluster_id,
                   Item.published_at).select_from(Judgement).join(
        Item, Item.id == Judgement.item_id).outerjoin(
        Label, (Label.item_id == Item.id) & (Label.topic == filters.topic)).where(
        # `topic || ''`: without statistics SQLite preferred the (topic, status) index,
        # i.e. every judgement of the topic, to the cluster index (40 ms at 100,000).
        Judgement.topic.concat("") == filters.topic, Judgement.cluster_id.in_(sorted(clusters)),
        *_conditions(filters, Item, Judgement, Label, plan))
    out: dict[str, list[Any]] = {cluster: [] for cluster in clusters}
    for row in sorted(session.execute(query), key=lambda r: _sort_key(r[5], r[0]),
                      reverse=True):
        out[str(row[4])].append(row)
    return out


def status_counts(session: Session, topic: str) -> dict[str, int]:
    """How many items the topic has per status (a label counts over the judgement)."""
    effective = func.coalesce(Label.status, Judgement.status)
    query = select(effective, func.count()).select_from(Judgement).outerjoin(
        Label, (Label.item_id == Judgement.item_id) & (Label.topic == Judgement.topic)
    ).where(Judgement.topic == topic).group_by(effective)
    counts = {status: 0 for status in ("followup", "duplicate", "offtopic")}
    counts.update({status: count for status, count in session.execute(query)})
    return counts


def followups_per_day(session: Session, topic: str, *, days: int = 60,
                      now: datetime | None = None) -> dict[date, dict[str, int]]:
    """day -> source -> follow-ups published that day, over the last `days` days."""
    now = now or datetime.now(UTC)
    start = _day_start((now - timedelta(days=days - 1)).date())
    effective = func.coalesce(Label.status, Judgement.status)
    query = select(Item.published_at, Item.source).select_from(Judgement).join(
        Item, Item.id == Judgement.item_id
    ).outerjoin(Label, (Label.item_id == Judgement.item_id) & (Label.topic == Judgement.topic)
                ).where(Judgement.topic == topic, effective == "followup",
                        Item.published_at >= start)
    out: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for published_at, source in session.execute(query):
        if published_at is not None:
            out[published_at.date()][source] += 1
    return {day: dict(sources) for day, sources in out.items()}


def topic_sources(session: Session, topic: str) -> list[str]:
    """The sources and languages offered as filters: those the topic's items come from."""
    query = select(Item.source).join(Judgement, Judgement.item_id == Item.id).where(
        Judgement.topic == topic).group_by(Item.source).order_by(Item.source)
    return list(session.execute(query).scalars())


def topic_languages(session: Session, topic: str) -> list[str]:
    query = select(Item.language).join(Judgement, Judgement.item_id == Item.id).where(
        Judgement.topic == topic, Item.language.is_not(None)).group_by(Item.language
                                                                     ).order_by(Item.language)
    return [language for language in session.execute(query).scalars() if language]
