"""Bylines printed by the headline, and their place among the author layers."""

from __future__ import annotations

import pytest
from lxml import html as lxml_html

from ingest.extract.bylines import printed_bylines
from ingest.extract.page import extract_page

PROSE = " ".join(
    f"The harbour board met on Tuesday to weigh plan {n} for the ferry terminal and its cranes."
    for n in range(30)
)


def _tree(body: str) -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(f"<html><body>{body}</body></html>")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<p>By <a href="/author/ann-lee">Ann Lee</a> · 3 May 2025</p>', ["Ann Lee"]),
        ("<p>By Ann Lee | Harbour news</p>", ["Ann Lee"]),
        (
            "<div><span>Written by</span><span>Ann Lee and Ole Berg</span></div>",
            ["Ann Lee and Ole Berg"],
        ),
        ('<span itemprop="author"><span itemprop="name">Ann Lee</span></span>', ["Ann Lee"]),
        ('<a rel="author" href="/u/1">Ann Lee</a>', ["Ann Lee"]),
        # credits and reviewers are not the article's author
        ("<figure><figcaption>Photo by Ole Berg</figcaption></figure>", []),
        ('<p><a href="#">Medically reviewed</a> by <a href="/authors/ole">Ole Berg</a></p>', []),
        # not a sort control, a profile link in the menu, a sentence that starts with "By"
        ('<select><option>Sort by Rating</option></select><a href="/profile/me">Ada</a>', []),
        (f"<p>By 2030 the terminal will handle twice the cargo. {PROSE[:80]}</p>", []),
    ],
)
def test_bylines_by_the_headline(header: str, expected: list[str]) -> None:
    assert printed_bylines(_tree(f"<h1>Harbour cranes arrive</h1>{header}<p>{PROSE}</p>")) == (
        expected
    )


def test_bylines_far_from_the_headline_or_without_one_are_not_read() -> None:
    footer = '<p>More from <a href="/author/ole-berg">Ole Berg</a></p>'
    assert printed_bylines(_tree(f"<h1>Harbour cranes arrive</h1><p>{PROSE}</p>{footer}")) == []
    assert printed_bylines(_tree(f"<p>By Ann Lee</p><p>{PROSE}</p>")) == []


@pytest.mark.usefixtures("no_author_search")
def test_a_printed_byline_fills_authors_and_trafilatura_is_not_searched() -> None:
    page = (
        "<html><head><title>Harbour cranes arrive</title></head><body><article>"
        '<h1>Harbour cranes arrive</h1><p>By <a href="/author/ann-lee">Ann Lee</a></p>'
        f"<p>{PROSE}</p></article></body></html>"
    )
    found = extract_page(page.encode(), "https://example.org/news/cranes")
    assert found.authors == ("Ann Lee",)
