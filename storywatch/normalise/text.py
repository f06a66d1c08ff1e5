"""Text normal form: NFC, one space between words, one newline between paragraphs.

The content hash is taken over this form with case and punctuation folded, so that two
copies differing only in typography or a trailing space hash the same.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACES = re.compile(r"[^\S\n]+")
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
# C0 controls but tab/newline/CR, DEL, and lone surrogates: no text has them, lxml rejects
# them ("All strings must be XML compatible") and PostgreSQL cannot store NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def strip_control(text: str) -> str:
    """Remove characters no document should contain (binary served as text/html has many)."""
    return _CONTROL.sub("", text)


def clean_text(text: str | None) -> str:
    if not text:
        return ""
    text = unicodedata.normalize("NFC", strip_control(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u200b", "")
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def hash_form(text: str) -> str:
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(hash_form(text).encode("utf-8")).hexdigest()


