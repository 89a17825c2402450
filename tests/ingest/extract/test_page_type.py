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


MENU = (
    "<nav><ul>"
    + "".join(
        f"<li><a href='/section-{n}'>Section number {n} of the site</a></li>" for n in range(60)
    )
    + "</ul></nav>"
)
SHORT = " ".join([SENTENCE] * 6)  # a short press release: about 100 words


def test_a_short_article_under_a_large_menu_is_an_article() -> None:
    """Most of the page's text is the site's menu; the content itself is prose."""
    html = _page(f"<p>{SHORT}</p>", MENU)
    page = extract_page(html, "https://ministry.example/press/2018/harbour")
    assert "harbour board met" in page.text
    # a page of links in its content too is a list of links
    links = "".join(f"<p><a href='/doc-{n}'>Harbour report number {n}</a></p>" for n in range(40))
    with pytest.raises(ExtractError) as info:
        extract_page(_page(f"<p>{SENTENCE}</p>{links}", MENU), "https://ministry.example/docs")
    assert info.value.reason == "not_article"


def test_a_post_addressed_by_its_query_is_not_the_home_page() -> None:
    html = _page(
        f"<p>{SHORT}</p>",
        MENU.replace("<nav>", "<div class='main-menu'>").replace("</nav>", "</div>"),
    )
    with pytest.raises(ExtractError):
        extract_page(html, "https://blog.example/")
    assert "harbour board met" in extract_page(html, "https://blog.example/?p=959").text


def test_a_url_slug_of_many_words_names_one_article() -> None:
    """An article with a long related-stories list and a short text: its URL names it."""
    html = _page(f"<p>{SHORT}</p><div>{_teasers(20, '')}</div>")
    with pytest.raises(ExtractError):
        extract_page(html, "https://news.example/harbour")
    for url in (
        "https://news.example/sport/31151-harbour-board-weighs-ferry-plan",
        "https://news.example/fr/harbour-board-weighs-the-ferry-plan/a-6533123",
    ):
        assert "harbour board met" in extract_page(html, url).text
    # a listing's path names its topic in a word or two; a collection page states what it is
    collection = html.replace(
        b"<head>",
        b'<head><script type="application/ld+json">{"@type": "CollectionPage"}</script>',
    )
    with pytest.raises(ExtractError):
        extract_page(collection, "https://news.example/sport/harbour-board-weighs-ferry-plan")


def test_a_shop_category_page_is_not_an_article() -> None:
    products = "".join(
        f"<div class='product-card'><a href='/p/{n}'>Brass ship lantern {n}</a>"
        f"<span class='price'>{n + 20}.00 EUR</span></div>"
        for n in range(14)
    )
    with pytest.raises(ExtractError) as info:
        extract_page(_page(f"<p>{SHORT}</p>{products}"), "https://shop.example/lanterns")
    assert info.value.reason == "not_article"


def test_a_page_rendered_by_script_is_read_from_its_structured_body() -> None:
    """Its HTML holds only the JSON-LD articleBody."""
    ld = (
        '{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Ferry plan",'
        f' "datePublished": "2024-03-03T10:00:00Z", "articleBody": "{SHORT}"}}'
    )
    html = (
        "<html><head><title>Ferry plan</title>"
        f'<script type="application/ld+json">{ld}</script></head>'
        '<body><div id="root"></div><noscript>Enable JavaScript.</noscript></body></html>'
    ).encode()
    page = extract_page(html, "https://news.example/harbour/ferry")
    assert "harbour board met" in page.text


def test_when_the_precision_and_default_passes_find_nothing_the_recall_pass_is_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """trafilatura's precision and default modes discard some articles whole (their
    thresholds); the recall pass is the last resort before `no_text`."""
    import trafilatura

    real = trafilatura.bare_extraction

    def strict(*args: object, **kwargs: object) -> object:
        return real(*args, **kwargs) if kwargs.get("favor_recall") else None

    monkeypatch.setattr(trafilatura, "bare_extraction", strict)
    page = extract_page(_page(f"<p>{SHORT}</p>"), "https://news.example/harbour/ferry")
    assert "harbour board met" in page.text
