"""Mail header values made from scraped or user text, encoded by us, never re-read.

A scraped title can carry an RFC 2047 encoded word such as
`=?utf-8?q?=0D=0ABcc:_x@evil.example?=`. The stdlib's header objects decode encoded words
when a value is set, and before CPython 3.11.10 / 3.12.5 (CVE-2024-6923) the folder then
wrote the decoded CR/LF out raw: the digest arrived with an extra Bcc: header, and a long
enough value pushed the real headers into the body. So for the headers we build from text:

- `neutralise` puts the text on one line and breaks every `=?` (the only way an encoded
  word can start), so no reader can decode anything out of the text;
- `TextHeader` keeps the value as the literal text (no RFC 2047 decoding when it is set)
  and folds it itself: ASCII text as it is, anything else as UTF-8 encoded words made by
  `email.header.Header`, which encodes its input and never decodes it.

The stdlib's own folding is then never used for these headers, on any Python version;
tests/test_mail_headers.py proves it on the running interpreter with a real SMTP server.
"""

from __future__ import annotations

from email import _header_value_parser as parser
from email.header import Header
from email.headerregistry import HeaderRegistry
from email.policy import Policy
from typing import Any

from storywatch.notify.digest import one_line

# RFC 5322's recommended line length; folded lines stay within it where words allow.
_FOLD_AT = 78


def neutralise(text: str | None) -> str:
    """One line of text in which no RFC 2047 encoded word can start.

    `=?` becomes `= ?`: visible, harmless, and nothing else in a title or topic changes.
    """
    return one_line(text).replace("=?", "= ?")


def encode_text(text: str, header_name: str, linesep: str = "\r\n") -> str:
    """The header value for `text`: ASCII as is, else UTF-8 encoded words, folded."""
    charset = "us-ascii" if text.isascii() else "utf-8"
    return Header(text, charset, maxlinelen=_FOLD_AT, header_name=header_name).encode(
        linesep=linesep
    )


class TextHeader:
    """An unstructured header (Subject) whose value is literal text, folded by us.

    Mixed into the stdlib's BaseHeader by HeaderRegistry; only `parse` and `fold` differ.
    """

    max_count: int | None = 1  # one Subject, one List-Id per message

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        text = neutralise(value)
        kwds["decoded"] = text
        # Only for the BaseHeader API (defects, repr); fold below never reads it.
        kwds["parse_tree"] = parser.get_unstructured(text)

    def fold(self, *, policy: Policy) -> str:
        name = self.name  # type: ignore[attr-defined]
        value = encode_text(neutralise(str(self)), name, policy.linesep)
        return f"{name}: {value}{policy.linesep}"


class ListIdHeader(TextHeader):
    """List-Id: a phrase made from the topic, then `<id>`, which must stay plain ASCII."""

    def fold(self, *, policy: Policy) -> str:
        name = self.name  # type: ignore[attr-defined]
        phrase, _, list_id = neutralise(str(self)).rpartition(" <")
        if not phrase or not list_id.isascii():
            return super().fold(policy=policy)
        encoded = encode_text(phrase, name, policy.linesep)
        last_line = f"{name}: {encoded}".rsplit(policy.linesep, 1)[-1]
        # Fold before the id when it would make the line longer than RFC 5322 advises.
        space = " " if len(last_line) + 2 + len(list_id) <= _FOLD_AT else f"{policy.linesep} "
        value = f"{encoded}{space}<{list_id}"
        return f"{name}: {value}{policy.linesep}"


def header_registry() -> HeaderRegistry:
    """The stdlib registry, with our classes for the headers built from text."""
    registry = HeaderRegistry()
    # HeaderRegistry mixes these into BaseHeader itself (typeshed wants a BaseHeader).
    registry.map_to_type("subject", TextHeader)  # type: ignore[arg-type]
    registry.map_to_type("list-id", ListIdHeader)  # type: ignore[arg-type]
    return registry
