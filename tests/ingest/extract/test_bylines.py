"""Bylines printed by the headline, and their place among the author layers."""

from __future__ import annotations

import pytest
from lxml import html as lxml_html

from ingest.extract.authors import Byline, clean_authors, read_bylines
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


def test_author_links_joined_by_a_comma_or_a_conjunction_are_one_byline() -> None:
    links = '<a href="/author/ann">Ann Lee</a>, <a href="/author/ole">Ole Berg</a> & <a href="/author/mira">Mira Lund</a>'
    assert printed_bylines(
        _tree(f"<h1>Harbour cranes arrive</h1><p>By {links}</p><p>{PROSE}</p>")
    ) == ["Ann Lee, Ole Berg, Mira Lund"]
    # a reviewer is a byline of its own
    reviewed = '<p>By <a href="/author/ann">Ann Lee</a> | Fact-checked by <a href="/author/ole">Ole Berg</a></p>'
    assert printed_bylines(_tree(f"<h1>Harbour cranes arrive</h1>{reviewed}<p>{PROSE}</p>")) == [
        "Ann Lee"
    ]


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


# ----------------------------------------------------------------- people, not furniture


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # a bracket the byline's end cut open; initials in brackets after the name
        (["Elena Oberholzer (obe"], ("Elena Oberholzer",)),
        (["Elena Oberholzer (obe)"], ("Elena Oberholzer",)),
        # photo and image credits are not bylines, in any of their languages
        (["Foto: Ole Berg"], ()),
        (["Photo: Ole Berg", "Bild: Ole Berg", "Image: Ole Berg", "Credit: Ole Berg"], ()),
        (["Ann Lee, Foto: Ole Berg"], ("Ann Lee",)),
        # bare initials and prepositions left over from a byline
        (["Amw"], ()),
        (["in"], ()),
        (["JW"], ()),
        (["von"], ()),
        # one-word names stay names
        (["Ann"], ("Ann",)),
        (["Maria", "Katerina"], ("Maria", "Katerina")),
        # every author of a byline of several
        (["Ann Lee, Ole Berg and Mira Lund"], ("Ann Lee", "Ole Berg", "Mira Lund")),
        (["Ann Lee, Ole Berg, and Mira Lund"], ("Ann Lee", "Ole Berg", "Mira Lund")),
        (["Anna Schmidt und Jonas Weber"], ("Anna Schmidt", "Jonas Weber")),
        (
            ["Von Anna Schmidt, Jonas Weber und Eva Kunz"],
            ("Anna Schmidt", "Jonas Weber", "Eva Kunz"),
        ),
        # Japanese and Korean bylines
        (["文・山田太郎"], ("山田太郎",)),
        (["山田太郎 記者"], ("山田太郎",)),
        (["記者 김철수"], ("김철수",)),
        (["김철수 기자"], ("김철수",)),
        (["김철수 기자 kim@harbour.example"], ("김철수",)),
        (["김철수·이영희 기자"], ("김철수", "이영희")),
        (["写真・山田太郎"], ()),
    ],
)
def test_bylines_name_people_only(raw: list[str], expected: tuple[str, ...]) -> None:
    assert clean_authors(raw) == expected


def test_the_host_is_not_a_person() -> None:
    assert clean_authors(["Nieuwsblad Be"], host="www.nieuwsblad.be") == ()
    assert clean_authors(["Sportschau De"], host="www.sportschau.de") == ()
    assert clean_authors(["sportschau.de"], host="www.sportschau.de") == ()
    assert clean_authors(["HARBOUR GAZETTE"], ["Harbour Gazette"]) == ()
    # a personal site is named after its owner; a brand may sign its own posts
    assert clean_authors(["Kira Lund"], host="kiralund.example") == ("Kira Lund",)
    assert clean_authors(["Sportschau"], host="www.sportschau.de") == ("Sportschau",)


