"""Article or not: sections, listings and tag pages (which sitemaps and feeds also list) are
quarantined as `not_article` rather than stored as articles. Conservative: a page that
declares itself an article (JSON-LD article types, `og:type` article) is always one."""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ingest.extract.metadata import ARTICLE_TYPES
from transforms.normalise import word_count

if TYPE_CHECKING:
    from lxml import html as lxml_html

    from ingest.extract.metadata import PageMetadata

# a listing segment ending the path, or followed by one short segment: /tag/politics/, /category/world
LISTING_PATH = re.compile(
    r"/(?:tags?|topics?|hubs?|categor(?:y|ies)|sections?|authors?|search)(?:/[^/]{1,40})?/?$|/page/\d+/?$",
    re.IGNORECASE,
)
# the page's own type: a collection even when it also carries an article node
COLLECTION_TYPES = frozenset({"collectionpage", "searchresultspage"})
LISTING_TYPES = frozenset({"itemlist"})  # also listicles: only on pages without article markup
NOT_ARTICLE_OG = ("product", "profile")  # og:type product, product.group, profile
# a teaser is a block with a link whose text reads as a headline (this many words or more)
TEASER_WORDS = 4
# a related-stories widget under an article holds a handful of teasers; a listing, a dozen and
# more, in one container
MIN_TEASERS = 12
# a teaser is a headline and a sentence or two: a page whose text is no longer than that per
# teaser is the teasers themselves
TEXT_PER_TEASER = 20
_CHROME_TAGS = frozenset({"nav", "aside"})
_CONTENT_TAGS = frozenset({"article", "main", "section"})
_CHROME_NAMES = re.compile(r"menu|(?<![a-z])nav|sidebar|footer|archive", re.IGNORECASE)
# what frames every page of a site, whatever its content: left out of the content's link
# density (an article on a site with a large menu is still mostly prose)
_FRAME_TAGS = frozenset({"nav", "aside", "header", "footer", "form", "select"})
_FRAME_NAMES = re.compile(
    r"menu|(?<![a-z])nav|sidebar|footer|header|cookie|breadcrumb", re.IGNORECASE
)
# the link density of the whole page above which a short page is a list of links, and of its
# content (the frame left out) that must agree
LINKED_PAGE, LINKED_CONTENT = 0.6, 0.5
# a URL path with a slug of this many words names one article
# ("/2023/lifeboat-volunteers-answer-two-calls-in-one-night/a-123"), never a list of them
SLUG_WORDS = 5
_SLUG_SPLIT = re.compile(r"[-_+]+")
# a shop's category page prices each of its products
PRICE_NAMES = re.compile(r"(?<![a-z])price(?![a-z])", re.IGNORECASE)


def is_listing(meta: PageMetadata, url: str, text: str, tree: lxml_html.HtmlElement) -> bool:
    """Whether the page is a section, listing, tag or search page (`text` is the body the
    extractor read). A page that states it is a collection, a product or a profile is one;
    otherwise only pages without article markup, and with clear signs."""
    og_type = (meta.og_type or "").lower()
    if meta.schema_types & COLLECTION_TYPES or og_type.startswith(NOT_ARTICLE_OG):
        return True  # an article node on a CollectionPage is one of its teasers
    if meta.schema_types & ARTICLE_TYPES or og_type.startswith("article"):
        return False
    if not url:
        return False
    parts = urlsplit(url)
    path = parts.path
    listing = LISTING_PATH.search(path)
    if listing and listing.group(0).count("-") <= 3:  # a long slug after /category/ is an article
        return True
    if path in ("", "/") and not parts.query:  # "/?p=123" is a post
        return link_density(tree) > 0.4
    if meta.schema_types & LISTING_TYPES:
        return True
    if slug_words(path) >= SLUG_WORDS:
        return False
    words = word_count(text)
    prices = price_count(tree)
    if prices >= MIN_TEASERS and words < TEXT_PER_TEASER * prices:
        return True
    if (
        words < 200
        and link_density(tree) > LINKED_PAGE
        and link_density(tree, frame=False) > LINKED_CONTENT
    ):
        return True
    teasers = teaser_count(tree)
    return teasers >= MIN_TEASERS and words < TEXT_PER_TEASER * teasers


