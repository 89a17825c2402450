"""Listings recognised by their teasers, and articles that carry teaser lists kept."""

from __future__ import annotations

import pytest

from ingest.extract.page import ExtractError, extract_page

SENTENCE = "The harbour board met on Tuesday to weigh the ferry terminal plan and its new cranes."
DEK = "Board members disagree on the cost of the new cranes."


def _teasers(count: int, dek: str = DEK, card: str = "div") -> str:
    return "".join(
        f"<{card}><header><h3><a href='/news/story-{n}'>Council weighs ferry plan number {n}"
        f"</a></h3></header><p>{dek}</p></{card}>"
        for n in range(count)
    )


def _page(main: str, aside: str = "") -> bytes:
    return (
        "<html><head><title>Harbour news</title></head><body><h1>Harbour news</h1>"
        f"<main>{main}</main>{aside}</body></html>"
    ).encode()


@pytest.mark.parametrize("card", ["div", "article"])
def test_a_listing_of_teasers_with_summaries_is_not_an_article(card: str) -> None:
    """Headlines with a line of summary each: little link text overall, and more than 200
    words, so only the teasers tell."""
    html = _page(_teasers(15, card=card))
    with pytest.raises(ExtractError) as info:
        extract_page(html, "https://news.example/harbour-and-ferries")
    assert info.value.reason == "not_article"
    # the same teasers, each with a paragraph of its own, are not counted as a listing
    extract_page(_page(_teasers(15, " ".join([SENTENCE] * 3))), "https://news.example/h")


@pytest.mark.parametrize(
    ("main", "aside"),
    [
        # an article followed by a related-stories widget
        (f"<p>{' '.join([SENTENCE] * 30)}</p><div>{_teasers(6)}</div>", ""),
        # a blog post with its archive of post titles in the sidebar
        (
            f"<p>{' '.join([SENTENCE] * 20)}</p>",
            "<div class='widget BlogArchive'><ul class='posts'>"
            + "".join(
                f"<li><a href='/2024/{n}'>Notes from the harbour board {n}</a></li>"
                for n in range(30)
            )
            + "</ul></div>",
        ),
        # a long article that links many stories inside its text
        (f"<p>{' '.join([SENTENCE] * 25)}</p><ul>{_teasers(14, '')}</ul>", ""),
    ],
)
def test_articles_with_teaser_lists_stay_articles(main: str, aside: str) -> None:
    page = extract_page(_page(main, aside), "https://news.example/harbour-and-ferries")
    assert "harbour board met" in page.text


@pytest.mark.parametrize(
    "head",
    [
        '<meta property="og:type" content="product.group">',
        '<meta property="og:type" content="profile">',
        # a category page whose JSON-LD also describes one of its teasers as an article
        '<script type="application/ld+json">{"@graph": [{"@type": "CollectionPage", "name": '
        '"Harbour"}, {"@type": "BlogPosting", "headline": "Ferry plan"}]}</script>',
    ],
)
def test_a_page_that_states_it_is_a_collection_product_or_profile_is_not_an_article(
    head: str,
) -> None:
    html = (
        f"<html><head><title>Harbour</title>{head}</head><body><h1>Harbour</h1>"
        f"<p>{' '.join([SENTENCE] * 20)}</p></body></html>"
    )
    with pytest.raises(ExtractError) as info:
        extract_page(html.encode(), "https://news.example/harbour")
    assert info.value.reason == "not_article"
