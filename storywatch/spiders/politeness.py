"""Downloader middlewares that make storywatch a good citizen and a safe one.

- PrivateNetworkMiddleware: no request (redirects and links found in feeds included) goes
  to a loopback, private, link-local or cloud-metadata address unless the config allows it,
  and nothing but http(s) is ever requested, whatever the config says.
- ConditionalGetMiddleware: feeds and sitemaps are asked with If-None-Match /
  If-Modified-Since; a 304 costs the server and us nothing.
- RetryAfterMiddleware: a 429/503 with Retry-After is retried after the time asked for,
  up to a cap; beyond it the URL is given up and recorded.
- BackoffRetryMiddleware: Scrapy's retries of 5xx and timeouts, spaced exponentially.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn
from urllib.parse import urljoin

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.asyncio import sleep
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import DNSLookupError
from twisted.internet.threads import deferToThread

from storywatch.normalise.dates import utc_now
from storywatch.spiders.context import crawler_config, crawler_storage
from storywatch.spiders.meta import CONDITIONAL_META, Declined
from storywatch.storage.validators import Validators, load_validators, save_validators

log = logging.getLogger(__name__)

VALIDATOR_URL_META = "storywatch_validator_url"
STORED_VALIDATORS_META = "storywatch_stored_validators"
NEW_VALIDATORS_META = "storywatch_new_validators"

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The only URL schemes storywatch ever requests, from any source of links.
WEB_SCHEMES = ("http", "https")


def _report(crawler: Crawler, request: Request, reason: str, *, transient: bool = False) -> None:
    spider = crawler.spider
    if spider is not None and hasattr(spider, "record_request_failure"):
        spider.record_request_failure(request, reason, transient=transient)
    else:
        log.warning("%s: %s", request.url, reason)


# ------------------------------------------------------------------ private networks


# NAT64's well-known prefix (RFC 6052): 64:ff9b::a.b.c.d is a.b.c.d reached through a
# translator, which is how IPv6-only networks reach every IPv4 site.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Also carrying an IPv4 address in their last 32 bits: the deprecated IPv4-compatible
# ::a.b.c.d and the IPv4-translated ::ffff:0:a.b.c.d (RFC 2765).
_LOW_IPV4 = (_NAT64, ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("::ffff:0:0/96"))
# Not reachable from the internet, however this Python version's tables judge them:
# site-local (deprecated, fec0::/10) and NAT64 local-use (RFC 8215, 64:ff9b:1::/48).
_NOT_PUBLIC_V6 = (ipaddress.IPv6Network("fec0::/10"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, for every form that carries one."""
    teredo_client = address.teredo[1] if address.teredo else None
    for inner in (address.ipv4_mapped, address.sixtofour, teredo_client):
        if inner is not None:
            return inner
    if any(address in net for net in _LOW_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_address(address: _IPAddress) -> bool:
    """Loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved, unspecified.

    IPv6 forms that carry an IPv4 address (mapped, IPv4-compatible, IPv4-translated, NAT64,
    6to4, Teredo) are unwrapped first, so ::ffff:127.0.0.1, ::127.0.0.1 and
    64:ff9b::127.0.0.1 are judged as 127.0.0.1. NAT64 to a public address is allowed (it
    is how IPv6-only hosts reach IPv4 sites); the other forms lie in the reserved ::/8
    and are refused whatever they carry (Python 3.11.7 calls ::8.8.8.8 global).
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and forbidden_address(inner):
            return True
        if address in _NAT64:
            return False
        if address.is_site_local or any(address in net for net in _NOT_PUBLIC_V6):
            return True
    return not address.is_global or address.is_multicast or address.is_reserved


class PrivateNetworkMiddleware:
    """Refuse requests to non-public addresses, before any connection is made.

    The host is resolved (every address it resolves to is checked, IPv4 and IPv6), because
    a public-looking name can point at 127.0.0.1 or 169.254.169.254. Exact "host:port"
    pairs in crawl.allowed_hosts are exempt, for a test or demo server on loopback. A
    name could still be re-pointed between this check and the connection (DNS rebinding);
    the resolver cache narrows that window, see docs/discovery.md.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawl = crawler_config(crawler).crawl
        self.enabled = not crawl.allow_private_networks
        self.allowed = set(crawl.allowed_hosts)
        self.cache: dict[str, list[_IPAddress]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateNetworkMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        parts = urlparse_cached(request)
        # Whatever allow_private_networks says: a file:, ftp:, s3: or data: URL from a
        # robots.txt, sitemap, feed or redirect must never be read (the download handlers
        # are off too, see settings.py; this says why, against the URL).
        if parts.scheme not in WEB_SCHEMES or not parts.hostname:
            self._refuse(request, f"refused: only http(s) URLs with a host are fetched, "
                                  f"not {parts.scheme or 'a scheme-less'}: URLs")
        if not self.enabled:
            return None
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        shown = f"[{host}]" if ":" in host else host
        if f"{shown}:{port}" in self.allowed:
            return None
        addresses = await self._resolve(host, port)
        bad = [a for a in addresses if forbidden_address(a)]
        if not bad:
            return None
        reason = (
            f"refused: {host} is a non-public address ({bad[0]}); "
            "set crawl.allow_private_networks or crawl.allowed_hosts to crawl it"
            if host == str(bad[0]) else
            f"refused: {host} resolves to the non-public address {bad[0]}; "
            "set crawl.allow_private_networks or crawl.allowed_hosts to crawl it"
        )
        self._refuse(request, reason)

    def _refuse(self, request: Request, reason: str) -> NoReturn:
        self.crawler.stats.inc_value("storywatch/refused_private")  # type: ignore[union-attr]
        _report(self.crawler, request, reason)
        raise Declined(reason)

    async def _resolve(self, host: str, port: int) -> list[_IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        if host in self.cache:
            return self.cache[host]
        try:
            infos = await maybe_deferred_to_future(
                deferToThread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
            )
        except OSError:
            return []  # the download fails on the same lookup and reports it
        addresses = []
        for info in infos:
            host_address = info[4][0]
            if not isinstance(host_address, str):  # only AF_INET/AF_INET6 give addresses
                continue
            try:
                addresses.append(ipaddress.ip_address(host_address.split("%", 1)[0]))
            except ValueError:
                continue
        self.cache[host] = addresses
        return addresses


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing non-public answers at connection time.

    The middleware above resolves a name to decide with a readable reason; the download then
    resolves it again. A DNS server answering the two lookups differently (DNS rebinding)
    would slip between them, so the lookup the connection actually uses is checked too.
    Names in crawl.allowed_hosts are let through (their port is checked by the middleware);
    IP literals never reach a resolver and are judged by the middleware alone.
    """

    enabled = False
    allowed_names: frozenset[str] = frozenset()

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        resolver = super().from_crawler(crawler, reactor)
        # The same config lookup as every other component, so the guard is on under plain
        # `scrapy crawl` too (it used to read only the config that run_crawl put in settings).
        config = crawler_config(crawler)
        resolver.enabled = not config.crawl.allow_private_networks
        resolver.allowed_names = frozenset(
            host.rsplit(":", 1)[0].strip("[]") for host in config.crawl.allowed_hosts
        )
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> Any:
        lookup = super().getHostByName(name, timeout)
        if self.enabled and name.lower() not in self.allowed_names:
            lookup.addCallback(self._public_only, name)
        return lookup

    @staticmethod
    def _public_only(address: str, name: str) -> str:
        if forbidden_address(ipaddress.ip_address(address)):
            # Twisted reports a failed lookup as "no results", so the reason is logged here.
            reason = f"{name} resolved to the non-public address {address}; refused"
            log.warning("%s", reason)
            raise DNSLookupError(reason)
        return address


# ------------------------------------------------------------------ conditional GET


class ConditionalGetMiddleware:
    """Send stored validators with listing requests; hand new ones to the spider.

    The validators are saved by the spider when it closes (`save_pending_validators`), and
    only for listings whose articles were all fetched or definitively failed: saving them
    earlier would turn a transient article failure into a permanent miss, because the
    next run would get a 304 and never list that article again.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not request.meta.get(CONDITIONAL_META):
            return None
        key = request.meta.setdefault(VALIDATOR_URL_META, request.url)
        if STORED_VALIDATORS_META not in request.meta:
            with crawler_storage(self.crawler).session() as session:
                request.meta[STORED_VALIDATORS_META] = load_validators(session, key)
        stored: Validators | None = request.meta[STORED_VALIDATORS_META]
        if stored and stored.etag:
            request.headers[b"If-None-Match"] = stored.etag
        if stored and stored.last_modified:
            request.headers[b"If-Modified-Since"] = stored.last_modified
        return None

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if request.meta.get(CONDITIONAL_META) and response.status == 200:
            etag = response.headers.get(b"ETag")
            last_modified = response.headers.get(b"Last-Modified")
            if etag or last_modified:
                request.meta[NEW_VALIDATORS_META] = Validators(
                    etag.decode("latin-1") if etag else None,
                    last_modified.decode("latin-1") if last_modified else None,
                )
        return response


def listing_key(response: Response) -> str:
    """The URL a listing's validators are stored under (the URL first asked, pre-redirect)."""
    return str(response.meta.get(VALIDATOR_URL_META) or response.url)


def stored_validators(response: Response) -> Validators | None:
    return response.meta.get(STORED_VALIDATORS_META)


def remember_validators(spider: Any, response: Response, children: list[str] | None = None) -> None:
    """Called by a spider once it has parsed a listing: keep its validators for saving."""
    new: Validators | None = response.meta.get(NEW_VALIDATORS_META)
    if new:
        new.children = list(children or [])
        spider.pending_validators[listing_key(response)] = new


def save_pending_validators(spider: Any) -> None:
    pending = {url: v for url, v in spider.pending_validators.items()
               if url not in spider.dirty_listings}
    if not pending:
        return
    now = utc_now()
    with crawler_storage(spider.crawler).session() as session:
        for url, validators in pending.items():
            save_validators(session, url, validators, now)


# ------------------------------------------------------------------ redirects


class RedirectLoopMiddleware:
    """Stop a redirect that leads back to a URL of its own chain, and say so.

    Scrapy's duplicate filter would otherwise drop the looping request silently (or, with
    dont_filter, follow it REDIRECT_MAX_TIMES times). Runs before RedirectMiddleware (its
    process_response is called first: higher priority number).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectLoopMiddleware:
        return cls(crawler)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if response.status not in (301, 302, 303, 307, 308):
            return response
        location = response.headers.get(b"Location")
        if not location:
            return response
        target = urljoin(request.url, location.decode("latin-1").strip())
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if target in chain:
            self.crawler.stats.inc_value("storywatch/redirect_loops")  # type: ignore[union-attr]
            reason = f"redirect loop ({' -> '.join([*chain, target])})"
            _report(self.crawler, request, reason)
            raise Declined(reason)
        return response


# ------------------------------------------------------------------ retries


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware:
    """Honour Retry-After on 429 and 503: wait as asked (up to a cap), then try again.

    Sits after RetryMiddleware in the response chain (higher priority number), so a 429/503
    with Retry-After is handled here and the stock retry never re-sends it at once.
    """

    STATUSES = (429, 503)

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawl = crawler_config(crawler).crawl
        self.cap = crawl.max_retry_after.total_seconds()
        self.max_times = max(1, crawl.retry_times)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if response.status not in self.STATUSES or request.meta.get("dont_retry"):
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is None:
            return response  # no usable Retry-After: the backoff retry deals with it
        stats = self.crawler.stats
        tries = request.meta.get("retry_after_times", 0)
        if wait > self.cap or tries >= self.max_times:
            stats.inc_value("storywatch/retry_after_given_up")  # type: ignore[union-attr]
            why = (f"asked to wait {wait:.0f} s, more than crawl.max_retry_after "
                   f"({self.cap:.0f} s)" if wait > self.cap else f"still {response.status} "
                   f"after {tries} waits")
            reason = f"HTTP {response.status} with Retry-After: {why}; given up"
            _report(self.crawler, request, reason, transient=True)
            raise Declined(reason)
        stats.inc_value("storywatch/retry_after_waits")  # type: ignore[union-attr]
        log.info("%s: HTTP %s, retrying after %.1f s as asked", request.url, response.status,
                 wait)
        await sleep(wait)
        retry = request.copy()
        retry.meta["retry_after_times"] = tries + 1
        retry.dont_filter = True
        return retry


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry of 5xx answers and timeouts, with exponential backoff between tries.

    The stock middleware re-sends at once, which hammers a server that is already failing.
    """

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("STORYWATCH_RETRY_BACKOFF", 1.0)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        return await self._after_backoff(super().process_response(request, response))

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        return await self._after_backoff(super().process_exception(request, exception))

    async def _after_backoff(self, result: Any) -> Any:
        if isinstance(result, Request):
            tries = int(result.meta.get("retry_times", 1))
            await sleep(self.backoff * 2 ** (tries - 1))
        return result
