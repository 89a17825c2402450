"""The field layers: authors, title and date choice."""

from __future__ import annotations

import pytest

from ingest.authors import clean_authors
from ingest.extract import choose_date, choose_title
from ingest.metadata import PageMetadata


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
        (["(as)"], ("as",)),
    ],
)
def test_clean_authors(raw: list[str], expected: tuple[str, ...]) -> None:
    assert clean_authors(raw) == expected


def test_the_site_name_is_not_an_author() -> None:
    assert clean_authors(["Rick Steves"], organisations=["Rick Steves"]) == ()


def test_title_prefers_the_headline_naming_the_same_story() -> None:
    meta = PageMetadata(
        title="Best Cloud Computing Stocks of 2025 | The Motley Fool", site_name="The Motley Fool"
    )
    assert (
        choose_title(meta, ["Best Cloud Computing Stocks of 2025", "Newsletter"], None)
        == "Best Cloud Computing Stocks of 2025"
    )
    assert choose_title(meta, [], None) == "Best Cloud Computing Stocks of 2025"
    assert (
        choose_title(
            PageMetadata(title="Wedding Planning Tools &#8211; Caterer Spreadsheet"), [], None
        )
        == "Wedding Planning Tools \u2013 Caterer Spreadsheet"
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
    ) == ("2021-09-08", "page_heuristic")
