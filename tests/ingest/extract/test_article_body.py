from __future__ import annotations

import pytest
from lxml import etree
from lxml import html as lxml_html

from ingest.extract.article_body import (
    _drops_content_items,
    fallback_metadata,
    page_day,
    trafilatura_fields,
    with_headings,
    with_interior_blocks,
    writes_day,
)
from ingest.extract.metadata import read_metadata

PROSE = (
    "The council met on Tuesday evening to discuss the budget for the coming year, "
    "and members spoke at length about roads, schools and the library."
)


def _tree(body: str, head: str = "") -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def test_interior_blocks_of_the_wide_text_are_added_in_place() -> None:
    narrow = "First paragraph.\nLast paragraph."
    wide = "Menu\nFirst paragraph.\n- a list item the narrow pass dropped\nLast paragraph.\nRelated"
    assert with_interior_blocks(narrow, wide) == (
        "First paragraph.\n- a list item the narrow pass dropped\nLast paragraph."
    )


def test_blocks_before_or_after_the_shared_text_stay_out() -> None:
    narrow = "First paragraph.\nLast paragraph."
    wide = "Sign up for our newsletter\nFirst paragraph.\nLast paragraph.\nMore stories"
    assert with_interior_blocks(narrow, wide) == narrow


def test_lines_only_the_narrow_text_has_are_kept() -> None:
    narrow = "First paragraph.\nA line only precision found.\nLast paragraph."
    assert with_interior_blocks(narrow, "First paragraph.\nLast paragraph.") == narrow


def test_section_headings_go_back_before_the_text_they_introduce() -> None:
    budget = "The budget grows by four per cent, most of it for road repairs across town."
    tree = _tree(
        "<aside><h2>Most read</h2><p>A story from elsewhere on the site today.</p></aside>"
        f"<article><p>{PROSE}</p><h2>What the money buys</h2><h3>Roads</h3><p>{budget}</p>"
        "<h2>Newsletter</h2><p>Sign up to get the council's weekly briefing by email.</p>"
        "</article>"
    )
    text = f"{PROSE}\n{budget}"
    assert with_headings(tree, text) == f"{PROSE}\nWhat the money buys\nRoads\n{budget}"
    # a heading the text already has is not repeated
    assert with_headings(tree, f"{PROSE}\nRoads\n{budget}").count("Roads") == 1


def test_section_headings_survive_trafilaturas_precision_mode() -> None:
    sections = "".join(
        # headings with a table-of-contents anchor inside (a common blog plugin's markup):
        # trafilatura's precision mode drops them
        f"<h2><span class='toc-section' id='{name}'></span>{name} section"
        "<span class='toc-section-end'></span></h2>"
        f"<p>{PROSE.replace('council', name)}</p>"
        for name in ("Harbour", "Library", "Schools")
    )
    body = f"<article><h1>Budget night</h1><p>{PROSE}</p>{sections}</article>"
    text = trafilatura_fields(_tree(body), "https://example.org/news/budget")["text"]
    lines = text.split("\n")
    for name in ("Harbour", "Library", "Schools"):
        assert lines[lines.index(f"{name} section") + 1].startswith(f"The {name} met")


def test_prose_list_items_missing_from_the_text_call_for_the_recall_pass() -> None:
    item = "<li>This list item is a full sentence of the article itself.</li>"
    tree = _tree(f"<article><p>{PROSE}</p><ul>{item * 3}</ul></article>")
    assert _drops_content_items(tree, PROSE)
    kept = PROSE + "\n" + "\n".join(["- This list item is a full sentence."] * 3)
    assert not _drops_content_items(tree, kept)


def test_menus_and_link_lists_do_not_call_for_the_recall_pass() -> None:
    links = "<li><a href='/a'>A related story with a long linked headline here</a></li>"
    menu = "<nav><ul><li>Home page of the site and all its many sections</li></ul></nav>"
    tree = _tree(f"{menu}<article><p>{PROSE}</p><ul>{links * 4}</ul></article>")
    assert not _drops_content_items(tree, PROSE)


