"""The printed-date layer (ingest.extract.dates) and how choose_date combines it with metadata."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from lxml import html as lxml_html

from ingest.extract.dates import byline_date, printed_dates, same_instant, url_day
from ingest.extract.metadata import read_metadata
from ingest.extract.page import extract_page

NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
BODY = " ".join(
    f"Paragraph {i} of the story says what happened at the harbour and who was there."
    for i in range(12)
)


def tree(body: str, lang: str = "en") -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(f'<html lang="{lang}"><body>{body}</body></html>')


def days(body: str, lang: str = "en") -> list[tuple[str, str | None]]:
    return [(f.day, f.label) for f in printed_dates(tree(body, lang), now=NOW)]


def article(byline: str, head: str = "", url_path: str = "") -> tuple[bytes, str]:
    page = (
        f"<html lang='en'><head><title>Harbour crane deal</title>{head}</head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>Harbour crane deal signed</h1>"
        f"<div class='byline'>{byline}</div><p>{BODY}</p></article></body></html>"
    )
    return page.encode(), f"https://news.example/{url_path or 'story'}"


def jsonld(**fields: str) -> str:
    return f'<script type="application/ld+json">{json.dumps(fields)}</script>'


@pytest.mark.parametrize(
    ("text", "lang", "day"),
    [
        ("March 3, 2024", "en", "2024-03-03"),
        ("Mar. 3rd 2024", "en", "2024-03-03"),
        ("3 March 2024", "en", "2024-03-03"),
        ("2024-03-03", "en", "2024-03-03"),
        ("03/04/2024", "en-US", "2024-03-04"),  # month first in the US
        ("03/04/2024", "en-GB", "2024-04-03"),  # day first elsewhere
        ("13/04/2024", "en-US", "2024-04-13"),  # a first number above 12 is the day
        ("3.4.2024", "en", "2024-04-03"),  # dots: day first
        ("3. März 2024", "de", "2024-03-03"),
        ("3 de marzo de 2024", "es", "2024-03-03"),
    ],
)
def test_written_date_formats(text: str, lang: str, day: str) -> None:
    assert days(f"<h1>Headline</h1><p>By Ann Lee {text}</p>", lang) == [(day, None)]


def test_labels_from_words_and_markup() -> None:
    found = days(
        "<h1>Headline</h1><p>Published on March 1, 2024. Last updated: March 5, 2024</p>"
        "<span class='post-date-modified'>March 6, 2024</span>"
        "<span itemprop='datePublished'>March 2, 2024</span>"
    )
    assert found == [
        ("2024-03-01", "published"),
        ("2024-03-05", "updated"),
        ("2024-03-06", "updated"),
        ("2024-03-02", "published"),
    ]


def test_time_element_counts_by_its_machine_readable_value() -> None:
    found = printed_dates(
        tree('<h1>Headline</h1><p><time datetime="2024-03-04T01:30:00Z">March 3, 2024</time></p>'),
        now=NOW,
    )
    assert [(f.day, f.stamp) for f in found] == [("2024-03-04", "2024-03-04T01:30:00Z")]


def test_future_dates_scripts_and_two_digit_years_without_label_are_ignored() -> None:
    assert days("<h1>Headline</h1><p>Event on July 4, 2030</p><script>'2024-01-01'</script>") == []
    assert days("<h1>Headline</h1><p>Scored 3/4/24 of tests</p>") == []
    assert days("<h1>Headline</h1><p>Updated 3/4/24</p>") == [("2024-03-04", "updated")]


def test_byline_date_prefers_published_then_unlabelled_then_updated_near_the_headline() -> None:
    def pick(body: str) -> str | None:
        found = byline_date(printed_dates(tree(body), now=NOW))
        return found.day if found else None

    assert pick("<h1>Headline</h1><p>Updated May 2, 2024 · Published May 1, 2024</p>") == (
        "2024-05-01"
    )
    assert pick("<h1>Headline</h1><p>Updated May 2, 2024 · By Ann, May 1, 2024</p>") == (
        "2024-05-01"
    )
    assert pick("<h1>Headline</h1><p>Updated May 2, 2024</p>") == "2024-05-02"
    # a date far below the headline belongs to the body, not the byline
    assert pick(f"<h1>Headline</h1><p>{BODY}</p><p>On May 1, 2024 the crane came.</p>") is None
    # a kicker just above the headline counts, a sidebar list far above does not
    assert pick("<p>May 1, 2024 · Local</p><h1>Headline</h1>") == "2024-05-01"
    assert pick(f"<p>Jan 9, 2024 older story</p><p>{BODY}</p><h1>Headline</h1>") is None


def test_url_day() -> None:
    assert url_day("https://x.example/2024/03/05/crane-deal", NOW) == "2024-03-05"
    assert url_day("https://x.example/world/2024/mar/05/crane-deal", NOW) == "2024-03-05"
    assert url_day("https://x.example/news/2024-03-05-crane-deal.html", NOW) == "2024-03-05"
    assert url_day("https://x.example/2024/03/crane-deal", NOW) is None  # no day
    assert url_day("https://x.example/2030/03/05/plan", NOW) is None  # the future
    assert url_day("https://x.example/item/120240305991", NOW) is None  # part of an id


def test_same_instant_across_time_zones() -> None:
    assert same_instant("2024-07-04", "2024-07-05T00:04:00+00:00")  # evening in New York
    assert same_instant("2024-07-05", "2024-07-04T23:30:00Z")  # morning in Berlin
    assert not same_instant("2024-07-03", "2024-07-05T00:04:00+00:00")
    assert not same_instant("2024-07-04", "2024-07-05")  # a bare day names no instant


def test_printed_date_wins_over_stale_metadata_and_keeps_the_modified_time() -> None:
    head = jsonld(
        **{
            "@type": "NewsArticle",
            "datePublished": "2019-02-01T09:00:00Z",
            "dateModified": "2024-03-03T10:15:00+01:00",
        }
    )
    page = extract_page(*article("By Ann Lee · March 3, 2024", head))
    assert (page.published, page.published_from) == ("2024-03-03T10:15:00+01:00", "jsonld")


def test_printed_updated_date_keeps_the_stated_publication_time() -> None:
    head = jsonld(**{"@type": "NewsArticle", "datePublished": "2024-02-01T09:00:00Z"})
    page = extract_page(*article("By Ann Lee · Updated March 3, 2024", head))
    assert (page.published, page.published_from) == ("2024-02-01T09:00:00Z", "jsonld")


def test_printed_day_alone_is_a_byline_day() -> None:
    page = extract_page(*article("By Ann Lee · Published 3 March 2024"))
    assert (page.published, page.published_from) == ("2024-03-03", "byline")


def test_printed_local_day_of_a_utc_time_keeps_the_time() -> None:
    head = '<meta property="article:published_time" content="2024-03-04T01:30:00Z">'
    page = extract_page(*article("By Ann Lee · March 3, 2024", head))
    assert (page.published, page.published_from) == ("2024-03-04T01:30:00Z", "meta")


def test_url_day_wins_and_keeps_a_stated_time_on_the_same_day() -> None:
    head = '<meta property="article:published_time" content="2024-03-05T08:00:00+01:00">'
    page = extract_page(*article("By Ann Lee", head, "2024/03/05/crane"))
    assert page.published == "2024-03-05T08:00:00+01:00"
    page = extract_page(*article("By Ann Lee", head, "2024/03/04/crane"))
    assert (page.published, page.published_from) == ("2024-03-04", "url")


def test_webpage_node_dates_when_no_article_node_states_one() -> None:
    head = jsonld(
        **{
            "@context": "https://schema.org",
            "@type": "WebPage",
            "datePublished": "2024-03-01T08:00:00+00:00",
            "dateModified": "2024-03-02T08:00:00+00:00",
        }
    )
    meta = read_metadata(lxml_html.document_fromstring(f"<html><head>{head}</head></html>"))
    assert (meta.published, meta.published_from) == ("2024-03-01T08:00:00+00:00", "jsonld")
    assert (meta.modified, meta.modified_from) == ("2024-03-02T08:00:00+00:00", "jsonld")
