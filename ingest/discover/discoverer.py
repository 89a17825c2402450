"""Discovery: a source's feeds, homepage and sitemaps to a list of item URLs with hints.

Feeds and sitemaps are requested conditionally (If-None-Match / If-Modified-Since) with the
validators of the last committed run; a 304, or a body identical to the last one, costs
nothing further. New validators are returned, not saved: the write stage commits them with
the run, so a run that fails leaves the next one to see the same items again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from ingest.config import Settings, Source
from ingest.fetch.errors import FetchError
from ingest.fetch.http import HttpClient, Response
from ingest.fetch.state import CrawlState, Validators
from transforms.exceptions import STORAGE_FAULTS
from transforms.urls import request_url

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, */*;q=0.1"
# feeds one page's <link rel=alternate> may add to a run (sites advertise a handful: all
# news, comments, a few sections); the rest are named in a `feed_limit` row, never read
ADVERTISED_FEEDS = 20


@dataclass
class Discovery:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (url, reason, detail)
    validators: dict[str, Validators] = field(default_factory=dict)
    not_modified: int = 0
    repeated: int = 0
    out_of_window: int = 0
    # sitemaps over the run's budget, with their nesting depth: the next run reads them
    # right after the configured ones
    deferred_sitemaps: list[tuple[str, int]] = field(default_factory=list)

    def add(self, item: dict[str, Any]) -> None:
        # one article listed as `a?utm_source=rss` and `a#comments` is one item, asked once
        item["url"] = request_url(item["url"])
        if item["url"] in self.items:
            self.repeated += 1  # the same link in two feeds, or twice in one
        else:
            self.items[item["url"]] = item


class Discoverer:
    def __init__(
        self,
        source: Source,
        settings: Settings,
        client: HttpClient,
        state: CrawlState,
        run_key: str,
        window_end: dt.datetime,
        *,
        refetch: bool = False,
    ) -> None:
        self.source = source
        self.settings = settings
        self.client = client
        self.state = state
        self.run_key = run_key
        self.refetch = refetch  # read every document in full, whatever the validators say
        self.oldest = window_end - dt.timedelta(days=settings.sitemap_lookback_days)
        self.found = Discovery()
        # a linked feed or child sitemap -> the document listing it
        self.parents: dict[str, str] = {}
        self.visited: set[str] = set()  # every feed, page and sitemap requested in this run
        # per document that answered unchanged: what it listed when last read in full
        self.known_children: dict[str, tuple[str, ...] | None] = {}

    def run(self) -> Discovery:
        for url in self.source.feeds:
            self._guard(url, self._feed, url, True)
        if self.source.homepage:
            self._guard(self.source.homepage, self._homepage, self.source.homepage)
        # the configured sitemaps (a news sitemap: the freshest items) come first, then what
        # the last run deferred, then what they lead to: a long backlog never starves them
        sitemaps: list[tuple[str, int]] = []
        for url in self.source.sitemaps:
            if urlsplit(url).path == "/robots.txt":
                self._guard(
                    url, lambda u: sitemaps.extend((s, 1) for s in self._robots_sitemaps(u)), url
                )
            else:
                sitemaps.append((url, 1))
        self._sitemaps([*sitemaps, *self.state.sitemap_backlog(self.source.id)])
        for url in self.state.pending_retries(self.source.id):
            if url not in self.found.items:
                self.found.items[url] = {"url": url, "feed_url": None, "retry": True}
        return self.found

    # ------------------------------------------------------------------------ pieces

    def _guard(self, url: str, step: Any, *args: Any) -> None:
        """Run one discovery step; any failure becomes a problem row, never a crashed run."""
        from ingest.discover.feeds import FeedError
        from ingest.discover.sitemaps import SitemapError

        try:
            step(*args)
            return
        except FetchError as exc:
            self.found.problems.append((url, exc.reason, exc.detail))
        except (FeedError, SitemapError) as exc:
            self.found.problems.append((url, exc.reason, f"{url}: {exc}"))
        except STORAGE_FAULTS:  # the run's crawl state, not this feed: the source's run fails
            raise
        except Exception as exc:
            self.found.problems.append((url, "discover_error", f"{url}: {exc!r}"))
        self._unsettle(url)

    def _unsettle(self, url: str) -> None:
        """Keep the validators of `url` and of every document that led to it from being
        committed, so the next run reads them again and retries what failed here."""
        for current in self._lineage(url):
            self.found.validators.pop(current, None)

    def _lineage(self, url: str) -> list[str]:
        """`url` and the documents that led to it, nearest first (each once)."""
        chain: list[str] = []
        current: str | None = url
        while current is not None and current not in chain:
            chain.append(current)
            current = self.parents.get(current)
        return chain

    def _follows(self, child: str, parent: str) -> bool:
        """Whether to read `child`, listed by `parent`: not when it is `parent` itself or a
        document that led to it (a loop: recorded once as `discovery_loop`), nor when this
        run has read it already."""
        if child in self._lineage(parent):
            self.found.problems.append(
                (
                    parent,
                    "discovery_loop",
                    f"{parent} lists {child}, which leads back to it; not following it again",
                )
            )
            return False
        if child in self.visited:
            return False
        self.parents.setdefault(child, parent)
        return True

    def _conditional_get(self, url: str, accept: str) -> Response | None:
        """The response, or None when the document did not change since the last committed run."""
        self.visited.add(url)
        known = None if self.refetch else self.state.validators(url, self.run_key)
        response = self.client.get(
            url,
            accept=accept,
            etag=known.etag if known else None,
            last_modified=known.last_modified if known else None,
        )
        self.known_children[url] = known.children if known is not None else None
        if response.not_modified:
            self.found.not_modified += 1
            return None
        digest = hashlib.sha256(response.body).hexdigest()
        self.found.validators[url] = Validators(
            response.headers.get("ETag"),
            response.headers.get("Last-Modified"),
            digest,
            known.children if known is not None else None,  # (replaced if it is read)
        )
        if known is not None and known.content_hash == digest:
            self.found.not_modified += 1
            return None
        return response

    def _listed(self, url: str, children: list[str]) -> None:
        """Record what `url` lists that must be followed even while `url` does not change."""
        if url in self.found.validators:
            self.found.validators[url] = replace(
                self.found.validators[url], children=tuple(children) or None
            )

    def _unchanged_lists(self, url: str) -> tuple[str, ...]:
        """What `url` listed when last read in full, now that it answered unchanged."""
        return self.known_children.get(url) or ()

    def _feed(self, url: str, autodiscover: bool) -> None:
        from ingest.discover.feeds import FeedError, discover_feed_links, parse_feed

        response = self._conditional_get(url, FEED_ACCEPT)
        if response is None:
            # a page advertising its feeds does not change when they do
            self._follow_feeds(list(self._unchanged_lists(url)) if autodiscover else [], url)
            return
        try:
            feed = parse_feed(
                response.body,
                response.url,
                response.headers.get("Content-Type"),
                self.settings.max_page_bytes,
            )
        except FeedError:
            links = (
                discover_feed_links(response.body, response.url)
                if autodiscover and response.content_type in ("text/html", "application/xhtml+xml")
                else []
            )
            if not links:
                raise
            advertised = self._advertised(links, url)  # a page advertising its feeds
            self._listed(url, advertised)
            self._follow_feeds(advertised, url)
            return
        self._listed(url, [])  # a feed itself, not a page listing feeds
        if feed.recovered_error:
            self.found.problems.append(
                (
                    url,
                    "feed_recovered",
                    f"malformed feed, {len(feed.items)} items recovered: {feed.recovered_error}",
                )
            )
        for label, why in feed.skipped:
            self.found.problems.append((url, "no_link", f"{label}: {why}"))
        for link, why in feed.broken:
            self.found.problems.append((link, "bad_item", f"in {url}: {why}"))
        for item in feed.items:
            self.found.add(
                {
                    "url": item.url,
                    "feed_url": item.feed_url,
                    "feed_title": item.title,
                    # as written, for the transform stage to read in the source's timezone
                    "feed_published": item.published_text if item.published else item.updated_text,
                    "feed_updated": _iso(item.updated),
                    # what orders the items over the run's item budget (freshest first)
                    "feed_time": _iso(item.published or item.updated),
                    "feed_authors": list(item.authors),
                    "feed_summary": item.summary,
                }
            )

    def _follow_feeds(self, links: list[str], page: str, skip: tuple[str, ...] = ()) -> None:
        for link in links:
            if link not in skip and self._follows(link, page):
                self._guard(link, self._feed, link, False)

    def _homepage(self, url: str) -> None:
        from ingest.discover.feeds import FeedError, discover_feed_links

        self.visited.add(url)
        response = self.client.get(url, accept="text/html, */*;q=0.1")
        links = discover_feed_links(response.body, response.url)
        if not links:
            raise FeedError(
                f"{url} advertises no feed (no <link rel=alternate> of a feed type)",
                reason="no_feed_found",
            )
        self._follow_feeds(self._advertised(links, url), url, skip=tuple(self.source.feeds))

    def _advertised(self, links: list[str], page: str) -> list[str]:
        """The first ADVERTISED_FEEDS of the feeds a page advertises; a row names the rest."""
        if len(links) > ADVERTISED_FEEDS:
            left = links[ADVERTISED_FEEDS:]
            self.found.problems.append(
                (
                    page,
                    "feed_limit",
                    f"{page} advertises {len(links)} feeds; the first {ADVERTISED_FEEDS} are "
                    f"read, {len(left)} are not (first: {left[0]}); list the ones wanted "
                    "under the source's feeds",
                )
            )
        return links[:ADVERTISED_FEEDS]

    def _robots_sitemaps(self, robots_url: str) -> list[str]:
        if self.client.robots is None:
            return []
        return self.client.robots.sitemaps(robots_url)

    def _sitemaps(self, queue: list[tuple[str, int]]) -> None:
        """Read sitemaps breadth first. The run's budget counts the sitemaps that changed
        (a 304 or an identical body is free) and, at ten times that, every request; what is
        left over is deferred and read by the next run before anything newly listed (after the
        configured sitemaps), so every child is read within a bounded number of runs however
        long the index is."""
        from ingest.discover.sitemaps import parse_sitemap

        budget = self.settings.sitemaps_per_run
        seen: set[str] = set()
        changed = requests = 0
        while queue and changed < budget and requests < budget * 10:
            url, depth = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            requests += 1

            def one(url: str = url, depth: int = depth) -> None:
                nonlocal changed
                response = self._conditional_get(url, SITEMAP_ACCEPT)
                if response is None:
                    # an index that has not changed still leads to children that may have:
                    # those it gave no <lastmod> for (one it gave is as it was then)
                    if depth < self.settings.sitemap_depth:
                        queue.extend(
                            (child, depth + 1)
                            for child in self._unchanged_lists(url)
                            if self._follows(child, url)
                        )
                    return
                changed += 1
                sitemap = parse_sitemap(response.body, response.url, self.settings.max_page_bytes)
                undated: list[str] = []
                for loc in sitemap.bad_locs:
                    self.found.problems.append(
                        (url, "bad_link", f"<loc>{loc[:200]}</loc> is not a usable URL")
                    )
                for entry in sitemap.entries:
                    if entry.date is not None and entry.date < self.oldest:
                        self.found.out_of_window += 1
                        continue
                    if sitemap.kind == "index":
                        # a loop is a loop at any depth (not "too deep" when it hits the limit)
                        loop = entry.url in self._lineage(url)
                        if depth >= self.settings.sitemap_depth and not loop:
                            self.found.problems.append(
                                (
                                    entry.url,
                                    "sitemap_too_deep",
                                    f"nested deeper than {self.settings.sitemap_depth} levels under {url}",
                                )
                            )
                        else:
                            if entry.date is None and not loop:
                                undated.append(entry.url)
                            if self._follows(entry.url, url):
                                queue.append((entry.url, depth + 1))
                        continue
                    self.found.add(
                        {
                            "url": entry.url,
                            "feed_url": url,
                            "feed_title": entry.news_title,
                            "feed_published": entry.news_published_text,
                            "feed_updated": _iso(entry.lastmod),
                            "feed_time": _iso(entry.date),
                            "feed_language": entry.news_language,
                        }
                    )
                self._listed(url, undated)

            self._guard(url, one)
        for url, depth in queue:
            if url in seen:
                continue
            seen.add(url)
            # (its parent stays settled: the backlog, committed with the run, keeps it)
            self.found.deferred_sitemaps.append((url, depth))
            self.found.problems.append(
                (
                    url,
                    "sitemap_limit",
                    f"over the run's budget of {budget} changed sitemaps; read in the next run",
                )
            )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
