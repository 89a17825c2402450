from __future__ import annotations

import datetime as dt

import pytest

from transforms.articles import build_article, choose_published
from transforms.normalise import clean_line, clean_text, content_hash, parse_timestamp

UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-04-06T11:03:23.682Z", dt.datetime(2023, 4, 6, 11, 3, 23, 682000, tzinfo=UTC)),
        ("2023-04-06T13:03:23+02:00", dt.datetime(2023, 4, 6, 11, 3, 23, tzinfo=UTC)),
        # across midnight, forwards and backwards
        ("2023-04-07T00:30:00+02:00", dt.datetime(2023, 4, 6, 22, 30, tzinfo=UTC)),
        ("2023-04-06T21:15:00-05:00", dt.datetime(2023, 4, 7, 2, 15, tzinfo=UTC)),
        ("2023-04-06T05:45:00+05:45", dt.datetime(2023, 4, 6, 0, 0, tzinfo=UTC)),
        ("Thu, 06 Apr 2023 23:30:00 -0200", dt.datetime(2023, 4, 7, 1, 30, tzinfo=UTC)),
        ("2023-04-06", dt.datetime(2023, 4, 6, tzinfo=UTC)),
        (
            "2023-04-06T11:03:23",
            dt.datetime(2023, 4, 6, 11, 3, 23, tzinfo=UTC),
        ),  # naive: taken as UTC
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_timestamp_to_utc(value: str | None, expected: dt.datetime | None) -> None:
    parsed = parse_timestamp(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == dt.timedelta(0)


def test_milliseconds_are_kept() -> None:
    parsed = parse_timestamp("2023-04-06T11:03:23.682Z")
    assert parsed is not None and parsed.microsecond == 682000


def test_clean_text_collapses_spaces_and_keeps_paragraphs() -> None:
    raw = "  First\u00a0 line  \r\n\r\n\n  second\tline \n\n"
    assert clean_text(raw) == "First line\nsecond line"


def test_clean_text_collapses_every_kind_of_space_within_a_line() -> None:
    import re
    import sys
    import unicodedata

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if re.match(r"\s", chr(c))]
    assert len(spaces) > 20 and "\u00a0" in spaces and "\u3000" in spaces
    # a line's own whitespace, every kind: what the regular expression [^\S\n]+ collapsed
    raw = "\n".join(f" a{s}{s}b{s}" for s in spaces if s not in "\n\r")
    expected = [
        re.sub(r"[^\S\n]+", " ", line).strip()
        for line in re.sub(r"\n\s*\n+", "\n", unicodedata.normalize("NFC", raw)).split("\n")
    ]
    assert clean_text(raw) == "\n".join(line for line in expected if line)
    assert clean_text("a\u200b b\u2066c") == "a bc"  # invisible characters out first


def test_content_hash_folds_case_width_whitespace_punctuation_and_boilerplate_lines() -> None:
    assert content_hash("Hello  World\nAgain") == content_hash("hello world again")
    assert content_hash("\uff28\uff45\uff4c\uff4c\uff4f") == content_hash(
        "hello"
    )  # full-width letters
    # sites differ in quotes and dashes, not in words
    assert content_hash("\u201cYes\u201d \u2014 he said.") == content_hash('"Yes" - he said')
    # attribution and prompts around a republished article are not its words
    assert content_hash("Source: merkur\nThe text.\nSign up for our newsletter") == content_hash(
        "The text."
    )
    # prose that merely starts like a prompt stays
    assert content_hash("Sources said the text was long.") != content_hash(
        "said the text was long."
    )
    assert content_hash("hello world") != content_hash("hello there world")


def test_published_time_prefers_page_then_feed_then_header_and_never_the_future() -> None:
    fetched = dt.datetime(2023, 4, 8, 12, 0, tzinfo=UTC)
    record = {
        "published": "2023-04-06T11:03:23.682Z",
        "published_from": "meta",
        "feed_published": "2023-04-06T11:03:00+00:00",
        "last_modified": "Fri, 07 Apr 2023 10:00:00 GMT",
    }
    assert choose_published(record, fetched) == (
        dt.datetime(2023, 4, 6, 11, 3, 23, 682000, tzinfo=UTC),
        "meta",
    )
    # a day-only page date loses to the feed's full timestamp
    day_only = {**record, "published": "2023-04-06", "published_from": "htmldate"}
    assert choose_published(day_only, fetched) == (
        dt.datetime(2023, 4, 6, 11, 3, tzinfo=UTC),
        "feed",
    )
    future = {**record, "published": "2031-01-01T00:00:00Z", "feed_published": None}
    assert choose_published(future, fetched) == (
        dt.datetime(2023, 4, 7, 10, 0, tzinfo=UTC),
        "http_header",
    )
    assert choose_published({}, fetched) == (fetched, "fetch_time")


def test_bidi_and_zero_width_controls_leave_titles_and_text() -> None:
    record = {
        "url": "https://example.com/a",
        "fetched_at": "2026-11-25T12:00:00+00:00",
        "extractor": "test",
        "title": "\u202egnilaeS\u202c Harbour\u200b plan \u2066approved\u2069\ufeff",
        "text": "The coun\u200bcil met.\u200f",
        "authors": ["Ana\u200e Silva"],
    }
    row = build_article(record, "s", "S", "run")
    assert row["title"] == "gnilaeS Harbour plan approved"
    assert row["text"] == "The council met." and row["authors"] == ["Ana Silva"]
    # joiners that spelling needs stay: Persian's ZWNJ, emoji sequences' ZWJ
    assert (
        clean_line("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645")
        == "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    )
    assert clean_text("\U0001f469\u200d\U0001f4bb") == "\U0001f469\u200d\U0001f4bb"


def test_the_title_and_authors_keep_their_layer_and_the_feed_is_one() -> None:
    record = {
        "url": "https://example.com/a",
        "fetched_at": "2026-11-25T12:00:00+00:00",
        "extractor": "test",
        "text": "The council met.",
        "title": "Harbour plan approved",
        "title_source": "heading",
        "authors": ["Ana Silva"],
        "authors_source": "byline",
        "credits": ["Reuters", "Reuters"],
        "feed_title": "Harbour plan approved (feed)",
        "feed_authors": ["Feed Writer"],
    }
    row = build_article(record, "s", "S", "run")
    assert (row["title"], row["title_source"]) == ("Harbour plan approved", "heading")
    assert (row["authors"], row["authors_source"], row["credits"]) == (
        ["Ana Silva"],
        "byline",
        ["Reuters"],
    )
    bare = {**record, "title": None, "title_source": None, "authors": [], "authors_source": None}
    row = build_article(bare, "s", "S", "run")
    assert (row["title"], row["title_source"]) == ("Harbour plan approved (feed)", "feed")
    assert (row["authors"], row["authors_source"]) == (["Feed Writer"], "feed")
    row = build_article({**bare, "feed_title": None, "feed_authors": []}, "s", "S", "run")
    assert (row["title"], row["title_source"], row["authors"], row["authors_source"]) == (
        None,
        None,
        [],
        None,
    )


def test_every_layer_a_source_column_names_is_in_the_one_vocabulary() -> None:
    from transforms import provenance

    fetched = dt.datetime(2023, 4, 8, 12, 0, tzinfo=UTC)
    for layer in ("jsonld", "meta", "time_element", "url", "byline", "htmldate"):
        source = choose_published(
            {"published": "2023-04-06T11:03:00+00:00", "published_from": layer}, fetched
        )[1]
        assert source == layer and source in provenance.LAYERS
    assert provenance.DAY_LAYERS <= provenance.LAYERS
