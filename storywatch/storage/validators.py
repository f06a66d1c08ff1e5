"""HTTP validators (ETag, Last-Modified) of discovery documents, for conditional GETs.

A feed or sitemap that has not changed answers 304 to a conditional request, which costs
the server almost nothing and us no parsing. A sitemap index also keeps the list of its
child sitemaps, so that a 304 on the index still lets the crawl ask each child (again
conditionally) instead of losing sight of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storywatch.storage.models import URL_LENGTH, Base
from storywatch.storage.repository import dialect_insert


class HttpValidator(Base):
    __tablename__ = "http_validators"

    url: Mapped[str] = mapped_column(String(URL_LENGTH), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    children: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime]


@dataclass
class Validators:
    etag: str | None = None
    last_modified: str | None = None
    children: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


def load_validators(session: Session, url: str) -> Validators | None:
    row = session.execute(select(HttpValidator).where(HttpValidator.url == url)).scalar()
    if row is None:
        return None
    return Validators(row.etag, row.last_modified, list(row.children or []))


def save_validators(session: Session, url: str, validators: Validators, at: datetime) -> None:
    """Insert or replace the validators of one URL (an upsert: two crawlers may race)."""
    values = {
        "url": url,
        "etag": validators.etag,
        "last_modified": validators.last_modified,
        "children": list(validators.children),
        "updated_at": at,
    }
    statement = dialect_insert(session, HttpValidator).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["url"],
            set_={k: statement.excluded[k] for k in values if k != "url"},
        )
    )
