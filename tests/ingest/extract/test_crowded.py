"""Tags with more attributes than the HTML parser reads in reasonable time."""

from __future__ import annotations

import time

import pytest

from ingest.extract.crowded import CHECKED_FROM, MAX_ATTRIBUTES, crowded_tag

PAD = b"<p>" + b"word " * (CHECKED_FROM // 5) + b"</p>"  # a page large enough to be searched


def page(tag: bytes) -> bytes:
    return b"<html><head><title>T</title></head><body>" + tag + PAD + b"</body></html>"


@pytest.mark.parametrize(
    ("attribute", "count"),
    [
        (b"a{n}", 5_000),  # names alone
        (b'a{n}=">"', 5_000),  # quoted values holding the character that ends a tag
        (b"a{n}='<x'", 5_000),
        (b"a{n}=1", MAX_ATTRIBUTES + 1),
    ],
)
def test_a_tag_over_the_limit_is_found_however_its_values_are_written(
    attribute: bytes, count: int
) -> None:
    tag = b"<div " + b" ".join(attribute.replace(b"{n}", b"%d" % n) for n in range(count)) + b">"
    assert crowded_tag(page(tag)) == count


@pytest.mark.parametrize(
    "html",
    [
        # as many attribute-like words in a script, a style sheet and a comment
        b"<script>if (a <b " + b" x" * 5_000 + b") {}</script>",
        b"<style>a <b " + b" x" * 5_000 + b"</style>",
        b"<!-- <div " + b" x" * 5_000 + b" -->",
        # a long quoted value (an inline image) and a stray quote in a real page's tag
        b'<img alt="x" src="data:image/png;base64,' + b"A" * 100_000 + b'">',
        b'<a href="/life" aria-expanded="false" dropdown with sub links" data-x="y">Life</a>'
        + b'<p title="'
        + b"long text " * 3_000
        + b'">x</p>',
        b"<div " + b" ".join(b"a%d" % n for n in range(MAX_ATTRIBUTES)) + b">",  # at the limit
    ],
)
def test_what_the_parser_does_not_read_as_attributes_is_not_counted(html: bytes) -> None:
    assert crowded_tag(page(html)) is None


def test_a_small_page_is_not_searched_and_a_large_one_in_linear_time() -> None:
    small = b"<div " + b" ".join(b"a%d" % n for n in range(5_000)) + b">x</div>"
    assert len(small) < CHECKED_FROM and crowded_tag(small) is None
    # an unclosed quote and unclosed scripts and comments: each search resumes where the last
    # one ended, so this is linear in the page, not quadratic
    hostile = page(b'<a b="' + b"<script <!-- <div x=' " * 200_000)
    started = time.process_time()
    crowded_tag(hostile)
    assert time.process_time() - started < 5  # (a quadratic search would take hours)
