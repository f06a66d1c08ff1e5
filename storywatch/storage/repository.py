"""Reads and writes of items and judgements, written once for SQLite and PostgreSQL.

Writes are upserts on unique keys, never check-then-insert, so two crawlers storing the
same article at the same moment end with one row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from storywatch.storage.models import Item, ItemUrl, Judgement, Label

if TYPE_CHECKING:  # a listing (`storywatch items`) needs neither courlan nor the item model
    from storywatch.normalise.item import NewsItem


# Statements written once per item (a judgement, a topic lock) cost more to build than to
# run (benchmarks/classify_throughput.py): each is built once per name and backend, with
# its values as bound parameters. Core statements are immutable and tied to no engine.
_BUILT: dict[tuple[str, str], Any] = {}


def built_once(session: Session, name: str, build: Callable[[Session], Any]) -> Any:
    """The statement `build` makes for the session's backend, built on first use."""
    key = (name, session.get_bind().dialect.name)
    statement = _BUILT.get(key)
    if statement is None:
        statement = _BUILT[key] = build(session)
    return statement


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT with on_conflict_do_* for the session's backend (SQLite or PostgreSQL);
    the dialect's module is imported by the backend that uses it (~20 ms each at start)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


# The NewsItem fields stored as columns of `items`, in one place for writes and reads.
ITEM_COLUMNS = ("canonical_url", "url", "title", "authors", "published_at", "fetched_at",
                "language", "text", "source", "discovered_via", "content_hash", "word_count",
                "extractor")


@dataclass(frozen=True)
class SavedItem:
    id: int
    created: bool


def save_item(session: Session, item: NewsItem) -> SavedItem:
    """Store the item unless its canonical URL is known; record all its URL forms."""
    values = {name: getattr(item, name) for name in ITEM_COLUMNS}
    inserted = session.execute(
        dialect_insert(session, Item)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["canonical_url"])
        .returning(Item.id)
    ).scalar_one_or_none()
    item_id = inserted
    if item_id is None:
        item_id = session.execute(
            select(Item.id).where(Item.canonical_url == item.canonical_url)
        ).scalar_one()
    remember_urls(session, item_id, [item.canonical_url, *item.aliases])
    return SavedItem(id=item_id, created=inserted is not None)


def remember_urls(session: Session, item_id: int, urls: Iterable[str]) -> None:
    rows = [{"url": url, "item_id": item_id} for url in dict.fromkeys(urls) if url]
    if rows:
        session.execute(
            dialect_insert(session, ItemUrl)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["url"])
        )


def known_url(session: Session, url: str) -> int | None:
    """The item id stored under this URL form, if any."""
    return session.execute(select(ItemUrl.item_id).where(ItemUrl.url == url)).scalar()


def item_by_url(session: Session, url: str) -> Item | None:
    item_id = known_url(session, url)
    return session.get(Item, item_id) if item_id is not None else None


def save_judgement(
    session: Session,
    *,
    item_id: int,
    topic: str,
    status: str,
    decided_at: datetime,
    duplicate_of: str | None = None,
    cluster_id: str | None = None,
    relevance: float | None = None,
    novelty: float | None = None,
    confidence: float | None = None,
    reasons: dict[str, Any] | None = None,
) -> None:
    """Insert or replace the judgement of (item, topic): re-scoring overwrites in place."""
    upsert_judgement(session, {
        "item_id": item_id, "topic": topic, "status": status, "decided_at": decided_at,
        "duplicate_of": duplicate_of, "cluster_id": cluster_id, "relevance": relevance,
        "novelty": novelty, "confidence": confidence, "reasons": reasons or {},
    })


_JUDGEMENT_COLUMNS = ("item_id", "topic", "status", "decided_at", "duplicate_of", "cluster_id",
                      "relevance", "novelty", "confidence", "reasons")


def upsert_judgement(session: Session, values: dict[str, Any]) -> None:
    """save_judgement with the values as one dict (every column of _JUDGEMENT_COLUMNS)."""
    statement = built_once(session, "judgement upsert", _judgement_upsert)
    session.connection().execute(statement, values)


