"""Times without an offset: a value of the same field that states one wins; else the offset
another timestamp of the page states; else the source's declared time zone; else UTC, and
`date_source` says which. Zone names written in dates are understood. Pages written for the
project."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import html as lxml_html

from ingest.config import ConfigError, load_sources
from ingest.extract.metadata import read_metadata
from ingest.extract.page import extract_page
from transforms.articles import build_article, choose_published
from transforms.normalise import parse_timestamp, states_offset

UTC = dt.UTC
BODY = "<p>" + "The council met on Sunday evening and voted on the harbour plan. " * 30 + "</p>"
FETCHED = dt.datetime(2023, 7, 12, 8, 0, tzinfo=UTC)


def page(head: str, body: str = BODY) -> bytes:
    return (
        f'<!DOCTYPE html><html lang="de"><head><title>Hafenplan beschlossen</title>{head}'
        f"</head><body><article><h1>Hafenplan beschlossen</h1>{body}</article></body></html>"
    ).encode()


def jsonld(published: str, modified: str | None = None) -> str:
    extra = f', "dateModified": "{modified}"' if modified else ""
    return (
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        f'"@type": "NewsArticle", "headline": "Hafenplan beschlossen", '
        f'"datePublished": "{published}"{extra}}}</script>'
    )


def meta(head: str) -> object:
    return read_metadata(lxml_html.document_fromstring(page(head)))


def test_a_value_with_an_offset_beats_one_without_for_the_same_time() -> None:
    found = meta(
        jsonld("2023-07-09T19:20:36")
        + '<meta property="article:published_time" content="2023-07-09T19:20:36+02:00">'
    )
    assert found.published == "2023-07-09T19:20:36+02:00"  # type: ignore[attr-defined]
    assert found.offset_from is None  # type: ignore[attr-defined]  # the page stated it
    # a naive <meta name="date"> against a WebPage node's value with its offset
    found = meta(
        '<meta name="date" content="2023-07-09 19:20">'
        '<script type="application/ld+json">{"@type": "WebPage", '
        '"datePublished": "2023-07-09T19:20:00+02:00"}</script>'
    )
    assert found.published == "2023-07-09T19:20:00+02:00"  # type: ignore[attr-defined]


def test_a_naive_time_takes_the_offset_another_timestamp_of_the_page_states() -> None:
    found = meta(jsonld("2023-07-09T19:20:36", "2023-07-10T08:05:00+02:00"))
    assert found.published == "2023-07-09T19:20:36+02:00"  # type: ignore[attr-defined]
    assert found.offset_from == "page"  # type: ignore[attr-defined]
    # a bare day names no instant: it keeps its calendar day, no offset added
    found = meta(jsonld("2023-07-09", "2023-07-10T08:05:00+02:00"))
    assert found.published == "2023-07-09"  # type: ignore[attr-defined]
    assert found.offset_from is None  # type: ignore[attr-defined]


def test_zone_names_written_in_dates_are_understood() -> None:
    cases = {
        "Sun Jul 09 19:20:36 CEST 2023": dt.datetime(2023, 7, 9, 17, 20, 36, tzinfo=UTC),
        "9 July 2023 19:20 BST": dt.datetime(2023, 7, 9, 18, 20, tzinfo=UTC),
        "July 9, 2023 7:20 PM EDT": dt.datetime(2023, 7, 9, 23, 20, tzinfo=UTC),
        "2023-07-09 19:20 MSK": dt.datetime(2023, 7, 9, 16, 20, tzinfo=UTC),
        "2023-07-09 19:20 JST": dt.datetime(2023, 7, 9, 10, 20, tzinfo=UTC),
        "2023-07-09 19:20 AEST": dt.datetime(2023, 7, 9, 9, 20, tzinfo=UTC),
        "2023-07-09 19:20 IST": dt.datetime(2023, 7, 9, 13, 50, tzinfo=UTC),
    }
    for text, instant in cases.items():
        assert parse_timestamp(text) == instant, text
        assert states_offset(text), text
    assert not states_offset("2023-07-09 19:20")  # no zone: read later, as the rules say
    assert not states_offset("2023-07-09 19:20 XYZ")  # an unknown name states nothing


def test_the_layer_says_how_the_offset_of_a_naive_time_was_known() -> None:
    record = {"published": "2023-07-09T19:20:36", "published_from": "jsonld"}
    assert choose_published(record, FETCHED) == (
        dt.datetime(2023, 7, 9, 19, 20, 36, tzinfo=UTC),
        "jsonld+utc_assumed",
    )
    assert choose_published(record, FETCHED, "Europe/Berlin") == (
        dt.datetime(2023, 7, 9, 17, 20, 36, tzinfo=UTC),  # CEST in July
        "jsonld+source_timezone",
    )
    winter = {**record, "published": "2023-01-09T19:20:36"}
    assert choose_published(winter, FETCHED, "Europe/Berlin")[0] == dt.datetime(
        2023, 1, 9, 18, 20, 36, tzinfo=UTC
    )  # CET in January: the zone's rules, not one fixed offset
    inferred = {
        "published": "2023-07-09T19:20:36+02:00",
        "published_from": "jsonld",
        "published_offset_from": "page",
    }
    assert choose_published(inferred, FETCHED, "America/New_York") == (
        dt.datetime(2023, 7, 9, 17, 20, 36, tzinfo=UTC),  # the page's offset beats the source's
        "jsonld+page_offset",
    )
    stated = {"published": "2023-07-09T19:20:36+02:00", "published_from": "meta"}
    assert choose_published(stated, FETCHED, "America/New_York")[1] == "meta"
    naive_feed = {"feed_published": "2023-07-09 19:20:36"}
    assert choose_published(naive_feed, FETCHED, "Asia/Tokyo") == (
        dt.datetime(2023, 7, 9, 10, 20, 36, tzinfo=UTC),
        "feed+source_timezone",
    )


def test_through_extraction_a_naive_page_time_is_read_in_the_sources_zone() -> None:
    url = "https://hafen.example/politik/hafenplan"
    extracted = extract_page(page(jsonld("2023-07-09T19:20:36")), url)
    assert extracted.published == "2023-07-09T19:20:36" and extracted.offset_from is None
    record = {
        "url": url,
        "fetched_at": FETCHED.isoformat(),
        "extractor": extracted.extractor,
        "text": extracted.text,
        "title": extracted.title,
        "published": extracted.published,
        "published_from": extracted.published_from,
        "published_offset_from": extracted.offset_from,
    }
    row = build_article(record, "hafen", "Hafen", "run-1", "Europe/Berlin")
    assert row["published_at"] == dt.datetime(2023, 7, 9, 17, 20, 36, tzinfo=UTC)
    assert row["date_source"] == "jsonld+source_timezone"
    extracted = extract_page(page(jsonld("2023-07-09T19:20:36", "2023-07-10T08:05:00+03:00")), url)
    assert extracted.offset_from == "page"
    row = build_article(
        {**record, "published": extracted.published, "published_offset_from": "page"},
        "hafen",
        "Hafen",
        "run-1",
        "Europe/Berlin",
    )
    assert row["published_at"] == dt.datetime(2023, 7, 9, 16, 20, 36, tzinfo=UTC)
    assert row["date_source"] == "jsonld+page_offset"


def test_a_sources_timezone_must_be_an_iana_name(tmp_path: Path) -> None:
    def sources(zone: str) -> Path:
        path = tmp_path / "sources.yaml"
        path.write_text(
            "sources:\n  - id: hafen\n    name: Hafen\n    feeds: [https://hafen.example/rss]\n"
            f"    timezone: {zone}\n",
            encoding="utf-8",
        )
        return path

    assert load_sources(sources("Europe/Berlin")).sources[0].timezone == "Europe/Berlin"
    for wrong in ("Mars/Olympus", "CEST", "'+02:00'", "''"):
        with pytest.raises(ConfigError) as caught:
            load_sources(sources(wrong))
        message = str(caught.value)
        assert "source 'hafen' has timezone" in message and "'Europe/Berlin'" in message
        assert len(message.splitlines()) == 1
