"""The field layers: authors, title and date choice."""

from __future__ import annotations

import json

import pytest

from ingest.extract.authors import clean_authors
from ingest.extract.metadata import PageMetadata
from ingest.extract.page import choose_date
from ingest.extract.titles import _repair, _strip_site, choose_title


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["By Jane Doe and John Smith"], ("Jane Doe", "John Smith")),
        (["Jane Doe, John Smith & Ana Diaz"], ("Jane Doe", "John Smith", "Ana Diaz")),
        (["By Mira Lund, Senior Writer"], ("Mira Lund",)),
        (["Reuters", "The Harbour Gazette Staff", "News Desk"], ()),
        (["Jane Doe", "jane doe", "JANE DOE"], ("Jane Doe",)),
        (["https://x.example/jane", "jane@x.example"], ()),
        (["Von Anna Schmidt und Jonas Weber"], ("Anna Schmidt", "Jonas Weber")),
        # bare initials are no name on their own (a site profile may know better)
        (["(as)"], ()),
        (["Sarah E Needleman", "Anna I Berg"], ("Sarah E Needleman", "Anna I Berg")),
        (["Juan Pérez y María López"], ("Juan Pérez", "María López")),
        (["MIRA LUND AND OLE BERG"], ("MIRA LUND", "OLE BERG")),
    ],
)
def test_clean_authors(raw: list[str], expected: tuple[str, ...]) -> None:
    assert clean_authors(raw) == expected


def test_the_site_name_is_not_an_author() -> None:
    assert clean_authors(["Rick Steves"], organisations=["Rick Steves"]) == ()


def test_title_prefers_the_headline_naming_the_same_story() -> None:
    meta = PageMetadata(
        title="Harbour cranes to double terminal capacity | The Coast Daily",
        site_name="The Coast Daily",
    )
    assert choose_title(
        meta, ["Harbour cranes to double terminal capacity", "Newsletter"], None
    ) == ("Harbour cranes to double terminal capacity", "heading")
    assert choose_title(meta, [], None) == ("Harbour cranes to double terminal capacity", "meta")
    assert choose_title(PageMetadata(title="Ferry timetable &#8211; winter changes"), [], None) == (
        "Ferry timetable \u2013 winter changes",
        "meta",
    )


def test_date_keeps_the_full_timestamp_when_the_page_agrees() -> None:
    meta = PageMetadata(published="2023-04-06T11:03:23.682Z", published_from="meta")
    assert choose_date(meta, "2023-04-06") == ("2023-04-06T11:03:23.682Z", "meta")
    assert choose_date(meta, None) == ("2023-04-06T11:03:23.682Z", "meta")
    # the day is compared in the stated offset: 18:00 at -07:00 is still the 12th there
    assert (
        choose_date(
            PageMetadata(published="2020-04-12T18:00:00-0700", published_from="jsonld"),
            "2020-04-12",
        )[1]
        == "jsonld"
    )
    # metadata that contradicts the page's own dates loses to them
    assert choose_date(
        PageMetadata(published="2012-09-12T16:45:28+00:00", published_from="jsonld"), "2021-09-08"
    ) == ("2021-09-08", "htmldate")


# ------------------------------------------------------------------------------ titles

BODY = "<p>" + "Words of the story go here and keep going for a while. " * 5 + "</p>"


def title_of(head: str, body: str, url: str = "https://news.example/2024/05/story") -> str | None:
    """The title extract_page would choose, from the title layer alone (no body pass)."""
    from ingest.extract.metadata import read_metadata
    from ingest.extract.page import _parse
    from ingest.extract.titles import read_headings, read_subheadings

    page = f"<html><head>{head}</head><body>{body}{BODY}</body></html>"
    tree, _ = _parse(page.encode(), url, None)
    meta = read_metadata(tree)
    return choose_title(meta, read_headings(tree, meta, url), None, url, read_subheadings(tree))[0]


