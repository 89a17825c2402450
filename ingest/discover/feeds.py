"""Feed discovery: RSS 2.0 and Atom 1.0 (and whatever else feedparser recognises) to items."""

from __future__ import annotations

import calendar
import datetime as dt
import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

_TAG = re.compile(r"<[^<>]*>")  # no "<" inside: linear on a run of unclosed "<"


JSON_FEED_TYPES = ("application/feed+json", "application/json")
FEED_LINK_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
)


class FeedError(Exception):
    """A document that is not a usable feed; `reason` is a quarantine code."""

    def __init__(self, message: str, reason: str = "bad_feed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class FeedItem:
    url: str
    feed_url: str
    title: str | None = None
    published: dt.datetime | None = None
    updated: dt.datetime | None = None
    # the times as the feed wrote them (when readable): one without an offset is read in the
    # source's timezone by the transform stage, which this module does not know
    published_text: str | None = None
    updated_text: str | None = None
    authors: tuple[str, ...] = ()
    summary: str | None = None
    guid: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    items: list[FeedItem]
    skipped: list[tuple[str, str]]  # (guid or title, reason) for items without a usable link
    recovered_error: str | None  # set when the XML was malformed but items were recovered
    broken: list[tuple[str, str]] = field(default_factory=list)  # (item URL, why it is unreadable)


def parse_feed(
    body: bytes, feed_url: str, content_type: str | None = None, cap: int = 5_000_000
) -> ParsedFeed:
    """Parse RSS, Atom or JSON Feed bytes (a gzip file of one, such as a `.xml.gz`, read to at
    most `cap` bytes); raises FeedError when nothing feed-like can be recovered.

    XML feeds pass the entity guard (ingest.fetch.xmlguard) before feedparser sees them.
    """
    import feedparser

    from ingest.fetch.body import BodyError, gunzip_limited
    from ingest.fetch.xmlguard import UnsafeXML, check_xml

    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip_limited(body, cap)
        except BodyError as exc:
            raise FeedError(exc.detail, reason=exc.reason) from None
        content_type = None  # (the file's type, not its content's)
    if (
        body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{"
        or (content_type or "").split(";")[0].strip() in JSON_FEED_TYPES
    ):
        return parse_json_feed(body, feed_url)
    try:
        check_xml(body)
    except UnsafeXML as exc:
        raise FeedError(f"unsafe XML: {exc}", reason="unsafe_xml") from None

    headers = {"content-location": feed_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    # a wrong or missing Content-Type or an overridden charset is not damage to the feed
    benign = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
    error = (
        None
        if problem is None or isinstance(problem, benign)
        else str(problem) or type(problem).__name__
    )
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(error or "not an RSS or Atom feed")
    items: list[FeedItem] = []
    skipped: list[tuple[str, str]] = []
    broken: list[tuple[str, str]] = []
    for entry in parsed.entries:
        url = _item_url(feed_url, entry, _entry_link(entry), skipped)
        if url is None:
            continue
        try:
            published, published_text = _entry_time(entry, "published")
            updated, updated_text = _entry_time(entry, "updated")
            item = FeedItem(
                url=url,
                feed_url=feed_url,
                title=_clean(entry.get("title")),
                published=published,
                updated=updated,
                published_text=published_text,
                updated_text=updated_text,
                authors=_authors(entry),
                summary=_clean(_strip_tags(entry.get("summary"))),
                guid=_clean(entry.get("id")),
            )
        except Exception as exc:  # one odd item is a row of its own, never the whole feed's loss
            broken.append((url, f"item unreadable: {exc!r}"))
            continue
        items.append(item)
    feed_title = _clean(parsed.feed.get("title")) if parsed.get("feed") else None
    return ParsedFeed(
        title=feed_title, items=items, skipped=skipped, recovered_error=error, broken=broken
    )


def _entry_link(entry: Any) -> str | None:
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"]).strip()
    link = entry.get("link")
    if link:
        return str(link).strip()
    guid = entry.get("id")
    if guid and str(guid).startswith(("http://", "https://")) and entry.get("guidislink", True):
        return str(guid).strip()
    return None


def _authors(entry: Any) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors", []) or []:
        name = _clean(author.get("name"))
        if name and name not in names:
            names.append(name)
    if not names and entry.get("author"):
        name = _clean(entry.get("author"))
        if name:
            names.append(name)
    return tuple(names)


def _entry_time(entry: Any, key: str) -> tuple[dt.datetime | None, str | None]:
    """An entry's `published` or `updated` time in UTC and as written; (None, None) when
    absent, unreadable, or outside the years a page can mean (`0000-00-00`, `9999-12-31`).

    The written text is what the record carries: a time without an offset is the source's
    local time, not UTC as feedparser assumes (and a zoneless RFC 822 date, which feedparser
    drops, is read). Plain dict lookups: feedparser's own get() maps a missing key onto
    the other.
    """
    from transforms.normalise import parse_timestamp

    text = _clean(dict.get(entry, key))
    value = parse_timestamp(text) if text else None
    if value is not None:
        return value, text
    value = _struct_to_utc(dict.get(entry, f"{key}_parsed"))  # a form only feedparser reads
    return value, (value.isoformat() if value is not None else None)


def _struct_to_utc(value: Any) -> dt.datetime | None:
    """feedparser's UTC struct_time as a datetime; None when it is not one, or falls outside
    the years a page can mean (feedparser shifts `0001-01-01T00:00+01:00` into year 0)."""
    from transforms.normalise import EARLIEST_YEAR, LATEST_YEAR

    try:
        if not value or not EARLIEST_YEAR <= value[0] < LATEST_YEAR:
            return None
        return dt.datetime.fromtimestamp(calendar.timegm(value), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _strip_tags(value: Any) -> str | None:
    """Feed summaries are often HTML; keep their text."""
    if value is None:
        return None
    return html.unescape(_TAG.sub(" ", str(value)))


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def parse_json_feed(body: bytes, feed_url: str) -> ParsedFeed:
    """JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1)."""
    from ingest.extract.webjson import web_json
    from transforms.normalise import parse_timestamp

    try:
        doc = web_json(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/1"
    ):
        raise FeedError("not a JSON Feed (no jsonfeed.org version)")
    entries = doc.get("items")
    if not isinstance(entries, list):
        raise FeedError("JSON Feed without an items list")
    feed_authors = _json_authors(doc)
    items: list[FeedItem] = []
    skipped: list[tuple[str, str]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            skipped.append((repr(entry)[:80], "item is not an object"))
            continue
        link = entry.get("url") or entry.get("external_url")
        url = _item_url(feed_url, entry, link if isinstance(link, str) else None, skipped)
        if url is None:
            continue
        published_text = _clean(_str(entry.get("date_published")))
        updated_text = _clean(_str(entry.get("date_modified")))
        published, updated = parse_timestamp(published_text), parse_timestamp(updated_text)
        guid = entry.get("id")
        items.append(
            FeedItem(
                url=url,
                feed_url=feed_url,
                # a field of the wrong JSON type is absent, not its Python repr
                title=_clean(_str(entry.get("title"))),
                published=published,
                updated=updated,
                published_text=published_text if published is not None else None,
                updated_text=updated_text if updated is not None else None,
                authors=_json_authors(entry) or feed_authors,
                summary=_clean(_strip_tags(_str(entry.get("summary")))),
                # ids are strings by the spec; many feeds write numbers
                guid=_clean(
                    guid if isinstance(guid, str | int) and not isinstance(guid, bool) else None
                ),
            )
        )
    return ParsedFeed(
        title=_clean(_str(doc.get("title"))), items=items, skipped=skipped, recovered_error=None
    )


def _item_url(
    feed_url: str, entry: Any, link: str | None, skipped: list[tuple[str, str]]
) -> str | None:
    """The item's absolute URL; an item without a usable one is added to `skipped`."""
    url = absolute_url(feed_url, link) if link and link.strip() else None
    if url is None:
        label = str(entry.get("id") or entry.get("title") or "(untitled item)")
        skipped.append((label, "item has a malformed link" if link else "item has no link"))
    return url


def absolute_url(base: str, link: str) -> str | None:
    """`link` resolved against `base`, or None when it is not a usable http(s) URL."""
    try:
        url = urljoin(base, link.strip())
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if "\x00" in url:  # (no request can carry it, and PostgreSQL's text refuses it)
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_authors(node: dict[str, Any]) -> tuple[str, ...]:
    raw = node.get("authors") or ([node["author"]] if isinstance(node.get("author"), dict) else [])
    names: list[str] = []
    for author in raw if isinstance(raw, list) else []:
        name = _clean(_str(author.get("name"))) if isinstance(author, dict) else None
        if name and name not in names:
            names.append(name)
    return tuple(names)


def discover_feed_links(html_body: bytes, page_url: str) -> list[str]:
    """Feed URLs a homepage advertises with <link rel="alternate" type="application/rss+xml" ...>."""
    from lxml import etree
    from lxml import html as lxml_html

    from ingest.extract.decode import decode_html

    text, _ = decode_html(html_body)
    try:
        tree = lxml_html.document_fromstring(
            text.encode("utf-8"), parser=lxml_html.HTMLParser(encoding="utf-8")
        )
    except (ValueError, etree.ParserError):
        return []
    found: dict[str, None] = {}  # ordered, and linear on a page of thousands of links
    for link in tree.iterfind(".//link[@href]"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in rels and kind in FEED_LINK_TYPES:
            url = absolute_url(page_url, link.get("href") or "")
            if url is not None:
                found[url] = None
    return list(found)
