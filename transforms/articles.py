"""Turn one extracted page record into one row of the article table."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from transforms import provenance
from transforms.normalise import (
    EARLIEST_YEAR,
    clean_line,
    clean_text,
    content_hash,
    has_time,
    parse_timestamp,
    states_offset,
    word_count,
)
from transforms.urls import article_id, canonical_url

# A page clock may run a little ahead of ours; anything later than this is not a real date.
FUTURE_TOLERANCE = dt.timedelta(minutes=10)
# The earliest publication time (see normalise.EARLIEST_YEAR: parsing drops earlier years;
# a value already parsed, from a work file, is checked again here).
EARLIEST = dt.datetime(EARLIEST_YEAR, 1, 1, tzinfo=dt.UTC)

log = logging.getLogger(__name__)


class TransformError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def choose_published(
    record: dict[str, Any], fetched_at: dt.datetime, timezone: str | None = None
) -> tuple[dt.datetime, str]:
    """The publication time and where it came from (a layer of transforms.provenance), best
    evidence first.

    A full timestamp from the page (`jsonld`, `meta`, `time_element`), then the feed's date
    (`feed`), then a day-only date read from the page (`url`, `byline`, `htmldate`), then
    the HTTP Last-Modified header (`http_header`), then the fetch time (`fetch_time`).
    A date outside the plausible window (before 1990, or later than the fetch) is not a
    publication time: the next layer is used, and the rejection is logged with its reason.

    A time of day without an offset is read in the offset another timestamp of the page
    states (the extract stage's doing: `+page_offset`), else in the source's `timezone`
    (`+source_timezone`), else as UTC (`+utc_assumed`); the suffix on the layer says which.
    """
    zone = ZoneInfo(timezone) if timezone else None
    page_from = record.get("published_from") or provenance.META
    page, feed = record.get("published"), record.get("feed_published")
    # a day-only layer gives way to the feed's timestamp, unless it printed a time of day too
    bare_day = not has_time(page)
    stated: list[tuple[Any, str]] = (
        [(feed, provenance.FEED), (page, page_from)]
        if page_from in provenance.DAY_LAYERS and bare_day
        else [(page, page_from), (feed, provenance.FEED)]
    )
    for raw, source in [*stated, (record.get("last_modified"), provenance.HTTP_HEADER)]:
        if not raw:
            continue
        value = parse_timestamp(raw, zone)
        why = "unreadable or outside the years a page can mean" if value is None else None
        if value is not None and (why := implausible(value, fetched_at)) is None:
            return value, source + _offset_note(raw, source, record, zone)
        log.warning(
            "%s: the %s date %r is %s; trying the next layer",
            record.get("url"),
            source,
            str(raw),
            why,
        )
    return fetched_at, provenance.FETCH_TIME


def _offset_note(raw: Any, source: str, record: dict[str, Any], zone: Any) -> str:
    """How a timestamp's offset was known when the value did not state it ("" when it did,
    or when it is a bare day: a calendar day, not an instant)."""
    if source == provenance.HTTP_HEADER or not isinstance(raw, str):
        return ""
    if source != provenance.FEED and record.get("published_offset_from") == "page":
        return provenance.PAGE_OFFSET
    if states_offset(raw) or not has_time(raw):
        return ""
    return provenance.SOURCE_TIMEZONE if zone is not None else provenance.UTC_ASSUMED


def implausible(value: dt.datetime, fetched_at: dt.datetime) -> str | None:
    """Why `value` cannot be a time the page was published or modified, or None if it can."""
    if value < EARLIEST:
        return f"before {EARLIEST:%Y-%m-%d}"
    if value > fetched_at + FUTURE_TOLERANCE:
        return "later than the fetch"
    return None


def build_article(
    record: dict[str, Any],
    source_id: str,
    source_name: str,
    run_id: str,
    timezone: str | None = None,
) -> dict[str, Any]:
    """One article row (ARTICLE_SCHEMA's columns, duplicate_of unset); raises TransformError."""
    fetched_at = parse_timestamp(record["fetched_at"])
    if fetched_at is None:
        raise TransformError("bad_record", f"no fetch time for {record.get('url')}")
    text = clean_text(record.get("text"))
    if not text:
        raise TransformError("no_text", f"empty text after normalisation for {record.get('url')}")
    canonical = canonical_url(record.get("final_url") or record["url"], record.get("canonical"))
    published_at, date_source = choose_published(record, fetched_at, timezone)
    modified = parse_timestamp(record.get("modified"), ZoneInfo(timezone) if timezone else None)
    language = record.get("language") or record.get("source_language")
    title, title_source = _with_source(
        (clean_line(record.get("title")), record.get("title_source")),
        (clean_line(record.get("feed_title")), provenance.FEED),
    )
    authors, authors_source = _with_source(
        (_authors(record.get("authors") or []), record.get("authors_source")),
        (_authors(record.get("feed_authors") or []), provenance.FEED),
    )
    return {
        "article_id": article_id(canonical),
        "url": record["url"],
        "canonical_url": canonical,
        "source_id": source_id,
        "site_name": clean_line(record.get("site_name")) or source_name,
        "title": title,
        "description": clean_line(record.get("description"))
        or clean_line(record.get("feed_summary")),
        "text": text,
        "authors": authors or [],
        "published_at": published_at,
        "date_source": date_source,
        "modified_at": modified
        if modified is not None and implausible(modified, fetched_at) is None
        else None,
        "fetched_at": fetched_at,
        "language": language,
        "word_count": word_count(text),
        "content_hash": content_hash(text),
        "duplicate_of": None,
        "run_id": run_id,
        "extractor": record["extractor"],
        "feed_url": record.get("feed_url"),
        "original_source": clean_line(record.get("original_source")),
        # story flags are set when the run commits; fingerprints by the transform stage
        "story_id": None,
        "dup_similarity": None,
        "shingles": None,
        "minhash": None,
        "lsh_bands": None,
        "title_source": title_source,
        "authors_source": authors_source,
        "credits": _authors(record.get("credits") or []),
    }


def _with_source(*layers: tuple[Any, str | None]) -> tuple[Any, str | None]:
    """The first of (value, layer) pairs with a value, with its layer; (None, None) when none
    has one."""
    return next(((value, layer) for value, layer in layers if value), (None, None))


def _authors(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        cleaned = clean_line(name)
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out
