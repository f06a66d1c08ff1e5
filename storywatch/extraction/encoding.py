"""Decoding a page whose declared charset may be a lie.

Scrapy decodes by the HTTP header, then the <meta> charset, and replaces what does not
fit. A windows-1251 page labelled UTF-8 then comes out as a wall of U+FFFD and is stored
as garbage. When the declared charset fails on more than a trace of the bytes, the
charset is detected from the bytes instead (charset-normalizer, already a trafilatura
dependency).

The charset a page declares is read as Scrapy's `TextResponse.encoding` reads it, but where
the page is decoded: in an extraction worker, not in the crawl process. Asking a response
for its encoding decodes the whole body of a page that declares none, and Scrapy keeps
that text on the response for as long as its item is in the pipelines (a crawl waiting on
its writer held ~200 such pages, 11 MB, beside the 11 MB of pages decoded for the items).
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

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


def page_encoding(body: bytes, content_type: str | None) -> str | None:
    """The charset Scrapy's TextResponse.encoding gives: the byte-order mark, the
    Content-Type header, the page's own <meta>, else (Scrapy's auto-detection) ASCII or
    UTF-8 if the bytes decode so, else charset-normalizer's guess. Read from the same w3lib
    functions, in the same order. Not w3lib's `html_to_unicode`, which Scrapy calls for
    the last step: it decodes the whole page to name the charset (decode_page decodes it
    once more) and drops a byte-order mark that the page's text has always kept here."""
    declared = (read_bom(body)[0] or http_content_type_encoding(content_type or "")
                or html_body_declared_encoding(body))
    if declared:
        return declared
    for encoding in ("ascii", "utf-8"):
        try:
            body.decode(encoding)
        except UnicodeError:
            continue
        return resolve_encoding(encoding)
    match = from_bytes(body).best()
    return resolve_encoding(match.encoding) if match else None


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None