def test_the_site_logo_in_an_h1_is_not_the_headline() -> None:
    head = "<title>Harbour council votes on ferry fares \u2013 Harbour Gazette</title>"
    head += '<meta property="og:site_name" content="Harbour Gazette">'
    # the site's name, and a link to the home page
    assert title_of(head, "<header><h1>Harbour Gazette</h1></header>") == (
        "Harbour council votes on ferry fares"
    )
    logo = '<header><h1><a href="/">HG</a></h1></header><article><h1>Ferry fares</h1></article>'
    assert title_of(head, logo) == "Ferry fares"
    # the menu, even when a broken page leaves the <nav> open around the article
    menu = "<nav><h1>Sections</h1></nav>"
    assert title_of(head, menu) == "Harbour council votes on ferry fares"
    unclosed = "<nav><ul><li><div><article><h1>Ferry fares rise</h1></article>"
    assert title_of(head, unclosed) == "Ferry fares rise"


def test_the_site_part_of_the_title_element_is_not_the_headline() -> None:
    # "Site: Headline" where og:title states the headline alone
    head = '<title>Night Notes: Counting owls</title><meta property="og:title" content="Counting owls">'
    assert title_of(head, "<div><h1>Night Notes</h1></div>") == "Counting owls"
    # "Headline | Site" with no other metadata, and a host name as the site's name
    head = "<title>Counting owls in the dark | Night Notes</title>"
    assert title_of(head, "<div><h1>Night Notes</h1></div>") == "Counting owls in the dark"
    head = "<title>nightnotes.example Counting owls</title>"
    url = "https://nightnotes.example/owls"
    assert title_of(head, "<div><h1>nightnotes.example</h1></div>", url) == "Counting owls"


def test_heading_text_reads_line_breaks_and_skips_the_date() -> None:
    assert title_of("", "<h1>FERRY<br>FARES<br><span>RISE</span></h1>") == "FERRY FARES RISE"
    dated = (
        '<h1><a href="/x"><time datetime="2024-05-02">May 2 2024</time> Ferry fares rise</a></h1>'
    )
    assert title_of("", dated) == "Ferry fares rise"
    nested = "<h1>Ferry fares rise<h3>Posted on May 2, 2024 by staff</h3></h1>"
    assert title_of("", nested) == "Ferry fares rise"
    assert title_of("", "<h1>Fares &amp;#x26; tolls</h1>") == "Fares & tolls"


def test_the_stated_headline_wins_over_a_kicker_or_tail_in_the_h1() -> None:
    head = '<meta property="og:title" content="Ferry fares rise again">'
    assert (
        title_of(head, "<h1><b>Blog:</b> Ferry fares rise again</h1>") == "Ferry fares rise again"
    )
    assert title_of(head, "<h1>Ferry fares rise again | Opinion</h1>") == "Ferry fares rise again"
    assert title_of(head, "<h1>Ferry fares rise again \u2013 Gazette</h1>") == (
        "Ferry fares rise again"
    )
    # words that continue the sentence are the headline's own
    assert title_of(head, "<h1>Ferry fares rise again, and again</h1>") == (
        "Ferry fares rise again, and again"
    )
    assert title_of(head, "<h1>Ferry fares rise again: what it costs you</h1>") == (
        "Ferry fares rise again: what it costs you"
    )


def test_a_pipe_in_the_h1_sets_off_a_tagline() -> None:
    assert title_of("", "<h1>Ferry fares rise again | Tips, tolls & AI</h1>") == (
        "Ferry fares rise again"
    )


def test_the_stated_headline_wins_when_the_page_prints_it_as_a_subheading() -> None:
    head = '<meta property="og:title" content="How the ferry timetable is set">'
    body = "<h1>Ferries</h1><h2>How the ferry timetable is set</h2>"
    assert title_of(head, body) == "How the ferry timetable is set"
    assert title_of(head, "<h1>Ferries</h1><h2>Other news</h2>") == "Ferries"


def test_a_cut_short_metadata_title_gives_way_to_the_full_one() -> None:
    headline = '{"@type": "NewsArticle", "headline": "Ferry fares rise again (Including"}'
    head = f'<script type="application/ld+json">{headline}</script>'
    head += (
        '<meta property="og:title" content="Ferry fares rise again (Including Tolls) - Gazette">'
    )
    assert title_of(head, "") == "Ferry fares rise again (Including Tolls)"
    # a " - Site" tail does not make the shorter one cut short
    head = '<meta property="og:title" content="Ferry fares rise again">'
    head += "<title>Ferry fares rise again - Harbour Gazette Online</title>"
    assert title_of(head, "") == "Ferry fares rise again"