def _judgement_upsert(session: Session) -> Any:
    insert = dialect_insert(session, Judgement).values(
        {c: bindparam(c, type_=Judgement.__table__.c[c].type) for c in _JUDGEMENT_COLUMNS})
    return insert.on_conflict_do_update(
        index_elements=["item_id", "topic"],
        set_={c: insert.excluded[c] for c in _JUDGEMENT_COLUMNS if c not in ("item_id", "topic")},
    )


# Judgement columns a listing shows; `j_` keeps them apart from the item's own.
_JUDGEMENT_SHOWN = ("topic", "status", "confidence", "duplicate_of", "cluster_id",
                    "relevance", "novelty", "reasons")


@dataclass
class ItemRow:
    """One listed item: plain columns, not ORM objects. A listing reads every stored item,
    and building two mapped objects a row cost more than the query (`storywatch items`
    on 10,000 items)."""

    values: Any  # a RowMapping of items_query's columns

    @property
    def item_id(self) -> int:
        return int(self.values["id"])

    def as_json(self, topic: str | None = None) -> dict[str, Any]:
        """The item and its judgement. `status` is what a reader should take it for: the
        person's label when there is one, else the machine's judgement (`judged`)."""
        from storywatch.normalise.dates import iso

        row = dict(self.values)  # a plain dict: a listing looks up ~20 keys in each row
        data: dict[str, Any] = {name: row[name] for name in ITEM_COLUMNS if name in row}
        data["published_at"] = iso(row["published_at"])
        data["fetched_at"] = iso(row["fetched_at"])
        judged = row["j_status"] is not None
        label = row["label"]
        return {
            **data,
            "topic": row["j_topic"] if judged else topic,
            "status": label or (row["j_status"] if judged else "unclassified"),
            "judged": row["j_status"] if judged else "unclassified",
            "label": label,
            **{name: row[f"j_{name}"] for name in _JUDGEMENT_SHOWN[2:-1]},
            "reasons": (row.get("j_reasons") or {}) if judged else {},
        }


def items_query(
    *, topic: str | None = None, status: str = "all", since: datetime | None = None,
    uncertain: bool = False, limit: int | None = None, brief: bool = False,
) -> Select[Any]:
    """Items with their judgement and label for one topic (or every judgement when topic is
    None). `status` filters on what the item is taken for: the label, else the judgement.
    `uncertain`: judged, unlabelled items, the least confident first. `brief`: without
    the two big columns, the text and the reasons (a table shows neither)."""
    on = Judgement.item_id == Item.id
    if topic is not None:
        on = on & (Judgement.topic == topic)
    big = {"text", "reasons"} if brief else set()
    query = select(
        Item.id, *(getattr(Item, name) for name in ITEM_COLUMNS if name not in big),
        *(getattr(Judgement, name).label(f"j_{name}") for name in _JUDGEMENT_SHOWN
          if name not in big),
        Label.status.label("label"),
    ).outerjoin(Judgement, on).outerjoin(
        Label, (Label.item_id == Item.id) & (Label.topic == Judgement.topic))
    effective = func.coalesce(Label.status, Judgement.status)
    if status == "unclassified":
        query = query.where(Judgement.id.is_(None))
    elif status != "all":
        query = query.where(effective == status)
    if since is not None:
        query = query.where(Item.fetched_at >= since)
    if uncertain:
        query = query.where(Label.id.is_(None), Judgement.confidence.is_not(None)).order_by(
            Judgement.confidence, Item.id)
    else:
        query = query.order_by(Item.published_at.desc().nulls_last(), Item.id.desc())
    return query if limit is None else query.limit(limit)


def iter_items(
    session: Session, *, topic: str | None = None, status: str = "all",
    since: datetime | None = None, uncertain: bool = False, limit: int | None = None,
    brief: bool = False,
) -> Iterator[ItemRow]:
    # On the session's connection, not through the ORM: these are plain columns, and the
    # ORM's row loading was 40 % of listing 10,000 items (`storywatch items`).
    for values in session.connection().execute(
        items_query(topic=topic, status=status, since=since, uncertain=uncertain, limit=limit,
                    brief=brief)
    ).mappings():
        yield ItemRow(values)


def count_items(session: Session) -> int:
    return session.execute(select(func.count(Item.id))).scalar_one()


def items_by_ids(session: Session, ids: Sequence[int]) -> list[Item]:
    return list(session.execute(select(Item).where(Item.id.in_(ids))).scalars())
