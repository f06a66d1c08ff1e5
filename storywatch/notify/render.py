"""A digest as an email: plain text + HTML (Jinja2), CSS inlined, scraped text made harmless.

Scraped titles and leads reach the HTML through Jinja2's autoescaping, and the rendered
entries then pass nh3 with a short allow-list (no script, no img, so no tracking pixel;
only http(s) hrefs). Headers go through the stdlib email API with the SMTP policy, which
refuses CR/LF in a header value; the headers made from scraped or user text (Subject,
List-Id) are neutralised and encoded by notify/headers.py (no RFC 2047 encoded word in a
title is ever decoded into a header line).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache

import css_inline
import nh3
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from storywatch.notify.digest import Digest, DigestItem, one_line, shorten
from storywatch.notify.headers import header_registry, neutralise

# What the entries fragment may contain after sanitising; anything else is stripped.
_TAGS = {"div", "h2", "p", "a", "span"}
_ATTRIBUTES = {"*": {"class"}, "a": {"href"}}
# A subject line longer than this is cut by most mail clients anyway.
_SUBJECT_TITLE_CHARS = 70
# Plain text wraps at 72 columns, the width text mail clients and RFC 3676 assume.
_TEXT_WIDTH = 72
# 7bit: non-ASCII bodies are quoted-printable, so no relay needs 8BITMIME. Lines up to
# RFC 5322's 998: the default 78 would turn the long List-Unsubscribe URL into an RFC 2047
# encoded word, which mail clients do not read as a URL. CR/LF in values is still refused.
# Subject and List-Id are encoded and folded by notify/headers.py, not by the stdlib.
MESSAGE_POLICY = policy.SMTP.clone(cte_type="7bit", max_line_length=998,
                                   header_factory=header_registry())


def when(item: DigestItem, zone: object) -> str:
    local = item.published_at.astimezone(zone)  # type: ignore[arg-type]
    stamp = local.strftime("%a %d %b %Y, %H:%M %Z")
    return stamp if item.dated else f"found {stamp}"


def indent_wrap(text: str) -> str:
    # URLs are never split: a broken link in a text mail cannot be clicked.
    return textwrap.fill(text, width=_TEXT_WIDTH, initial_indent="   ",
                         subsequent_indent="   ", break_long_words=False,
                         break_on_hyphens=False)


def source_with_link(item: DigestItem) -> str:
    return f"{item.source} <{item.url}>" if item.url else item.source


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("storywatch.notify", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = when
    env.filters["indent_wrap"] = indent_wrap
    env.filters["source_with_link"] = source_with_link
    return env


@cache
def _inliner() -> css_inline.CSSInliner:
    # keep_at_rules keeps the @media block (it cannot be inlined) for phones; nothing is
    # fetched over the network while inlining.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str


def count_phrase(digest: Digest) -> str:
    n = len(digest.entries)
    return "1 new development" if n == 1 else f"{n} new developments"


def subject_of(digest: Digest) -> str:
    first = shorten(digest.entries[0].primary.title, _SUBJECT_TITLE_CHARS)
    return neutralise(f"[{digest.topic}] {count_phrase(digest)}: {first}")


def sanitise_fragment(html: str) -> str:
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https"},
                     link_rel="noopener noreferrer", strip_comments=True)


def render_digest(digest: Digest, *, unsubscribe_url: str | None, schedule: str,
                  lang: str = "en") -> RenderedDigest:
    env = environment()
    context = {
        "topic": one_line(digest.topic), "email": digest.email, "tz": digest.tz,
        "zone": digest.zone, "entries": digest.entries, "held_back": digest.held_back,
        "count_phrase": count_phrase(digest), "unsubscribe_url": unsubscribe_url,
        "schedule": schedule, "lang": lang,
    }
    subject = subject_of(digest)
    fragment = sanitise_fragment(env.get_template("entries.html").render(context))
    html = env.get_template("digest.html").render(
        context, subject=subject, entries_html=Markup(fragment)
    )
    text = env.get_template("digest.txt").render(context)
    return RenderedDigest(subject=subject, text=text, html=_inliner().inline(html))


def build_message(rendered: RenderedDigest, *, sender: str, to: str, topic: str,
                  digest_id: str, now: datetime, unsubscribe_url: str) -> EmailMessage:
    """The MIME message. Headers are set through EmailMessage with policy SMTP, which raises
    on a CR or LF in a value instead of letting it start a new header."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring=digest_id, domain=domain)
    # The list id must be ASCII (RFC 2919); the phrase before it is encoded if need be.
    slug = "".join(c if c.isascii() and c.isalnum() else "-"
                   for c in one_line(topic).lower()).strip("-")
    message["List-Id"] = f"storywatch {neutralise(topic)} <{slug or 'topic'}.digest.{domain}>"
    # RFC 8058 one-click: mail providers POST "List-Unsubscribe=One-Click" to this URL.
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # RFC 3834: tells vacation responders not to answer a digest.
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable named up front: what the stdlib's heuristic picks for this text
    # anyway, without its trial encodings (a quarter of the MIME time, benchmarks/).
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return message
