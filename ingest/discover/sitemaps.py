"""XML sitemaps: indexes, urlsets, Google News extensions, gzip-compressed files.

Parsing goes through the entity guard and defusedxml; fetching and recursion are the
discover stage's job (ingest.run.stages), bounded in depth and count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

NS_SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
NS_NEWS = "http://www.google.com/schemas/sitemap-news/0.9"


class SitemapError(Exception):
    def __init__(self, message: str, reason: str = "bad_sitemap") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SitemapEntry:
    url: str
    lastmod: dt.datetime | None = None
    news_published: dt.datetime | None = None
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
        loc = _text(node, "loc", NS_SITEMAP)
        url = absolute_url(sitemap_url, loc) if loc else None
        if not url:
            bad_locs.append(loc or "")
            continue
        news = node.find(f"{{{NS_NEWS}}}news")
        entries.append(
            SitemapEntry(
                url=url,
                lastmod=_date(_text(node, "lastmod", NS_SITEMAP)),
                news_published=_date(_text(news, "publication_date", NS_NEWS))
                if news is not None
                else None,
                news_title=_text(news, "title", NS_NEWS) if news is not None else None,
                news_language=_text(news.find(f"{{{NS_NEWS}}}publication"), "language", NS_NEWS)
                if news is not None
                else None,
            )
        )
    return Sitemap(
        kind="index" if tag == "sitemapindex" else "urlset", entries=entries, bad_locs=bad_locs
    )


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _text(node: object, name: str, ns: str) -> str | None:
    if node is None:
        return None
    found = node.find(f"{{{ns}}}{name}")  # type: ignore[attr-defined]
    if found is None:
        found = node.find(name)  # type: ignore[attr-defined]  # sitemaps written without the namespace
    text = (found.text or "").strip() if found is not None else ""
    return " ".join(text.split()) or None


def _date(value: str | None) -> dt.datetime | None:
    from transforms.normalise import parse_timestamp

    return parse_timestamp(value)
