"""Canonical URLs: the identity of an article across feeds, sitemaps, AMP pages and shares."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url
from w3lib.url import safe_url_string

# AMP variants that publishers serve next to the real page. Mapped back here so that a link
# to the AMP page and a link to the article are one article before anything is downloaded.
_AMP_PATH_PREFIX = re.compile(r"^/amp(/.+)$")
_AMP_PATH_SUFFIX = re.compile(r"^(.+?)/amp/?$")
_AMP_EXTENSION = re.compile(r"\.amp\.html?$")
_AMP_QUERY = re.compile(r"(^|&)(outputType=amp|amp=1|amp=true|amp)(?=&|$)", re.IGNORECASE)


def _strip_amp(path: str, query: str) -> tuple[str, str]:
    if match := _AMP_PATH_PREFIX.match(path):
        path = match.group(1)
    elif match := _AMP_PATH_SUFFIX.match(path):
        path = match.group(1) or "/"
    path = _AMP_EXTENSION.sub(".html", path)
    query = _AMP_QUERY.sub("", query).strip("&")
    return path, query


def canonical_url(url: str, declared: str | None = None) -> str:
    """The URL an article is known by.

    `declared` is the page's rel=canonical or og:url; it wins only when it points to the
    same site, because a canonical to another host is as often a syndication partner's
    or a spammer's claim as the truth. Otherwise the URL itself is cleaned: tracking
    parameters (utm_*, fbclid, gclid, …) removed, scheme and host lowercased, default port
    and fragment dropped, AMP variants mapped to the article.
    """
    base = _clean(url)
    if declared:
        try:
            candidate = _clean(declared, base=base)
        except ValueError:
            return base
        if is_same_site(candidate, base):
            return candidate
    return base


def _clean(url: str, base: str | None = None) -> str:
    url = url.strip()
    if base is not None and not urlsplit(url).scheme:
        from urllib.parse import urljoin

        url = urljoin(base, url)
    parts = urlsplit(safe_url_string(url))
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    path, query = _strip_amp(parts.path or "/", parts.query)
    # A SplitResult, not a string: given a string, courlan HTML-unescapes the whole URL, so
    # a parameter named amp…/lt…/gt… after '&' lost its name, differently on each pass.
    cleaned = normalize_url(parts._replace(path=path, query=query, fragment=""))
    return urlunsplit(urlsplit(cleaned)._replace(fragment=""))


# The registered domain ("bbc.co.uk" for news.bbc.co.uk) from the Public Suffix List.
# tldextract's bundled snapshot of the list is used as it is: no suffix_list_urls, so it
# never downloads the list at run time, and no cache_dir, so it never writes one (a crawl
# child in a read-only home or a sandbox must not fail on it). Private suffixes are
# included, so two sites on github.io or blogspot.com are two sites. Built on first use:
# importing tldextract (and the requests library it brings) costs ~80 ms, which commands
# that only read stored items (`items`, `explain`) would pay for nothing.
@lru_cache(maxsize=1)
def _suffixes() -> Any:
    import tldextract

    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(),
                                 fallback_to_snapshot=True, include_psl_private_domains=True)


@lru_cache(maxsize=4096)
def registered_domain(host: str) -> str:
    """The site a host belongs to: its registered domain, else (an IP address, localhost, a
    name under no public suffix) the host itself."""
    host = host.lower().rstrip(".")
    if not host:
        return ""
    return _suffixes()(host).top_domain_under_public_suffix or host


def is_same_site(a: str, b: str) -> bool:
    """Same registered domain: news.bbc.co.uk and www.bbc.co.uk are one site,
    alice.github.io and bob.github.io are two."""
    site = registered_domain(urlsplit(a).hostname or "")
    return bool(site) and site == registered_domain(urlsplit(b).hostname or "")


def document_base(url: str, content_location: str | None) -> str:
    """The base URL for a document's relative links: Content-Location when given (RFC 9110
    §8.7: the response is a representation of that resource), else the URL fetched."""
    if not content_location or not content_location.strip():
        return url
    from urllib.parse import urljoin

    base = urljoin(url, content_location.strip())
    return base if base.lower().startswith(("http://", "https://")) else url
