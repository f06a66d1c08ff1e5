"""Digest emails to subscribers: who (subscribers), what (digest), how it looks (render),
how it travels (mailer), and the ledger that keeps delivery at-most-once."""

from storywatch.notify.send import DigestRunSummary, send_due_digests

__all__ = ["DigestRunSummary", "send_due_digests"]
