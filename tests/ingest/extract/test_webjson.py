"""JSON from websites: half an emoji (a lone surrogate escape) and JSON nested past the
parser's limit must not stop a run: the first becomes U+FFFD, the second a ValueError."""

from __future__ import annotations

import json

import pytest

from ingest.discover.feeds import FeedError, parse_feed
from ingest.extract.page import extract_page
from ingest.extract.webjson import web_json

HALF_AN_EMOJI = '{"name": "Jo \\ud83d Doe", "whole": "\\ud83d\\ude00", "\\udc00key": 1}'


def test_lone_surrogates_become_replacement_characters() -> None:
    data = web_json(HALF_AN_EMOJI)
    assert data == {"name": "Jo \ufffd Doe", "whole": "\U0001f600", "\ufffdkey": 1}
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # what the work files do
    assert web_json('{"a": ["b", 1, null]}') == {"a": ["b", 1, None]}


def test_json_nested_past_the_parsers_limit_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        web_json("[" * 100_000 + "]" * 100_000)


def test_a_page_whose_json_ld_holds_half_an_emoji_is_extracted() -> None:
    script = (
        '{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Council vote",'
        ' "author": {"@type": "Person", "name": "Jo \\ud83d Doe"},'
        ' "datePublished": "2026-11-30T08:00:00Z"}'
    )
    deep = "[" * 100_000 + "]" * 100_000  # (a block past the parser's limit is left out)
    body = (
        f'<html><head><script type="application/ld+json">{script}</script>'
        f'<script type="application/ld+json">{deep}</script></head><body><article>'
        "<h1>Council vote</h1>"
        + "<p>The council voted on the budget for the year.</p>" * 12
        + "</article></body></html>"
    ).encode()
    record = extract_page(body, "https://example.org/news/council-vote")
    encoded = json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")
    assert "Jo \ufffd Doe".encode() in encoded


def test_a_json_feed_item_with_half_an_emoji_is_read() -> None:
    feed = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "F", "items": ['
        b'{"id": "1", "url": "https://example.org/a", "title": "Jo \\ud83d Doe"}]}'
    )
    parsed = parse_feed(feed, "https://example.org/feed.json", "application/feed+json")
    (item,) = parsed.items
    assert item.title == "Jo \ufffd Doe"
    with pytest.raises(FeedError):
        parse_feed(b"[" * 100_000, "https://example.org/feed.json", "application/feed+json")
