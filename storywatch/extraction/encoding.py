"""Decoding a page whose declared charset may be a lie.

Scrapy decodes by the HTTP header, then the <meta> charset, and replaces what does not
fit. A windows-1251 page labelled UTF-8 then comes out as a wall of U+FFFD and is stored
as garbage. When the declared charset fails on more than a trace of the bytes, the
charset is detected from the bytes instead (charset-normalizer, already a trafilatura
dependency).
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

# A handful of stray bytes (a pasted emoji cut in half) keeps the declared charset: the
# rest of the page is right. 1% of the characters undecodable is no accident: a page of
# Russian in windows-1251 read as UTF-8 loses about 90% (tests/faults: charset-lie).
MAX_REPLACED_SHARE = 0.01


def decode_page(body: bytes, declared: str | None) -> str:
    """The page as text: the declared charset when it fits, else the detected one."""
    encoding = _known(declared) or "utf-8"
    try:
        return body.decode(encoding)
    except UnicodeDecodeError:
        pass
    text = body.decode(encoding, errors="replace")
    if text.count("\ufffd") <= MAX_REPLACED_SHARE * max(len(text), 1):
        return text
    best = from_bytes(body).best()
    return str(best) if best is not None else text


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None
