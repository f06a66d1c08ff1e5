"""Digest emails to subscribers: who (subscribers), what (digest), how it looks (render),
how it travels (mailer), and the ledger that keeps delivery at-most-once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storywatch.notify.send import DigestRunSummary, send_due_digests

__all__ = ["DigestRunSummary", "send_due_digests"]


def __getattr__(name: str) -> Any:
    """Imported on first use, so that importing a notify submodule stays cheap."""
    if name in __all__:
        from storywatch.notify import send

        return getattr(send, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
