"""XML sitemaps: indexes, urlsets, Google News extensions, gzip-compressed files.

Parsing goes through the entity guard and defusedxml; fetching and recursion are the
discover stage's job (ingest.run.stages), bounded in depth and count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


class SitemapError(Exception):
    def __init__(self, message: str, reason: str = "bad_sitemap") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SitemapEntry:
    url: str
    lastmod: dt.datetime | None = None
    news_published: dt.datetime | None = None
    # the publication time as the sitemap wrote it: a time without an offset is read in the
    # source's timezone by the transform stage, which this module does not know
    news_published_text: str | None = None
    news_title: str | None = None
    news_language: str | None = None

    @property
    def date(self) -> dt.datetime | None:
        return self.news_published or self.lastmod


@dataclass(frozen=True)
class Sitemap:
    kind: str  # "index" or "urlset"
    entries: list[SitemapEntry] = field(default_factory=list)
    bad_locs: list[str] = field(default_factory=list)  # <loc> values that are not usable URLs


def parse_sitemap(body: bytes, sitemap_url: str, cap: int) -> Sitemap:
    """Parse sitemap bytes (gzip or plain); raises SitemapError (`bad_sitemap`, `unsafe_xml`, `too_large`)."""
    from defusedxml import DefusedXmlException
    from defusedxml import ElementTree as SafeET

    from ingest.discover.feeds import absolute_url
    from ingest.fetch.body import BodyError, gunzip_limited
    from ingest.fetch.xmlguard import UnsafeXML, as_utf8, check_xml

    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip_limited(body, cap)
        except BodyError as exc:
            raise SitemapError(f"{sitemap_url}: {exc.detail}", exc.reason) from None
    try:
        check_xml(body)
        try:
            root = SafeET.fromstring(
                body, forbid_dtd=False, forbid_entities=True, forbid_external=True
            )
        except ValueError:  # a multi-byte legacy encoding expat cannot read
            root = SafeET.fromstring(
                as_utf8(body), forbid_dtd=False, forbid_entities=True, forbid_external=True
            )
    except (UnsafeXML, DefusedXmlException) as exc:
        raise SitemapError(f"{sitemap_url}: unsafe XML: {exc}", "unsafe_xml") from None
    except SafeET.ParseError as exc:
        raise SitemapError(f"{sitemap_url}: not well-formed XML: {exc}") from None
    tag = _local(root.tag)
    if tag not in ("sitemapindex", "urlset"):
        raise SitemapError(
            f"{sitemap_url}: root element <{tag}> is neither <sitemapindex> nor <urlset>"
        )
    child = "sitemap" if tag == "sitemapindex" else "url"
    entries = []
    bad_locs: list[str] = []
    for node in root:
        if _local(node.tag) != child:
            continue
        loc = _text(node, "loc")
        url = absolute_url(sitemap_url, loc) if loc else None
        if not url:
            bad_locs.append(loc or "")
            continue
        news = _child(node, "news")
        published_text = _text(news, "publication_date")
        published = _date(published_text)
        entries.append(
            SitemapEntry(
                url=url,
                lastmod=_date(_text(node, "lastmod")),
                news_published=published,
                news_published_text=published_text if published is not None else None,
                news_title=_text(news, "title"),
                news_language=_text(_child(news, "publication"), "language"),
            )
        )
    return Sitemap(
        kind="index" if tag == "sitemapindex" else "urlset", entries=entries, bad_locs=bad_locs
    )


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _child(node: Any, name: str) -> Any:
    """The first child element named `name` in any namespace: sitemaps are written in the
    0.9 namespace, the older 0.84 one, a misspelt one or none at all."""
    if node is None:
        return None
    for child in node:
        if _local(child.tag) == name:
            return child
    return None


def _text(node: Any, name: str) -> str | None:
    found = _child(node, name)
    text = (found.text or "").strip() if found is not None else ""
    return " ".join(text.split()) or None


def _date(value: str | None) -> dt.datetime | None:
    from transforms.normalise import parse_timestamp

    return parse_timestamp(value)
