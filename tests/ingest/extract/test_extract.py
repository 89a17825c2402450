from __future__ import annotations

import pytest

from ingest.demo import DEMO_SITE
from ingest.extract.page import ExtractError, extract_page
from tests.guards import finishes_apart
from tests.ingest.sites import article_html

SEED = (
    DEMO_SITE
    / "limited-times"
    / "news"
    / "2023-04-06-new-putin-lukashenko-plan-russia-apparently-moves-belarus-troops.html"
)
BASE = "http://127.0.0.1:8765"
SEED_URL = f"{BASE}/limited-times/news/{SEED.name}"
CHROME = [
    "Now you can see non-English news",
    "World",
    "Politics",
    "All news articles on 2023-04-06",
    "You may like",
    "Finland joins NATO: what changes",
    "Trends 24h",
    "Storm warning",
    "Latest",
    "© Communities",
    "Privacy",
    "The information on this site is from external sources",
]


def seed_page() -> bytes:
    return SEED.read_bytes().replace(b"{{BASE_URL}}", BASE.encode())


def test_seed_page_fields() -> None:
    page = extract_page(seed_page(), SEED_URL + "?utm_source=rss")
    assert page.title == "New Putin-Lukashenko plan: Russia apparently moves Belarus troops"
    assert page.published == "2023-04-06T11:03:23.682Z"
    assert page.published_from == "meta"
    assert page.canonical == SEED_URL
    assert page.site_name == "The Limited Times"
    assert page.language == "en"
    assert page.extractor == "profile:limited-times@2019-01-01"


def test_seed_page_body_keeps_the_article_and_drops_the_chrome() -> None:
    text = extract_page(seed_page(), SEED_URL).text
    assert "headlined the Russian news agency Tass." in text
    assert "read the Belarusian counterpart Belta." in text
    assert (
        "According to the Ukrainian newspaper Pravda, Russia is planning to transfer some soldiers."
        in text
    )
    assert (
        "It was initially not known whether the two would also comment on the question of soldiers in Belarus."
        in text
    )
    assert not text.startswith("New Putin-Lukashenko plan")  # the headline is the title, not body
    lines = text.split("\n")
    for chrome in CHROME:
        assert all(chrome not in line for line in lines), chrome


def test_page_without_article_text_is_no_text() -> None:
    html = b"<html><head><meta property='og:type' content='article'></head><body><p>Too short.</p></body></html>"
    with pytest.raises(ExtractError) as info:
        extract_page(html, "https://news.example/2023/04/06/story.html")
    assert info.value.reason == "no_text"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/tag/politics/",
        "/category/world",
        "/section/sport/page/2",
        "/topic/cloud/",
        "/hub/science",
    ],
)
def test_section_listing_and_tag_pages_are_not_articles(path: str) -> None:
    items = "".join(
        f"<li><a href='/story/{n}'>Headline number {n} about the council budget</a></li>"
        for n in range(30)
    )
    html = (
        f"<html><head><title>World</title></head><body><h1>World</h1><ul>{items}</ul></body></html>"
    )
    with pytest.raises(ExtractError) as info:
        extract_page(html.encode(), f"https://news.example{path}")
    assert info.value.reason == "not_article"


def test_a_listing_at_an_article_like_path_is_recognised_by_its_links() -> None:
    items = "".join(
        f"<div class='card'><a href='/story/{n}'>Headline number {n} about the council budget and the ferry</a><p>Teaser.</p></div>"
        for n in range(40)
    )
    html = f"<html><head><title>Latest</title></head><body><h1>Latest</h1>{items}</body></html>"
    with pytest.raises(ExtractError) as info:
        extract_page(html.encode(), "https://news.example/latest-news")
    assert info.value.reason == "not_article"


@pytest.mark.parametrize("declare", ["header", "meta"])
def test_legacy_charsets_are_decoded_without_mojibake(declare: str) -> None:
    body = "".join(
        f"<p>Zürich, Absatz {n}: Straßenbahn fährt wieder nach Öffnung der Brücke über die Limmat.</p>"
        for n in range(5)
    )
    meta = '<meta charset="iso-8859-1">' if declare == "meta" else ""
    html = f"<html><head>{meta}<title>Zürich</title></head><body><article><h1>Zürich</h1>{body}</article></body></html>"
    page = extract_page(
        html.encode("iso-8859-1"),
        "https://news.example/z",
        "iso-8859-1" if declare == "header" else None,
    )
    assert "Straßenbahn fährt wieder nach Öffnung der Brücke" in page.text
    assert "Ã" not in page.text


