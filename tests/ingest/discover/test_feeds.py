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


def rss_items(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def test_an_item_dated_outside_the_calendar_loses_its_date_not_the_feed() -> None:
    # feedparser shifts these out of the years a datetime holds; each once sank the whole feed
    body = rss_items(
        "<item><link>https://n.example/1</link><pubDate>0000-00-00</pubDate></item>",
        "<item><link>https://n.example/2</link><pubDate>0001-01-01T00:00:00+01:00</pubDate></item>",
        "<item><link>https://n.example/3</link><pubDate>9999-12-31T23:00:00-05:00</pubDate></item>",
        "<item><link>https://n.example/4</link><pubDate>Thu, 06 Apr 2023 11:03:23 +0200</pubDate></item>",
    )
    feed = parse_feed(body, "https://n.example/feed.xml")
    assert [i.url.rsplit("/", 1)[1] for i in feed.items] == ["1", "2", "3", "4"]
    assert [i.published for i in feed.items[:3]] == [None, None, None]
    assert [i.published_text for i in feed.items[:3]] == [None, None, None]
    assert feed.items[3].published == dt.datetime(2023, 4, 6, 9, 3, 23, tzinfo=UTC)
    assert feed.items[3].published_text == "Thu, 06 Apr 2023 11:03:23 +0200"


def test_a_feed_time_without_an_offset_is_read_in_the_sources_timezone() -> None:
    from transforms.articles import choose_published

    fetched = dt.datetime(2023, 7, 10, tzinfo=UTC)
    body = rss_items(
        # RFC 822 without a zone (feedparser drops it), and ISO without an offset
        "<item><link>https://n.example/1</link><pubDate>Sun, 09 Jul 2023 19:20:36</pubDate></item>",
        "<item><link>https://n.example/2</link><pubDate>2023-07-09T19:20:36</pubDate></item>",
    )
    for item in parse_feed(body, "https://n.example/feed.xml").items:
        assert item.published_text is not None
        record = {"url": item.url, "feed_published": item.published_text}
        assert choose_published(record, fetched, "Asia/Tokyo") == (
            dt.datetime(2023, 7, 9, 10, 20, 36, tzinfo=UTC),
            "feed+source_timezone",
        )


def test_one_unreadable_item_is_named_and_the_rest_of_the_feed_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ingest.discover.feeds as feeds

    real = feeds._authors

    def authors(entry: object) -> tuple[str, ...]:
        if "odd" in str(entry.get("link")):  # type: ignore[attr-defined]
            raise RuntimeError("an item no rule foresaw")
        return real(entry)

    monkeypatch.setattr(feeds, "_authors", authors)
    body = rss_items(
        "<item><link>https://n.example/odd</link></item>",
        "<item><link>https://n.example/fine</link></item>",
    )
    feed = parse_feed(body, "https://n.example/feed.xml")
    assert [i.url for i in feed.items] == ["https://n.example/fine"]
    ((url, why),) = feed.broken
    assert url == "https://n.example/odd" and "an item no rule foresaw" in why


def test_a_json_feed_with_a_byte_order_mark_and_fields_of_the_wrong_type() -> None:
    body = b"\xef\xbb\xbf" + (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": ["not", "a", "string"],'
        b' "items": [{"id": 17, "url": "https://n.example/1", "title": {"x": 1},'
        b' "summary": 5, "date_published": "2023-07-09T19:20:36",'
        b' "authors": [{"name": ["A"]}, {"name": "Bo Lee"}]}]}'
    )
    # served as text/plain, so only the body says it is JSON
    feed = parse_feed(body, "https://n.example/feed.json", "text/plain")
    (item,) = feed.items
    assert feed.title is None and item.title is None and item.summary is None
    assert item.guid == "17" and item.authors == ("Bo Lee",)
    assert item.published_text == "2023-07-09T19:20:36"


def test_a_gzip_file_of_a_feed_is_read_within_the_cap() -> None:
    import gzip

    body = load("rss2.xml")
    plain = parse_feed(body, "https://n.example/feed.xml")
    packed = parse_feed(gzip.compress(body), "https://n.example/feed.xml.gz", "application/gzip")
    assert [i.url for i in packed.items] == [i.url for i in plain.items] and plain.items
    with pytest.raises(FeedError) as info:  # a bomb stops at the cap
        parse_feed(gzip.compress(body + b" " * 10**6), "https://n.example/f.xml.gz", cap=10**5)
    assert info.value.reason == "too_large"
    with pytest.raises(FeedError) as info:
        parse_feed(gzip.compress(body)[:100], "https://n.example/f.xml.gz")
    assert info.value.reason == "bad_encoding"
