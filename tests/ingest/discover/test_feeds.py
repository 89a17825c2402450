from __future__ import annotations

import datetime as dt

import pytest

from ingest.discover.feeds import FeedError, parse_feed
from tests.conftest import FIXTURES
from tests.guards import finishes_apart

FEEDS = FIXTURES / "feeds"
UTC = dt.UTC


def load(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def test_rss2_items_links_dates_and_authors() -> None:
    feed = parse_feed(load("rss2.xml"), "https://news.example/feed.xml")
    assert feed.title == "Example Daily"
    urls = [item.url for item in feed.items]
    assert urls == [
        "https://news.example/2023/04/06/first.html",
        "https://news.example/2023/04/06/second.html",  # relative link resolved against the feed
        "https://news.example/2023/04/06/third.html",  # permalink guid used as the link
    ]
    first = feed.items[0]
    assert first.title == "First story"
    # -0200 on the evening of the 6th is already the 7th in UTC
    assert first.published == dt.datetime(2023, 4, 7, 1, 30, tzinfo=UTC)
    assert first.authors == ("Ana Diaz",)
    assert feed.skipped == [("no-link-4", "item has no link")]
    assert feed.recovered_error is None


def test_atom_alternate_link_published_and_authors() -> None:
    feed = parse_feed(load("atom.xml"), "https://news.example/atom.xml")
    first, second = feed.items
    assert first.url == "https://news.example/atom/1.html"
    assert first.published == dt.datetime(2023, 4, 6, 22, 30, tzinfo=UTC)
    assert first.updated == dt.datetime(2023, 4, 7, 5, 10, tzinfo=UTC)
    assert first.authors == ("Mira Lund", "Tom Arkwright")
    assert second.published is None
    assert second.updated == dt.datetime(2023, 4, 5, 18, 0, tzinfo=UTC)


def test_malformed_feed_recovers_what_it_can() -> None:
    feed = parse_feed(load("malformed.xml"), "https://news.example/broken.xml")
    assert [item.url for item in feed.items][:1] == ["https://news.example/broken/1.html"]
    assert feed.recovered_error


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(FeedError):
        parse_feed(load("not-a-feed.html"), "https://news.example/")


def test_empty_body_is_not_a_feed() -> None:
    with pytest.raises(FeedError):
        parse_feed(b"", "https://news.example/feed.xml")


def test_summary_html_is_reduced_to_text() -> None:
    feed = parse_feed(load("rss2.xml"), "https://news.example/feed.xml")
    assert feed.items[0].summary == "Lead of the first story."


def test_a_summary_of_unclosed_angle_brackets_is_stripped_in_linear_time() -> None:
    import json

    summary = "&lt;" * 600_000 + "end"  # 600,000 "<" without a ">": minutes before
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "T"}
    feed["items"] = [{"id": "1", "url": "https://news.example/a", "summary": summary}]  # type: ignore[list-item]
    body = json.dumps(feed).replace("&lt;", "<").encode()
    parsed = finishes_apart(parse_feed, body, "https://news.example/feed.json", within_s=20)
    assert parsed.items[0].summary is not None and parsed.items[0].summary.endswith("end")