@pytest.mark.parametrize(
    ("raw", "authors", "credits"),
    [
        (["Jane Doe, Reuters"], ("Jane Doe",), ("Reuters",)),
        (["dpa/AFP"], (), ("dpa", "AFP")),
        (["Von Jane Doe (dpa)"], ("Jane Doe",), ("dpa",)),
        (
            ["By Ann Lee and Ole Berg, Associated Press"],
            ("Ann Lee", "Ole Berg"),
            ("Associated Press",),
        ),
        (["REUTERS", "Reuters Staff"], (), ("Reuters",)),
        (["BBC News"], (), ("BBC News",)),
        (["AFP-Reuters"], (), ("AFP", "Reuters")),
        # short agency names count in their own spelling or in capitals only: first names
        (["Ani Berg", "Sid"], ("Ani Berg",), ()),
    ],
)
def test_agencies_are_credits_not_authors(
    raw: list[str], authors: tuple[str, ...], credits: tuple[str, ...]
) -> None:
    assert read_bylines(raw) == Byline(authors, credits)


@pytest.mark.parametrize(
    "header",
    [
        "<p>文・山田太郎</p>",
        "<p>山田太郎 記者</p>",
        "<p>김철수 기자 kim@harbour.example</p>",
        "<p>記者 김철수</p>",
    ],
)
def test_japanese_and_korean_bylines_are_read(header: str) -> None:
    body = "<p>" + "港に新しいクレーンが到着し、ターミナルの取扱量は二倍になる。" * 20 + "</p>"
    found = printed_bylines(_tree(f"<h1>クレーン到着</h1>{header}{body}"))
    assert found and clean_authors(found) in (("山田太郎",), ("김철수",))


def article(header: str, head: str = "") -> str:
    return (
        f"<html><head><title>Harbour cranes arrive</title>{head}</head><body><article>"
        f"<h1>Harbour cranes arrive</h1>{header}<p>{PROSE}</p></article></body></html>"
    )


@pytest.mark.usefixtures("no_author_search")
def test_a_byline_of_author_links_names_them_all_and_its_credits() -> None:
    header = (
        '<p>By <a href="/author/ann-lee">Ann Lee</a> and <a href="/author/ole-berg">Ole Berg</a>'
        "</p><p>By Reuters</p>"
    )
    page = extract_page(article(header).encode(), "https://www.harbour-news.example/a/1")
    assert (page.authors, page.authors_source, page.credits) == (
        ("Ann Lee", "Ole Berg"),
        "byline",
        ("Reuters",),
    )


@pytest.mark.usefixtures("no_author_search")
def test_the_printed_byline_wins_over_metadata_naming_only_the_first_author() -> None:
    head = '<meta name="author" content="Ann Lee">'
    header = '<p>By <a href="/author/ann-lee">Ann Lee</a>, <a href="/author/ole">Ole Berg</a></p>'
    page = extract_page(article(header, head).encode(), "https://www.harbour-news.example/a/1")
    assert (page.authors, page.authors_source) == (("Ann Lee", "Ole Berg"), "byline")
    # metadata naming someone else keeps its place
    head = '<meta name="author" content="Mira Lund">'
    page = extract_page(article(header, head).encode(), "https://www.harbour-news.example/a/1")
    assert (page.authors, page.authors_source) == (("Mira Lund",), "meta")


def test_an_agency_as_the_json_ld_author_is_a_credit() -> None:
    ld = (
        '{"@type": "NewsArticle", "author": [{"@type": "Person", "name": "Ann Lee"},'
        ' {"@type": "Organization", "name": "dpa"}]}'
    )
    head = f'<script type="application/ld+json">{ld}</script>'
    page = extract_page(article("", head).encode(), "https://www.harbour-news.example/a/1")
    assert (page.authors, page.authors_source, page.credits) == (("Ann Lee",), "jsonld", ("dpa",))


def test_without_authors_there_is_no_authors_source() -> None:
    page = extract_page(article("<p>Foto: Ole Berg</p>").encode(), "https://harbour.example/a/1")
    assert (page.authors, page.authors_source) == ((), None)
