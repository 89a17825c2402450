"""robots.txt: fetched once per origin and TTL, kept in the crawl state, matched with Protego.

The policy is given the function that fetches a robots.txt (the client's own request with
its guards and limits), not the client: the client builds the policy, never the reverse.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ingest.fetch.errors import FetchError

if TYPE_CHECKING:
    from protego import Protego

    from ingest.fetch.state import CrawlState

UNAVAILABLE = 599  # status recorded when robots.txt could not be read (5xx, timeout, refused)
UNAVAILABLE_TTL_S = 600.0  # try again soon: the site may be back
MAX_ROBOTS_BYTES = 512_000  # what Google reads of a robots.txt (500 KiB); the rest is ignored


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


class RobotsPolicy:
    """robots.txt rules for `token`, kept `ttl_s` seconds. `fetch(url)` returns a robots.txt's
    body (at most MAX_ROBOTS_BYTES) or raises FetchError."""

    def __init__(
        self, fetch: Callable[[str], bytes], state: CrawlState, token: str, ttl_s: float
    ) -> None:
        self._fetch_body = fetch
        self.state = state
        self.token = token
        self.ttl_s = ttl_s
        self._parsed: dict[str, tuple[int, Protego | None, float]] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> float:
        """Return the host's Crawl-delay (0 if none) if `url` may be fetched; raise FetchError if not."""
        status, rules = self._rules(origin(url))
        token = self.token
        if status == UNAVAILABLE:
            raise FetchError(
                "robots_unavailable",
                f"{origin(url)}/robots.txt could not be read; not crawling the site until it can",
            )
        if rules is None:
            return 0.0
        if not rules.can_fetch(url, token):
            raise FetchError(
                "robots_disallowed",
                f"robots.txt of {origin(url)} disallows {urlsplit(url).path} for {token}",
            )
        delay = rules.crawl_delay(token)
        return float(delay) if delay else 0.0

    def sitemaps(self, url: str) -> list[str]:
        """The Sitemap: lines of the robots.txt of `url`'s origin; raises FetchError
        (`robots_unavailable`) when it could not be read, rather than listing none."""
        status, rules = self._rules(origin(url))
        if status == UNAVAILABLE:
            raise FetchError(
                "robots_unavailable",
                f"{origin(url)}/robots.txt could not be read, so its Sitemap: lines are unknown",
            )
        if rules is None:
            return []
        robots_url = f"{origin(url)}/robots.txt"
        # a relative "Sitemap: /sitemap.xml" (not the standard, but common) is the site's
        listed = (_resolved(robots_url, s) for s in rules.sitemaps)
        return list(dict.fromkeys(listed))

    def _rules(self, site: str) -> tuple[int, Protego | None]:
        from protego import Protego

        ttl = self.ttl_s
        with self._lock:
            cached = self._parsed.get(site)
            if cached is None:
                stored = self.state.robots(site)
                if stored is not None:
                    status, body, fetched_at = stored
                    cached = (status, Protego.parse(body) if status == 200 else None, fetched_at)
            if cached is not None and time.time() - cached[2] < (
                UNAVAILABLE_TTL_S if cached[0] == UNAVAILABLE else ttl
            ):
                self._parsed[site] = cached
                return cached[0], cached[1]
            status, body = self._fetch(site)
            self.state.save_robots(site, status, body)
            rules = Protego.parse(body) if status == 200 else None
            self._parsed[site] = (status, rules, time.time())
            return status, rules

    def _fetch(self, site: str) -> tuple[int, str]:
        """(200, body) for a robots.txt; (4xx or 304, '') means no rules; UNAVAILABLE means
        crawl nothing."""
        try:
            body = self._fetch_body(f"{site}/robots.txt")
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                return exc.status, ""
            if exc.reason == "http_304":  # (to a request without validators: no file, no rules)
                return exc.status or 304, ""
            if exc.reason in ("network_blocked", "bad_scheme", "bad_url", "dns_error"):
                # (the page asked for is not to blame: say whose address it was)
                raise FetchError(
                    exc.reason, f"reading {site}/robots.txt: {exc.detail}", exc.status
                ) from None
            return UNAVAILABLE, ""
        return 200, body.decode("utf-8", errors="replace")


def _resolved(base: str, link: str) -> str:
    """`link` resolved against `base`; as written when no URL parser reads it (discovery
    then records it as a document it could not read)."""
    from urllib.parse import urljoin

    try:
        return urljoin(base, link.strip())
    except ValueError:
        return link