def test_a_list_between_paragraphs_is_in_the_body_and_the_menu_is_not() -> None:
    items = "".join(
        f"<li>Step {n}: check the {part} carefully before you go any further today.</li>"
        for n, part in enumerate(("brakes", "tyres", "lights"), 1)
    )
    body = (
        "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article><h1>Bike checks</h1>"
        f"<p>{PROSE}</p><ul>{items}</ul><p>{PROSE.replace('council', 'board')}</p></article>"
    )
    text = trafilatura_fields(_tree(body), "https://example.org/news/bike-checks")["text"]
    assert "board met on Tuesday" in text
    assert "Step 2: check the tyres" in text
    assert "Home" not in text.split("\n")


def test_the_tree_is_left_as_it_was() -> None:
    tree = _tree(f"<div class='share'>Share</div><article><p>{PROSE}</p></article>")
    before = etree.tostring(tree)
    trafilatura_fields(tree, "https://example.org/a", read_metadata(tree))
    assert etree.tostring(tree) == before


def test_the_day_in_the_declared_address_is_read() -> None:
    head = '<link rel="canonical" href="https://example.org/2021/03/04/story/">'
    tree = _tree(f"<p>{PROSE}</p>", head)
    assert page_day(tree, "https://example.org/story", read_metadata(tree)) == "2021-03-04"


def test_a_copyright_year_or_a_bare_month_is_not_a_day_of_publication() -> None:
    footer = "<footer>\u00a9 2026 Example Gazette. All rights reserved.</footer>"
    tree = _tree(f"<article><p>{PROSE}</p></article>{footer}")
    assert page_day(tree, "https://example.org/story", read_metadata(tree)) is None
    tree = _tree(f"<article><p>Posted in March 2024.</p><p>{PROSE}</p></article>")
    assert page_day(tree, "https://example.org/story", read_metadata(tree)) is None


def test_a_first_of_the_month_the_page_writes_is_kept() -> None:
    for stated in ("Published 1 March 2024", "Posted March 1st, 2024", "Stand: 01.03.2024"):
        tree = _tree(f"<article><p>{stated}</p><p>{PROSE}</p></article>")
        assert page_day(tree, "https://example.org/story", read_metadata(tree)) == "2024-03-01"


@pytest.mark.parametrize(
    ("html", "day", "written"),
    [
        ('<time datetime="2025-12-01T10:00:00Z">Monday</time>', "2025-12-01", True),
        ("<p>1er janvier 2026</p>", "2026-01-01", True),
        ("<p>Updated: 01/03/2024</p>", "2024-03-01", True),
        ("<p>11/03/2024</p>", "2024-03-01", False),
        ("<p>March 11, 2024</p>", "2024-03-01", False),
        ("<p>March 2024</p>", "2024-03-01", False),
    ],
)
def test_writes_day(html: str, day: str, written: bool) -> None:
    assert writes_day(_tree(html), day) is written


def test_the_url_can_write_the_day() -> None:
    assert writes_day(_tree("<p>text</p>"), "2024-03-01", "https://example.org/2024/03/01/a")


def test_fallback_fields_are_read_only_where_the_metadata_lacks_them() -> None:
    head = (
        "<title>Council passes budget - Example Gazette</title>"
        '<meta property="og:title" content="Council passes budget">'
        '<meta property="og:site_name" content="Example Gazette">'
    )
    tree = _tree(f"<h1>Council passes budget</h1><p>{PROSE}</p>", head)
    found = fallback_metadata(tree, "https://example.org/a", read_metadata(tree))
    assert found["title"] is None and found["sitename"] == "Example Gazette"
    assert fallback_metadata(tree, "https://example.org/a", None)["title"] == (
        "Council passes budget"
    )