def test_site_names_and_stray_separators_are_stripped() -> None:
    site = {"harbour", "gazette"}
    assert _strip_site("Harbour Gazette | Ferry fares rise again", site) == "Ferry fares rise again"
    assert _strip_site("Ferry fares rise again \u22c6", None) == "Ferry fares rise again"
    assert _strip_site("Ferry fares: rise again", site) == "Ferry fares: rise again"


def test_mojibake_in_a_title_is_repaired() -> None:
    assert _repair("The investor\u00e2\u0080\u0099s guide") == "The investor\u2019s guide"
    assert _repair("The investor\u00e2\u20ac\u2122s guide") == "The investor\u2019s guide"
    assert _repair("S\u00c3O PAULO caf\u00e9") == "S\u00c3O PAULO caf\u00e9"


def test_the_headline_line_leaves_the_body_with_its_kicker() -> None:
    from ingest.extract.titles import drop_title_line

    text = "Blog: Ferry fares rise again\nThe council voted on Tuesday."
    assert drop_title_line(text, "Ferry fares rise again") == "The council voted on Tuesday."
    text = "Ferry fares rise again, and again\nThe council voted on Tuesday."
    assert drop_title_line(text, "Ferry fares rise again").startswith("Ferry fares")


def test_of_several_h1s_the_one_sharing_most_of_the_stated_title_wins() -> None:
    head = "<title>Ferry fares (2024) - rise of up to 10 percent. Comments</title>"
    body = "<h1>Ferry fares - rise of up to 10 percent in 2024</h1><h1>Comments</h1>"
    assert title_of(head, body) == "Ferry fares - rise of up to 10 percent in 2024"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # entities, date lines run into the name, reviewers, bullets before the date
        (["Maria &amp; Katerina"], ("Maria", "Katerina")),
        (["Luke Kim December 3, 2025"], ("Luke Kim",)),
        (["Haley Hoekstra \u2022 March 4"], ("Haley Hoekstra",)),
        (["CM Craig Moore Last updated"], ("CM Craig Moore",)),
        (["Shelby Lane, DVM Reviewed by Molly Price"], ("Shelby Lane",)),
        (["Updated January", "Dec", "October"], ()),
        # titles and qualifications after the name; a lone word beside a full name
        (["Mateo Haber Founder"], ("Mateo Haber",)),
        (["Liz Kerr Former McKinsey Consultant"], ("Liz Kerr",)),
        (["Brett Cole, Privacy, Digital Security Expert"], ("Brett Cole",)),
        (["Recipe by PJ Hamel", "Article by Cara Dunn RN"], ("PJ Hamel", "Cara Dunn")),
        (
            ["Authors Julie Weis, Nat Hoid, Extension horticulture educators"],
            ("Julie Weis", "Nat Hoid"),
        ),
        # page furniture and topics are not names
        (["View more posts", "Written By", "Www Facebook Com", "Personal finance"], ()),
        # names that look like the rules' words stay names
        (
            ["Edith Head", "Theresa May", "Marna van der Merwe"],
            ("Edith Head", "Theresa May", "Marna van der Merwe"),
        ),
    ],
)
def test_clean_authors_drops_what_byline_widgets_add(
    raw: list[str], expected: tuple[str, ...]
) -> None:
    assert clean_authors(raw) == expected


def test_a_person_with_a_profile_may_share_the_site_name() -> None:
    """A personal site is named after its owner; a bare Person node with the site's name is
    a CMS template's default author, the publisher itself."""
    from lxml import html as lxml_html

    from ingest.extract.metadata import read_metadata, site_organisations

    def authors(author: str, site: str) -> tuple[str, ...]:
        publisher = json.dumps({"@type": "Organization", "name": site})
        ld = f'{{"@type": "BlogPosting", "author": {author}, "publisher": {publisher}}}'
        tree = lxml_html.document_fromstring(
            f'<html><head><script type="application/ld+json">{ld}</script></head>'
            "<body><p>text</p></body></html>"
        )
        meta = read_metadata(tree)
        return clean_authors(meta.authors, site_organisations(meta, site))

    profile = '{"@type": "Person", "name": "Kira Lund", "url": "https://kiralund.example/"}'
    assert authors(profile, "Kira Lund") == ("Kira Lund",)
    assert authors('{"@type": "Person", "name": "Harbour Clinic"}', "Harbour Clinic") == ()


