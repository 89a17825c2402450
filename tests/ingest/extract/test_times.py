"""Times kept: the time of day printed next to the date with the headline is kept (with
its zone, or the page's other offset) instead of a bare day at midnight; a live blog is
dated by its first post and modified by its latest update. Pages written for the project."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.extract.page import extract_page
from transforms.articles import choose_published

UTC = dt.UTC
FETCHED = dt.datetime(2024, 3, 10, 8, 0, tzinfo=UTC)
BODY = "<p>" + "The ferry company said the new timetable starts in spring. " * 30 + "</p>"


def page(byline: str, head: str = "", lang: str = "en") -> bytes:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><title>Ferry timetable</title>{head}</head>'
        f"<body><article><h1>Ferry timetable changes</h1><p class='byline'>{byline}</p>"
        f"{BODY}</article></body></html>"
    ).encode()


def stored(body: bytes, url: str = "https://news.example.org/ferry", zone: str | None = None):
    found = extract_page(body, url)
    record = {
        "url": url,
        "published": found.published,
        "published_from": found.published_from,
        "published_offset_from": found.offset_from,
    }
    return found, choose_published(record, FETCHED, zone)


@pytest.mark.parametrize(
    ("byline", "instant"),
    [
        ("By Ann Lee | March 3, 2024, 7:20 p.m. EDT", dt.datetime(2024, 3, 3, 23, 20, tzinfo=UTC)),
        ("Published March 3, 2024 at 19:20 CEST", dt.datetime(2024, 3, 3, 17, 20, tzinfo=UTC)),
        ("Updated 14:30 GMT, 3 March 2024", dt.datetime(2024, 3, 3, 14, 30, tzinfo=UTC)),
        ("3 March 2024 09:05 (UTC+2)", dt.datetime(2024, 3, 3, 7, 5, tzinfo=UTC)),
    ],
)
def test_the_printed_time_and_zone_are_kept(byline: str, instant: dt.datetime) -> None:
    found, (published, source) = stored(page(byline))
    assert published == instant
    assert found.published_from == "byline"
    assert source == "byline"


def test_a_printed_time_without_zone_takes_the_pages_offset_else_the_source_zone() -> None:
    modified = '<meta property="article:modified_time" content="2024-03-05T10:00:00+01:00">'
    found, (published, source) = stored(page("3. März 2024, 14:30 Uhr", modified, "de"))
    assert found.offset_from == "page"
    assert published == dt.datetime(2024, 3, 3, 13, 30, tzinfo=UTC)
    assert source == "byline+page_offset"
    # no other timestamp: the source's declared zone, else UTC, and date_source says so
    _, (published, source) = stored(
        page("3. März 2024, 14:30 Uhr", lang="de"), zone="Europe/Berlin"
    )
    assert (published, source) == (
        dt.datetime(2024, 3, 3, 13, 30, tzinfo=UTC),
        "byline+source_timezone",
    )
    _, (published, source) = stored(page("3. März 2024, 14:30 Uhr", lang="de"))
    assert (published, source) == (
        dt.datetime(2024, 3, 3, 14, 30, tzinfo=UTC),
        "byline+utc_assumed",
    )


def test_a_bare_stated_day_takes_the_printed_time_of_that_day() -> None:
    stated = '<meta property="article:published_time" content="2024-03-03">'
    _, (published, _) = stored(page("March 3, 2024, 7:20 p.m. EDT", stated))
    assert published == dt.datetime(2024, 3, 3, 23, 20, tzinfo=UTC)
    # a stated time of day wins over the printed one (the same day)
    stated = '<meta property="article:published_time" content="2024-03-03T19:21:07-04:00">'
    _found, (published, source) = stored(page("March 3, 2024, 7:20 p.m. EDT", stated))
    assert published == dt.datetime(2024, 3, 3, 23, 21, 7, tzinfo=UTC)
    assert source == "meta"


def test_numbers_that_are_not_times_are_not_read_as_times() -> None:
    for byline in (
        "March 3, 2024 · 12 min read",
        "March 3, 2024. 10.500 readers",
        "March 3, 2024 in Oslo",
    ):
        _found, (published, source) = stored(page(byline))
        assert (published, source) == (dt.datetime(2024, 3, 3, tzinfo=UTC), "byline"), byline


def test_the_url_day_keeps_the_time_printed_for_that_day() -> None:
    _found, (published, _) = stored(
        page("March 3, 2024, 7:20 p.m. EDT"), url="https://news.example.org/2024/03/03/ferry"
    )
    assert published == dt.datetime(2024, 3, 3, 23, 20, tzinfo=UTC)


LIVE = """<script type="application/ld+json">{"@context": "https://schema.org",
 "@type": "LiveBlogPosting", "headline": "Storm live: ferries cancelled",
 "datePublished": "2024-03-03T09:00:00+01:00", "dateModified": "2024-03-03T21:45:00+01:00",
 "coverageStartTime": "2024-03-03T06:30:00+01:00",
 "liveBlogUpdate": [
  {"@type": "BlogPosting", "headline": "Last ferry leaves", "datePublished": "2024-03-04T00:10:00+01:00"},
  {"@type": "BlogPosting", "headline": "Harbour closed", "datePublished": "2024-03-03T06:45:00+01:00"}
 ]}</script>"""


def test_a_live_blog_is_dated_by_its_first_post_and_modified_by_its_latest() -> None:
    body = page("Updated March 4, 2024, 00:10 CET", LIVE)
    found = extract_page(body, "https://news.example.org/storm-live")
    assert found.published == "2024-03-03T06:30:00+01:00"
    assert found.published_from == "jsonld"
    assert found.modified == "2024-03-04T00:10:00+01:00"