def test_jsonld_graph_date_author_and_headline() -> None:
    html = (
        """<html lang="de-DE"><head>
    <script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"X"},
    {"@type":["NewsArticle"],"headline":"Schlagzeile","datePublished":"2023-04-07T00:30:00+02:00",
     "dateModified":"2023-04-07T07:00:00+02:00","author":[{"@type":"Person","name":"Mira Lund"},{"@type":"Organization","name":"Redaktion"}]}]}
    </script></head><body><article><p>"""
        + "Ein Absatz mit genug Worten für einen Artikel. " * 8
        + "</p></article></body></html>"
    )
    page = extract_page(html.encode(), "https://news.example/de/1")
    assert page.title == "Schlagzeile"
    assert (page.published, page.published_from) == ("2023-04-07T00:30:00+02:00", "jsonld")
    assert page.modified == "2023-04-07T07:00:00+02:00"
    assert page.authors == ("Mira Lund",)
    assert page.language == "de"


def test_the_seed_pages_initials_are_not_an_author() -> None:
    assert extract_page(seed_page(), SEED_URL).authors == ()


def nested(depth: int) -> bytes:
    page = article_html(3)
    return (
        page.replace("<article>", "<div>" * depth + "<article>")
        .replace("</article>", "</article>" + "</div>" * depth)
        .encode()
    )


def test_an_article_nested_deeper_than_libxml2s_default_limit_is_extracted() -> None:
    page = extract_page(nested(600), "https://deep.example/a/3.html")  # default limit: 256
    assert page.title == "Story number 3 from the fixture site"
    assert len(page.text.split()) > 50


def test_an_article_nested_past_the_huge_tree_limit_says_too_deep() -> None:
    with pytest.raises(ExtractError) as info:
        extract_page(nested(3000), "https://deep.example/a/3.html")
    assert info.value.reason == "too_deep" and "2048 levels" in info.value.detail


def test_a_heading_of_many_question_marks_is_compared_in_linear_time() -> None:
    from ingest.extract.titles import _lossy_copy

    # a headline in a script its charset lacked: every character saved as "?"
    assert finishes_apart(_lossy_copy, "?" * 40 + " news", "Новости" * 8 + " news", within_s=20)
    assert not finishes_apart(_lossy_copy, "?" * 40 + "x", "a" * 300, within_s=20)  # took hours
    assert _lossy_copy("Beginner? Guide", "Beginner\u2019s Guide")
    assert not _lossy_copy("Beginner? Guide", "Beginners Guide to it")


def test_a_metadata_date_of_year_one_in_an_offset_is_no_date_and_breaks_nothing() -> None:
    page = (
        article_html(3)
        .replace("2026-11-23T03:15:00Z", "0001-01-01T00:00:00+01:00")  # year 0 in UTC
        .replace("<h1>", '<p class="byline">Published November 23, 2026</p><h1>')
    )
    extracted = extract_page(page.encode(), "https://x.example/a/3.html")  # OverflowError before
    assert (extracted.published, extracted.published_from) == ("2026-11-23", "byline")


def test_the_parsed_tree_has_lxml_htmls_element_classes() -> None:
    """The page is parsed with lxml.html's element classes looked up in C (a faster
    lookup): each element, including the form ones, gets the class lxml.html gives it."""
    from lxml import html as lxml_html

    from ingest.extract.page import _parse

    page = (
        "<html><head><title>t</title></head><body><form action='/s'><label>q</label>"
        "<input name='q'><select name='s'><option>a</option></select><textarea></textarea>"
        "</form><p>text</p></body></html>"
    )
    tree, _ = _parse(page.encode(), BASE, None)
    expected = lxml_html.document_fromstring(page)
    classes = [type(el) for el in tree.iter()]
    assert classes == [type(el) for el in expected.iter()]
    assert lxml_html.FormElement in classes and lxml_html.InputElement in classes


def test_a_page_filling_its_title_and_description_with_megabytes_is_cut_to_the_limits() -> None:
    from ingest.extract.page import DESCRIPTION_CHARS, SITE_NAME_CHARS, TITLE_CHARS

    body = (
        "<html><head><title>" + "Word " * 600_000 + "</title>"
        f'<link rel="canonical" href="https://news.example/{"a" * 3_000_000}.html">'
        f'<meta name="description" content="{"Lead " * 100_000}">'
        f'<meta property="og:site_name" content="{"Site " * 10_000}">'
        "</head><body><article>"
        + "<p>A paragraph of the article body, with enough words in it to count.</p>" * 20
        + "</article></body></html>"
    ).encode()
    page = extract_page(body, "https://news.example/a.html")
    assert page.title is not None and page.description is not None and page.site_name
    assert 0 < len(page.title) <= TITLE_CHARS and page.title.startswith("Word Word")
    assert not page.title.endswith(" ") and page.title.split()[-1] == "Word"  # between words
    assert 0 < len(page.description) <= DESCRIPTION_CHARS
    assert 0 < len(page.site_name) <= SITE_NAME_CHARS
    assert page.canonical is None  # (a cut URL would be another page's)
    assert page.text.startswith("A paragraph of the article body")