def test_a_headline_saved_with_question_marks_for_lost_characters_gives_way() -> None:
    meta = PageMetadata(title="Event planning: a beginner\u2019s guide")
    assert (
        choose_title(meta, ["Event planning? a beginner? guide"], None)[0]
        == "Event planning: a beginner\u2019s guide"
    )
    # a real question in the headline stays
    meta = PageMetadata(title="Is the ferry late again? Harbour board answers | Coast Daily")
    assert (
        choose_title(meta, ["Is the ferry late again? Harbour board answers"], None)[0]
        == "Is the ferry late again? Harbour board answers"
    )


def test_parts_of_a_heading_in_elements_of_their_own_are_not_run_together() -> None:
    # a kicker ends with ": ", the one form every kicker takes
    kicker = '<h1><span class="kicker">Harbour strike</span><span>Ferries stop at noon</span></h1>'
    assert title_of("", kicker) == "Harbour strike: Ferries stop at noon"
    marked = '<h1><span class="dachzeile">Streik:</span> <span>Fähren stehen still</span></h1>'
    assert title_of("", marked) == "Streik: Fähren stehen still"
    # other parts with a space: a headline and its subtitle, two blocks
    glued = "<h1><span>Nationale Demo</span><span>Der 9. Juli in Bern</span></h1>"
    assert title_of("", glued) == "Nationale Demo Der 9. Juli in Bern"
    blocks = "<h1><div>Ferry fares rise</div><div>what it costs you</div></h1>"
    assert title_of("", blocks) == "Ferry fares rise what it costs you"
    # markup inside a word leaves it whole
    assert title_of("", "<h1><b>T</b>he ferry sells i<em>Phone</em> cases</h1>") == (
        "The ferry sells iPhone cases"
    )
    # a kicker the stated headline leaves out gives way to it, as an inline one does
    head = '<meta property="og:title" content="Ferries stop at noon">'
    assert title_of(head, kicker) == "Ferries stop at noon"


def test_a_title_tail_goes_only_when_it_names_the_site() -> None:
    url = "https://www.harbour-news.example/2024/05/fares"
    # a subtitle after a dash is the headline's own
    head = "<title>Ferry fares rise again - What it costs commuters</title>"
    assert title_of(head, "", url) == "Ferry fares rise again - What it costs commuters"
    # the site's stated name, its host, its host's name: case and punctuation aside
    for tail in ("Harbour News", "harbour-news.example", "HARBOUR-NEWS", "Harbour Daily"):
        head = (
            f"<title>Ferry fares rise again | {tail}</title>"
            '<meta property="og:site_name" content="Harbour Daily">'
        )
        assert title_of(head, "", url) == "Ferry fares rise again", tail
    head = "<title>Ferry fares rise again :: Harbour News</title>"
    assert title_of(head, "", url) == "Ferry fares rise again"
    # a tail of one or two words is a section, format or brand label
    head = "<title>Ferry fares rise again \u2013 Opinion</title>"
    assert title_of(head, "", url) == "Ferry fares rise again"
    head = "<title>Ferry fares rise again | Live blog</title>"
    assert title_of(head, "", url) == "Ferry fares rise again"
    # the host's words name the site too ("Rust Blog" on blog.rust-lang.org)
    head = "<title>Ferry fares rise again - Harbour News Weekly Blog</title>"
    url = "https://blog.harbour-news-weekly.example/fares"
    assert title_of(head, "", url) == "Ferry fares rise again"


def test_the_title_says_which_layer_gave_it() -> None:
    from ingest.extract.metadata import read_metadata
    from ingest.extract.page import _parse
    from ingest.extract.titles import read_headings

    def source(head: str, body: str = "", generic: str | None = None) -> str | None:
        page = f"<html><head>{head}</head><body>{body}{BODY}</body></html>"
        tree, _ = _parse(page.encode(), "https://harbour.example/a", None)
        meta = read_metadata(tree)
        return choose_title(meta, read_headings(tree, meta), generic)[1]

    ld = '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Fares"}</script>'
    assert source(ld) == "jsonld"
    assert source('<meta property="og:title" content="Fares">') == "meta"
    assert source("<title>Fares rise</title>") == "title_element"
    assert source("<title>Fares rise</title>", "<h1>Fares rise again</h1>") == "heading"
    assert source("", "", "Fares rise") == "trafilatura"
    assert source("") is None
