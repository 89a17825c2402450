"""Attribution lines, editors' initials, a repeated lead and the standfirst, on any page."""

from __future__ import annotations

import pytest

from ingest.extract.attribution import (
    is_initials,
    source_name,
    with_lead,
    without_attribution,
    without_repeated_lead,
)
from ingest.extract.page import extract_page
from tests.conftest import FIXTURES

PAGES = FIXTURES / "pages"


def page_of(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("Source: merkur", "merkur"),
        ("Quelle: Spiegel", "Spiegel"),
        ("Source : Le Monde", "Le Monde"),
        ("Fuente: El País", "El País"),
        ("Fonte: Corriere della Sera", "Corriere della Sera"),
        ("Bron: NOS", "NOS"),
        ("Źródło: Gazeta Wyborcza", "Gazeta Wyborcza"),
        ("Kilde: DR", "DR"),
        ("Källa: SVT", "SVT"),
        ("Lähde: Yle", "Yle"),
        ("Forrás: Index", "Index"),
        ("Zdroj: ČTK", "ČTK"),
        ("Sursa: HotNews", "HotNews"),
        ("Kaynak: Hürriyet", "Hürriyet"),
        ("Источник: РИА Новости", "РИА Новости"),
        ("Source: https://www.merkur.de/politik/story.html", "merkur.de"),
        ("Sources: Reuters, AFP.", "Reuters, AFP"),
        ("Originally published by The Conversation.", "The Conversation"),
        ("This article originally appeared on Grist.", "Grist"),
    ],
)
def test_attribution_lines_name_the_outlet(line: str, name: str) -> None:
    assert source_name(line) == name


@pytest.mark.parametrize(
    "line",
    [
        "Source: the ministry said that the figures reflect a shortage of nurses and doctors",
        "Source: officials. They declined to comment further on the plans.",
        "Source: who knows?",
        "Originally published on 3 March 2024.",
        "The source: merkur",
        "Sourcing: merkur",
        "Source:",
    ],
)
def test_sentences_and_dates_are_not_attribution(line: str) -> None:
    assert source_name(line) is None


@pytest.mark.parametrize("line", ["(as)", "(dpa/as)", "(ank/dpa)", "( ank )", "(AFP)"])
def test_initials_lines(line: str) -> None:
    assert is_initials(line)


@pytest.mark.parametrize("line", ["(see above)", "(1)", "(as) he said", "as"])
def test_not_initials(line: str) -> None:
    assert not is_initials(line)


def test_only_the_last_lines_are_attribution() -> None:
    text = "First paragraph.\nSource: Reuters\nMiddle paragraph.\nLast one.\n(as)\nQuelle: merkur"
    assert without_attribution(text) == (
        "First paragraph.\nSource: Reuters\nMiddle paragraph.\nLast one.",
        "merkur",
    )
    # a body of nothing but attribution is left whole
    assert without_attribution("(as)\nSource: merkur") == ("(as)\nSource: merkur", None)
    # further up than the last three lines, an attribution line stays in the text
    deep = "Story.\nSource: merkur\n(as)\n(bk)\n(cd)"
    assert without_attribution(deep) == ("Story.\nSource: merkur", None)


def test_a_pictures_credit_leaves_the_text_but_names_no_source() -> None:
    text = "First paragraph.\nLast one.\nSource: Getty Images"
    assert without_attribution(text) == ("First paragraph.\nLast one.", None)
    text = "First paragraph.\nLast one.\nQuelle: picture-alliance\nQuelle: Spiegel"
    assert without_attribution(text) == ("First paragraph.\nLast one.", "Spiegel")


def test_a_lead_is_the_first_paragraph_once() -> None:
    body = "Lead one. Lead two.\nLead one.\nLead two.\nThe story goes on."
    assert without_repeated_lead(body) == "Lead one. Lead two.\nThe story goes on."
    assert with_lead("Lead one.\nLead two.\nThe story.", "Lead one. Lead two.") == (
        "Lead one.\nLead two.\nThe story."
    )
    assert with_lead("The story.", "The lead.") == "The lead.\nThe story."
    assert with_lead("The story.", None) == "The story."


def test_an_aggregator_in_other_markup_is_read_like_the_profiles_site() -> None:
    """The seed's layout without the profile: another body container, the lead in an <h2>
    and repeated as the first paragraph, "(ank)" and "Quelle: Spiegel" closing the body."""
    page = extract_page(page_of("aggregator-entry-body.html"), "https://relay.example/news/1")
    assert page.extractor.startswith("trafilatura/")
    assert page.original_source == "Spiegel"
    assert "Quelle" not in page.text and "(ank)" not in page.text
    lead = "Freight trains stood still on Tuesday as the drivers' union began a two-day strike"
    assert page.text.count(lead) == 1 and page.description is not None
    assert page.description.startswith(lead)
    assert "as reported by Spiegel." in page.text  # the inline outlet name stays
    assert page.text.rstrip().endswith("Talks between the two sides are scheduled for Friday.")
    assert page.authors == ()


def test_a_long_source_sentence_stays_in_the_article() -> None:
    page = extract_page(page_of("mid-article-source.html"), "https://gazette.example/news/2")
    assert page.original_source is None
    assert "Source: the ministry said that the figures reflect a shortage" in page.text
    assert page.text.rstrip().endswith("waiting for a first appointment with a specialist.")


def test_a_standfirst_in_an_h2_opens_the_text_and_is_the_description() -> None:
    page = extract_page(page_of("standfirst-h2.html"), "https://gazette.example/news/3")
    lead = (
        "The island ferries will run on batteries from 2027, cutting the line's fuel bill by half."
    )
    assert page.text.startswith(lead + "\n") and page.text.count(lead) == 1
    assert page.description == lead  # the printed lead, not the page's meta description


def test_a_standfirst_set_apart_by_its_class_is_the_description_only() -> None:
    """Deks styled apart from the article ("article-lead", "c-standfirst") are left out of
    the body by both evaluation sets; adding them lowered body precision."""
    page = extract_page(page_of("standfirst-class.html"), "https://gazette.example/news/4")
    lead = "The town library opens its doors again on Saturday, with a new roof and a children's floor."
    assert page.description == lead
    assert page.text.startswith("The library closed last spring") and lead not in page.text


def test_the_first_paragraph_is_not_a_standfirst() -> None:
    page = extract_page(page_of("no-standfirst.html"), "https://gazette.example/news/5")
    assert page.description == (
        "The council voted for four kilometres of new cycle lanes in the centre."
    )
    first = "The council has approved four kilometres of new cycle lanes in the town centre"
    assert page.text.startswith(first) and page.text.count(first) == 1