def slug_words(path: str) -> int:
    """Words of the path's longest slug (numbers and a file extension left out)."""
    return max(
        (
            sum(1 for w in _SLUG_SPLIT.split(part) if any(c.isalpha() for c in w))
            for part in (
                re.sub(r"\.[a-z]{2,5}$", "", p, flags=re.IGNORECASE) for p in path.split("/")
            )
        ),
        default=0,
    )


def price_count(tree: lxml_html.HtmlElement) -> int:
    """Elements that hold a price (class "price", itemprop price): one per product of a shop's
    category page."""
    return sum(
        1
        for node in tree.iter("*")
        if isinstance(node.tag, str)
        and (node.get("itemprop") == "price" or PRICE_NAMES.search(node.get("class") or ""))
    )


def link_density(tree: lxml_html.HtmlElement, frame: bool = True) -> float:
    """Share of the body's text that is link text (in characters); without `frame`, of the
    text outside the site's frame (navigation, header, footer, sidebars, forms; scripts
    and styles left out too)."""
    body = tree.find(".//body")
    if body is None:
        return 0.0
    if frame:
        whole = len(" ".join(body.text_content().split()))
        links = sum(len(" ".join(a.text_content().split())) for a in body.iterfind(".//a"))
        return links / whole if whole else 0.0
    return _content_link_density(body)


def _content_link_density(body: lxml_html.HtmlElement) -> float:
    from lxml import etree

    total = linked = in_link = 0
    skipped: set[lxml_html.HtmlElement] = set()
    walker = etree.iterwalk(body, events=("start", "end"))
    for event, node in walker:
        tag = node.tag
        if event == "start":
            names = f"{node.get('class') or ''} {node.get('id') or ''}"
            if (
                not isinstance(tag, str)
                or tag in ("script", "style")
                or tag in _FRAME_TAGS
                or _FRAME_NAMES.search(names)
            ):
                skipped.add(node)
                walker.skip_subtree()  # its "end" still comes, with its tail
                continue
            in_link += tag == "a"
            size = len(" ".join((node.text or "").split()))
        else:
            if node in skipped:
                skipped.discard(node)
            else:
                in_link -= tag == "a"
            size = len(" ".join((node.tail or "").split())) if node is not body else 0
        total += size
        linked += size if in_link else 0
    return linked / total if total else 0.0


def teaser_count(tree: lxml_html.HtmlElement) -> int:
    """The most sibling blocks under one container that each hold a headline link (a link of
    TEASER_WORDS words or more, to a page of its own): the teasers of a listing. Menus of
    one- or two-word links do not count."""
    body = tree.find(".//body")
    if body is None:
        return 0
    # container -> its children that hold a headline link, and the targets already counted
    blocks: dict[lxml_html.HtmlElement, set[lxml_html.HtmlElement]] = {}
    targets: dict[lxml_html.HtmlElement, set[str]] = {}
    for link in body.iterfind(".//a[@href]"):
        href = link.get("href") or ""
        if href.startswith("#") or len(link.text_content().split()) < TEASER_WORDS:
            continue
        chain = [link]
        while chain[-1] is not body and (parent := chain[-1].getparent()) is not None:
            chain.append(parent)
        if _in_chrome(chain):
            continue
        for child, parent in itertools.pairwise(chain):
            seen = targets.setdefault(parent, set())
            if child not in blocks.setdefault(parent, set()) and href not in seen:
                blocks[parent].add(child)
                seen.add(href)
    return max((len(children) for children in blocks.values()), default=0)


def _in_chrome(chain: list[lxml_html.HtmlElement]) -> bool:
    """Whether a link (chain[0], then its ancestors) sits in page chrome, whose link lists are
    not the page's content: menus, sidebars, the page's header and footer (not a card's
    <header> inside an <article>), a blog's archive of its posts."""
    for at, node in enumerate(chain[1:], start=2):
        if node.tag in _CHROME_TAGS:
            return True
        if node.tag in ("header", "footer") and not any(
            above.tag in _CONTENT_TAGS for above in chain[at:]
        ):
            return True
        names = f"{node.get('class') or ''} {node.get('id') or ''}"
        if names.strip() and _CHROME_NAMES.search(names):
            return True
    return False
